// The journal's MESSAGE_IDs: which events get one, and the catalog that explains every one.
#include "ispfailover/core/message_ids.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>

namespace ispf {
namespace {

// Catalog entries by id: the text from the "-- ID" line to the next one.
std::map<std::string, std::string> ReadCatalog() {
  std::ifstream in(std::string(ISPF_SOURCE_DIR) + "/systemd/ispfailover.catalog");
  EXPECT_TRUE(in) << "systemd/ispfailover.catalog not found";
  std::map<std::string, std::string> entries;
  std::string line, current;
  while (std::getline(in, line)) {
    if (line.rfind("-- ", 0) == 0) {
      current = line.substr(3);
      EXPECT_FALSE(entries.contains(current)) << "catalog lists " << current << " twice";
      entries[current] = "\n";  // so that every header line starts with a newline
    } else if (!current.empty()) {
      entries[current] += line + "\n";
    }
  }
  return entries;
}

LogEvent Event(EventKind kind, LogLevel level, std::string state) {
  return LogEvent{level, kind, "text", {{"ISPF_ISP", "isp1"}, {"ISPF_STATE", std::move(state)}}};
}

std::string IdOf(std::string_view name) {
  for (const auto& m : all_message_ids()) {
    if (m.name == name) return std::string(m.id);
  }
  return "(no id named " + std::string(name) + ")";
}

TEST(MessageIds, AreUniqueJournalIds) {
  std::set<std::string_view> ids, names;
  const std::regex hex32("[0-9a-f]{32}");
  for (const auto& m : all_message_ids()) {
    EXPECT_TRUE(std::regex_match(std::string(m.id), hex32)) << m.id;
    EXPECT_TRUE(ids.insert(m.id).second) << "id used twice: " << m.id;
    EXPECT_TRUE(names.insert(m.name).second) << "name used twice: " << m.name;
  }
  EXPECT_GE(ids.size(), 5u);
}

TEST(MessageIds, TheCatalogExplainsEveryIdAndNoOther) {
  auto catalog = ReadCatalog();
  std::set<std::string> ours;
  for (const auto& m : all_message_ids()) {
    ours.insert(std::string(m.id));
    ASSERT_TRUE(catalog.contains(std::string(m.id))) << m.name << " has no catalog entry";
    const std::string& text = catalog[std::string(m.id)];
    EXPECT_NE(text.find("\nSubject: "), std::string::npos) << m.name << ": no Subject";
    EXPECT_NE(text.find("Defined-By: ispfailover"), std::string::npos) << m.name;
    // A header block, an empty line, then the explanation (journalctl -x prints the latter).
    EXPECT_NE(text.find("\n\n"), std::string::npos) << m.name << ": no body";
  }
  for (const auto& [id, text] : catalog) {
    EXPECT_TRUE(ours.contains(id)) << "catalog entry " << id << " is not an id we log";
  }
}

TEST(MessageIds, SwitchesAndStateChangesGetThem) {
  EXPECT_EQ(message_id_of(LogEvent{LogLevel::kWarning, EventKind::kSwitch, "switch", {}}),
            IdOf("switch"));
  EXPECT_EQ(message_id_of(Event(EventKind::kIspHealth, LogLevel::kInfo, "down")), IdOf("isp-down"));
  EXPECT_EQ(message_id_of(Event(EventKind::kIspHealth, LogLevel::kInfo, "stale")),
            IdOf("isp-stale"));
  EXPECT_EQ(message_id_of(Event(EventKind::kIspHealth, LogLevel::kInfo, "up")), IdOf("isp-up"));
  EXPECT_EQ(message_id_of(Event(EventKind::kIspHealth, LogLevel::kInfo, "degraded")),
            IdOf("isp-degraded"));
  EXPECT_EQ(message_id_of(Event(EventKind::kLineState, LogLevel::kWarning, "down")),
            IdOf("line-down"));
  EXPECT_EQ(message_id_of(Event(EventKind::kLineState, LogLevel::kWarning, "up")), IdOf("line-up"));
  EXPECT_EQ(message_id_of(LogEvent{LogLevel::kWarning, EventKind::kAllDown, "all down", {}}),
            IdOf("all-down"));
}

TEST(MessageIds, RoutineEventsGetNone) {
  // ispprobed's first verdict and reason updates are info lines, not events to look up.
  EXPECT_EQ(message_id_of(Event(EventKind::kLineState, LogLevel::kInfo, "up")), std::nullopt);
  EXPECT_EQ(message_id_of(LogEvent{LogLevel::kDebug, EventKind::kProbe, "probe", {}}),
            std::nullopt);
  EXPECT_EQ(message_id_of(LogEvent{LogLevel::kInfo, EventKind::kStarted, "started", {}}),
            std::nullopt);
  // A state we do not know (a newer peer's) gets no id rather than a wrong one.
  EXPECT_EQ(message_id_of(Event(EventKind::kIspHealth, LogLevel::kInfo, "weird")), std::nullopt);
}

}  // namespace
}  // namespace ispf
