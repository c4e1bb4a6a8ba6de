// LinuxEnv::write_file_atomically on a real file system: replaces content, readers never see a
// torn file, symbolic links are replaced and never written through.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>

#include "ispfailover/io/linux_env.h"

namespace ispf {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class StatusFileTest : public ::testing::Test {
 protected:
  StatusFileTest() {
    char pattern[] = "/tmp/ispfk-status-XXXXXX";
    if (::mkdtemp(pattern) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = pattern;
    path_ = dir_ + "/status.json";
  }
  ~StatusFileTest() override {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  std::error_code write_file_atomically(const std::string& path, std::string_view content) {
    return env_.write_file_atomically(path, content);
  }

  std::string dir_;
  std::string path_;
  asio::io_context io_;
  LinuxEnv env_{io_, "status_file_test"};
};

TEST_F(StatusFileTest, CreatesAndReplacesContent) {
  ASSERT_FALSE(write_file_atomically(path_, "{\"first\": true}\n"));
  EXPECT_EQ(ReadAll(path_), "{\"first\": true}\n");
  ASSERT_FALSE(write_file_atomically(path_, "{}\n"));
  EXPECT_EQ(ReadAll(path_), "{}\n") << "the shorter content must not keep the old tail";
  ASSERT_FALSE(write_file_atomically(path_, ""));
  EXPECT_EQ(ReadAll(path_), "");
  // Nothing but the file itself is left in the directory.
  int entries = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
    ++entries;
    EXPECT_EQ(entry.path().string(), path_);
  }
  EXPECT_EQ(entries, 1);
}

TEST_F(StatusFileTest, CreatesAMissingDirectory) {
  const std::string path = dir_ + "/missing/deeper/status.json";
  ASSERT_FALSE(write_file_atomically(path, "x"));
  EXPECT_EQ(ReadAll(path), "x");
}

TEST_F(StatusFileTest, FailsWhereTheDirectoryIsAFile) {
  ASSERT_FALSE(write_file_atomically(dir_ + "/file", "x"));
  EXPECT_TRUE(write_file_atomically(dir_ + "/file/status.json", "x"));
}

TEST_F(StatusFileTest, FileIsWorldReadableWhateverTheUmask) {
  mode_t old = ::umask(077);
  std::error_code written = write_file_atomically(path_, "x");
  ::umask(old);
  ASSERT_FALSE(written);
  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
}

// A link planted at the status path (say, to /etc/shadow) is replaced, its target untouched.
TEST_F(StatusFileTest, ReplacesASymbolicLinkInsteadOfWritingThroughIt) {
  const std::string victim = dir_ + "/victim";
  { std::ofstream(victim) << "precious"; }
  std::filesystem::create_symlink(victim, path_);
  ASSERT_FALSE(write_file_atomically(path_, "status"));
  EXPECT_EQ(ReadAll(victim), "precious");
  EXPECT_FALSE(std::filesystem::is_symlink(path_));
  EXPECT_EQ(ReadAll(path_), "status");
}

TEST_F(StatusFileTest, ConcurrentReaderNeverSeesAPartialFile) {
  // Large enough that a non-atomic write would be seen half done.
  const std::string small(4096, 'a');
  const std::string large(256 * 1024, 'b');
  ASSERT_FALSE(write_file_atomically(path_, small));

  std::atomic<bool> stop{false};
  std::atomic<int> reads{0};
  std::atomic<int> torn{0};
  std::string example;
  std::thread reader([&] {
    while (!stop.load()) {
      std::string seen = ReadAll(path_);
      ++reads;
      if (seen != small && seen != large) {
        if (torn++ == 0) example = seen.substr(0, 64) + "... (" + std::to_string(seen.size()) + ")";
      }
    }
  });
  int errors = 0;
  for (int i = 0; i < 400; ++i) {
    if (write_file_atomically(path_, i % 2 == 0 ? large : small)) ++errors;
  }
  stop = true;
  reader.join();
  EXPECT_EQ(errors, 0);
  EXPECT_GT(reads.load(), 10) << "the reader hardly ran: the test proves little";
  EXPECT_EQ(torn.load(), 0) << "torn read, e.g. " << example;
}

}  // namespace
}  // namespace ispf
