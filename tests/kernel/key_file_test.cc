// load_key_file against real files: modes and owners that let someone else read or change the key.
#include "ispfailover/io/key_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

namespace ispf {
namespace {

class KeyFileTest : public testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/ispf-keyfile-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    path_ = dir_ + "/key";
    std::ofstream(path_) << "0123456789abcdef0123456789abcdef\n";
    ASSERT_EQ(chmod(path_.c_str(), 0600), 0);
  }
  void TearDown() override {
    unlink(path_.c_str());
    rmdir(dir_.c_str());
  }
  std::string dir_, path_;
};

TEST_F(KeyFileTest, OwnFileReadableOnlyByUsIsLoaded) {
  auto keys = load_key_file(path_);
  ASSERT_TRUE(keys) << keys.error();
  EXPECT_EQ(keys->size(), 1u);
}

TEST_F(KeyFileTest, ReadableByOthersIsRefusedWithTheFix) {
  ASSERT_EQ(chmod(path_.c_str(), 0644), 0);
  auto keys = load_key_file(path_);
  ASSERT_FALSE(keys);
  EXPECT_NE(keys.error().find("chmod o-rwx " + path_), std::string::npos) << keys.error();
}

TEST_F(KeyFileTest, OwnedBySomeoneElseIsRefusedWithTheFix) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to give the file to another user";
  ASSERT_EQ(chown(path_.c_str(), 65534, 65534), 0);  // nobody
  auto keys = load_key_file(path_);
  ASSERT_FALSE(keys);
  EXPECT_NE(keys.error().find("is owned by"), std::string::npos) << keys.error();
  EXPECT_NE(keys.error().find("chown root " + path_), std::string::npos) << keys.error();
}

TEST_F(KeyFileTest, ADirectoryIsNotAKeyFile) {
  auto keys = load_key_file(dir_);
  ASSERT_FALSE(keys);
  EXPECT_NE(keys.error().find("not a regular file"), std::string::npos) << keys.error();
}

}  // namespace
}  // namespace ispf
