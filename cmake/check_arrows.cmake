# The direction of the arrows, enforced: each component's sources include
# headers of their own folder and of the components before it in
# ARK_COMPONENTS, nothing else. Run at configure time (included) and at
# every build (cmake -P, target `arrows`), so an include that points up
# fails the build, naming the file and the line. Needs ARK_COMPONENTS (a
# list, or a comma-separated string with -P) and ARK_SOURCE_DIR.
cmake_policy(VERSION 3.25)   # IN_LIST in script mode (cmake -P)
string(REPLACE "," ";" _ark_order "${ARK_COMPONENTS}")
set(_ark_seen "")
foreach(_ark_component ${_ark_order})
  file(GLOB _ark_sources ${ARK_SOURCE_DIR}/${_ark_component}/*.c ${ARK_SOURCE_DIR}/${_ark_component}/*.h)
  foreach(_ark_source ${_ark_sources})
    file(STRINGS ${_ark_source} _ark_includes REGEX "^#include \"[a-z_]+/")
    foreach(_ark_line ${_ark_includes})
      string(REGEX REPLACE "^#include \"([a-z_]+)/.*" "\\1" _ark_used "${_ark_line}")
      if(NOT _ark_used STREQUAL _ark_component AND NOT _ark_used IN_LIST _ark_seen)
        file(RELATIVE_PATH _ark_where ${ARK_SOURCE_DIR} ${_ark_source})
        message(FATAL_ERROR "${_ark_where}: '${_ark_line}' points up: ${_ark_component}/ may use only the "
                            "components before it (${_ark_seen}); see ARK_COMPONENTS in CMakeLists.txt "
                            "and README's code map")
      endif()
    endforeach()
  endforeach()
  list(APPEND _ark_seen ${_ark_component})
endforeach()
