# Use ccache when it is installed; a rebuild after a branch switch is then cheap.
find_program(CRISP_CCACHE ccache)
if(CRISP_CCACHE AND NOT CMAKE_CXX_COMPILER_LAUNCHER)
  set(CMAKE_CXX_COMPILER_LAUNCHER "${CRISP_CCACHE}")
endif()
