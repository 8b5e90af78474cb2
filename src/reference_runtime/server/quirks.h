// Quirks: ways crispd can be told to behave like a minimal runtime rather
// than like the reference. Each is a behaviour a runtime may show (or that
// a real one does), and each is off unless `crispd --quirk` names it. They
// exist so that crisp's handling of such a runtime (its kubelet-fidelity
// layer, docs/kubelet-fidelity.md) is proven end to end on real pods,
// images and processes, not only against the in-process fake.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace crisp::crispd {

struct Quirks {
  // CreateContainer does not make the directory of the container's log
  // file: the kubelet makes it, and a runtime may rely on that.
  bool no_log_directory = false;
  // Exec, Attach and PortForward answer a URL without a scheme
  // (`//127.0.0.1:PORT/...`).
  bool scheme_relative_urls = false;
  // Stop and Remove of a container or pod sandbox crispd does not know
  // answer Unknown instead of OK, as some runtimes do for what is gone.
  bool unknown_on_missing = false;

  bool any() const { return no_log_directory || scheme_relative_urls || unknown_on_missing; }
};

// The quirk names `--quirk` takes, with what each does, for --help.
const std::vector<std::pair<std::string_view, std::string_view>>& QuirkNames();

// Sets the named quirks ("a,b" or one per call); InvalidArgument names an
// unknown one and lists the known.
absl::Status AddQuirks(std::string_view names, Quirks& quirks);

// The names of the quirks that are on, comma-separated ("" for none).
std::string QuirkList(const Quirks& quirks);

}  // namespace crisp::crispd
