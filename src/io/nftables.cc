// Nftables and LinuxNftablesWatch: libnftables with buffered output, nft's messages mapped to
// errno values, and NFNLGRP_NFTABLES events on the io_context.
#include "nftables.h"

#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <nftables/libnftables.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace ispf {
namespace {

std::error_code sys(int code) { return {code, std::system_category()}; }

// The errno values a failed nft command reports by their strerror text ("Could not process
// rule: File exists", "Error: No such file or directory", "cache initialization failed:
// Operation not permitted"). libnftables 1.0.6 returns only -1 and sets errno only when the
// kernel refused a batch (a parse error leaves errno as it was), so the text is the one source.
constexpr int kNamedErrors[] = {EPERM,   EACCES,     ENOENT,       EEXIST, EBUSY,   ENOMEM,
                                ENOSPC,  EOPNOTSUPP, EAFNOSUPPORT, E2BIG,  ERANGE,  EMSGSIZE,
                                ENOBUFS, EOVERFLOW,  ELOOP,        EINVAL, ENOTDIR, ENAMETOOLONG};

// The errno whose text appears first in `message`; EINVAL when none does.
std::error_code error_named_in(std::string_view message) {
  std::size_t best_at = std::string_view::npos;
  int best = EINVAL;
  for (int code : kNamedErrors) {
    std::size_t at = message.find(std::strerror(code));
    if (at < best_at) {
      best_at = at;
      best = code;
    }
  }
  return sys(best);
}

bool is_marker_line(std::string_view line) {
  return line.find_first_not_of(" \t^~") == std::string_view::npos;
}

std::string_view trim(std::string_view text) {
  std::size_t begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string_view::npos) return {};
  std::size_t end = text.find_last_not_of(" \t\r\n");
  return text.substr(begin, end - begin + 1);
}

// nft's error output on one line. It prints each error as "Error: ..." followed by the command
// and a line of carets under the culprit; libnftables 1.0.6 echoes the buffer's first line
// there whichever line the error is on, so for a script of several lines that echo would point
// at the wrong command: only the "Error:" lines are kept when there are any.
std::string one_line(std::string_view text) {
  std::string joined;
  std::string all;
  while (!text.empty()) {
    std::size_t end = text.find('\n');
    std::string_view line = trim(text.substr(0, end));
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    if (line.empty() || is_marker_line(line)) continue;
    if (!all.empty()) all += " | ";
    all += line;
    if (line.find("Error:") == std::string_view::npos) continue;
    if (!joined.empty()) joined += " | ";
    joined += line;
  }
  return joined.empty() ? all : joined;
}

// An nft identifier or family keyword: letters, digits and "_-./", starting with a letter, so
// no ';', newline, quote or space can turn the name into more commands.
bool is_word(std::string_view word) {
  if (word.empty() || word.size() > 255) return false;
  auto letter = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
  if (!letter(word.front())) return false;
  for (char c : word) {
    if (!letter(c) && !(c >= '0' && c <= '9') && c != '_' && c != '-' && c != '.' && c != '/') {
      return false;
    }
  }
  return true;
}

}  // namespace

void Nftables::CtxFree::operator()(nft_ctx* ctx) const { nft_ctx_free(ctx); }

IoResult<Nftables> Nftables::open() {
  // libnftables 1.0.6 calls exit() when nft_ctx_new cannot open its netlink socket: open one
  // first, so a kernel without nfnetlink or a full descriptor table is an error, not an exit.
  struct Probe {
    int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
    ~Probe() {
      if (fd >= 0) ::close(fd);
    }
  } probe;
  if (probe.fd < 0) return fail(sys(errno));
  std::unique_ptr<nft_ctx, CtxFree> ctx(nft_ctx_new(NFT_CTX_DEFAULT));
  if (!ctx) return fail(sys(ENOMEM));
  // Without buffers libnftables writes to our stdout and stderr; the buffers are memstreams.
  if (nft_ctx_buffer_output(ctx.get()) != 0 || nft_ctx_buffer_error(ctx.get()) != 0) {
    return fail(sys(ENOMEM));
  }
  // Counter values change with every packet: a listing compared with what we wrote must not.
  nft_ctx_output_set_flags(ctx.get(),
                           nft_ctx_output_get_flags(ctx.get()) | NFT_CTX_OUTPUT_STATELESS);
  return Nftables(std::move(ctx));
}

std::error_code Nftables::execute(const std::string& commands, std::string* output) {
  const int rc = nft_run_cmd_from_buffer(ctx_.get(), commands.c_str());
  // Reading a buffer also empties it for the next command: read both every time.
  std::string_view out = nft_ctx_get_output_buffer(ctx_.get());
  std::string_view err = nft_ctx_get_error_buffer(ctx_.get());
  if (rc == 0) {
    last_error_.clear();
    if (output) output->assign(out);
    return {};
  }
  last_error_ = one_line(err);
  if (last_error_.empty()) last_error_ = "nft failed without a message";
  return error_named_in(last_error_);
}

std::error_code Nftables::run(std::string_view script) {
  return execute(std::string(script), nullptr);
}

IoResult<std::string> Nftables::list_table(std::string_view family, std::string_view name) {
  if (!is_word(family) || !is_word(name)) {
    last_error_ = "not a table family and name: \"" + std::string(family) + "\" \"" +
                  std::string(name) + "\"";
    return fail(sys(EINVAL));
  }
  std::string text;
  std::string command = "list table ";
  command.append(family).append(" ").append(name);
  if (std::error_code error = execute(command, &text)) return fail(error);
  return text;
}

IoResult<std::unique_ptr<LinuxNftablesWatch>> LinuxNftablesWatch::open(asio::io_context& io,
                                                                       Handler handler) {
  std::unique_ptr<LinuxNftablesWatch> watch(new LinuxNftablesWatch(std::move(handler)));
  LinuxNftablesWatch* self = watch.get();
  auto events = NetlinkEventSocket::open(
      io, NETLINK_NETFILTER, {NFNLGRP_NFTABLES}, [self](nl_msg*) { self->pending_ = true; },
      [self](bool lost) {
        // One call for a whole transaction (or several); the handler re-reads what it needs.
        if (!self->pending_ && !lost) return;
        self->pending_ = false;
        self->handler_();  // may destroy the watch: nothing of it is touched after this
      });
  if (!events) return fail(events.error());
  watch->events_ = std::move(*events);
  return watch;
}

}  // namespace ispf
