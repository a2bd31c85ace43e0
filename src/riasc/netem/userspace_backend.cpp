#include "riasc/netem/userspace_backend.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include <filesystem>
#include <set>
#include <thread>

#include "riasc/core/unique_fd.hpp"
#include "riasc/engine/devices.hpp"
#include "riasc/engine/engine.hpp"
#include "riasc/net/netlink_error.hpp"
#include "riasc/net/netns.hpp"
#include "riasc/net/nftables.hpp"
#include "riasc/net/rtnetlink.hpp"
#include "riasc/netem/interfaces.hpp"
#include "riasc/netem/nft_rules.hpp"

namespace riasc::netem {
namespace {

constexpr int kMaxSlots = 15;

// Where one band's packets are diverted.
struct Placement {
  std::string profile;
  Direction direction = Direction::Egress;
  std::string interface;  // the pod's
  std::string device;     // where the rules and the TAP are: the interface, or the device facing it
  bool host_side = false;
  int slot = 0;
  std::string tap;
  shaper::ShaperOptions options;
  [[nodiscard]] std::string device_key() const { return fmt::format("{}:{}", to_string(direction), device); }
};

std::string band_key(const Band& band) {
  return fmt::format("{}/{}", band.profile, to_string(band.direction));
}

// Removes this namespace's TAPs whose names start with `prefix` ("rse", "rsi").
void delete_own_taps(const std::string& prefix) {
  net::Rtnetlink rtnl;
  for (const net::Link& link : rtnl.links()) {
    if (link.kind == "tun" && link.name.starts_with(prefix)) rtnl.delete_link(link.index);
  }
}

// A pod interface as the pod's namespace sees it: enough to find the veth peer facing it.
struct PodLink {
  int index = 0;
  int peer_index = 0;
  int peer_netnsid = -1;
};

// The device in the agent's namespace that faces a pod interface (its veth peer), if there is one.
// `host_id_in_pod` is the id the pod's namespace gives the agent's.
std::optional<std::string> facing_device(net::Rtnetlink& host, const PodLink& link, int host_id_in_pod) {
  if (link.peer_netnsid < 0 || link.peer_netnsid != host_id_in_pod) return std::nullopt;
  auto peer = host.link(link.peer_index);
  if (!peer || peer->peer_index != link.index) return std::nullopt;
  return peer->name;
}

// The ingress side of one facing device: its table and its TAPs (any slot).
void remove_host_side_of(const std::string& device) {
  net::Nftables().run(nft::delete_table(nft::ingress_table(device)));
  net::Rtnetlink rtnl;
  for (int slot = 1; slot <= kMaxSlots; ++slot) {
    if (auto tap = rtnl.link(engine::tap_name(true, slot, device))) rtnl.delete_link(tap->index);
  }
}

// What an earlier agent left for devices that are gone (pods deleted while no agent ran): tables
// whose device no longer exists and TAPs that belong to no existing device. The host side of
// pods that still exist is replaced or removed by the first pass over each pod; another agent's
// (a second `riasc up` on this host) is left alone.
void remove_host_orphans() {
  net::Rtnetlink rtnl;
  std::set<std::string> tables;  // that existing devices may have
  std::set<std::string> taps;
  for (const net::Link& link : rtnl.links()) {
    if (link.kind == "tun") continue;
    tables.insert(nft::ingress_table(link.name));
    for (int slot = 1; slot <= kMaxSlots; ++slot) taps.insert(engine::tap_name(true, slot, link.name));
  }
  net::Nftables nft;
  const Json listing = Json::parse(nft.list_json("tables netdev"), nullptr, false);
  std::string commands;
  for (const Json& entry : listing.value("nftables", Json::array())) {
    if (!entry.contains("table")) continue;
    const std::string name = entry["table"].value("name", "");
    if (name.starts_with("riasc_in_") && !tables.contains(name)) commands += nft::delete_table(name);
  }
  if (!commands.empty()) nft.run(commands);
  for (const net::Link& link : rtnl.links()) {
    if (link.kind == "tun" && link.name.starts_with("rsi") && !taps.contains(link.name))
      rtnl.delete_link(link.index);
  }
}

}  // namespace

struct UserspaceBackend::PodState {
  std::string pod;  // "namespace/name"
  std::uint64_t netns = 0;
  std::string netns_path;
  std::map<std::string, Placement> placed;        // band key → placement
  std::string pod_rules;                          // the pod table as last written ("" = none)
  std::map<std::string, std::string> host_rules;  // host device → its table as last written
  std::uint32_t generation = 0;
  // The last bands applied in full with every band applied: a change of parameters only (a live
  // edit, a Flexe step) is then one `change` per band to the engine and nothing else.
  std::vector<Band> last_bands;
  ApplyOutcome last_outcome;

  // nft resolves `fwd to` device names in the calling thread's namespace, so its commands run
  // inside the pod's.
  // The engine's name of a band's attachment: "namespace/pod|profile/direction", which the
  // metrics split into labels.
  [[nodiscard]] std::string attachment(const std::string& band) const { return pod + "|" + band; }

  void run_nft(const std::string& commands) const {
    net::in_netns(netns_path, [&] { net::Nftables().run(commands); });
  }
};

namespace {
std::int64_t realtime_minus_monotonic() {
  timespec real{};
  timespec mono{};
  ::clock_gettime(CLOCK_REALTIME, &real);
  ::clock_gettime(CLOCK_MONOTONIC, &mono);
  return (std::int64_t{real.tv_sec} - mono.tv_sec) * 1'000'000'000 + (real.tv_nsec - mono.tv_nsec);
}
}  // namespace

UserspaceBackend::UserspaceBackend(UserspaceBackendOptions options)
    : options_(std::move(options)), realtime_minus_monotonic_ns_(realtime_minus_monotonic()) {
  host_netns_fd_ = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  if (host_netns_fd_ < 0)
    throw std::system_error(errno, std::generic_category(), "opening /proc/self/ns/net");
  host_netns_path_ = fmt::format("/proc/self/fd/{}", host_netns_fd_);
  remove_host_orphans();
  engine_ = std::make_unique<engine::Supervisor>(options_.engine);
}

UserspaceBackend::~UserspaceBackend() {
  std::lock_guard lock(mutex_);
  for (auto& [key, state] : pods_) {
    try {
      tear_down(*state, true);
    } catch (const std::exception&) {
      // The pod may be gone already; what is left of it went with its namespace.
    }
  }
  pods_.clear();
  engine_.reset();
  if (host_netns_fd_ >= 0) ::close(host_netns_fd_);
}

void UserspaceBackend::remove_leftovers(const std::string& netns_path) {
  try {
    // The host is this thread's namespace; inside the pod's, only an open file still names it.
    const UniqueFd host_netns(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
    if (!host_netns) return;
    const std::string host_netns_path = fmt::format("/proc/self/fd/{}", host_netns.get());
    std::vector<PodLink> links;
    int host_id_in_pod = -1;
    net::in_netns(netns_path, [&] {
      delete_own_taps("rse");
      net::Rtnetlink rtnl;
      for (const net::Link& link : rtnl.links())
        links.push_back({link.index, link.peer_index, link.peer_netnsid});
      host_id_in_pod = rtnl.netnsid_of(host_netns_path);
    });
    net::Rtnetlink host;
    for (const PodLink& link : links) {
      if (auto device = facing_device(host, link, host_id_in_pod)) remove_host_side_of(*device);
    }
  } catch (const std::exception&) {
    // Nothing to remove, or the pod went meanwhile.
  }
}

void UserspaceBackend::remove_orphans() {
  try {
    remove_host_orphans();
  } catch (const std::exception&) {
    // Best effort: what belongs to pods that still exist goes with the first pass over each.
  }
}

std::string UserspaceBackend::trace_path(const std::string& pod_key, const Band& band) const {
  if (options_.trace_dir.empty()) return "";
  std::string pod = pod_key;
  std::replace(pod.begin(), pod.end(), '/', '_');
  return fmt::format("{}/{}/{}_{}.csv", options_.trace_dir, band.profile, pod, to_string(band.direction));
}

void UserspaceBackend::tear_down(PodState& state, bool pod_namespace_exists) {
  // Rules first, so nothing is forwarded to a TAP that is about to go.
  if (pod_namespace_exists && !state.pod_rules.empty()) {
    try {
      state.run_nft(nft::delete_table());
    } catch (const std::exception&) {
    }
  }
  net::Nftables host;
  for (const auto& [device, text] : state.host_rules) {
    try {
      host.run(nft::delete_table(nft::ingress_table(device)));
    } catch (const std::exception&) {
    }
  }
  for (const auto& [key, placement] : state.placed) {
    engine_->detach(state.attachment(key));
    try {
      if (placement.host_side) {
        engine::delete_tap(placement.tap);
      } else if (pod_namespace_exists) {
        net::in_netns(state.netns_path, [&] { engine::delete_tap(placement.tap); });
      }
    } catch (const std::exception&) {
    }
  }
  state.placed.clear();
  state.pod_rules.clear();
  state.host_rules.clear();
  state.last_bands.clear();
}

void UserspaceBackend::forget(const std::string& key) {
  std::lock_guard lock(mutex_);
  auto it = pods_.find(key);
  if (it == pods_.end()) return;
  tear_down(*it->second, false);
  pods_.erase(it);
}

ApplyOutcome UserspaceBackend::apply(const PodTarget& target, const std::vector<Band>& bands) {
  std::lock_guard lock(mutex_);
  auto& slot_state = pods_[target.key];
  if (!slot_state) slot_state = std::make_unique<PodState>();
  PodState& state = *slot_state;
  state.pod = target.key;
  const std::uint64_t inode = net::netns_inode(target.netns_path);
  if (state.netns != inode) {
    // A new pod, or one whose namespace was replaced: what the old one had went with it.
    tear_down(state, false);
    state.netns = inode;
    state.netns_path = target.netns_path;
    state.generation = 0;
  }
  if (bands.empty()) {
    tear_down(state, true);
    // What an earlier agent left: its table in the pod, TAPs and host side.
    try {
      state.run_nft(nft::delete_table());
    } catch (const std::exception&) {
      // No table, or the pod went meanwhile.
    }
    remove_leftovers(target.netns_path);
    pods_.erase(target.key);
    return {};
  }

  // The due time on the engine's clock (CLOCK_MONOTONIC, which steady_clock is on Linux).
  std::optional<std::int64_t> due_ns;
  if (target.due) {
    const auto ahead = *target.due - std::chrono::system_clock::now();
    due_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                 (std::chrono::steady_clock::now() + ahead).time_since_epoch())
                 .count();
  }
  if (auto outcome = change_parameters_only(state, bands, due_ns)) return *outcome;
  if (target.due) std::this_thread::sleep_until(*target.due);

  ApplyOutcome outcome;
  std::map<std::string, BandOutcome> failed;  // band key → why it is not applied
  std::map<std::string, Placement> wanted;
  std::vector<std::string> order;  // band keys in precedence order

  // Where each band goes: the pod's interface, and for ingress the device facing it.
  std::map<std::string, PodLink> pod_links;
  int host_id_in_pod = -1;
  std::map<const Band*, std::string> interfaces;
  net::in_netns(target.netns_path, [&] {
    net::Rtnetlink rtnl;
    const std::vector<net::Link> links = rtnl.links();
    for (const net::Link& link : links)
      pod_links[link.name] = {link.index, link.peer_index, link.peer_netnsid};
    for (const Band& band : bands) {
      if (auto interface = choose_interface(band, links, rtnl)) interfaces[&band] = *interface;
    }
    host_id_in_pod = rtnl.netnsid_of(host_netns_path_);
  });
  net::Rtnetlink host_rtnl;
  for (const Band& band : bands) {
    const std::string key = band_key(band);
    auto interface = interfaces.find(&band);
    if (interface == interfaces.end()) {
      failed[key] = {band.profile,
                     band.direction,
                     "",
                     false,
                     "NoInterface",
                     band.interface_filter
                         ? fmt::format("no interface matches interfaceFilter \"{}\"", *band.interface_filter)
                         : std::string("the pod has no default route")};
      continue;
    }
    Placement placement{band.profile, band.direction, interface->second, interface->second, false, 0, "", {}};
    placement.options = shaper_options(band, realtime_minus_monotonic_ns_);
    if (band.direction == Direction::Ingress) {
      const std::optional<std::string> facing =
          facing_device(host_rtnl, pod_links[interface->second], host_id_in_pod);
      if (!facing) {
        failed[key] = {band.profile,
                       band.direction,
                       interface->second,
                       false,
                       "NoFacingDevice",
                       fmt::format("ingress is diverted on the device facing {}, a veth peer in the agent's "
                                   "network namespace, and {} has none there",
                                   interface->second, interface->second)};
        continue;
      }
      placement.device = *facing;
      placement.host_side = true;
    }
    wanted[key] = std::move(placement);
    order.push_back(key);
  }

  // Slots: a band keeps its slot (and so its TAP and engine attachment) while it stays on its device.
  std::map<std::string, std::set<int>> used;  // device key → slots taken, now or before
  for (auto& [key, placement] : wanted) {
    auto before = state.placed.find(key);
    if (before != state.placed.end() && before->second.device_key() == placement.device_key()) {
      placement.slot = before->second.slot;
      placement.tap = before->second.tap;
    }
  }
  for (const auto& [key, placement] : state.placed) used[placement.device_key()].insert(placement.slot);
  for (auto& [key, placement] : wanted) {
    if (placement.slot != 0) continue;
    auto& taken = used[placement.device_key()];
    for (int slot = 1; slot <= kMaxSlots && placement.slot == 0; ++slot) {
      if (!taken.contains(slot)) placement.slot = slot;
    }
    if (placement.slot == 0) {
      failed[key] = {placement.profile,
                     placement.direction,
                     placement.interface,
                     false,
                     "TooManyBands",
                     fmt::format("{} has {} bands in this direction already", placement.device, kMaxSlots)};
      continue;
    }
    taken.insert(placement.slot);
    placement.tap = engine::tap_name(placement.host_side, placement.slot, placement.device);
  }
  for (const auto& [key, why] : failed) wanted.erase(key);

  // Engine attachments: new ones get their TAP now, before any rule forwards to it.
  for (auto& [key, placement] : wanted) {
    const std::string id = state.attachment(key);
    auto before = state.placed.find(key);
    try {
      if (before != state.placed.end() && before->second.tap == placement.tap) {
        if (!(before->second.options == placement.options)) engine_->change(id, placement.options);
      } else {
        if (before != state.placed.end()) engine_->detach(id);
        const Band* band = nullptr;
        for (const Band& b : bands) {
          if (band_key(b) == key) band = &b;
        }
        std::string trace = band != nullptr ? trace_path(target.key, *band) : "";
        if (!trace.empty()) std::filesystem::create_directories(std::filesystem::path(trace).parent_path());
        engine_->attach(id, {placement.host_side ? "" : state.netns_path,
                             placement.tap,
                             placement.device,
                             placement.options,
                             trace,
                             {}});
      }
    } catch (const std::exception& error) {
      failed[key] = {placement.profile, placement.direction, placement.interface, false,
                     "EngineFailed",    error.what()};
    }
  }
  for (const auto& [key, why] : failed) wanted.erase(key);

  // Rules: one table in the pod for egress, one per facing device for ingress.
  std::map<std::string, nft::DeviceRules> devices;  // device key → rules
  for (const std::string& key : order) {
    auto it = wanted.find(key);
    if (it == wanted.end()) continue;
    const Placement& placement = it->second;
    nft::DeviceRules& rules = devices[placement.device_key()];
    rules.interface = placement.device;
    rules.direction = placement.direction;
    rules.diverted = true;
    const Band* band = nullptr;
    for (const Band& b : bands) {
      if (band_key(b) == key) band = &b;
    }
    rules.bands.push_back({band, placement.slot, placement.tap});
  }
  std::vector<nft::DeviceRules> pod_devices;
  std::map<std::string, nft::DeviceRules> host_devices;
  for (auto& [device_key, rules] : devices) {
    if (rules.direction == Direction::Egress) {
      pod_devices.push_back(rules);
    } else {
      host_devices[rules.interface] = rules;
    }
  }
  auto rules_failed = [&](Direction direction, const std::string& device, const std::string& message) {
    for (const auto& [key, placement] : wanted) {
      if (placement.direction == direction && (device.empty() || placement.device == device))
        failed[key] = {
            placement.profile, placement.direction, placement.interface, false, "ClassifierFailed", message};
    }
  };
  const std::uint32_t generation = state.generation + 1;
  const std::string pod_text = pod_devices.empty() ? "" : nft::replace_table(pod_devices, 0);
  if (pod_text != state.pod_rules) {
    try {
      state.run_nft(pod_text.empty() ? nft::delete_table() : nft::replace_table(pod_devices, generation));
      state.pod_rules = pod_text;
      state.generation = generation;
    } catch (const std::exception& error) {
      rules_failed(Direction::Egress, "", error.what());
    }
  }
  net::Nftables host_nft;
  for (const auto& [device, rules] : host_devices) {
    const std::string table = nft::ingress_table(device);
    const std::string text = nft::replace_table({rules}, 0, table);
    if (state.host_rules[device] == text) continue;
    try {
      host_nft.run(nft::replace_table({rules}, generation, table));
      state.host_rules[device] = text;
      state.generation = generation;
    } catch (const std::exception& error) {
      rules_failed(Direction::Ingress, device, error.what());
    }
  }
  for (auto it = state.host_rules.begin(); it != state.host_rules.end();) {
    if (host_devices.contains(it->first)) {
      ++it;
      continue;
    }
    try {
      host_nft.run(nft::delete_table(nft::ingress_table(it->first)));
    } catch (const std::exception&) {
    }
    it = state.host_rules.erase(it);
  }

  // What no rule forwards to any more goes.
  for (const auto& [key, placement] : state.placed) {
    auto now = wanted.find(key);
    if (now != wanted.end() && now->second.tap == placement.tap && !failed.contains(key)) continue;
    engine_->detach(state.attachment(key));
    try {
      if (placement.host_side) {
        engine::delete_tap(placement.tap);
      } else {
        net::in_netns(state.netns_path, [&] { engine::delete_tap(placement.tap); });
      }
    } catch (const std::exception&) {
    }
  }
  state.placed.clear();
  for (auto& [key, placement] : wanted) {
    if (!failed.contains(key)) state.placed[key] = placement;
  }

  for (const Band& band : bands) {
    const std::string key = band_key(band);
    if (auto why = failed.find(key); why != failed.end()) {
      outcome.bands.push_back(why->second);
      continue;
    }
    outcome.bands.push_back(
        {band.profile, band.direction, state.placed.at(key).interface, true, "Applied", ""});
  }
  const bool all_applied = failed.empty();
  state.last_bands = all_applied ? bands : std::vector<Band>{};
  state.last_outcome = outcome;
  return outcome;
}

std::optional<ApplyOutcome> UserspaceBackend::change_parameters_only(PodState& state,
                                                                     const std::vector<Band>& bands,
                                                                     std::optional<std::int64_t> due_ns) {
  if (state.last_bands.size() != bands.size() || bands.empty()) return std::nullopt;
  for (std::size_t i = 0; i < bands.size(); ++i) {
    const Band& now = bands[i];
    const Band& before = state.last_bands[i];
    if (now.profile != before.profile || now.direction != before.direction ||
        now.interface_filter != before.interface_filter || now.classifiers != before.classifiers ||
        !state.placed.contains(band_key(now)))
      return std::nullopt;
  }
  try {
    for (const Band& band : bands) {
      Placement& placement = state.placed.at(band_key(band));
      const shaper::ShaperOptions options = shaper_options(band, realtime_minus_monotonic_ns_);
      if (placement.options == options) continue;
      engine_->change(state.attachment(band_key(band)), options, due_ns);
      placement.options = options;  // only once the engine has them: the full path compares
    }
  } catch (const std::exception&) {
    state.last_bands.clear();  // the full path finds out what is wrong and reports it
    return std::nullopt;
  }
  state.last_bands = bands;
  return state.last_outcome;
}

void UserspaceBackend::add_metrics(metrics::Registry& registry) {
  const std::vector<std::string> labels{"pod", "profile", "direction"};
  struct Series {
    const char* key;
    metrics::Family<metrics::Counter>* family;
  };
  auto counter = [&](const char* name, const char* help) { return &registry.counter(name, help, labels); };
  std::vector<Series> series{
      {"packets_in", counter("riasc_engine_packets_received_total", "Packets diverted to the engine.")},
      {"sent", counter("riasc_engine_packets_sent_total", "Packets the engine sent on.")},
      {"bytes_sent", counter("riasc_engine_bytes_sent_total",
                             "Bytes the engine sent on, as frames on the wire (every segment).")},
      {"super_packets",
       counter("riasc_engine_super_packets_received_total", "TCP super-packets (GSO) diverted whole.")},
      {"unreadable", counter("riasc_engine_packets_unreadable_total",
                             "Diverted frames dropped: truncated or an unknown GSO kind.")},
      {"lost", counter("riasc_engine_packets_lost_total", "Packets dropped by the loss model.")},
      {"limit_drops",
       counter("riasc_engine_packets_limit_dropped_total", "Packets dropped by a full queue.")},
      {"duplicated", counter("riasc_engine_packets_duplicated_total", "Duplicates made.")},
      {"corrupted", counter("riasc_engine_packets_corrupted_total", "Packets with a bit flipped.")},
      {"reordered",
       counter("riasc_engine_packets_reordered_total", "Packets sent ahead of the delayed ones.")},
      {"send_errors", counter("riasc_engine_send_errors_total", "Sends the device refused (ENOBUFS).")},
  };
  std::vector<double> bounds;
  for (const std::int64_t bound : engine::kLatenessBoundsNs)
    bounds.push_back(static_cast<double>(bound) / 1e9);
  auto& lateness =
      registry.histogram("riasc_engine_lateness_seconds",
                         "How late the engine sent packets: send time minus due time.", labels, bounds);
  auto& queued = registry.gauge("riasc_engine_queued_packets", "Packets waiting in the engine.", labels);
  auto& restarts = registry.counter("riasc_engine_restarts_total", "Times the engine was started again.", {});
  auto& spin = registry.gauge("riasc_engine_spin_seconds",
                              "How long the engine now polls before a departure instead of sleeping.", {});
  registry.on_collect([this, series, &lateness, &queued, &restarts, &spin] {
    restarts.with({}).set_total(static_cast<double>(engine_->restarts()));
    const Json stats = engine_->stats();
    if (!stats.is_object()) return;
    spin.with({}).set(stats.value("spin_seconds", 0.0));
    std::set<std::vector<std::string>> present;
    const Json attachments = stats.value("attachments", Json::object());
    for (const auto& [id, values] : attachments.items()) {
      const auto bar = id.find('|');
      const auto slash = id.rfind('/');
      if (bar == std::string::npos || slash == std::string::npos || slash < bar) continue;
      const std::vector<std::string> label_values{id.substr(0, bar), id.substr(bar + 1, slash - bar - 1),
                                                  id.substr(slash + 1)};
      present.insert(label_values);
      for (const Series& s : series) s.family->with(label_values).set_total(values.value(s.key, 0.0));
      queued.with(label_values).set(values.value("queued", 0.0));
      const Json histogram = values.value("lateness_seconds", Json::object());
      std::vector<std::uint64_t> cumulative;
      for (const Json& bucket : histogram.value("buckets", Json::array()))
        cumulative.push_back(bucket[1].get<std::uint64_t>());
      lateness.with(label_values)
          .set_totals(cumulative, histogram.value("count", std::uint64_t{0}), histogram.value("sum", 0.0));
    }
    // A band taken away takes its series with it, rather than leaving its last values behind.
    auto still_there = [&](const std::vector<std::string>& values) { return present.contains(values); };
    for (const Series& s : series) s.family->retain(still_there);
    queued.retain(still_there);
    lateness.retain(still_there);
  });
}

shaper::ShaperOptions shaper_options(const Band& band, std::int64_t realtime_minus_monotonic_ns) {
  shaper::ShaperOptions options;
  options.netem = band.options;
  options.trace = band.trace;
  if (options.trace && options.trace->origin) *options.trace->origin -= realtime_minus_monotonic_ns;
  return options;
}

std::string missing_kernel_netem_module() {
  std::string missing;
  // A thread of its own: unshare(CLONE_NEWNET) moves only it, and its namespace ends with it.
  std::thread probe([&] {
    if (::unshare(CLONE_NEWNET) != 0) {
      missing = "(cannot create a network namespace to probe)";
      return;
    }
    try {
      net::Rtnetlink rtnl;
      auto lo = rtnl.link("lo");
      if (!lo) return;
      rtnl.set_link_up(lo->index);
      net::PrioOptions prio;
      prio.bands = 2;
      rtnl.add_qdisc(lo->index, 0x00010000, net::kTcRoot, prio);
      rtnl.replace_qdisc(lo->index, 0x00020000, 0x00010002, net::NetemOptions{});
      rtnl.add_filter(lo->index, net::FwFilter{0x00010000, 1, 1, 0xffffffff, 0x00010002});
      rtnl.create_ifb("probe-ifb");
    } catch (const net::NetlinkError& error) {
      missing = error.missing_module().empty() ? error.what() : error.missing_module();
    } catch (const std::exception& error) {
      missing = error.what();
    }
  });
  probe.join();
  return missing;
}

}  // namespace riasc::netem
