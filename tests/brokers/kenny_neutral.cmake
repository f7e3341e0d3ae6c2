# tests/brokers/kenny_neutral.cmake — Kenny reaches brokers through
# struct ark_broker_ops only: agents/kenny.c names no broker, includes none of
# a broker's headers and reads none of a broker's settings, so adding a broker
# never touches it. Fails naming the line that does.
file(READ ${KENNY} text)
string(REPLACE ";" "," text "${text}")   # a CMake list splits on ';'
string(REPLACE "\n" ";" lines "${text}")
set(n 0)
foreach(line IN LISTS lines)
  math(EXPR n "${n} + 1")
  if(line MATCHES "^[ \t]*(/\\*|\\*)")
    continue()   # comments may speak of paper and Alpaca
  endif()
  if(line MATCHES "ark_broker_(paper|alpaca)|ark_alpaca_|\"(paper|alpaca)\"|alpaca/alpaca\\.h|ARK_PAPER_|ALPACA_|state\\.broker|state\\.orders|ring\\.reports")
    message(FATAL_ERROR "agents/kenny.c:${n}: '${line}' is broker-specific: Kenny calls only struct ark_broker_ops (brokers/brokers.h)")
  endif()
endforeach()
message(STATUS "agents/kenny.c: no broker-specific code")
