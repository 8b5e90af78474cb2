// The OCI spec crispd builds from a CreateContainer request (its config and
// sandbox_config, as JSON the way crisp's scenarios write them): any
// request is a spec or a refusal, never a crash.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "google/protobuf/util/json_util.h"
#include "reference_runtime/container/spec.h"
#include "runtime/v1/api.pb.h"

namespace {

// A root filesystem with the /etc/passwd and /etc/group a user lookup reads.
std::string Rootfs() {
  static const std::string root = [] {
    std::string dir = std::filesystem::temp_directory_path() / "crisp-fuzz-rootfs";
    std::filesystem::create_directories(dir + "/etc");
    std::ofstream(dir + "/etc/passwd") << "root:x:0:0:root:/root:/bin/sh\nwww-data:x:33:33::/var/www:/bin/sh\n";
    std::ofstream(dir + "/etc/group") << "root:x:0:\nwww-data:x:33:\nusers:x:100:www-data\n";
    return dir;
  }();
  return root;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  runtime::v1::CreateContainerRequest request;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  std::string json(reinterpret_cast<const char*>(data), size);
  if (!google::protobuf::util::JsonStringToMessage(json, &request, options).ok()) return 0;
  crisp::crispd::SpecInputs inputs;
  inputs.config = &request.config();
  inputs.sandbox_config = &request.sandbox_config();
  inputs.image_config = {{"Cmd", {"sh"}}, {"Env", {"PATH=/bin"}}, {"User", "www-data"}};
  inputs.id = "c0ffee";
  inputs.sandbox_id = "5a4db0c5";
  inputs.rootfs = Rootfs();
  inputs.sandbox_dir = Rootfs();
  inputs.namespaces = {{"network", "/run/netns/fuzz"}, {"ipc", "/proc/1/ns/ipc"}, {"uts", "/proc/1/ns/uts"}};
  inputs.target_pid_namespace = "/proc/1/ns/pid";
  inputs.hostname = "fuzz";
  inputs.bounding_capabilities = {"CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"};
  (void)crisp::crispd::BuildContainerSpec(inputs);
  (void)crisp::crispd::ContainerArgs(request.config(), inputs.image_config);
  return 0;
}
