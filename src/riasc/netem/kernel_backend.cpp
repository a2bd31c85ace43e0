#include "riasc/netem/kernel_backend.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <set>

#include "riasc/net/netns.hpp"
#include "riasc/net/nftables.hpp"
#include "riasc/net/rtnetlink.hpp"
#include "riasc/netem/interfaces.hpp"
#include "riasc/netem/nft_rules.hpp"

namespace riasc::netem {
namespace {

// Whether the device's root qdisc is the one this backend installs.
bool has_own_root(net::Rtnetlink& rtnl, int ifindex) {
  for (const net::Qdisc& qdisc : rtnl.qdiscs(ifindex)) {
    if (qdisc.parent == net::kTcRoot && qdisc.handle == KernelBackend::kRootHandle) return true;
  }
  return false;
}

std::string band_key(const Band& band) {
  return fmt::format("{}/{}", band.profile, to_string(band.direction));
}

// A failure that stops one device's bands, with the condition reason it maps to.
struct DeviceFailure {
  std::string reason;
  std::string message;
};

// A device that can't be shaped for a reason of the pod's own making.
struct DeviceError : std::runtime_error {
  DeviceError(std::string reason_text, const std::string& message)
      : std::runtime_error(message), reason(std::move(reason_text)) {}
  std::string reason;
};

DeviceFailure failure_of(const net::NetlinkError& error) {
  if (!error.missing_module().empty()) {
    return {"KernelModuleMissing",
            fmt::format("the node's kernel lacks {} ({})", error.missing_module(), error.what())};
  }
  return {"NetlinkError", error.what()};
}

}  // namespace

// A tc target: the interface itself (egress) or its IFB (ingress).
struct Device {
  std::string interface;       // the pod's interface
  std::string shaping_device;  // where the prio root and netem qdiscs are: the interface, or its IFB
  Direction direction = Direction::Egress;
  int ifindex = 0;
  std::map<std::string, int> slots;          // band key → slot
  std::map<int, net::NetemOptions> options;  // slot → what the kernel has
  std::set<int> unknown_options;             // adopted slots: change once to be sure
};

namespace {

// The nft side of a device: its bands, in precedence order, in their slots.
nft::DeviceRules rules_of(const Device& device, const std::vector<const Band*>& bands) {
  nft::DeviceRules rules{device.interface,
                         device.direction,
                         device.direction == Direction::Ingress ? device.shaping_device : "",
                         {},
                         false};
  for (const Band* band : bands) rules.bands.push_back({band, device.slots.at(band_key(*band)), ""});
  return rules;
}

}  // namespace

struct KernelBackend::PodState {
  std::uint64_t netns = 0;  // inode: a pod whose namespace was replaced starts afresh
  std::unique_ptr<net::Rtnetlink> rtnl;
  std::unique_ptr<net::Nftables> nft;
  bool adopted = false;
  std::map<std::string, int> adopted_slots;  // "chain|profile/direction" → slot, from the table
  std::map<std::string, Device> devices;     // "direction:interface"
  std::uint32_t generation = 0;
  std::string structure;
  std::map<std::string, std::vector<std::string>> sets;
  // The last bands applied in full, with their outcome: a change of parameters or peers only
  // takes the fast path (no kernel state read back).
  std::vector<Band> last_bands;
  ApplyOutcome last_outcome;
};

namespace {

class Applier {
 public:
  explicit Applier(KernelBackend::PodState& state) : state_(state) {}

  ApplyOutcome run(const std::vector<Band>& bands) {
    if (!state_.rtnl) {
      state_.rtnl = std::make_unique<net::Rtnetlink>();
      state_.nft = std::make_unique<net::Nftables>();
    }
    if (auto outcome = fast_path(bands)) return *outcome;
    ApplyOutcome outcome = full(bands);
    state_.last_bands = bands;
    state_.last_outcome = outcome;
    return outcome;
  }

 private:
  // The same bands as last time, all installed, differing only in netem parameters or in the
  // addresses and ports of their peers: qdisc changes and set element updates, nothing else.
  std::optional<ApplyOutcome> fast_path(const std::vector<Band>& bands) {
    if (bands.size() != state_.last_bands.size() || bands.empty()) return std::nullopt;
    for (const BandOutcome& outcome : state_.last_outcome.bands) {
      if (!outcome.applied) return std::nullopt;
    }
    std::vector<std::pair<Device*, int>> slots;
    for (std::size_t i = 0; i < bands.size(); ++i) {
      const Band& now = bands[i];
      const Band& before = state_.last_bands[i];
      if (KernelBackend::refusal(now) || now.profile != before.profile || now.direction != before.direction ||
          now.interface_filter != before.interface_filter ||
          now.classifiers.size() != before.classifiers.size()) {
        return std::nullopt;
      }
      const BandOutcome& outcome = state_.last_outcome.bands[i];
      auto device = state_.devices.find(fmt::format("{}:{}", to_string(now.direction), outcome.interface));
      if (device == state_.devices.end()) return std::nullopt;
      auto slot = device->second.slots.find(band_key(now));
      if (slot == device->second.slots.end()) return std::nullopt;
      slots.emplace_back(&device->second, slot->second);
    }
    std::map<std::string, std::vector<const Band*>> by_device;
    for (std::size_t i = 0; i < bands.size(); ++i) {
      by_device[fmt::format("{}:{}", to_string(bands[i].direction), state_.last_outcome.bands[i].interface)]
          .push_back(&bands[i]);
    }
    std::vector<nft::DeviceRules> devices;
    std::string structure;
    for (const auto& [key, device_bands] : by_device) {
      const Device& device = state_.devices.at(key);
      nft::DeviceRules rules = rules_of(device, device_bands);
      structure += nft::structure_of(rules);
      devices.push_back(std::move(rules));
    }
    if (structure != state_.structure || state_.generation == 0) return std::nullopt;
    for (std::size_t i = 0; i < bands.size(); ++i) {
      auto [device, slot] = slots[i];
      if (device->options[slot] == bands[i].options) continue;
      state_.rtnl->change_qdisc(device->ifindex, KernelBackend::netem_handle(slot),
                                KernelBackend::class_of(slot), bands[i].options);
      device->options[slot] = bands[i].options;
    }
    std::map<std::string, std::vector<std::string>> sets;
    for (const nft::DeviceRules& device : devices) sets.merge(nft::sets_of(device, state_.generation));
    const std::string update = nft::update_elements(state_.sets, sets);
    if (!update.empty()) state_.nft->run(update);
    state_.sets = std::move(sets);
    state_.last_bands = bands;
    return state_.last_outcome;
  }

  ApplyOutcome full(const std::vector<Band>& bands) {
    links_ = state_.rtnl->links();
    if (!state_.adopted) adopt();

    // Where each band goes.
    std::map<std::string, std::vector<const Band*>> by_device;
    std::vector<std::pair<const Band*, std::string>> placed;  // band, device key
    ApplyOutcome outcome;
    for (const Band& band : bands) {
      if (auto refused = KernelBackend::refusal(band)) {
        outcome.bands.push_back(std::move(*refused));
        continue;
      }
      auto interface = choose_interface(band);
      if (!interface) {
        outcome.bands.push_back(
            {band.profile, band.direction, "", false, "NoInterface",
             band.interface_filter
                 ? fmt::format("no interface matches interfaceFilter \"{}\"", *band.interface_filter)
                 : std::string("the pod has no default route")});
        continue;
      }
      const std::string key = fmt::format("{}:{}", to_string(band.direction), *interface);
      by_device[key].push_back(&band);
      placed.emplace_back(&band, key);
    }

    // tc side: new bands get their netem and filter before anything marks packets for them.
    std::map<std::string, DeviceFailure> failures;
    std::map<std::string, std::set<int>> freed;
    for (auto& [key, device_bands] : by_device) {
      try {
        prepare(key, device_bands, freed[key]);
      } catch (const net::NetlinkError& error) {
        failures[key] = failure_of(error);
      } catch (const DeviceError& error) {
        failures[key] = {error.reason, error.what()};
      } catch (const std::exception& error) {
        failures[key] = {"ApplyFailed", error.what()};
      }
    }

    // nft side, one transaction.
    std::vector<nft::DeviceRules> devices;
    for (auto& [key, device_bands] : by_device) {
      if (failures.contains(key)) continue;
      devices.push_back(rules_of(state_.devices.at(key), device_bands));
    }
    try {
      mark(devices);
    } catch (const std::exception& error) {
      for (auto& [key, device_bands] : by_device) {
        if (!failures.contains(key)) failures[key] = {"ClassifierFailed", error.what()};
      }
    }

    // What is no longer marked can go.
    for (auto& [key, device] : state_.devices) {
      if (!by_device.contains(key) || failures.contains(key)) continue;
      release_unused(device, by_device.at(key));
    }
    for (auto it = state_.devices.begin(); it != state_.devices.end();) {
      if (by_device.contains(it->first) && !failures.contains(it->first)) {
        ++it;
        continue;
      }
      tear_down(it->second);
      it = state_.devices.erase(it);
    }

    for (const auto& [band, key] : placed) {
      BandOutcome entry{band->profile, band->direction, key.substr(key.find(':') + 1), true, "Applied", ""};
      if (auto failure = failures.find(key); failure != failures.end()) {
        entry.applied = false;
        entry.reason = failure->second.reason;
        entry.message = failure->second.message;
      }
      outcome.bands.push_back(std::move(entry));
    }
    return outcome;
  }

  // What an earlier agent left: band placement from the nft rules, our devices from tc.
  void adopt() {
    state_.adopted = true;
    // Devices with our root qdisc are registered without bands: unless the plan wants them,
    // they are torn down like any device that is no longer shaped.
    for (const net::Link& link : links_) {
      if (!has_own_root(*state_.rtnl, link.index)) continue;
      Device device;
      device.ifindex = link.index;
      device.shaping_device = link.name;
      device.interface = link.name;
      if (link.kind == "ifb") {
        device.direction = Direction::Ingress;
        for (const net::Link& other : links_) {
          if (other.kind != "ifb" && KernelBackend::ifb_name(other.name) == link.name)
            device.interface = other.name;
        }
      }
      state_.devices[fmt::format("{}:{}", to_string(device.direction), device.interface)] = std::move(device);
    }
    std::string listing;
    try {
      listing = state_.nft->list_json(fmt::format("table netdev {}", nft::kTable));
    } catch (const std::exception&) {
      return;  // no table: nothing was marked
    }
    const Json parsed = Json::parse(listing, nullptr, false);
    if (!parsed.is_object()) return;
    for (const Json& entry : parsed.value("nftables", Json::array())) {
      if (!entry.contains("rule")) continue;
      const Json& rule = entry["rule"];
      const std::string comment = rule.value("comment", "");
      for (const Json& expression : rule.value("expr", Json::array())) {
        if (!expression.contains("mangle")) continue;
        const Json value = expression["mangle"].value("value", Json());
        if (!value.is_number_integer()) continue;
        const auto mark = value.get<std::uint32_t>();
        if ((mark & 0xFFFF0000u) != (nft::mark_of(0) & 0xFFFF0000u)) continue;
        state_.adopted_slots[rule.value("chain", "") + "|" + comment] = static_cast<int>(mark & 0xFFFF);
      }
    }
    state_.generation = 1;  // the table exists: the next change replaces it
  }

  std::optional<std::string> choose_interface(const Band& band) {
    return netem::choose_interface(band, links_, *state_.rtnl);
  }

  const net::Link* link_named(const std::string& name) const {
    for (const net::Link& link : links_) {
      if (link.name == name) return &link;
    }
    return nullptr;
  }

  // The IFB that shapes the interface's ingress: its nft ingress rules forward to it.
  int prepare_ingress(const std::string& interface) {
    if (!link_named(interface))
      throw DeviceError("NoInterface", fmt::format("interface {} is gone", interface));
    const std::string ifb = KernelBackend::ifb_name(interface);
    if (const net::Link* existing = link_named(ifb)) return existing->index;
    const int index = state_.rtnl->create_ifb(ifb);
    links_ = state_.rtnl->links();
    return index;
  }

  void prepare(const std::string& key, const std::vector<const Band*>& bands, std::set<int>& freed) {
    const Direction direction = bands.front()->direction;
    const std::string interface = key.substr(key.find(':') + 1);
    Device& device = state_.devices[key];
    device.interface = interface;
    device.direction = direction;
    if (direction == Direction::Egress) {
      const net::Link* link = link_named(interface);
      if (!link) throw DeviceError("NoInterface", fmt::format("interface {} is gone", interface));
      device.ifindex = link->index;
      device.shaping_device = interface;
    } else {
      device.ifindex = prepare_ingress(interface);
      device.shaping_device = KernelBackend::ifb_name(interface);
    }
    const std::vector<net::Qdisc> qdiscs = state_.rtnl->qdiscs(device.ifindex);
    bool own_root = false;
    for (const net::Qdisc& qdisc : qdiscs) {
      if (qdisc.parent != net::kTcRoot) continue;
      if (qdisc.handle == KernelBackend::kRootHandle) {
        own_root = true;
      } else if (qdisc.handle != 0 && qdisc.kind != "noqueue") {
        throw DeviceError(
            "InterfaceQdiscInUse",
            fmt::format("{} has a root qdisc {} {:x}: that RIasC did not install; it is left as it is",
                        device.shaping_device, qdisc.kind, qdisc.handle >> 16));
      }
    }
    if (!own_root) {
      net::PrioOptions prio;
      prio.bands = 16;  // priomap all zero: every priority to the first band, unshaped
      state_.rtnl->add_qdisc(device.ifindex, KernelBackend::kRootHandle, net::kTcRoot, prio);
      device.slots.clear();
      device.options.clear();
    } else if (device.slots.empty()) {
      adopt_device(device, qdiscs);
    }

    // Slots: kept for bands that stay; a slot freed now is not reused in the same change, so
    // its old traffic never meets a new band's emulator before the rules switch over.
    std::set<std::string> wanted;
    for (const Band* band : bands) wanted.insert(band_key(*band));
    for (const auto& [band, slot] : device.slots) {
      if (!wanted.contains(band)) freed.insert(slot);
    }
    std::set<int> taken = freed;
    for (const auto& [band, slot] : device.slots) taken.insert(slot);
    for (const Band* band : bands) {
      const std::string band_id = band_key(*band);
      auto it = device.slots.find(band_id);
      if (it == device.slots.end()) {
        int slot = 1;
        while (taken.contains(slot)) ++slot;
        if (slot > KernelBackend::kMaxSlots) {
          throw DeviceError("TooManyBands", fmt::format("more than {} profiles and directions on {}",
                                                        KernelBackend::kMaxSlots, device.shaping_device));
        }
        taken.insert(slot);
        device.slots[band_id] = slot;
        state_.rtnl->replace_qdisc(device.ifindex, KernelBackend::netem_handle(slot),
                                   KernelBackend::class_of(slot), band->options);
        state_.rtnl->add_filter(device.ifindex,
                                net::FwFilter{KernelBackend::kRootHandle, 1, nft::mark_of(slot), 0xffffffff,
                                              KernelBackend::class_of(slot)});
        device.options[slot] = band->options;
        continue;
      }
      const int slot = it->second;
      if (device.unknown_options.contains(slot) || device.options[slot] != band->options) {
        state_.rtnl->change_qdisc(device.ifindex, KernelBackend::netem_handle(slot),
                                  KernelBackend::class_of(slot), band->options);
        device.options[slot] = band->options;
        device.unknown_options.erase(slot);
      }
    }
  }

  // A device an earlier agent shaped: take its placement from the table, its netem qdiscs as
  // they are (changed once, since a decoded qdisc does not say its distribution table).
  void adopt_device(Device& device, const std::vector<net::Qdisc>& qdiscs) {
    const std::string own_chain = nft::chain_name(device.direction, device.interface);
    for (const auto& [key, slot] : state_.adopted_slots) {
      if (key.substr(0, key.find('|')) != own_chain) continue;
      device.slots[key.substr(key.find('|') + 1)] = slot;
      device.unknown_options.insert(slot);
    }
    for (const net::Qdisc& qdisc : qdiscs) {
      for (const auto& [band, slot] : device.slots) {
        if (qdisc.handle == KernelBackend::netem_handle(slot) && qdisc.kind == "netem") {
          device.options[slot] = net::decode_netem(qdisc.options);
        }
      }
    }
  }

  void mark(const std::vector<nft::DeviceRules>& devices) {
    if (devices.empty()) {
      if (state_.generation != 0) state_.nft->run(nft::delete_table());
      state_.generation = 0;
      state_.structure.clear();
      state_.sets.clear();
      return;
    }
    std::string structure;
    for (const nft::DeviceRules& device : devices) structure += nft::structure_of(device);
    if (state_.generation != 0 && structure == state_.structure) {
      std::map<std::string, std::vector<std::string>> sets;
      for (const nft::DeviceRules& device : devices) sets.merge(nft::sets_of(device, state_.generation));
      const std::string update = nft::update_elements(state_.sets, sets);
      if (!update.empty()) state_.nft->run(update);
      state_.sets = std::move(sets);
      return;
    }
    const std::uint32_t generation = state_.generation + 1;
    state_.nft->run(nft::replace_table(devices, generation));
    state_.generation = generation;
    state_.structure = std::move(structure);
    state_.sets.clear();
    for (const nft::DeviceRules& device : devices) state_.sets.merge(nft::sets_of(device, generation));
  }

  // Slots of bands that went: no packet is marked for them any more.
  void release_unused(Device& device, const std::vector<const Band*>& bands) {
    std::set<std::string> wanted;
    for (const Band* band : bands) wanted.insert(band_key(*band));
    for (auto it = device.slots.begin(); it != device.slots.end();) {
      if (wanted.contains(it->first)) {
        ++it;
        continue;
      }
      release_slot(device, it->second);
      device.options.erase(it->second);
      it = device.slots.erase(it);
    }
    // Leftovers of an earlier agent on this device.
    std::set<int> in_use;
    for (const auto& [band, slot] : device.slots) in_use.insert(slot);
    for (const net::Qdisc& qdisc : state_.rtnl->qdiscs(device.ifindex)) {
      if (qdisc.kind != "netem" || (qdisc.parent & 0xFFFF0000u) != KernelBackend::kRootHandle) continue;
      const int slot = static_cast<int>(qdisc.parent & 0xFFFF) - 1;
      if (!in_use.contains(slot)) release_slot(device, slot);
    }
  }

  void release_slot(const Device& device, int slot) {
    try {
      state_.rtnl->delete_filter(device.ifindex, KernelBackend::kRootHandle, 1, nft::mark_of(slot));
    } catch (const net::NetlinkError&) {
      // already gone
    }
    // prio turns a deleted child into a qdisc that drops everything: graft a plain FIFO instead.
    state_.rtnl->replace_qdisc(device.ifindex, 0, KernelBackend::class_of(slot), net::PfifoOptions{});
  }

  // The device is not shaped any more: the kernel's default qdisc comes back with the root gone.
  void tear_down(const Device& device) {
    try {
      if (device.direction == Direction::Ingress) {
        // The IFB goes with its qdiscs; the interface's ingress had nothing but nft rules.
        if (const net::Link* ifb = link_named(device.shaping_device)) state_.rtnl->delete_link(ifb->index);
      } else if (const net::Link* link = link_named(device.interface)) {
        state_.rtnl->delete_qdisc(link->index, KernelBackend::kRootHandle, net::kTcRoot);
      }
    } catch (const net::NetlinkError&) {
      // the interface went away with its qdiscs
    }
  }

  KernelBackend::PodState& state_;
  std::vector<net::Link> links_;
};

}  // namespace

KernelBackend::KernelBackend() = default;
KernelBackend::~KernelBackend() = default;

std::string KernelBackend::ifb_name(const std::string& interface) {
  return ("ifb-" + interface).substr(0, 15);
}

ApplyOutcome KernelBackend::apply(const PodTarget& target, const std::vector<Band>& bands) {
  std::lock_guard lock(mutex_);
  auto& state = pods_[target.key];
  const std::uint64_t netns = net::netns_inode(target.netns_path);
  if (!state || state->netns != netns) {
    state = std::make_unique<PodState>();
    state->netns = netns;
  }
  return net::in_netns(target.netns_path, [&] { return Applier(*state).run(bands); });
}

std::optional<BandOutcome> KernelBackend::refusal(const Band& band) {
  if (!band.trace) return std::nullopt;
  return BandOutcome{
      band.profile,
      band.direction,
      "",
      false,
      "NeedsUserspaceBackend",
      fmt::format(
          "TrafficProfile {} replays a trace (parameters.netem.trace), which kernel netem cannot do, so "
          "its {} traffic is not shaped on this node: run the node's agent with --backend userspace, "
          "or with --backend auto on a kernel without sch_netem",
          band.profile, to_string(band.direction))};
}

void KernelBackend::remove_leftovers(const std::string& netns_path) {
  try {
    net::in_netns(netns_path, [] {
      net::Rtnetlink rtnl;
      const std::vector<net::Link> links = rtnl.links();
      std::set<std::string> own_ifbs;
      for (const net::Link& link : links) {
        if (link.kind != "ifb") own_ifbs.insert(ifb_name(link.name));
      }
      for (const net::Link& link : links) {
        try {
          if (link.kind == "ifb" && own_ifbs.contains(link.name)) {
            rtnl.delete_link(link.index);  // its qdiscs go with it
          } else if (link.kind != "ifb" && has_own_root(rtnl, link.index)) {
            rtnl.delete_qdisc(link.index, kRootHandle, net::kTcRoot);
          }
        } catch (const net::NetlinkError&) {
          // went meanwhile
        }
      }
    });
  } catch (const std::exception&) {
    // No pod any more.
  }
}

void KernelBackend::forget(const std::string& key) {
  std::lock_guard lock(mutex_);
  pods_.erase(key);
}

}  // namespace riasc::netem
