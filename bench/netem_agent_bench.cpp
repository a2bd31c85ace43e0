// The node agent against build/riasc server, on a kernel with sch_netem (the project's VM: make
// bench-netem). Prints the time from a TrafficProfile change accepted by the API server (the
// PATCH answered) to the kernel holding the new netem parameters, p50/p99 over many changes, with
// 1 and with 100 peer pods selected; the time from a new peer pod's IP to its nft set element;
// and the agent's resident memory.
//
//   riasc_netem_bench [RIASC_BINARY] [CHANGES]

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <thread>

#include "bench_process.hpp"
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
    host.set_link_up(host.link("riasc-bench")->index);
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

// Parameter changes: PATCH answered → the kernel's netem has the new delay.
std::vector<double> measure_changes(const client::Resource& profiles, const PodNetns& pod, int changes) {
  std::vector<double> samples;
  net::in_netns(pod.path(), [&] {
    net::Rtnetlink rtnl;
    const int eth0 = rtnl.link("eth0")->index;
    for (int i = 0; i < changes; ++i) {
      const std::uint64_t delay_us = 10'000 + static_cast<std::uint64_t>(i % 2 == 0 ? i : 1000 + i);
      const Json patch{{"spec", {{"parameters", {{"netem", {{"delay", fmt::format("{}us", delay_us)}}}}}}}};
      profiles.patch("bench", client::PatchType::Merge, patch);
      const auto accepted = Clock::now();
      while (netem_latency(rtnl, eth0) != delay_us * 1000) {
        if (Clock::now() - accepted > std::chrono::seconds(10))
          throw std::runtime_error("the kernel never changed");
      }
      samples.push_back(std::chrono::duration<double, std::milli>(Clock::now() - accepted).count());
    }
  });
  return samples;
}

// A new peer: its status with an IP answered → the IP is in the pod's nft set.
std::vector<double> measure_peers(const client::Resource& pods, const PodNetns& shaped, int peers) {
  std::vector<double> samples;
  net::in_netns(shaped.path(), [&] {
    net::Nftables nft;
    for (int i = 0; i < peers; ++i) {
      const std::string name = fmt::format("late-{}", i);
      const std::string ip = fmt::format("10.97.{}.{}", i / 200, 1 + i % 200);
      pods.create(pod(name, "elsewhere", {{"role", "peer"}}));
      set_ip(pods, name, ip);
      const auto accepted = Clock::now();
      while (nft.list_json("table netdev riasc").find("\"" + ip + "\"") == std::string::npos) {
        if (Clock::now() - accepted > std::chrono::seconds(10))
          throw std::runtime_error("the peer never came");
      }
      samples.push_back(std::chrono::duration<double, std::milli>(Clock::now() - accepted).count());
    }
  });
  return samples;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string binary = argc > 1 ? argv[1] : RIASC_BINARY;
  const int changes = argc > 2 ? std::stoi(argv[2]) : 200;
  try {
    bench::RiascServer server(binary, std::filesystem::temp_directory_path() / "riasc-netem-bench");
    client::Client api(client::load_kubeconfig({server.kubeconfig()}));
    api.resource(kNamespaces)
        .create({{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", "bench"}}}});
    auto pods = api.resource(kPods, "bench");
    auto profiles = api.resource(kProfiles);
    PodNetns shaped;
    pods.create(pod("shaped", "bench-node", {{"app", "shaped"}}, shaped.path()));
    set_ip(pods, "shaped", "10.98.0.2");
    pods.create(pod("peer-0", "elsewhere", {{"role", "peer"}}));
    set_ip(pods, "peer-0", "10.96.0.1");
    profiles.create(Json::parse(R"({"apiVersion": "k8s-netem.riasc.eu/v1", "kind": "TrafficProfile",
      "metadata": {"name": "bench"},
      "spec": {"podSelector": {"matchLabels": {"app": "shaped"}},
               "parameters": {"netem": {"delay": "5ms"}},
               "egress": [{"to": [{"podSelector": {"matchLabels": {"role": "peer"}}}]}]}})"));
    bench::ChildProcess agent({binary, "agent", "--node", "bench-node", "--kubeconfig",
                               server.kubeconfig().string(), "--probe-port", "0"},
                              server.directory() / "agent.log");
    fmt::print("riasc agent: {} changes per figure; {} cores\n", changes,
               std::thread::hardware_concurrency());
    measure_changes(profiles, shaped, 5);  // the first apply and warm caches
    const Figures one = figures(measure_changes(profiles, shaped, changes));
    fmt::print("profile change -> kernel, 1 peer pod:    p50 {:.2f} ms  p99 {:.2f} ms  max {:.2f} ms\n",
               one.p50, one.p99, one.max);
    for (int i = 1; i < 100; ++i) {
      const std::string name = fmt::format("peer-{}", i);
      pods.create(pod(name, "elsewhere", {{"role", "peer"}}));
      set_ip(pods, name, fmt::format("10.96.{}.{}", i / 200, 1 + i % 200));
    }
    std::this_thread::sleep_for(std::chrono::seconds(1));
    const Figures hundred = figures(measure_changes(profiles, shaped, changes));
    fmt::print("profile change -> kernel, 100 peer pods: p50 {:.2f} ms  p99 {:.2f} ms  max {:.2f} ms\n",
               hundred.p50, hundred.p99, hundred.max);
    const Figures peers = figures(measure_peers(pods, shaped, std::max(20, changes / 4)));
    fmt::print("new peer pod IP -> nft set element:      p50 {:.2f} ms  p99 {:.2f} ms  max {:.2f} ms\n",
               peers.p50, peers.p99, peers.max);
    fmt::print("agent RSS: {:.1f} MiB\n", agent.rss_mib());
    profiles.remove("bench");
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  } catch (const std::exception& error) {
    fmt::print(stderr, "riasc_netem_bench: {}\n", error.what());
    return 1;
  }
  return 0;
}
