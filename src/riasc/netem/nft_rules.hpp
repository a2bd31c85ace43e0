#pragma once

// The nftables side of the kernel backend: packets a band takes get the band's firewall mark,
// which a tc fw filter on the shaping device's prio root turns into the band's class. Marking
// happens in a `netdev` table: in the interface's egress hook for egress; in its ingress hook for
// ingress, where the marked packet is also forwarded (`fwd to`) to the interface's IFB, whose
// egress qdisc shapes it before the IFB hands it back to the interface's receive path. (A
// packet that tc's mirred redirects to an IFB skips netfilter's egress hook, so the choice has to
// be made before it reaches the IFB; docs/testing-vm.md has the measurement.) One table `riasc`
// per pod network namespace holds everything, so its presence is the ownership record.
//
// Pure text generation: tested against golden output, run through net::Nftables.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "riasc/netem/plan.hpp"

namespace riasc::netem::nft {

inline constexpr const char* kTable = "riasc";

// A band placed on a device: its slot (1..15) fixes its prio class and its mark.
struct PlacedBand {
  const Band* band = nullptr;
  int slot = 0;
  std::string divert_to;  // the userspace backend: the band's TAP (see DeviceRules::diverted)
};

// One direction of one interface: its chain, and for ingress the IFB that shapes.
struct DeviceRules {
  std::string interface;
  Direction direction = Direction::Egress;
  std::string ifb;                // ingress only
  std::vector<PlacedBand> bands;  // in precedence order
  // The userspace backend: each band's packets are forwarded (`fwd to`) to its TAP, unmarked, for
  // the engine to read. Its ingress chains sit on the egress hook of the device that faces the
  // pod (`interface` is then that device), so peers are still matched by source address.
  bool diverted = false;
};

// The chain of a direction of an interface ("egress_eth0").
std::string chain_name(Direction direction, const std::string& interface);

// The userspace backend's table for the ingress diversion on `device`, the device facing a pod
// ("riasc_in_v_ctrl"): one per device, in the agent's namespace.
std::string ingress_table(const std::string& device);

// The firewall mark of a slot.
std::uint32_t mark_of(int slot);

// The named sets a device's rules use, with their elements (nft syntax), keyed by set name.
// Names carry `generation`, so a rebuilt chain never reuses a set that the old one still uses.
std::map<std::string, std::vector<std::string>> sets_of(const DeviceRules& device, std::uint32_t generation);

// The whole table, for one atomic transaction that replaces whatever the namespace had
// (leftovers of an earlier agent included): `add table; delete table; add table ...`.
std::string replace_table(const std::vector<DeviceRules>& devices, std::uint32_t generation,
                          const std::string& table = kTable);

// Element updates between two set maps of the same structure (one transaction; empty when equal).
std::string update_elements(const std::map<std::string, std::vector<std::string>>& before,
                            const std::map<std::string, std::vector<std::string>>& after,
                            const std::string& table = kTable);

// The rules of a device without set contents: equal text means only elements changed.
std::string structure_of(const DeviceRules& device);

// Removes the table and all it holds.
std::string delete_table(const std::string& table = kTable);

}  // namespace riasc::netem::nft
