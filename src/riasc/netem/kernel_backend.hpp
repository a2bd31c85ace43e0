#pragma once

// The kernel backend: on each shaped interface a prio root qdisc (handle 5249:, 16 bands, every
// priority to band 1, so unselected traffic passes unshaped), one netem qdisc per (profile,
// direction) on a band of its own, fw filters from firewall mark to band, and the nftables rules
// that mark the selected packets (nft_rules.hpp). Ingress goes the same way on an IFB named after
// the interface, to which the interface's nft ingress rules forward the selected packets.
//
// Live changes never leave selected traffic unshaped: new bands get their netem and filter
// before any packet is marked for them; parameter changes are qdisc changes in place; peer
// changes are set element updates; rule changes replace the nft table in one transaction; bands
// that go stop being marked before their netem is replaced.
//
// Ownership: the handle majors 5249: (root) and 53xx: (netem), the IFB named after the interface
// and the nft table `riasc` are the agent's. A restarted agent reads the band placement back
// from the table's rule comments and adopts the rest; a root qdisc of any other owner is left
// alone and reported (InterfaceQdiscInUse).

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "riasc/netem/backend.hpp"

namespace riasc::netem {

class KernelBackend : public Backend {
 public:
  KernelBackend();
  ~KernelBackend() override;
  ApplyOutcome apply(const PodTarget& target, const std::vector<Band>& bands) override;
  void forget(const std::string& key) override;
  [[nodiscard]] std::string name() const override { return "kernel"; }

  // Handle and naming scheme, public for tests and tools.
  static constexpr std::uint32_t kRootHandle = 0x52490000;
  static constexpr int kMaxSlots = 15;
  static std::uint32_t netem_handle(int slot) { return static_cast<std::uint32_t>(0x5300 + slot) << 16; }
  static std::uint32_t class_of(int slot) { return kRootHandle | static_cast<std::uint32_t>(slot + 1); }
  static std::string ifb_name(const std::string& interface);

  // A band this backend cannot shape as its profile says, as the outcome it reports: one with a
  // trace (netem replays none), NeedsUserspaceBackend. Such a band is not installed, rather than
  // installed without its trace; nullopt for every other band.
  static std::optional<BandOutcome> refusal(const Band& band);

  // What an earlier agent's kernel backend left in a pod that the userspace backend shapes now
  // (the agent crashed while the pod was here): root qdiscs of handle 5249: and the IFBs named
  // after the pod's interfaces. The pod's table is the shaping backend's to replace.
  static void remove_leftovers(const std::string& netns_path);

  struct PodState;  // what is installed in one pod (kernel_backend.cpp)

 private:
  std::mutex mutex_;
  std::map<std::string, std::unique_ptr<PodState>> pods_;
};

}  // namespace riasc::netem
