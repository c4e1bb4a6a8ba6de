// The real side of the seam: Linux sockets, libnl, sd_notify and the journal, on one io_context.
#pragma once

#include <asio/io_context.hpp>
#include <memory>
#include <string>

#include "ispfailover/io/env.h"

namespace ispf {

class EventLog;

// Everything runs on `io` (no threads); `program_name` names the log lines and journal records.
// Constructing it sets up spdlog's default logger ("info" level).
class LinuxEnv final : public Env {
 public:
  LinuxEnv(asio::io_context& io, std::string program_name);
  ~LinuxEnv() override;
  LinuxEnv(const LinuxEnv&) = delete;
  LinuxEnv& operator=(const LinuxEnv&) = delete;

  Now now() override;
  std::uint64_t random64() override;
  std::unique_ptr<Timer> make_timer() override;

  IoResult<std::unique_ptr<DatagramListener>> listen(std::uint16_t port,
                                                     DatagramListener::Handler handler) override;
  IoResult<std::unique_ptr<DatagramSender>> open_sender(std::vector<std::uint32_t> destinations,
                                                        std::uint16_t port,
                                                        const std::string& device) override;
  IoResult<std::unique_ptr<Prober>> open_prober(const std::string& uplink, std::uint16_t identifier,
                                                Family family) override;
  IoResult<std::unique_ptr<LinkWatch>> watch_link(const std::string& ifname,
                                                  LinkWatch::Handler on_change) override;
  IoResult<std::unique_ptr<RouteTable>> open_route_table() override;
  IoResult<std::unique_ptr<TableWatch>> watch_table(TableWatch::Handler on_change) override;
  IoResult<std::unique_ptr<NftablesWatch>> watch_nftables(
      NftablesWatch::Handler on_change) override;
  IoResult<std::unique_ptr<ConnectionSteering>> open_steering() override;

  std::optional<std::uint32_t> ipv4_broadcast_of(const std::string& ifname) override;
  IoResult<bool> routes_via(const std::string& ifname, const IpAddress& destination) override;
  IoResult<std::vector<Ipv4Prefix>> usable_prefixes() override;
  IoResult<std::vector<Ipv6InterfaceAddress>> ipv6_addresses() override;
  IoResult<std::string> read_file(const std::string& path) override;
  std::string host_name() override;

  std::error_code write_file_atomically(const std::string& path, std::string_view content) override;

  std::error_code set_link_dns(std::uint32_t gateway,
                               const std::vector<IpAddress>& servers) override;
  std::error_code revert_link_dns(std::uint32_t gateway) override;
  IoResult<HookListing> list_hooks(const std::string& dir) override;
  IoResult<std::unique_ptr<HookProcess>> run_hook(const std::string& path,
                                                  const std::vector<std::string>& environment,
                                                  HookCallbacks callbacks) override;

  bool has_capability(int capability) override;
  std::error_code keep_only_capability(int capability) override;

  ServiceNotifier& notifier() override;

  void log(const LogEvent& event) override;
  void set_log_level(std::string_view level) override;

 private:
  asio::io_context& io_;
  std::unique_ptr<ServiceNotifier> notifier_;
  std::unique_ptr<EventLog> log_;
  struct RouteQuery;  // one netlink socket for routes_via, opened on first use
  std::unique_ptr<RouteQuery> route_query_;
};

}  // namespace ispf
