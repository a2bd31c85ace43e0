// The userspace emulation engine: the shaper's cost per packet (pure, any machine), and with root
// the whole path between two network namespaces: packets/s and Gbit/s of UDP through the engine
// against the unshaped path, the engine's CPU time per packet, and how late it sends (p50/p99 of
// its lateness histogram) at a lab-typical rate. Figures go to docs/benchmarks.md.
//   riasc_engine_bench [SECONDS=3]

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

#include "../tests/kernel/scratch_netns.hpp"
#include "bench_process.hpp"
#include "riasc/engine/supervisor.hpp"
#include "riasc/net/nftables.hpp"
#include "riasc/netem/nft_rules.hpp"
#include "riasc/shaper/shaper.hpp"

namespace riasc::bench {
namespace {

using Clock = std::chrono::steady_clock;

void shaper_cost() {
  shaper::ShaperOptions options;
  options.netem.latency_ns = 5'000'000;
  options.netem.jitter_ns = 1'000'000;
  options.netem.loss = 0.01;
  options.netem.limit = 100'000;
  shaper::Shaper shaper(options, shaper::Tables::load(options), 1);
  const std::vector<std::uint8_t> frame(1514, 0x42);
  const int count = 1'000'000;
  std::int64_t now = 0;
  std::size_t sent = 0;
  const auto started = Clock::now();
  for (int i = 0; i < count; ++i) {
    now += 1'000;  // 1 Mpps of arrivals, 5 ms deep: 5000 packets queued
    shaper.enqueue(frame, now);
    sent += shaper.dequeue(now).size();
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  fmt::print(
      "shaper: delay 5 ms ± 1 ms uniform, 1 % loss, 1514-byte frames: {:.0f} ns per packet "
      "(enqueue + dequeue, {} sent)\n",
      seconds / count * 1e9, sent);
}

double engine_cpu_seconds(pid_t pid) {
  const std::string stat = read_file(fmt::format("/proc/{}/stat", pid));
  std::istringstream fields(stat.substr(stat.rfind(')') + 2));
  std::string skip;
  for (int i = 0; i < 11; ++i) fields >> skip;  // state .. cmajflt
  double user = 0;
  double system = 0;
  fields >> user >> system;
  return (user + system) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// UDP from a (10.99.0.1) to b (10.99.0.2) on `port` for `seconds`: what b received.
struct Flow {
  double packets_per_second = 0;
  double gbit_per_second = 0;
  std::uint64_t packets = 0;
};

Flow blast(const net::test::ScratchNetns& a, const net::test::ScratchNetns& b, std::uint16_t port,
           double seconds, std::chrono::microseconds gap = std::chrono::microseconds(0)) {
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  ::inet_pton(AF_INET, "10.99.0.2", &to.sin_addr);
  UniqueFd receiver = b.run([&] {
    UniqueFd socket(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_in any = to;
    any.sin_addr.s_addr = htonl(INADDR_ANY);
    ::bind(socket.get(), reinterpret_cast<const sockaddr*>(&any), sizeof any);
    const int buffer = 8 << 20;
    ::setsockopt(socket.get(), SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
    timeval timeout{0, 200'000};
    ::setsockopt(socket.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    return socket;
  });
  UniqueFd sender = a.run([] { return UniqueFd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)); });
  std::atomic<bool> sending{true};
  Flow flow;
  std::uint64_t bytes = 0;
  std::thread counter([&] {
    char buffer[2048];
    while (true) {
      const ssize_t got = ::recv(receiver.get(), buffer, sizeof buffer, 0);
      if (got < 0) {
        if (!sending) break;
        continue;
      }
      ++flow.packets;
      bytes += static_cast<std::uint64_t>(got) + 42;  // Ethernet, IPv4 and UDP headers
    }
  });
  const std::vector<char> payload(1400, 'x');
  const auto started = Clock::now();
  while (std::chrono::duration<double>(Clock::now() - started).count() < seconds) {
    ::sendto(sender.get(), payload.data(), payload.size(), 0, reinterpret_cast<const sockaddr*>(&to),
             sizeof to);
    if (gap.count() > 0) std::this_thread::sleep_for(gap);
  }
  sending = false;
  counter.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - started).count();
  flow.packets_per_second = static_cast<double>(flow.packets) / elapsed;
  flow.gbit_per_second = static_cast<double>(bytes) * 8 / elapsed / 1e9;
  return flow;
}

// The upper bound of the bucket that holds quantile q (the histogram's resolution).
double lateness_quantile_us(const Json& histogram, double q) {
  const double count = histogram["count"].get<double>();
  for (const Json& bucket : histogram["buckets"]) {
    if (bucket[1].get<double>() >= q * count) return bucket[0].get<double>() * 1e6;
  }
  return INFINITY;
}

void engine_path(double seconds) {
  if (::geteuid() != 0) {
    fmt::print("engine: skipped (needs root for network namespaces)\n");
    return;
  }
  net::test::ScratchNetns a;
  net::test::ScratchNetns b;
  net::test::connect_with_veth(a, b, "10.99.0.1", "10.99.0.2");
  engine::Supervisor engine({.program = RIASC_BINARY, .spin_us = 200, .log = {}});
  engine::AttachmentSpec spec{a.path(), "rse1-eth0", "eth0", {}, ""};
  spec.options.netem.limit = 100'000;
  engine.attach("bench", spec);
  netem::Band band;
  band.profile = "bench";
  netem::AddressRanges peers;
  peers.add(*net::IpAddress::parse("10.99.0.2"));
  band.classifiers.push_back({peers, {{17, 9, 9}}, {}, {}, false});
  netem::nft::DeviceRules rules{"eth0", netem::Direction::Egress, "", {{&band, 1, "rse1-eth0"}}, true};
  a.run([&] { net::Nftables().run(netem::nft::replace_table({rules}, 1)); });

  const Flow unshaped = blast(a, b, 10, seconds);
  const double cpu_before = engine_cpu_seconds(engine.pid());
  const Flow through = blast(a, b, 9, seconds);
  const double cpu = engine_cpu_seconds(engine.pid()) - cpu_before;
  fmt::print(
      "UDP 1400 B, one sender, {:.0f} s: unshaped path {:.0f} kpps {:.2f} Gbit/s; through the engine (no "
      "impairment) {:.0f} kpps {:.2f} Gbit/s, engine CPU {:.2f} µs per packet\n",
      seconds, unshaped.packets_per_second / 1e3, unshaped.gbit_per_second, through.packets_per_second / 1e3,
      through.gbit_per_second, cpu / static_cast<double>(std::max<std::uint64_t>(through.packets, 1)) * 1e6);

  shaper::ShaperOptions delayed;
  delayed.netem.latency_ns = 5'000'000;
  engine.detach("bench");
  engine.attach("paced", {a.path(), "rse1-eth0", "eth0", delayed, ""});
  const double cpu_paced_before = engine_cpu_seconds(engine.pid());
  const Flow paced = blast(a, b, 9, seconds, std::chrono::microseconds(1000));
  const double cpu_paced = engine_cpu_seconds(engine.pid()) - cpu_paced_before;
  const Json histogram = engine.stats()["attachments"]["paced"]["lateness_seconds"];
  fmt::print(
      "~1 kpps with 5 ms delay: lateness p50 <= {:.0f} µs, p99 <= {:.0f} µs (histogram buckets), mean {:.1f} "
      "µs; engine CPU {:.1f} % of a core\n",
      lateness_quantile_us(histogram, 0.5), lateness_quantile_us(histogram, 0.99),
      histogram["sum"].get<double>() / histogram["count"].get<double>() * 1e6, cpu_paced / seconds * 100);
  (void)paced;
}

}  // namespace
}  // namespace riasc::bench

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 3.0;
  riasc::bench::shaper_cost();
  riasc::bench::engine_path(seconds);
  return 0;
}
