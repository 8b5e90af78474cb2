// crispd's SPDY/3.1 streaming server against an independent client: the
// npm spdy-transport package (spdy_exec_client.cjs) opens an exec's
// streams after the upgrade, as client-go does, and reads what crispd
// sends on each. Needs node and `npm ci --prefix tests/interop`.
#include <poll.h>
#include <unistd.h>

#include <filesystem>

#include "absl/time/clock.h"
#include "common/subprocess.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "reference_runtime/streaming/streaming_server.h"

namespace crisp::crispd {
namespace {

using ::testing::HasSubstr;

const std::string kPeerDir = std::string(CRISP_SOURCE_DIR) + "/tests/interop";

// Runs the node client on `url` with these stream types; its JSON report.
nlohmann::json RunClient(const std::string& url, const std::vector<std::string>& types, const std::string& input = "") {
  if (!std::filesystem::exists(kPeerDir + "/node_modules/spdy-transport")) {
    ADD_FAILURE() << "the npm spdy package is missing: run npm ci --prefix tests/interop";
    return nullptr;
  }
  RunOptions options;
  options.spawn.argv = {"node", kPeerDir + "/spdy_exec_client.cjs", url};
  options.spawn.argv.insert(options.spawn.argv.end(), types.begin(), types.end());
  options.spawn.search_path = true;
  options.spawn.env = std::vector<std::string>{"PATH=/usr/bin:/bin", "STDIN=" + input};
  if (const char* debug = getenv("CRISP_INTEROP_DEBUG")) options.spawn.env->push_back(std::string("DEBUG=") + debug);
  options.timeout = absl::Seconds(20);
  absl::StatusOr<RunResult> ran = RunProgram(options);
  if (!ran.ok()) {
    ADD_FAILURE() << ran.status();
    return nullptr;
  }
  EXPECT_FALSE(ran->timed_out) << "the client did not finish: " << ran->stderr_text;
  if (getenv("CRISP_INTEROP_DEBUG") != nullptr) std::cerr << ran->stderr_text;
  nlohmann::json report = nlohmann::json::parse(ran->stdout_text, nullptr, false);
  EXPECT_TRUE(report.is_object()) << ran->stdout_text << ran->stderr_text;
  return report;
}

TEST(SpdyServerInteropTest, ExecStreamsReachAnIndependentClient) {
  auto server = StreamingServer::Start("127.0.0.1");
  ASSERT_TRUE(server.ok()) << server.status();
  nlohmann::json report = RunClient(
      (*server)->ExecUrl({.argv = {"/bin/sh", "-c", "echo out; echo err >&2; exit 3"}, .stdout = true, .stderr = true}),
      {"error", "stdout", "stderr"});
  ASSERT_TRUE(report.is_object());
  EXPECT_THAT(report.value("status", ""), HasSubstr("101"));
  EXPECT_EQ(report["channels"].value("stdout", ""), "out\n") << report.dump();
  EXPECT_EQ(report["channels"].value("stderr", ""), "err\n");
  EXPECT_THAT(report["channels"].value("error", ""), HasSubstr("non-zero exit code: 3"));
}

TEST(SpdyServerInteropTest, TheClientsStdinAndItsHalfCloseReachTheCommand) {
  auto server = StreamingServer::Start("127.0.0.1");
  ASSERT_TRUE(server.ok()) << server.status();
  nlohmann::json report = RunClient((*server)->ExecUrl({.argv = {"/bin/cat"}, .stdin = true, .stdout = true}),
                                    {"error", "stdin", "stdout"}, "one\ntwo\n");
  ASSERT_TRUE(report.is_object());
  EXPECT_EQ(report["channels"].value("stdout", ""), "one\ntwo\n");
  EXPECT_THAT(report["channels"].value("error", ""), HasSubstr("Success"));
}

}  // namespace
}  // namespace crisp::crispd
