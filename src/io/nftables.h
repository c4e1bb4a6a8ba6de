// nftables through libnftables: scripts run as one kernel transaction, tables read back as text,
// and a watch that says when anyone changed the ruleset.
#pragma once

#include <asio/io_context.hpp>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>

#include "ispfailover/io/env.h"
#include "netlink_event_socket.h"

struct nft_ctx;

namespace ispf {

// One libnftables context. It opens its netlink socket when created, so it acts on the network
// namespace it was opened in for its whole life (like the libnl sockets). Not thread-safe.
class Nftables {
 public:
  // ENOMEM when libnftables cannot make a context or its output buffers; the socket's errno
  // when no NETLINK_NETFILTER socket can be opened (EPROTONOSUPPORT without nfnetlink, EMFILE).
  static IoResult<Nftables> open();

  Nftables(Nftables&&) noexcept = default;
  Nftables& operator=(Nftables&&) noexcept = default;
  ~Nftables() = default;

  // Runs `script` (nft syntax, commands separated by newlines or ';'). libnftables checks the
  // whole script first and sends it as one batch, which the kernel applies entirely or not at
  // all: on any error nothing of the script is left. The error is the kernel's errno when nft
  // names one (ENOENT, EEXIST, EPERM, ...), EINVAL otherwise (syntax and evaluation errors);
  // last_error() then holds nft's message on one line.
  std::error_code run(std::string_view script);

  // The text `nft list table FAMILY NAME` prints, stateless (no counter values or quota usage),
  // so what the kernel holds can be compared with what was written. ENOENT when there is no such
  // table; EINVAL for a family or name nft would not read as one word, or that its grammar takes
  // for a keyword (1.0.6 accepts no quoted table names, so nft cannot make such a table either).
  IoResult<std::string> list_table(std::string_view family, std::string_view name);

  // nft's message for the last failed run() or list_table(), on one line ("" after a success).
  const std::string& last_error() const { return last_error_; }

 private:
  struct CtxFree {
    void operator()(nft_ctx* ctx) const;
  };
  explicit Nftables(std::unique_ptr<nft_ctx, CtxFree> ctx) : ctx_(std::move(ctx)) {}
  // Runs `commands`; the output buffer's text into `output` (when given).
  std::error_code execute(const std::string& commands, std::string* output);

  std::unique_ptr<nft_ctx, CtxFree> ctx_;
  std::string last_error_;
};

// NETLINK_NETFILTER subscribed to NFNLGRP_NFTABLES: every committed change to the ruleset (the
// kernel's NFT_MSG_NEW*/DEL* and the NEWGEN that closes each transaction) makes one call per
// drain of the socket, and so does a lost event (ENOBUFS). A failed transaction sends nothing.
// libnl's socket rather than a plain one: NetlinkEventSocket already does the asio wait, the
// drain, ENOBUFS and the destroyed-while-queued cases for NETLINK_ROUTE, and libnl opens any
// protocol; the messages themselves are not parsed, since any message means "look again".
class LinuxNftablesWatch final : public NftablesWatch {
 public:
  // EPERM without CAP_NET_ADMIN (the kernel's nfnetlink lets only it subscribe).
  static IoResult<std::unique_ptr<LinuxNftablesWatch>> open(asio::io_context& io, Handler handler);

 private:
  explicit LinuxNftablesWatch(Handler handler) : handler_(std::move(handler)) {}
  Handler handler_;
  bool pending_ = false;
  std::unique_ptr<NetlinkEventSocket> events_;
};

}  // namespace ispf
