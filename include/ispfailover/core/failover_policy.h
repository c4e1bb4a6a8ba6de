// The route decision: which trusted ISP carries the default route now, and why.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ispfailover/core/clock.h"
#include "ispfailover/core/status_message.h"

namespace ispf {

struct IspConfig {
  std::string name;
  std::uint32_t gateway = 0;  // IPv4, host byte order
  int priority = 0;           // lower is preferred; ties broken by configuration order

  bool operator==(const IspConfig&) const = default;
};

enum class AllDownPolicy { kKeep, kRemove };

struct PolicyConfig {
  Duration failback_after = std::chrono::seconds(3);
  std::uint32_t max_loss_permille = 200;  // above: degraded; back below half: healthy again
  AllDownPolicy when_all_down = AllDownPolicy::kKeep;
  std::uint32_t stale_heartbeats = 3;  // promised heartbeats missed before an ISP is stale
  // After start, an ISP not heard from yet is given this long before it counts as stale, so a
  // restart does not move traffic off a route that is already carrying it.
  Duration startup_grace = std::chrono::milliseconds(1500);

  bool operator==(const PolicyConfig&) const = default;
};

enum class IspHealth { kUp, kDegraded, kDown, kStale };
std::string_view to_string(IspHealth health);

enum class DropReason { kUndecodable, kUnknownName, kWrongSource, kReplay, kCount };
std::string_view to_string(DropReason reason);

// What the status file, STATUS= and the logs show of one ISP.
struct IspView {
  IspConfig config;
  IspHealth health = IspHealth::kStale;
  std::string reason;  // the ISP's own reason, or "silent" / "never-heard" / "loss"
  std::optional<Duration> since_last_seen;
  std::optional<std::uint32_t> rtt_avg_us;
  std::uint32_t loss_permille = 0;
  std::optional<TimePoint> healthy_since;
};

struct Decision {
  std::optional<std::size_t> active;  // index into the ISP list; nullopt: no route wanted
  std::optional<std::size_t> previous;
  bool changed = false;   // active differs from before this evaluation
  bool counted = false;   // counts as a switch: any change but the first pick after start
  bool all_down = false;  // no ISP is up or degraded
  std::string why;        // one line for the journal: from, to, why, how long since the fault
};

class FailoverPolicy {
 public:
  FailoverPolicy(PolicyConfig config, std::vector<IspConfig> isps, TimePoint now);

  // A decoded datagram from `source` (IPv4, host order). Returns why it was dropped, if it was.
  std::optional<DropReason> on_status(const Status& status, std::uint32_t source, TimePoint now);

  // After a restart: the route already installed via `gateway` is taken as the active choice.
  void adopt_route(std::uint32_t gateway);

  Decision evaluate(TimePoint now);
  // When evaluate() should next run even if no datagram arrives (staleness, failback hold).
  std::optional<TimePoint> next_deadline(TimePoint now) const;

  // New ISP list and settings; the active ISP stays if it is still configured.
  void reconfigure(PolicyConfig config, std::vector<IspConfig> isps);

  std::vector<IspView> view(TimePoint now) const;
  std::optional<std::size_t> active() const { return active_; }
  std::vector<IspConfig> isps() const;
  std::uint64_t switches() const { return switches_; }
  const PolicyConfig& config() const { return config_; }

 private:
  struct Tracked {
    IspConfig config;
    std::optional<Status> last;
    std::optional<TimePoint> last_seen;
    bool degraded = false;
    std::optional<TimePoint> healthy_since;    // continuously up and not degraded since
    std::optional<TimePoint> unhealthy_since;  // first sign of the current fault
  };
  IspHealth health_of(const Tracked& isp, TimePoint now) const;
  std::string reason_of(const Tracked& isp, TimePoint now) const;
  void refresh(Tracked& isp, TimePoint now);
  std::string describe(std::size_t index, TimePoint now) const;

  PolicyConfig config_;
  std::vector<Tracked> isps_;
  TimePoint started_;
  std::optional<std::size_t> active_;
  std::uint64_t switches_ = 0;
  bool ever_active_ = false;
};

}  // namespace ispf
