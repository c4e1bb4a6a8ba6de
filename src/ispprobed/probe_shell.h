// ispprobed's shell: feeds the ProbeEngine from the seam and carries out what it decides.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ispfailover/core/config.h"
#include "ispfailover/core/probe_engine.h"
#include "ispfailover/io/env.h"
#include "ispfailover/io/run_daemon.h"
#include "options.h"

namespace ispf {

class ProbeShell final : public DaemonShell {
 public:
  explicit ProbeShell(Env& env) : env_(env) {}

  ParseOutcome configure(const std::vector<std::string>& args) override;
  std::string log_level() const override { return options_.log_level; }
  std::optional<std::string> start() override;
  std::optional<std::string> reload(const std::vector<std::string>& args) override;
  void refuse_reload(const std::string& why) override;
  void stop() override;

 private:
  // The adapters one configuration needs; a reload opens a full new set before it swaps any.
  struct Adapters {
    std::unique_ptr<Prober> prober;
    std::unique_ptr<LinkWatch> link;
    std::unique_ptr<DatagramSender> sender;
  };
  // Opens what `next` needs that `current` cannot serve (all of it when `current` is null).
  Result<Adapters, std::string> open_adapters(const ProbedOptions& next,
                                              const ProbedOptions* current);
  ProbeEngineConfig engine_config(const ProbedOptions& options,
                                  const std::vector<std::string>& keys) const;
  void carry_out(ProbeActions actions);

  Env& env_;
  ProbedOptions options_;
  std::vector<std::string> keys_;
  std::optional<ProbeEngine> engine_;
  Adapters adapters_;
  std::unique_ptr<Timer> timer_;
  std::uint16_t icmp_identifier_ = 0;
};

}  // namespace ispf
