#pragma once

// nftables through libnftables (the library behind the `nft` command), in the nft language. The
// classifiers of the network-emulation data plane mark packets here; tc's fw filter sends marks to
// bands.
//
// libnftables 1.0.6 opens its netlink socket once, in nft_ctx_new(), and uses it for every command
// (no socket is reopened per command), so an Nftables object acts in the network namespace that
// was current when it was constructed, from any thread: construct it inside in_netns(). The
// kernel tests check this. Calls into libnftables are serialised process-wide (its first context
// initialises globals, and it is not documented as thread-safe).

#include <string>
#include <string_view>

#include "riasc/net/netlink_error.hpp"

struct nft_ctx;

namespace riasc::net {

class Nftables {
 public:
  Nftables();  // throws NetlinkError when the kernel offers no nftables netlink socket
  ~Nftables();
  Nftables(const Nftables&) = delete;
  Nftables& operator=(const Nftables&) = delete;

  // Runs nft commands. Several lines (or commands separated by ';') are one batch, which the
  // kernel applies atomically: all or nothing. Throws NetlinkError whose message is nft's own
  // diagnostics (with the offending line marked), error_code() the errno left by the failure
  // (EINVAL when nft reports none, as for syntax errors).
  void run(std::string_view commands);

  // `list <what>` as JSON (`nft -j list <what>`), e.g. list_json("ruleset"), list_json("table inet
  // riasc"), for reading state back.
  std::string list_json(std::string_view what);

 private:
  std::string execute(std::string_view commands, bool json);
  nft_ctx* context_ = nullptr;
};

}  // namespace riasc::net
