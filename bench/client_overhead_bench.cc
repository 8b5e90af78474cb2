// crisp's own cost per CRI call: Version through crisp's recording client
// (CriClient, the generic stub and a CallRecord per call) against the
// generated stub, both to the same in-process gRPC server on a unix socket,
// so that only the client side differs. `crisp bench` measures the same
// against a real runtime and puts it in its report header.
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include "benchmark/benchmark.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "harness/client/cri_client.h"
#include "runtime/v1/api.grpc.pb.h"

namespace {

namespace v1 = runtime::v1;

class VersionOnly final : public v1::RuntimeService::Service {
  grpc::Status Version(grpc::ServerContext*, const v1::VersionRequest*, v1::VersionResponse* response) override {
    response->set_version("0.1.0");
    response->set_runtime_name("overhead-bench");
    response->set_runtime_version("1");
    response->set_runtime_api_version("v1");
    return grpc::Status::OK;
  }
};

struct Server {
  Server() {
    char pattern[] = "/tmp/crisp-overhead-XXXXXX";
    dir = mkdtemp(pattern);
    socket = dir + "/cri.sock";
    grpc::ServerBuilder builder;
    builder.AddListeningPort("unix://" + socket, grpc::InsecureServerCredentials());
    builder.RegisterService(&service);
    server = builder.BuildAndStart();
  }
  ~Server() {
    server->Shutdown();
    std::filesystem::remove_all(dir);
  }
  VersionOnly service;
  std::string dir, socket;
  std::unique_ptr<grpc::Server> server;
};

Server& TheServer() {
  static Server server;
  return server;
}

void BM_GeneratedStub(benchmark::State& state) {
  auto stub = v1::RuntimeService::NewStub(
      grpc::CreateChannel("unix://" + TheServer().socket, grpc::InsecureChannelCredentials()));
  v1::VersionRequest request;
  for (auto _ : state) {
    grpc::ClientContext context;
    v1::VersionResponse response;
    if (!stub->Version(&context, request, &response).ok()) state.SkipWithError("Version failed");
  }
}
BENCHMARK(BM_GeneratedStub)->Unit(benchmark::kMicrosecond)->MinTime(2.0);

void BM_CrispClient(benchmark::State& state) {
  crisp::client::Endpoint endpoint{"overhead", crisp::client::Endpoint::Kind::kUnix, TheServer().socket};
  auto client = crisp::client::NewGrpcCriClient(endpoint, {});
  v1::VersionRequest request;
  for (auto _ : state) {
    if (!crisp::client::CallAs<v1::VersionResponse>(*client, "Version", request).ok()) state.SkipWithError("Version failed");
  }
}
BENCHMARK(BM_CrispClient)->Unit(benchmark::kMicrosecond)->MinTime(2.0);

}  // namespace

BENCHMARK_MAIN();
