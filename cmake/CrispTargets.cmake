# Project warning flags, applied to our own targets only: generated code
# (protobuf, gRPC) is built without them. -Wnull-dereference is left out:
# GCC 12 reports false positives inside libstdc++'s std::string at -O1.
set(CRISP_WARNING_FLAGS -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
    -Wold-style-cast -Wcast-align -Wunused -Woverloaded-virtual -Wconversion
    -Wsign-conversion -Wdouble-promotion -Wformat=2
    -Wimplicit-fallthrough)
if(CRISP_WERROR)
  list(APPEND CRISP_WARNING_FLAGS -Werror)
endif()

# crisp_target_defaults(TARGET): warnings and include root for a target of ours.
function(crisp_target_defaults target)
  target_compile_options(${target} PRIVATE ${CRISP_WARNING_FLAGS})
endfunction()

# crisp_add_library(NAME SOURCES... [DEPS ...])
function(crisp_add_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;PUBLIC_DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC "${PROJECT_SOURCE_DIR}/src")
  target_link_libraries(${name} PUBLIC ${ARG_PUBLIC_DEPS} PRIVATE ${ARG_DEPS})
  crisp_target_defaults(${name})
endfunction()

# crisp_add_test(NAME SOURCES... DEPS ... LABELS ...): a gtest program
# registered with CTest, each test case its own CTest test. A test case that
# hangs (a fake server nobody connects to) fails after a minute.
function(crisp_add_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  crisp_target_defaults(${name})
  include(GoogleTest)
  gtest_discover_tests(${name} PROPERTIES LABELS "${ARG_LABELS}" TIMEOUT 60 DISCOVERY_TIMEOUT 30)
endfunction()
