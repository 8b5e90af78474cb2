# Every dependency is a Debian package listed in ci/install-deps.
find_package(Threads REQUIRED)
find_package(Protobuf REQUIRED)
find_package(gRPC CONFIG REQUIRED)
find_package(absl CONFIG REQUIRED)
find_package(fmt CONFIG REQUIRED)
find_package(CLI11 CONFIG REQUIRED)
find_package(nlohmann_json CONFIG REQUIRED)
find_package(yaml-cpp CONFIG REQUIRED)
find_package(ZLIB REQUIRED)
# Boost.Beast (header-only) for the WebSocket client of the streaming RPCs.
find_package(Boost 1.74 CONFIG REQUIRED COMPONENTS headers)

find_program(CRISP_GRPC_CPP_PLUGIN grpc_cpp_plugin REQUIRED)

if(CRISP_BUILD_TESTS)
  find_package(GTest CONFIG REQUIRED)
endif()
