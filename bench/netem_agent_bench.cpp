// The node agent against build/riasc server, on a kernel with sch_netem (the project's VM: make
// bench-netem). Prints the time from a TrafficProfile change accepted by the API server (the
// PATCH answered) to the kernel holding the new netem parameters, p50/p99 over many changes, with
// 1 and with 100 peer pods selected; the time from a new peer pod's IP to its nft set element;
// and the agent's memory (RSS, PSS, USS, anonymous) beside that of one TLS request
// (bench/tls_floor.cpp).
//
//   riasc_netem_bench [--control-path | --userspace] [RIASC_BINARY] [CHANGES]
//
// --control-path: an agent in this process with a backend that records what it is given (no
// kernel; any machine). --userspace: `riasc agent --backend userspace` on any kernel, the change
// seen in the traffic: the pod sends a probe every 250 µs, and a change is in force from the
// first probe sent that arrives with the new delay.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <fstream>
#include <iostream>
#include <mutex>
#include <string_view>
#include <thread>

#include "bench_process.hpp"
#include "riasc/agent/agent.hpp"
#include "riasc/client/client.hpp"
#include "riasc/client/config.hpp"
#include "riasc/net/netns.hpp"
#include "riasc/net/nftables.hpp"
#include "riasc/net/rtnetlink.hpp"

namespace {

using namespace riasc;
using Clock = std::chrono::steady_clock;

const client::GroupVersionResource kProfiles{"k8s-netem.riasc.eu", "v1", "trafficprofiles"};
const client::GroupVersionResource kPods{"", "v1", "pods"};
const client::GroupVersionResource kNamespaces{"", "v1", "namespaces"};

// The host's end of the pod's veth: the pod's gateway, and the peer its probes go to.
constexpr const char* kHostSide = "10.98.0.1";
constexpr std::uint16_t kProbePort = 9;

// A network namespace kept alive by an open file, with a veth to this one whose far end is its
// eth0 and default route (what the agent looks for).
class PodNetns {
 public:
  PodNetns() {
    std::thread maker([this] {
      if (::unshare(CLONE_NEWNET) == 0) fd_ = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    });
    maker.join();
    if (fd_ < 0) throw std::runtime_error("cannot make a network namespace (root needed)");
    path_ = fmt::format("/proc/{}/fd/{}", getpid(), fd_);
    const int host_fd = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    const std::string host_path = fmt::format("/proc/self/fd/{}", host_fd);
    net::in_netns(path_, [&] {
      net::Rtnetlink pod;
      pod.set_link_up(pod.link("lo")->index);
      // eth0 is made inside, so that the host's own eth0 is no obstacle; its peer goes out.
      auto [eth0, outside] = pod.create_veth("eth0", "riasc-bench");
      pod.move_link(outside, host_path);
      pod.set_link_up(eth0);
      pod.add_address(eth0, *net::IpPrefix::parse("10.98.0.2/24"));
      pod.add_route(*net::IpPrefix::parse("0.0.0.0/0"), eth0, net::IpAddress::parse("10.98.0.1"));
    });
    ::close(host_fd);
    net::Rtnetlink host;
    const int outside = host.link("riasc-bench")->index;
    host.add_address(outside, net::IpPrefix{*net::IpAddress::parse(kHostSide), 24});
    host.set_link_up(outside);
  }
  ~PodNetns() {
    try {
      net::Rtnetlink host;
      if (auto link = host.link("riasc-bench")) host.delete_link(link->index);
    } catch (const std::exception&) {
    }
    ::close(fd_);
  }
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  int fd_ = -1;
  std::string path_;
};

Json pod(const std::string& name, const std::string& node, Json labels, const std::string& netns = "") {
  Json object{{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata", {{"name", name}, {"namespace", "bench"}, {"labels", std::move(labels)}}},
              {"spec", {{"nodeName", node}, {"containers", {{{"name", "main"}, {"image", "bench"}}}}}}};
  if (!netns.empty()) object["metadata"]["annotations"] = {{"riasc.eu/netns", netns}};
  return object;
}

void set_ip(const client::Resource& pods, const std::string& name, const std::string& ip) {
  Json current = pods.get(name);
  current["status"] = {{"phase", "Running"}, {"podIP", ip}, {"podIPs", {{{"ip", ip}}}}};
  pods.update_status(current);
}

// The netem latency of the pod's band, or 0 while there is none.
std::uint64_t netem_latency(net::Rtnetlink& rtnl, int ifindex) {
  for (const net::Qdisc& qdisc : rtnl.qdiscs(ifindex)) {
    if (qdisc.kind == "netem") return net::decode_netem(qdisc.options).latency_ns;
  }
  return 0;
}

struct Figures {
  double p50, p99, max;
};

Figures figures(std::vector<double> samples) {
  std::sort(samples.begin(), samples.end());
  auto at = [&](double q) {
    return samples[std::min(samples.size() - 1,
                            static_cast<std::size_t>(q * static_cast<double>(samples.size())))];
  };
  return {at(0.5), at(0.99), samples.back()};
}

// Milliseconds from `since` until `done()` holds. It looks every 100 µs rather than in a busy loop:
// on the VM's two vCPUs a spinning probe takes a whole CPU from the agent and the server it
// measures, which showed up as their tail latency.
template <typename Done>
double poll_until(Clock::time_point since, Done done, const char* never) {
  while (!done()) {
    if (Clock::now() - since > std::chrono::seconds(10)) throw std::runtime_error(never);
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  return std::chrono::duration<double, std::milli>(Clock::now() - since).count();
}

// Where a bench run looks for the effect of a change: the kernel of a pod's namespace, or (with
// --control-path) the backend calls of an agent running in this process.
class Observer {
 public:
  virtual ~Observer() = default;
  [[nodiscard]] virtual bool has_delay(std::uint64_t latency_ns) = 0;
  [[nodiscard]] virtual bool has_peer(const std::string& ip) = 0;
  // Milliseconds from `accepted` (steady clock; `accepted_real` is the same moment on the wall
  // clock) until the delay is in force. By default, until has_delay() holds.
  virtual double in_force_ms(std::uint64_t latency_ns, Clock::time_point accepted,
                             std::int64_t /*accepted_real_ns*/) {
    return poll_until(
        accepted, [&] { return has_delay(latency_ns); }, "the change never came");
  }
};

// The kernel: sockets opened inside the pod's namespace stay bound to it.
class KernelObserver : public Observer {
 public:
  explicit KernelObserver(const PodNetns& pod) {
    net::in_netns(pod.path(), [&] {
      rtnl_ = std::make_unique<net::Rtnetlink>();
      nft_ = std::make_unique<net::Nftables>();
      eth0_ = rtnl_->link("eth0")->index;
    });
  }
  bool has_delay(std::uint64_t latency_ns) override { return netem_latency(*rtnl_, eth0_) == latency_ns; }
  bool has_peer(const std::string& ip) override {
    return nft_->list_json("table netdev riasc").find("\"" + ip + "\"") != std::string::npos;
  }

 private:
  std::unique_ptr<net::Rtnetlink> rtnl_;
  std::unique_ptr<net::Nftables> nft_;
  int eth0_ = 0;
};

std::int64_t realtime_ns() {
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  return std::int64_t{now.tv_sec} * 1'000'000'000 + now.tv_nsec;
}

// The traffic: probes from the pod to kHostSide, shaped by the profile (kHostSide is peer-0's
// IP), each carrying its wall-clock send time; the host's socket takes the kernel's receive time.
// Peers are looked up in the pod's nft table, as for the kernel (both backends classify alike).
class TrafficObserver : public KernelObserver {
 public:
  explicit TrafficObserver(const PodNetns& pod) : KernelObserver(pod) {
    receiver_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    const int on = 1;
    ::setsockopt(receiver_, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on);
    const timeval timeout{0, 100'000};
    ::setsockopt(receiver_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(kProbePort);
    ::inet_pton(AF_INET, kHostSide, &address.sin_addr);
    if (::bind(receiver_, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0)
      throw std::runtime_error(
          fmt::format("cannot bind {}:{}: {}", kHostSide, kProbePort, std::strerror(errno)));
    sender_ = net::in_netns(pod.path(), [] { return ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0); });
    if (::connect(sender_, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0)
      throw std::runtime_error("cannot address the probes");
    receiving_ = std::thread([this] { receive(); });
    sending_ = std::thread([this] { send(); });
  }
  ~TrafficObserver() override {
    stop_ = true;
    sending_.join();
    receiving_.join();
    ::close(sender_);
    ::close(receiver_);
  }
  TrafficObserver(const TrafficObserver&) = delete;
  TrafficObserver& operator=(const TrafficObserver&) = delete;

  bool has_delay(std::uint64_t latency_ns) override {
    std::lock_guard lock(mutex_);
    return !probes_.empty() && close_to(probes_.back().delay_ns, latency_ns);
  }

  // From the first probe sent that arrived with the new delay (up to 400 µs late). Each change
  // takes 500 µs off, so an older probe, whose delay is longer, is never taken for a newer one.
  double in_force_ms(std::uint64_t latency_ns, Clock::time_point accepted,
                     std::int64_t accepted_real_ns) override {
    // The agent may see the change (watch event) a little before the PATCH's answer arrives.
    const std::int64_t from = accepted_real_ns - 5'000'000;
    while (Clock::now() - accepted < std::chrono::seconds(10)) {
      {
        std::lock_guard lock(mutex_);
        for (const Probe& probe : probes_) {
          if (probe.sent_ns >= from && close_to(probe.delay_ns, latency_ns))
            return static_cast<double>(probe.sent_ns - accepted_real_ns) / 1e6;
        }
        // Only what arrived since the change is of interest from here on.
        std::erase_if(probes_, [&](const Probe& probe) { return probe.sent_ns < from; });
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    throw std::runtime_error("no probe arrived with the new delay");
  }

 private:
  struct Probe {
    std::int64_t sent_ns;
    std::uint64_t delay_ns;
  };

  static bool close_to(std::uint64_t delay_ns, std::uint64_t latency_ns) {
    return delay_ns + 100'000 >= latency_ns && delay_ns < latency_ns + 400'000;
  }

  void send() {
    timespec next{};
    ::clock_gettime(CLOCK_MONOTONIC, &next);
    while (!stop_) {
      next.tv_nsec += 250'000;
      if (next.tv_nsec >= 1'000'000'000) {
        next.tv_nsec -= 1'000'000'000;
        ++next.tv_sec;
      }
      ::clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, nullptr);
      const std::int64_t now = realtime_ns();
      (void)::send(sender_, &now, sizeof now, 0);
    }
  }

  void receive() {
    while (!stop_) {
      std::int64_t sent = 0;
      iovec data{&sent, sizeof sent};
      alignas(cmsghdr) char control[CMSG_SPACE(sizeof(timespec))];
      msghdr message{};
      message.msg_iov = &data;
      message.msg_iovlen = 1;
      message.msg_control = control;
      message.msg_controllen = sizeof control;
      if (::recvmsg(receiver_, &message, 0) != static_cast<ssize_t>(sizeof sent)) continue;
      const cmsghdr* header = CMSG_FIRSTHDR(&message);
      if (header == nullptr || header->cmsg_type != SCM_TIMESTAMPNS) continue;
      timespec received{};
      std::memcpy(&received, CMSG_DATA(header), sizeof received);
      const std::int64_t received_ns = std::int64_t{received.tv_sec} * 1'000'000'000 + received.tv_nsec;
      std::lock_guard lock(mutex_);
      probes_.push_back({sent, static_cast<std::uint64_t>(std::max<std::int64_t>(0, received_ns - sent))});
      if (probes_.size() > 200'000) probes_.erase(probes_.begin(), probes_.begin() + 100'000);
    }
  }

  int receiver_ = -1;
  int sender_ = -1;
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::vector<Probe> probes_;
  std::thread receiving_;
  std::thread sending_;
};

// A backend that only remembers the last bands it was given: the agent's whole control path
// (watch, plan, apply call) without a kernel, so it runs natively on any machine.
class RecordingBackend : public netem::Backend, public Observer {
 public:
  netem::ApplyOutcome apply(const netem::PodTarget&, const std::vector<netem::Band>& bands) override {
    netem::ApplyOutcome outcome;
    for (const auto& band : bands)
      outcome.bands.push_back({band.profile, band.direction, "eth0", true, "", ""});
    std::lock_guard lock(mutex_);
    bands_ = bands;
    return outcome;
  }
  void forget(const std::string&) override {}
  [[nodiscard]] std::string name() const override { return "kernel"; }
  bool has_delay(std::uint64_t latency_ns) override {
    std::lock_guard lock(mutex_);
    return !bands_.empty() && bands_.front().options.latency_ns == latency_ns;
  }
  bool has_peer(const std::string& ip) override {
    const auto address = net::IpAddress::parse(ip);
    std::lock_guard lock(mutex_);
    for (const auto& band : bands_) {
      for (const auto& classifier : band.classifiers) {
        if (classifier.peers && classifier.peers->contains(*address)) return true;
      }
    }
    return false;
  }

 private:
  std::mutex mutex_;
  std::vector<netem::Band> bands_;
};

class AnyNamespace : public agent::NetnsResolver {
 public:
  std::optional<std::string> resolve(const Json&) override { return "/proc/self/ns/net"; }
};

// How long the agent's backend took per apply, from its debug lines "... applied in X ms".
std::vector<double> apply_times(const std::filesystem::path& log) {
  std::vector<double> samples;
  std::ifstream in(log);
  const std::string marker = " applied in ";
  for (std::string line; std::getline(in, line);) {
    const auto at = line.find(marker);
    if (at != std::string::npos) samples.push_back(std::stod(line.substr(at + marker.size())));
  }
  if (samples.empty()) throw std::runtime_error("the agent logged no apply");
  return samples;
}

// Parameter changes: PATCH answered → the new delay in force.
std::vector<double> measure_changes(const client::Resource& profiles, Observer& observer, int changes) {
  std::vector<double> samples;
  for (int i = 0; i < changes; ++i) {
    // 30 down to 10.5 ms, 500 µs less each time: probes still in flight from an earlier change
    // arrive later than the new delay, however late the emulation is, and a value comes back only
    // after 40 changes.
    const std::uint64_t delay_us = 30'000 - static_cast<std::uint64_t>(i % 40) * 500;
    const Json patch{{"spec", {{"parameters", {{"netem", {{"delay", fmt::format("{}us", delay_us)}}}}}}}};
    profiles.patch("bench", client::PatchType::Merge, patch);
    const auto accepted = Clock::now();
    const std::int64_t accepted_real = realtime_ns();
    samples.push_back(observer.in_force_ms(delay_us * 1000, accepted, accepted_real));
  }
  return samples;
}

// A new peer: its status with an IP answered → the IP classified.
std::vector<double> measure_peers(const client::Resource& pods, Observer& observer, int peers) {
  std::vector<double> samples;
  for (int i = 0; i < peers; ++i) {
    const std::string name = fmt::format("late-{}", i);
    const std::string ip = fmt::format("10.97.{}.{}", i / 200, 1 + i % 200);
    pods.create(pod(name, "elsewhere", {{"role", "peer"}}));
    set_ip(pods, name, ip);
    const auto accepted = Clock::now();
    samples.push_back(poll_until(
        accepted, [&] { return observer.has_peer(ip); }, "the peer never came"));
  }
  return samples;
}

// Memory is read this long after the last change: the agent trims its heap after a second
// without work (agent.cpp, kQuietBeforeTrim).
constexpr auto kAtRest = std::chrono::milliseconds(1500);

void print_memory(std::string_view what, const bench::Memory& memory) {
  fmt::print("{} RSS {:.1f} MiB  PSS {:.1f} MiB  USS {:.1f} MiB  anonymous {:.1f} MiB\n", what, memory.rss,
             memory.pss, memory.uss, memory.anonymous);
}

void print_memory(std::string_view what, pid_t pid) { print_memory(what, bench::memory_of(pid)); }

// The floor under the agent's figures: bench/tls_floor.cpp, a program of OpenSSL and libstdc++
// alone, after one request to the same server with the same kind of client certificate.
bench::Memory tls_floor(const bench::RiascServer& server) {
  const auto address = client::parse_server_url(client::load_kubeconfig({server.kubeconfig()}).server);
  const auto log = server.directory() / "tls_floor.log";
  bench::ChildProcess floor(
      {RIASC_TLS_FLOOR, address.host, std::to_string(address.port), (server.directory() / "pki").string()},
      log);
  if (!floor.wait_for_stop()) throw std::runtime_error("riasc_tls_floor failed: " + bench::read_file(log));
  return bench::memory_of(floor.pid());
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  const bool control_path = std::erase(args, "--control-path") > 0;
  const bool userspace = std::erase(args, "--userspace") > 0;
  const std::string binary = !args.empty() ? args[0] : RIASC_BINARY;
  const int changes = args.size() > 1 ? std::stoi(args[1]) : 200;
  try {
    bench::RiascServer server(binary, std::filesystem::temp_directory_path() / "riasc-netem-bench");
    client::Client api(client::load_kubeconfig({server.kubeconfig()}));
    api.resource(kNamespaces)
        .create({{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", "bench"}}}});
    auto pods = api.resource(kPods, "bench");
    auto profiles = api.resource(kProfiles);
    std::optional<PodNetns> shaped;
    if (!control_path) shaped.emplace();
    pods.create(pod("shaped", "bench-node", {{"app", "shaped"}}, shaped ? shaped->path() : ""));
    set_ip(pods, "shaped", "10.98.0.2");
    pods.create(pod("peer-0", "elsewhere", {{"role", "peer"}}));
    set_ip(pods, "peer-0", kHostSide);
    profiles.create(Json::parse(R"({"apiVersion": "k8s-netem.riasc.eu/v1", "kind": "TrafficProfile",
      "metadata": {"name": "bench"},
      "spec": {"podSelector": {"matchLabels": {"app": "shaped"}},
               "parameters": {"netem": {"delay": "5ms"}},
               "egress": [{"to": [{"podSelector": {"matchLabels": {"role": "peer"}}}]}]}})"));

    // The agent: a `riasc agent` process on the kernel, or an Agent in this process with a
    // recording backend for the control path alone.
    std::optional<bench::ChildProcess> agent_process;
    std::unique_ptr<Observer> kernel;  // or the traffic, with --userspace
    client::Client agent_api(client::load_kubeconfig({server.kubeconfig()}));
    std::unique_ptr<agent::Agent> in_process;
    RecordingBackend* recorder = nullptr;
    if (control_path) {
      auto backend = std::make_unique<RecordingBackend>();
      recorder = backend.get();
      in_process = std::make_unique<agent::Agent>(
          agent_api,
          agent::AgentOptions{.node = "bench-node",
                              .log = [](op::LogLevel, const std::string&, const std::string&) {}},
          std::move(backend), std::make_unique<AnyNamespace>());
      in_process->start();
    } else {
      std::vector<std::string> command{
          binary,         "agent", "--node",   "bench-node", "--kubeconfig", server.kubeconfig().string(),
          "--probe-port", "0",     "--verbose"};
      if (userspace) command.insert(command.end(), {"--backend", "userspace"});
      agent_process.emplace(command, server.directory() / "agent.log");
      if (userspace) {
        kernel = std::make_unique<TrafficObserver>(*shaped);
      } else {
        kernel = std::make_unique<KernelObserver>(*shaped);
      }
    }
    Observer& observer = control_path ? static_cast<Observer&>(*recorder) : *kernel;
    const char* effect = control_path ? "backend called" : userspace ? "traffic" : "kernel";
    fmt::print("riasc agent{}: {} changes per figure; {} cores\n",
               control_path ? " (control path: in-process agent, recording backend)"
               : userspace  ? " (userspace backend, the change seen in probes every 250 µs)"
                            : "",
               changes, std::thread::hardware_concurrency());
    measure_changes(profiles, observer, 5);  // the first apply and warm caches
    const Figures one = figures(measure_changes(profiles, observer, changes));
    fmt::print("profile change -> {}, 1 peer pod:    p50 {:.2f} ms  p99 {:.2f} ms  max {:.2f} ms\n", effect,
               one.p50, one.p99, one.max);
    if (agent_process) {
      std::this_thread::sleep_for(kAtRest);
      print_memory("agent memory, 1 peer pod:   ", agent_process->pid());
    }
    for (int i = 1; i < 100; ++i) {
      const std::string name = fmt::format("peer-{}", i);
      pods.create(pod(name, "elsewhere", {{"role", "peer"}}));
      set_ip(pods, name, fmt::format("10.96.{}.{}", i / 200, 1 + i % 200));
    }
    std::this_thread::sleep_for(std::chrono::seconds(1));
    const Figures hundred = figures(measure_changes(profiles, observer, changes));
    fmt::print("profile change -> {}, 100 peer pods: p50 {:.2f} ms  p99 {:.2f} ms  max {:.2f} ms\n", effect,
               hundred.p50, hundred.p99, hundred.max);
    const Figures peers = figures(measure_peers(pods, observer, std::max(20, changes / 4)));
    fmt::print("new peer pod IP -> {}:      p50 {:.2f} ms  p99 {:.2f} ms  max {:.2f} ms\n",
               control_path ? "classified" : "nft set element", peers.p50, peers.p99, peers.max);
    if (agent_process) {
      const Figures apply = figures(apply_times(server.directory() / "agent.log"));
      fmt::print("{} calls of one apply (agent's log):  p50 {:.2f} ms  p99 {:.2f} ms  max {:.2f} ms\n",
                 userspace ? "backend" : "kernel", apply.p50, apply.p99, apply.max);
      std::this_thread::sleep_for(kAtRest);
      print_memory("agent memory, 100 peer pods:", agent_process->pid());
      for (const pid_t engine : bench::children_of(agent_process->pid())) {
        print_memory("its engine process:         ", engine);
      }
      print_memory("floor (bench/tls_floor.cpp):", tls_floor(server));
    }
    if (in_process) in_process->stop();
    profiles.remove("bench");
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  } catch (const std::exception& error) {
    fmt::print(stderr, "riasc_netem_bench: {}\n", error.what());
    return 1;
  }
  return 0;
}
