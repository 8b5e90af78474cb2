// Layer blobs as a registry serves them (any compression libarchive knows,
// tar inside), extracted as crispd's helper does: chrooted, in a child
// process per input (the helper chroots, which a fuzzing process cannot do
// twice). A child that dies of a signal is a crash of the parent too, so
// libFuzzer keeps the input; an extraction that refuses is fine. The
// uncompressed digest (a layer's DiffID) is computed in process.
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "reference_runtime/image/unpack.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string scratch = [] {
    std::string dir = std::filesystem::temp_directory_path() / ("crisp-fuzz-unpack-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir);
    return dir;
  }();
  const std::string blob = scratch + "/blob";
  std::ofstream(blob, std::ios::binary).write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  (void)crisp::crispd::UncompressedDigest(blob);

  const std::string layer = scratch + "/layer";
  std::error_code ignored;
  std::filesystem::remove_all(layer, ignored);
  std::filesystem::create_directories(layer);
  pid_t child = fork();
  if (child == 0) {
    FILE* file = std::fopen(blob.c_str(), "rb");
    if (file == nullptr) _exit(3);
    // Refused or extracted: both are answers. Only a crash is not.
    _exit(crisp::crispd::ExtractLayerInChroot(fileno(file), layer).ok() ? 0 : 1);
  }
  int status = 0;
  waitpid(child, &status, 0);
  if (WIFSIGNALED(status)) {
    std::fprintf(stderr, "the extracting child died of signal %d\n", WTERMSIG(status));
    std::abort();
  }
  // Nothing may land outside the layer directory: the scratch holds only
  // the blob and the layer.
  for (const auto& entry : std::filesystem::directory_iterator(scratch)) {
    const std::string name = entry.path().filename();
    if (name != "blob" && name != "layer") {
      std::fprintf(stderr, "the layer wrote %s outside its directory\n", name.c_str());
      std::abort();
    }
  }
  return 0;
}
