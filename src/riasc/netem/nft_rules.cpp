#include "riasc/netem/nft_rules.hpp"

#include "riasc/engine/devices.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>

namespace riasc::netem::nft {
namespace {

std::string identifier(std::string_view text) {
  std::string out;
  for (char c : text) out.push_back(std::isalnum(static_cast<unsigned char>(c)) ? c : '_');
  return out;
}

std::string chain_of(const DeviceRules& device) { return chain_name(device.direction, device.interface); }

std::string range_text(const AddressRange& range) {
  return range.first == range.last ? range.first.to_string()
                                   : fmt::format("{}-{}", range.first.to_string(), range.last.to_string());
}

std::string port_text(const PortRange& port) {
  return port.first == port.last ? fmt::format("{} . {}", port.protocol, port.first)
                                 : fmt::format("{} . {}-{}", port.protocol, port.first, port.last);
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

// The sets of one classifier and the rules that use them, generated together so names agree.
struct ClassifierText {
  std::vector<std::pair<std::string, std::string>> sets;  // name, declaration body
  std::map<std::string, std::vector<std::string>> elements;
  std::vector<std::string> rules;  // rule bodies after `add rule netdev riasc CHAIN`
};

ClassifierText render(const DeviceRules& device, const PlacedBand& placed, std::size_t index,
                      std::uint32_t generation) {
  ClassifierText out;
  const Classifier& c = placed.band->classifiers[index];
  if (c.matches_nothing) return out;
  const std::string prefix = fmt::format("{}_s{}r{}", chain_of(device), placed.slot, index);
  std::string head;
  if (!c.ether_types.empty()) {
    std::vector<std::string> types;
    for (auto type : c.ether_types) types.push_back(fmt::format("{:#06x}", type));
    head += fmt::format("meta protocol {{ {} }} ", joined(types));
  }
  if (!c.inet_protos.empty()) {
    std::vector<std::string> protos;
    for (auto proto : c.inet_protos) protos.push_back(std::to_string(proto));
    head += fmt::format("meta l4proto {{ {} }} ", joined(protos));
  }
  std::string tail;
  if (!c.ports.empty()) {
    const std::string name = fmt::format("{}p_g{}", prefix, generation);
    out.sets.emplace_back(name, "type inet_proto . inet_service; flags interval;");
    auto& elements = out.elements[name];
    for (const PortRange& port : c.ports) elements.push_back(port_text(port));
    tail += fmt::format("meta l4proto . th dport @{} ", name);
  }
  const std::string comment =
      fmt::format("comment \"{}/{}\"", placed.band->profile, to_string(placed.band->direction));
  std::string action;
  if (device.diverted) {
    action = fmt::format("fwd to \"{}\" {}", placed.divert_to, comment);
  } else {
    const std::string verdict =
        device.direction == Direction::Egress ? "accept" : fmt::format("fwd to \"{}\"", device.ifb);
    action = fmt::format("meta mark set {:#010x} {} {}", mark_of(placed.slot), verdict, comment);
  }
  if (!c.peers) {
    out.rules.push_back(head + tail + action);
    return out;
  }
  const char* field = device.direction == Direction::Egress ? "daddr" : "saddr";
  for (auto [family, type, match] :
       {std::tuple{net::Family::V4, "ipv4_addr", "ip"}, std::tuple{net::Family::V6, "ipv6_addr", "ip6"}}) {
    const std::string name =
        fmt::format("{}{}_g{}", prefix, family == net::Family::V4 ? "v4" : "v6", generation);
    out.sets.emplace_back(name, fmt::format("type {}; flags interval;", type));
    auto& elements = out.elements[name];
    for (const AddressRange& range : c.peers->of(family)) elements.push_back(range_text(range));
    out.rules.push_back(fmt::format("{}{} {} @{} {}{}", head, match, field, name, tail, action));
  }
  return out;
}

std::vector<ClassifierText> render_all(const DeviceRules& device, std::uint32_t generation) {
  std::vector<ClassifierText> out;
  for (const PlacedBand& placed : device.bands) {
    for (std::size_t i = 0; i < placed.band->classifiers.size(); ++i)
      out.push_back(render(device, placed, i, generation));
  }
  return out;
}

// The rule that keeps what the engine sends on out of the diversion (engine/devices.hpp).
std::string engine_pass_rule() {
  return fmt::format("meta mark {:#010x} accept comment \"sent on by the engine\"",
                     engine::kSentByEngineMark);
}

std::string chain_declaration(const DeviceRules& device, const std::string& table) {
  const Direction hook = device.diverted ? Direction::Egress : device.direction;
  std::string out = fmt::format(
      "add chain netdev {} {} {{ type filter hook {} device \"{}\" priority 0; policy accept; }}\n", table,
      chain_of(device), to_string(hook), device.interface);
  if (device.diverted)
    out += fmt::format("add rule netdev {} {} {}\n", table, chain_of(device), engine_pass_rule());
  return out;
}

}  // namespace

std::string chain_name(Direction direction, const std::string& interface) {
  return fmt::format("{}_{}", to_string(direction), identifier(interface));
}

std::string ingress_table(const std::string& device) { return "riasc_in_" + identifier(device); }

std::uint32_t mark_of(int slot) { return 0x52490000u | static_cast<std::uint32_t>(slot); }

std::map<std::string, std::vector<std::string>> sets_of(const DeviceRules& device, std::uint32_t generation) {
  std::map<std::string, std::vector<std::string>> out;
  for (ClassifierText& text : render_all(device, generation)) out.merge(text.elements);
  return out;
}

std::string structure_of(const DeviceRules& device) {
  std::string out = chain_declaration(device, kTable);
  for (const ClassifierText& text : render_all(device, 0)) {
    for (const auto& [name, body] : text.sets) out += fmt::format("set {} {}\n", name, body);
    for (const std::string& rule : text.rules) out += rule + "\n";
  }
  return out;
}

std::string replace_table(const std::vector<DeviceRules>& devices, std::uint32_t generation,
                          const std::string& table) {
  std::string out =
      fmt::format("add table netdev {0}\ndelete table netdev {0}\nadd table netdev {0}\n", table);
  for (const DeviceRules& device : devices) {
    out += chain_declaration(device, table);
    for (const ClassifierText& text : render_all(device, generation)) {
      for (const auto& [name, body] : text.sets) {
        out += fmt::format("add set netdev {} {} {{ {} }}\n", table, name, body);
        const auto& elements = text.elements.at(name);
        if (!elements.empty())
          out += fmt::format("add element netdev {} {} {{ {} }}\n", table, name, joined(elements));
      }
      for (const std::string& rule : text.rules)
        out += fmt::format("add rule netdev {} {} {}\n", table, chain_of(device), rule);
    }
  }
  return out;
}

std::string update_elements(const std::map<std::string, std::vector<std::string>>& before,
                            const std::map<std::string, std::vector<std::string>>& after,
                            const std::string& table) {
  std::string removals;
  std::string additions;
  for (const auto& [name, now] : after) {
    auto old_it = before.find(name);
    const std::vector<std::string> empty;
    const auto& old = old_it == before.end() ? empty : old_it->second;
    const std::set<std::string> old_set(old.begin(), old.end());
    const std::set<std::string> new_set(now.begin(), now.end());
    std::vector<std::string> gone;
    std::vector<std::string> added;
    std::set_difference(old_set.begin(), old_set.end(), new_set.begin(), new_set.end(),
                        std::back_inserter(gone));
    std::set_difference(new_set.begin(), new_set.end(), old_set.begin(), old_set.end(),
                        std::back_inserter(added));
    // Removals first in the same transaction: a merged range replaces the ranges it covers.
    if (!gone.empty())
      removals += fmt::format("delete element netdev {} {} {{ {} }}\n", table, name, joined(gone));
    if (!added.empty())
      additions += fmt::format("add element netdev {} {} {{ {} }}\n", table, name, joined(added));
  }
  return removals + additions;
}

std::string delete_table(const std::string& table) {
  return fmt::format("add table netdev {0}\ndelete table netdev {0}\n", table);
}

}  // namespace riasc::netem::nft
