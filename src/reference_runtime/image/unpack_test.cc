// Layer extraction: whiteouts in overlay form, and hostile entries refused
// with nothing written outside the layer directory. Needs root (chroot).
#include "reference_runtime/image/unpack.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crisp::crispd {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

struct Entry {
  std::string path;
  char type = 'f';  // f file, d dir, l symlink, h hardlink
  std::string content_or_target;
};

void WriteLayer(const std::string& path, const std::vector<Entry>& entries) {
  archive* writer = archive_write_new();
  archive_write_set_format_pax_restricted(writer);
  archive_write_add_filter_gzip(writer);
  ASSERT_EQ(archive_write_open_filename(writer, path.c_str()), ARCHIVE_OK);
  for (const Entry& e : entries) {
    archive_entry* entry = archive_entry_new();
    archive_entry_set_pathname(entry, e.path.c_str());
    archive_entry_set_mtime(entry, 0, 0);
    switch (e.type) {
      case 'd':
        archive_entry_set_filetype(entry, AE_IFDIR);
        archive_entry_set_perm(entry, 0755);
        break;
      case 'l':
        archive_entry_set_filetype(entry, AE_IFLNK);
        archive_entry_set_perm(entry, 0777);
        archive_entry_set_symlink(entry, e.content_or_target.c_str());
        break;
      case 'h':
        archive_entry_set_filetype(entry, AE_IFREG);
        archive_entry_set_perm(entry, 0644);
        archive_entry_set_hardlink(entry, e.content_or_target.c_str());
        break;
      default:
        archive_entry_set_filetype(entry, AE_IFREG);
        archive_entry_set_perm(entry, 0644);
        archive_entry_set_size(entry, static_cast<la_int64_t>(e.content_or_target.size()));
    }
    archive_write_header(writer, entry);
    if (e.type == 'f') archive_write_data(writer, e.content_or_target.data(), e.content_or_target.size());
    archive_entry_free(entry);
  }
  archive_write_close(writer);
  archive_write_free(writer);
}

class UnpackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "layer extraction chroots: needs root";
    base_ = ::testing::TempDir() + "/crispd-unpack-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::create_directories(base_ + "/layer");
  }
  void TearDown() override {
    if (!base_.empty()) fs::remove_all(base_);
  }

  // Extracts in a child process, as crispd's helper does; returns its error.
  std::string Extract(const std::vector<Entry>& entries) {
    std::string blob = base_ + "/layer.tar.gz";
    WriteLayer(blob, entries);
    int pipe_fds[2];
    EXPECT_EQ(pipe(pipe_fds), 0);
    pid_t pid = fork();
    if (pid == 0) {
      close(pipe_fds[0]);
      int fd = open(blob.c_str(), O_RDONLY);
      absl::Status status = ExtractLayerInChroot(fd, base_ + "/layer");
      std::string message(status.message());
      if (write(pipe_fds[1], message.data(), message.size()) < 0) _exit(3);
      _exit(status.ok() ? 0 : 1);
    }
    close(pipe_fds[1]);
    std::string message;
    char buffer[512];
    ssize_t n;
    while ((n = read(pipe_fds[0], buffer, sizeof(buffer))) > 0) message.append(buffer, static_cast<size_t>(n));
    close(pipe_fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "" : (message.empty() ? "failed" : message);
  }

  // Everything in base_ except the layer directory and the blob.
  std::vector<std::string> Outside() {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(base_)) {
      std::string name = entry.path().filename().string();
      if (name != "layer" && name != "layer.tar.gz") names.push_back(name);
    }
    return names;
  }

  std::string base_;
};

TEST_F(UnpackTest, ExtractsFilesDirectoriesAndLinks) {
  ASSERT_EQ(Extract({{"etc", 'd', ""},
                     {"etc/hostname", 'f', "crisp\n"},
                     {"etc/alias", 'h', "etc/hostname"},
                     {"bin", 'd', ""},
                     {"bin/sh", 'l', "busybox"},
                     {"./usr/lib/x", 'f', "deep"}}),
            "");
  std::ifstream hostname(base_ + "/layer/etc/hostname");
  std::string text((std::istreambuf_iterator<char>(hostname)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "crisp\n");
  EXPECT_EQ(fs::read_symlink(base_ + "/layer/bin/sh"), "busybox");
  EXPECT_TRUE(fs::equivalent(base_ + "/layer/etc/alias", base_ + "/layer/etc/hostname"));
  EXPECT_TRUE(fs::exists(base_ + "/layer/usr/lib/x"));
}

TEST_F(UnpackTest, WhiteoutsBecomeOverlayMarkers) {
  ASSERT_EQ(Extract({{"etc/.wh.motd", 'f', ""}, {"var/cache/.wh..wh..opq", 'f', ""}, {"var/cache/kept", 'f', "k"}}),
            "");
  struct stat info {};
  ASSERT_EQ(lstat((base_ + "/layer/etc/motd").c_str(), &info), 0);
  EXPECT_TRUE(S_ISCHR(info.st_mode));
  EXPECT_EQ(info.st_rdev, makedev(0, 0));
  EXPECT_FALSE(fs::exists(base_ + "/layer/etc/.wh.motd"));
  char value[8] = {};
  ASSERT_EQ(getxattr((base_ + "/layer/var/cache").c_str(), "trusted.overlay.opaque", value, sizeof(value)), 1);
  EXPECT_EQ(value[0], 'y');
  EXPECT_TRUE(fs::exists(base_ + "/layer/var/cache/kept"));
}

TEST_F(UnpackTest, DotDotEntryIsRefusedAndWritesNothingOutside) {
  std::string error = Extract({{"ok", 'f', "fine"}, {"../escaped", 'f', "evil"}});
  EXPECT_THAT(error, HasSubstr("entry \"../escaped\" climbs out with '..'"));
  EXPECT_THAT(Outside(), ::testing::IsEmpty());
  error = Extract({{"a/../../escaped2", 'f', "evil"}});
  EXPECT_THAT(error, HasSubstr("climbs out"));
  EXPECT_THAT(Outside(), ::testing::IsEmpty());
}

TEST_F(UnpackTest, WritingThroughASymlinkIsRefusedAndWritesNothingOutside) {
  // A symlink to the parent of the layer, then a file through it.
  std::string error = Extract({{"up", 'l', base_}, {"up/escaped", 'f', "evil"}});
  EXPECT_THAT(error, HasSubstr("entry \"up/escaped\" refused"));
  EXPECT_THAT(Outside(), ::testing::IsEmpty());
  error = Extract({{"rel", 'l', "../../../../.."}, {"rel/tmp/escaped", 'f', "evil"}});
  EXPECT_THAT(error, HasSubstr("refused"));
  EXPECT_THAT(Outside(), ::testing::IsEmpty());
}

TEST_F(UnpackTest, AbsolutePathsAndHardLinksOutAreRefused) {
  EXPECT_THAT(Extract({{"/abs", 'f', "x"}}), HasSubstr("absolute path"));
  EXPECT_THAT(Extract({{"link", 'h', "../outside"}}), HasSubstr("points outside"));
  EXPECT_THAT(Outside(), ::testing::IsEmpty());
}

}  // namespace
}  // namespace crisp::crispd
