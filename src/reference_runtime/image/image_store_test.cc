// The image store on OCI layouts made in the test (images without layers,
// so no unpacking and no root): import, lookups by every reference form,
// persistence, tags, removal, pins and garbage collection, and refusals of
// broken layouts.
#include "reference_runtime/image/image_store.h"

#include <filesystem>
#include <fstream>

#include "common/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "reference_runtime/image/test_layout.h"

namespace crisp::crispd {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class ImageStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<TempDir> temp = TempDir::Make("crispd-images-test");
    ASSERT_TRUE(temp.ok()) << temp.status();
    temp_ = std::move(*temp);
    Reopen();
  }
  void Reopen() {
    store_.reset();
    auto store = ImageStore::Open(temp_.path() + "/root", {}, "/nonexistent/helper");
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
  }
  // A layout of one image without layers, named `ref_name`; returns its dir.
  std::string Layout(const std::string& name, const std::string& ref_name, const std::string& user = "app",
                     bool as_index = false) {
    std::string dir = temp_.path() + "/" + name;
    testing::WriteEmptyImageLayout(dir, ref_name, user, as_index);
    return dir;
  }
  ImageRecord Import(const std::string& dir, const std::string& name = "") {
    absl::StatusOr<std::vector<ImageRecord>> imported = store_->ImportLayout(dir, name);
    EXPECT_TRUE(imported.ok()) << imported.status();
    EXPECT_EQ(imported.ok() ? imported->size() : 0u, 1u);
    return imported.ok() && !imported->empty() ? imported->front() : ImageRecord();
  }

  TempDir temp_;
  std::unique_ptr<ImageStore> store_;
};

TEST_F(ImageStoreTest, AnImportedImageIsFoundByEveryReferenceForm) {
  ImageRecord image = Import(Layout("empty", "docker.io/library/empty:1"));
  EXPECT_THAT(image.id, ::testing::StartsWith("sha256:"));
  EXPECT_THAT(image.repo_tags, ElementsAre("docker.io/library/empty:1"));
  ASSERT_EQ(image.repo_digests.size(), 1u);
  EXPECT_EQ(image.config.value("User", ""), "app");
  EXPECT_TRUE(image.layers.empty());
  for (const std::string& reference : {std::string("docker.io/library/empty:1"), std::string("empty:1"), image.id,
                                       image.id.substr(7), image.repo_digests[0]}) {
    std::optional<ImageRecord> found = store_->Find(reference);
    ASSERT_TRUE(found.has_value()) << reference;
    EXPECT_EQ(found->id, image.id) << reference;
  }
  EXPECT_FALSE(store_->Find("empty:2").has_value());
  EXPECT_FALSE(store_->Find("not a reference!").has_value());
  EXPECT_EQ(store_->List().size(), 1u);
  EXPECT_TRUE(store_->LayerDirectories(image).empty());
  EXPECT_GT(store_->FilesystemUsage().bytes, 0u);
}

TEST_F(ImageStoreTest, TheStoreIsPersisted) {
  ImageRecord image = Import(Layout("empty", "docker.io/library/empty:1"));
  Reopen();
  std::optional<ImageRecord> found = store_->Find("empty:1");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->id, image.id);
  EXPECT_EQ(found->config.value("Cmd", json::array()), json::array({"sh"}));
}

TEST_F(ImageStoreTest, ATagNamesOneImageAndTwoTagsCanNameTheSame) {
  ImageRecord first = Import(Layout("a", "docker.io/library/app:latest", "a"));
  Import(Layout("a", "docker.io/library/app:v1", "a"));
  EXPECT_THAT(store_->Find("app:v1")->repo_tags, ElementsAre("docker.io/library/app:latest", "docker.io/library/app:v1"));
  ImageRecord second = Import(Layout("b", "docker.io/library/app:latest", "b"));
  ASSERT_NE(first.id, second.id);
  EXPECT_EQ(store_->Find("app:latest")->id, second.id) << "the tag moves to the image it now names";
  EXPECT_THAT(store_->Find(first.id)->repo_tags, ElementsAre("docker.io/library/app:v1"));
}

TEST_F(ImageStoreTest, AnIndexResolvesToItsLinuxAmd64Image) {
  ImageRecord image = Import(Layout("multi", "docker.io/library/multi:1", "app", /*as_index=*/true));
  EXPECT_EQ(image.config.value("User", ""), "app");
  EXPECT_EQ(image.blobs.size(), 3u);  // the index, the manifest, the config
}

TEST_F(ImageStoreTest, RemoveIsIdempotentAndPinsKeepBlobsUntilTheLastUnpin) {
  ImageRecord image = Import(Layout("empty", "docker.io/library/empty:1"));
  std::string config_blob = temp_.path() + "/root/content/sha256/" + image.id.substr(7);
  ASSERT_TRUE(fs::exists(config_blob)) << "blobs are kept by digest under the root";
  store_->Pin(image.id);
  ASSERT_TRUE(store_->Remove("empty:1").ok());
  EXPECT_FALSE(store_->Find("empty:1").has_value());
  EXPECT_TRUE(fs::exists(config_blob)) << "a pinned image's blobs went with its record";
  store_->Unpin(image.id);
  EXPECT_FALSE(fs::exists(config_blob)) << "the last unpin did not collect the removed image";
  EXPECT_TRUE(store_->Remove("empty:1").ok());
  EXPECT_TRUE(store_->Remove("never-pulled:1").ok());
}

TEST_F(ImageStoreTest, BrokenLayoutsAreRefusedWithTheReason) {
  EXPECT_THAT(store_->ImportLayout(temp_.path() + "/none", "").status().message(), HasSubstr("no index.json"));
  std::string bare = Layout("bare", "1.0");
  absl::Status unnamed = store_->ImportLayout(bare, "").status();
  EXPECT_THAT(unnamed.message(), HasSubstr("give --name REPOSITORY"));
  EXPECT_EQ(Import(bare, "docker.io/library/bare").repo_tags[0], "docker.io/library/bare:1.0");
  std::string tampered = Layout("tampered", "docker.io/library/tampered:1");
  for (const auto& blob : fs::directory_iterator(tampered + "/blobs/sha256")) {
    std::string text;
    std::getline(std::ifstream(blob.path()), text);
    if (text.find("rootfs") != std::string::npos) std::ofstream(blob.path()) << text << " ";  // the config, changed
  }
  absl::Status status = store_->ImportLayout(tampered, "").status();
  EXPECT_TRUE(absl::IsDataLoss(status)) << status;
  EXPECT_THAT(status.message(), HasSubstr("does not match its digest"));
  EXPECT_FALSE(store_->Find("tampered:1").has_value());
  std::ofstream(tampered + "/index.json") << "[]";
  EXPECT_THAT(store_->ImportLayout(tampered, "").status().message(), HasSubstr("is not an OCI index"));
}

}  // namespace
}  // namespace crisp::crispd
