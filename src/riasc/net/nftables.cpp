#include "riasc/net/nftables.hpp"

#include <libmnl/libmnl.h>
#include <linux/netlink.h>
#include <nftables/libnftables.h>

#include <cerrno>
#include <mutex>
#include <string>

namespace riasc::net {

namespace {

std::mutex& library_mutex() {
  static std::mutex mutex;
  return mutex;
}

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

}  // namespace

Nftables::Nftables() {
  // libnftables calls exit() when it cannot open its NETLINK_NETFILTER socket (a kernel without
  // nfnetlink, or a seccomp filter): try the same socket first and throw instead.
  mnl_socket* probe = mnl_socket_open(NETLINK_NETFILTER);
  if (probe == nullptr) throw NetlinkError("opening a NETLINK_NETFILTER socket for nftables", errno, {});
  mnl_socket_close(probe);
  const std::lock_guard lock(library_mutex());
  errno = 0;
  context_ = nft_ctx_new(NFT_CTX_DEFAULT);
  if (context_ == nullptr)
    throw NetlinkError("creating an nftables context", errno != 0 ? errno : ENOMEM, {});
  // Output and errors go to buffers we read back, not to the process's stdout and stderr.
  nft_ctx_buffer_output(context_);
  nft_ctx_buffer_error(context_);
}

Nftables::~Nftables() {
  const std::lock_guard lock(library_mutex());
  nft_ctx_free(context_);
}

void Nftables::run(std::string_view commands) { execute(commands, false); }

std::string Nftables::list_json(std::string_view what) { return execute("list " + std::string(what), true); }

std::string Nftables::execute(std::string_view commands, bool json) {
  const std::lock_guard lock(library_mutex());
  nft_ctx_output_set_flags(context_, json ? unsigned{NFT_CTX_OUTPUT_JSON} : 0U);
  const std::string text(commands);
  errno = 0;
  const int status = nft_run_cmd_from_buffer(context_, text.c_str());
  const int error = errno;
  // Reading a buffer also empties it for the next command.
  std::string output = nft_ctx_get_output_buffer(context_);
  std::string diagnostics = trimmed(nft_ctx_get_error_buffer(context_));
  if (status != 0) {
    const std::string first_line = trimmed(text.substr(0, text.find('\n')));
    if (diagnostics.empty()) diagnostics = "failed";
    throw NetlinkError::with_message(
        "nft " + first_line + (text.find('\n') == std::string::npos ? "" : " ..."),
        error != 0 ? error : EINVAL, diagnostics);
  }
  return output;
}

}  // namespace riasc::net
