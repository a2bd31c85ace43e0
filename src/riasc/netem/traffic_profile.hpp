#pragma once

// A TrafficProfile (k8s-netem.riasc.eu/v1) read into typed form, in the units the data plane
// needs. Input is an object as the API server stores it (validated against the CRD, defaults
// applied); what the schema cannot check (duration strings, rates, protocol names) is reported
// in `errors` with the field's path, and the profile is then not applied
// (docs/decisions/trafficprofile.md has the semantics).

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "riasc/core/field_error.hpp"
#include "riasc/core/json.hpp"
#include "riasc/core/label_selector.hpp"
#include "riasc/net/ip_address.hpp"
#include "riasc/net/rtnetlink.hpp"
#include "riasc/shaper/shaper.hpp"

namespace riasc::netem {

enum class Direction { Egress, Ingress };
const char* to_string(Direction direction);

enum class Protocol : std::uint8_t { TCP = 6, UDP = 17, SCTP = 132, UDPLite = 136 };

// A NetworkPolicy-like peer: an address block, or pods chosen by selectors.
struct Peer {
  struct Block {
    net::IpPrefix cidr;
    std::vector<net::IpPrefix> except;
  };
  std::optional<Block> block;
  // Set only for selector peers. An absent podSelector means every pod of the selected
  // namespaces; an absent namespaceSelector means every namespace.
  std::optional<LabelSelector> pod_selector;
  std::optional<LabelSelector> namespace_selector;
};

struct PortSpec {
  Protocol protocol = Protocol::TCP;
  std::uint16_t first = 0;  // 0 when `name` is set
  std::uint16_t last = 0;
  std::string name;  // a container port name, resolved against the receiving pods
};

// One rule: a packet matches when every given clause holds. An absent `peers` means any
// address; empty lists mean "any".
struct Rule {
  std::optional<std::vector<Peer>> peers;
  std::vector<PortSpec> ports;
  std::vector<std::uint16_t> ether_types;
  std::vector<std::uint8_t> inet_protos;
};

// One step of a Flexe sequence with its start relative to the sequence's start.
struct FlexeStep {
  std::string name;
  std::chrono::nanoseconds start{0};
  std::chrono::nanoseconds duration{0};  // 0: forever (the last step without a runTime)
  net::NetemOptions egress;
  net::NetemOptions ingress;
};

struct FlexeSequence {
  std::vector<FlexeStep> steps;
  bool repeat = false;
  [[nodiscard]] std::chrono::nanoseconds period() const;  // sum of durations; 0 if one lasts forever
  // The step in force `elapsed` after the start, and when the next step starts (relative to the
  // sequence's start; nullopt when this step lasts forever).
  struct Position {
    std::size_t step = 0;
    std::chrono::nanoseconds step_start{0};  // when the step in force began
    std::optional<std::chrono::nanoseconds> next_switch;
  };
  [[nodiscard]] Position at(std::chrono::nanoseconds elapsed) const;
};

// Which data plane shapes a pod: a node agent's --backend, and a profile's spec.backend. Auto:
// for an agent, kernel netem where the kernel has it, else userspace; for a profile, the node's.
enum class BackendChoice { Auto, Kernel, Userspace };

// "auto", "kernel", "userspace"; nullopt for anything else.
std::optional<BackendChoice> parse_backend_choice(std::string_view text);
std::string to_string(BackendChoice choice);

struct TrafficProfile {
  enum class Type { Builtin, Flexe };

  std::string name;
  std::string uid;
  std::int64_t generation = 0;
  LabelSelector pod_selector = LabelSelector::nothing();
  std::optional<std::string> interface_filter;
  BackendChoice backend = BackendChoice::Auto;
  Type type = Type::Builtin;
  net::NetemOptions netem;  // Builtin; both directions
  // Builtin's parameters.netem.trace, both directions: delay and rate series that replace
  // netem.latency_ns and netem.rate_bytes_per_second (then 0 in `netem`). Only the userspace
  // backend replays it; offsets and delays in ns, rates in bytes per second; its origin is the
  // profile's creationTimestamp in CLOCK_REALTIME ns (the backend moves it to the engine's clock).
  std::optional<shaper::TraceReplay> trace;
  FlexeSequence flexe;  // Flexe
  std::vector<Rule> egress;
  std::vector<Rule> ingress;

  // The emulator settings of a direction for Builtin (constant) profiles, or the first step
  // of a Flexe sequence.
  [[nodiscard]] const net::NetemOptions& initial_options(Direction direction) const;
  [[nodiscard]] const std::vector<Rule>& rules(Direction direction) const {
    return direction == Direction::Egress ? egress : ingress;
  }
};

struct ParsedTrafficProfile {
  TrafficProfile profile;
  FieldErrors errors;  // non-empty: do not apply
};

ParsedTrafficProfile parse_traffic_profile(const Json& object);

// "10mbit", "1.5gbit", "100kbps" (bytes), or kbit/s as a number → bytes per second.
std::optional<std::uint64_t> parse_rate_bytes_per_second(const Json& value);
// IANA protocol keyword ("icmp", "ipv6-icmp", "udp") or a number → protocol number.
std::optional<std::uint8_t> parse_inet_proto(const Json& value);
// nft ether_type name ("ip", "ip6", "arp", "vlan", "8021q", "8021ad") or number → EtherType.
std::optional<std::uint16_t> parse_ether_type(const Json& value);

}  // namespace riasc::netem
