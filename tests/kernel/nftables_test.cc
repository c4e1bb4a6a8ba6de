// The nftables adapter (libnftables) and LinuxEnv's nftables watch in a fresh namespace, with
// the nft command as the witness.
#include "io/nftables.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>

#include "ispfailover/io/linux_env.h"
#include "support/netns.h"

namespace ispf {
namespace {

using std::chrono::milliseconds;
using test::EnterNetns;
using test::Netns;
using test::RunUntil;

constexpr char kTable[] =
    "table inet t {\n"
    "  chain c {\n"
    "    type route hook output priority mangle; policy accept;\n"
    "    meta mark 0x1 counter\n"
    "  }\n"
    "}\n";

class NftablesTest : public ::testing::Test {
 protected:
  Nftables Open() {
    EnterNetns inside(ns_);
    auto nft = Nftables::open();
    if (!nft) throw std::runtime_error("Nftables::open: " + nft.error().message());
    return std::move(*nft);
  }

  // The whole ruleset as the nft command sees it.
  std::string Ruleset() { return ns_.Must("nft list ruleset"); }

  Netns ns_{"nft"};
};

TEST_F(NftablesTest, RunCreatesATableThatListTableShows) {
  Nftables nft = Open();
  ASSERT_FALSE(nft.run(kTable)) << nft.last_error();
  EXPECT_EQ(nft.last_error(), "");

  auto listed = nft.list_table("inet", "t");
  ASSERT_TRUE(listed.has_value()) << listed.error().message() << ": " << nft.last_error();
  EXPECT_NE(listed->find("table inet t {"), std::string::npos) << *listed;
  EXPECT_NE(listed->find("chain c {"), std::string::npos) << *listed;
  EXPECT_NE(listed->find("type route hook output priority mangle; policy accept;"),
            std::string::npos)
      << *listed;
  // Stateless: the counter is there, its values are not, so a listing is stable.
  EXPECT_NE(listed->find("counter"), std::string::npos) << *listed;
  EXPECT_EQ(listed->find("packets"), std::string::npos) << *listed;
  auto again = nft.list_table("inet", "t");
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(*again, *listed);

  // The witness agrees.
  EXPECT_NE(Ruleset().find("chain c {"), std::string::npos);
}

TEST_F(NftablesTest, SyntaxErrorIsReportedAndChangesNothing) {
  Nftables nft = Open();
  ASSERT_FALSE(nft.run(kTable)) << nft.last_error();
  const std::string before = Ruleset();

  // Two good commands, then one without the value it needs.
  std::error_code error =
      nft.run("add table inet u\nadd chain inet t d\nadd rule inet t c meta mark set\n");
  EXPECT_EQ(error, std::errc::invalid_argument) << error.message();
  EXPECT_NE(nft.last_error().find("syntax error"), std::string::npos) << nft.last_error();
  EXPECT_EQ(nft.last_error().find('\n'), std::string::npos) << nft.last_error();
  EXPECT_EQ(Ruleset(), before);
}

TEST_F(NftablesTest, AScriptIsOneTransaction) {
  Nftables nft = Open();
  // The second command passes nft's own checks and is refused by the kernel, after the first
  // was already in the batch: the kernel must undo the first as well.
  std::error_code error = nft.run(
      "add table inet first\n"
      "add chain inet first c { type filter hook input priority 0; policy accept; }\n"
      "delete table inet never_made\n");
  EXPECT_EQ(error, std::errc::no_such_file_or_directory) << error.message();
  EXPECT_NE(nft.last_error().find("No such file or directory"), std::string::npos)
      << nft.last_error();
  EXPECT_EQ(Ruleset(), "");
  auto listed = nft.list_table("inet", "first");
  ASSERT_FALSE(listed.has_value()) << *listed;
  EXPECT_EQ(listed.error(), std::errc::no_such_file_or_directory);

  // The kernel's errno comes through: EEXIST for a table that `create` finds there.
  ASSERT_FALSE(nft.run("add table inet t")) << nft.last_error();
  EXPECT_EQ(nft.run("create table inet t"), std::errc::file_exists) << nft.last_error();
  // And a success clears the last error.
  ASSERT_FALSE(nft.run("add table inet t"));
  EXPECT_EQ(nft.last_error(), "");
}

TEST_F(NftablesTest, ListTableOfAMissingTableIsEnoent) {
  Nftables nft = Open();
  auto listed = nft.list_table("inet", "nothere");
  ASSERT_FALSE(listed.has_value()) << *listed;
  EXPECT_EQ(listed.error(), std::errc::no_such_file_or_directory);
  EXPECT_NE(nft.last_error().find("No such file or directory"), std::string::npos)
      << nft.last_error();

  // nft 1.0.6 reads a name that is one of its keywords as the keyword (and takes no quoted
  // table names): no nft script can make or list such a table, and the error is the parser's.
  auto keyword = nft.list_table("inet", "missing");
  ASSERT_FALSE(keyword.has_value()) << *keyword;
  EXPECT_EQ(keyword.error(), std::errc::invalid_argument);
  EXPECT_NE(nft.last_error().find("syntax error"), std::string::npos) << nft.last_error();

  // A name that would be more than one word is refused before nft sees it.
  ASSERT_FALSE(nft.run(kTable)) << nft.last_error();
  auto injected = nft.list_table("inet", "t; flush ruleset");
  ASSERT_FALSE(injected.has_value());
  EXPECT_EQ(injected.error(), std::errc::invalid_argument);
  EXPECT_NE(Ruleset(), "");
}

// The runner acts on the namespace it was opened in, whichever the thread is in later.
TEST_F(NftablesTest, StaysInTheNamespaceItWasOpenedIn) {
  Nftables nft = Open();
  Netns other("nft-other");
  {
    EnterNetns inside(other);
    ASSERT_FALSE(nft.run("add table ip here")) << nft.last_error();
  }
  EXPECT_NE(Ruleset().find("table ip here"), std::string::npos);
  EXPECT_EQ(other.Must("nft list ruleset"), "");
}

class NftablesWatchTest : public NftablesTest {
 protected:
  std::unique_ptr<NftablesWatch> Watch(int& calls) {
    EnterNetns inside(ns_);
    auto watch = env_.watch_nftables([&calls] { ++calls; });
    if (!watch) throw std::runtime_error("watch_nftables: " + watch.error().message());
    return std::move(*watch);
  }
  bool Await(const int& calls, int at_least) {
    return RunUntil(
        io_, [&] { return calls >= at_least; }, milliseconds(3000));
  }

  asio::io_context io_;
  LinuxEnv env_{io_, "nftables_test"};
};

TEST_F(NftablesWatchTest, FiresForForeignAndOwnChanges) {
  int calls = 0;
  auto watch = Watch(calls);
  Nftables nft = Open();

  ns_.Must("nft add table inet foreign");
  ASSERT_TRUE(Await(calls, 1)) << "no call after `nft add table`";
  // A ruleset flush by the nft command.
  const int before_flush = calls;
  ns_.Must("nft flush ruleset");
  ASSERT_TRUE(Await(calls, before_flush + 1)) << "no call after `nft flush ruleset`";

  // Our own transaction is reported like anyone's.
  const int before_run = calls;
  ASSERT_FALSE(nft.run(kTable)) << nft.last_error();
  ASSERT_TRUE(Await(calls, before_run + 1)) << "no call after our own run()";
}

TEST_F(NftablesWatchTest, ADestroyedWatchCallsNothing) {
  int gone_calls = 0;
  int witness_calls = 0;
  auto gone = Watch(gone_calls);
  auto witness = Watch(witness_calls);

  // Destroyed with the change's messages already queued on its socket.
  ns_.Must("nft add table inet one");
  gone.reset();
  ASSERT_TRUE(Await(witness_calls, 1));
  // And a change after it is gone. Both sockets get each message at the commit, so once the
  // witness was called, a live watch would have been as well.
  ns_.Must("nft flush ruleset");
  ASSERT_TRUE(Await(witness_calls, 2));
  EXPECT_EQ(gone_calls, 0);
}

// A handler may destroy its own watch (the owner drops it and re-reads the ruleset).
TEST_F(NftablesWatchTest, AHandlerMayDestroyItsWatch) {
  std::unique_ptr<NftablesWatch> watch;
  int calls = 0;
  {
    EnterNetns inside(ns_);
    auto opened = env_.watch_nftables([&] {
      ++calls;
      watch.reset();
    });
    ASSERT_TRUE(opened.has_value()) << opened.error().message();
    watch = std::move(*opened);
  }
  int witness_calls = 0;
  auto witness = Watch(witness_calls);
  ns_.Must("nft add table inet one");
  ASSERT_TRUE(Await(calls, 1));
  EXPECT_EQ(watch, nullptr);
  ns_.Must("nft flush ruleset");
  ASSERT_TRUE(Await(witness_calls, 2));
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace ispf
