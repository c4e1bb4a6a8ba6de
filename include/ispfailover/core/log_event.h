// What an engine wants said: a typed event, its level, one readable line, fields for the journal.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace ispf {

enum class LogLevel { kDebug, kInfo, kWarning, kError, kCritical };

// Every kind of event the engines report; the shell may give some a journal MESSAGE_ID.
enum class EventKind {
  kStarted,
  kReloaded,
  kReloadRefused,
  kStopping,
  kSwitch,         // the default route moved from one ISP to another (or was withdrawn)
  kIspHealth,      // an ISP's health changed (up, degraded, down, stale)
  kAllDown,        // no ISP is up any more
  kIspBack,        // an ISP is up again after all were down
  kRouteAdopted,   // after a restart, our route from before is kept
  kRouteRestored,  // someone removed or rewrote our route; put back
  kForeignRouteDeleted,
  kRouteEditFailed,    // the kernel refused a route edit; retried with backoff
  kDatagramRefused,    // rate-limited: a refused status datagram
  kDatagramAccepted,   // debug: a report accepted
  kUnverifiedSender,   // an ISP signs, we check nothing
  kProbe,              // debug: one probe's outcome
  kLink,               // the uplink's state as netlink reports it
  kLineState,          // ispprobed's verdict changed (or got a better reason)
  kSendFailed,         // rate-limited: a status datagram could not be sent
  kStatusWriteFailed,  // rate-limited: the status, state or metrics file could not be written
  kDns,                // the client's resolvers now follow another ISP (or could not be set)
  kHook,               // a hook's run, output, exit, kill, or a refused hook file
  kSteering,           // sticky connections' marks, tables and rules: put in place, or not
  kConnectionsReset,   // the connections of a dead ISP were ended
};

struct LogEvent {
  LogLevel level = LogLevel::kInfo;
  EventKind kind = EventKind::kStarted;
  std::string text;                                         // one line, complete in itself
  std::vector<std::pair<std::string, std::string>> fields;  // e.g. {"ISPF_ISP", "isp1"}
};

}  // namespace ispf
