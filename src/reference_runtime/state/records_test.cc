#include "reference_runtime/state/records.h"

#include <filesystem>
#include <fstream>

#include "common/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crisp::crispd {
namespace {

namespace fs = std::filesystem;
using ::crispd::state::v1::ContainerRecord;
using ::crispd::state::v1::SandboxRecord;
using ::testing::HasSubstr;

class RecordsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<TempDir> temp = TempDir::Make("crispd-records-test");
    ASSERT_TRUE(temp.ok()) << temp.status();
    temp_ = std::move(*temp);
  }
  std::string Write(const std::string& name, const std::string& text) {
    std::string path = temp_.path() + "/" + name;
    std::ofstream(path) << text;
    return path;
  }
  TempDir temp_;
};

TEST_F(RecordsTest, ARecordComesBackAsWrittenWithTheVersion) {
  SandboxRecord record;
  record.set_id("abc");
  record.mutable_config()->mutable_metadata()->set_name("web");
  record.set_state(runtime::v1::SANDBOX_READY);
  auto* port = record.add_port_mappings();
  port->set_host_port(8080);
  port->set_container_port(80);
  port->set_protocol("tcp");
  std::string path = temp_.path() + "/sandbox.json";
  ASSERT_TRUE(WriteRecord(path, record).ok());
  SandboxRecord read;
  ASSERT_TRUE(ReadRecord(path, &read).ok());
  EXPECT_EQ(read.version(), kRecordVersion);
  EXPECT_EQ(read.id(), "abc");
  EXPECT_EQ(read.config().metadata().name(), "web");
  EXPECT_EQ(read.state(), runtime::v1::SANDBOX_READY);
  EXPECT_EQ(CniPortMappings(read).dump(), R"([{"containerPort":80,"hostIP":"","hostPort":8080,"protocol":"tcp"}])");
}

TEST_F(RecordsTest, RecordsFromBeforeTheSchemaStillLoad) {
  // As crispd wrote them by hand until the schema existed: no version,
  // proto field names, enums as numbers.
  std::string path = Write("old.json", R"({"id": "abc", "config": {"metadata": {"name": "web", "uid": "u",
      "namespace": "default"}}, "handler": "", "state": 0, "created_at": 5, "ip": "10.0.0.2",
      "netns": "/var/run/netns/crispd-abc",
      "port_mappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp", "hostIP": ""}]})");
  SandboxRecord read;
  ASSERT_TRUE(ReadRecord(path, &read).ok());
  EXPECT_EQ(read.version(), 0u);
  EXPECT_EQ(read.created_at(), 5);
  EXPECT_EQ(read.netns(), "/var/run/netns/crispd-abc");
  ASSERT_EQ(read.port_mappings_size(), 1);
  EXPECT_EQ(read.port_mappings(0).host_port(), 8080);
  std::string container = Write("old-container.json", R"({"id": "c", "sandbox_id": "abc", "state": 2,
      "exit_code": 137, "conmon_pid": 42, "config": {"metadata": {"name": "app"}}})");
  ContainerRecord read_container;
  ASSERT_TRUE(ReadRecord(container, &read_container).ok());
  EXPECT_EQ(read_container.state(), runtime::v1::CONTAINER_EXITED);
  EXPECT_EQ(read_container.exit_code(), 137);
}

TEST_F(RecordsTest, ACorruptRecordIsDataLossNamingTheFile) {
  for (const char* text : {"", "{\"id\": ", "[1, 2]", "{\"state\": \"NOT_A_STATE\"}", "{\"id\": 3}"}) {
    std::string path = Write("bad.json", text);
    SandboxRecord read;
    absl::Status status = ReadRecord(path, &read);
    EXPECT_TRUE(absl::IsDataLoss(status)) << "'" << text << "': " << status;
    EXPECT_THAT(status.message(), HasSubstr(path));
  }
}

TEST_F(RecordsTest, AMissingRecordIsNotFoundAndANewerOneIsRefused) {
  SandboxRecord read;
  EXPECT_TRUE(absl::IsNotFound(ReadRecord(temp_.path() + "/none.json", &read)));
  std::string path = Write("newer.json", R"({"version": 2, "id": "abc"})");
  absl::Status status = ReadRecord(path, &read);
  EXPECT_TRUE(absl::IsFailedPrecondition(status)) << status;
  EXPECT_THAT(status.message(), HasSubstr("record version 2"));
}

TEST_F(RecordsTest, QuarantineMovesTheDirectoryAsideWithoutOverwriting) {
  for (int i = 0; i < 2; ++i) {
    fs::create_directories(temp_.path() + "/sandboxes/abc");
    std::ofstream(temp_.path() + "/sandboxes/abc/sandbox.json") << "garbage " << i;
    absl::StatusOr<std::string> moved = Quarantine(temp_.path(), "sandbox", temp_.path() + "/sandboxes/abc");
    ASSERT_TRUE(moved.ok()) << moved.status();
    EXPECT_TRUE(fs::exists(*moved + "/sandbox.json"));
    EXPECT_FALSE(fs::exists(temp_.path() + "/sandboxes/abc"));
  }
  EXPECT_TRUE(fs::exists(temp_.path() + "/quarantine/sandbox-abc"));
  EXPECT_TRUE(fs::exists(temp_.path() + "/quarantine/sandbox-abc.1"));
}

}  // namespace
}  // namespace crisp::crispd
