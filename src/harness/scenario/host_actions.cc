#include "harness/scenario/host_actions.h"

#include <algorithm>

namespace crisp::scenario {
namespace {

const std::vector<HostAction>& Table() {
  static const std::vector<HostAction> table = {
      {"temp_dir", {}, {}, "{path}: a new empty directory, removed (with what is mounted in it) when the scenario ends", true, {kNodeMount}},
      {"write_file", {"content"}, {"path", "mode"}, "{path}: the file written (default: a new file in the scenario's temp area)", true, {kNodeMount}},
      {"symlink", {"target"}, {"path"}, "{path}: a symbolic link to target", true, {kNodeMount}},
      {"mount", {"target"}, {"type", "source", "propagation", "options"},
       "{target}: type bind (source) or tmpfs, then propagation private|shared|slave; unmounted at the end", true, {kNodeMount}},
      {"tcp_listen", {}, {"port"}, "{port}: a TCP socket listening on all addresses until the scenario ends", true, {kNodeNetwork}},
      {"host_address", {}, {}, "{ipv4, interface}: the host's IPv4 address on the interface of its default route", true, {kNodeNetwork}},
      {"http_get", {"url"}, {"timeout"}, "{status, body, error}: status 0 and error when no answer came", true, {kNodeNetwork}},
      {"stat", {"path"}, {}, "{exists, type, size, content}: type file|dir|symlink|other; content of small files", true, {kNodeMount}},
      {"run", {"argv"}, {"timeout", "undo"},
       "{exit_code, stdout, stderr}: a host command, not through a shell; undo: a command run when the scenario ends", true, {kNodeMount, kNodeNetwork, kNodePid, kNodeIpc}},
      {"stream", {"url"}, {"stdin", "quiet", "until", "timeout", "resize", "transport", "request", "protocols", "close_stdin"},
       "{connected, protocol, stdout, stderr, exit_code, status, before_stdin, stdin_closed, closed_by, error}: an Exec "
       "or Attach URL followed over WebSocket (`protocols` offered, v4.channel.k8s.io by default) or SPDY/3.1 "
       "(transport: spdy, with request: the Exec or Attach request); stdin is written after `quiet` seconds, then "
       "ended if close_stdin (SPDY's FIN, v5's close signal; stdin_closed false when the protocol chosen has none); "
       "the session ends when the server closes it or stdout has carried `until`", false, {kNodeNetwork}},
      {"port_forward", {"url"}, {"send", "until", "timeout", "transport", "request", "ports"},
       "{connected, protocol, port, error_port, data, errors, forwards, closed_by, error}: a PortForward URL followed "
       "over WebSocket or SPDY/3.1; `send` goes to each forwarded port (`ports`, else the request's), `forwards` has "
       "each port's data and errors (the keys outside it are the first port's); the session ends when the server "
       "closes it or every port's data has carried `until`", false, {kNodeNetwork}},
  };
  return table;
}

}  // namespace

std::span<const HostAction> HostActions() { return Table(); }

const HostAction* FindHostAction(std::string_view name) {
  const auto& table = Table();
  auto found = std::find_if(table.begin(), table.end(), [&](const HostAction& action) { return action.name == name; });
  return found == table.end() ? nullptr : &*found;
}

}  // namespace crisp::scenario
