# tests/brokers/names_neutral.cmake — the tools above brokers/ learn what
# they need about a broker from the registry (brokers/brokers.h: whether it
# reports, whether it is simulated, its credentials, its settings check, its
# name), so adding a broker touches nothing outside brokers/. FILES (comma-
# separated, relative to SOURCE) name no network broker, include none of its
# headers and read none of its settings. Fails naming the file and line.
string(REPLACE "," ";" files "${FILES}")
foreach(file IN LISTS files)
  file(READ ${SOURCE}/${file} text)
  string(REPLACE ";" "," text "${text}")   # a CMake list splits on ';'
  string(REPLACE "\n" ";" lines "${text}")
  set(n 0)
  foreach(line IN LISTS lines)
    math(EXPR n "${n} + 1")
    if(line MATCHES "^[ \t]*(/\\*|\\*)")
      continue()   # comments may speak of Alpaca
    endif()
    if(line MATCHES "ark_broker_alpaca|ark_alpaca_|\"alpaca\"|=alpaca|alpaca/alpaca\\.h|ALPACA_")
      message(FATAL_ERROR "${file}:${n}: '${line}' names a broker: ask the registry (brokers/brokers.h) instead")
    endif()
  endforeach()
endforeach()
message(STATUS "${FILES}: no broker named")
