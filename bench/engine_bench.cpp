// The userspace emulation engine: the shaper's cost per packet (pure, any machine), and with root
// the whole path between two network namespaces: packets/s and Gbit/s of UDP through the engine
// against the unshaped path, the engine's CPU time per packet, and how late it sends (p50/p99 of
// its lateness histogram) at a lab-typical rate. Then both engines side by side on the same path
// and probes: kernel netem (where the kernel has sch_netem: the project's VM) and the userspace
// engine, each with its one-way delay error at 5 ms and 0.5 ms and the machine's CPU time per
// packet it adds. Figures go to docs/benchmarks.md.
//   riasc_engine_bench [SECONDS=3 [PPS=5000, the side by side's flow for CPU per packet
//                       [SPIN_US, the engine's longest spin before a departure; default: its
//                        cap follows the machine's wake-ups]]]
//   make vm CMD='build/bench/riasc_engine_bench 3 1000'    (the side by side with kernel netem)

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <optional>
#include <thread>
#include <vector>

#include "../tests/kernel/receive_time.hpp"
#include "../tests/kernel/scratch_netns.hpp"
#include "../tests/kernel/tcp_transfer.hpp"
#include "bench_process.hpp"
#include "riasc/engine/supervisor.hpp"
#include "riasc/net/nftables.hpp"
#include "riasc/net/rtnetlink.hpp"
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

// UDP from a (10.99.0.1) to b (10.99.0.2) on `port` for `seconds`, flat out or at `pps`: what b
// received.
struct Flow {
  double packets_per_second = 0;
  double gbit_per_second = 0;
  std::uint64_t packets = 0;
};

Flow blast(const net::test::ScratchNetns& a, const net::test::ScratchNetns& b, std::uint16_t port,
           double seconds, double pps = 0) {
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
  for (std::uint64_t sent = 0; std::chrono::duration<double>(Clock::now() - started).count() < seconds;
       ++sent) {
    if (pps > 0)
      std::this_thread::sleep_until(started +
                                    std::chrono::duration_cast<Clock::duration>(
                                        std::chrono::duration<double>(static_cast<double>(sent) / pps)));
    ::sendto(sender.get(), payload.data(), payload.size(), 0, reinterpret_cast<const sockaddr*>(&to),
             sizeof to);
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

// The nft rules that send a's UDP (or `protocol`) port 9 to b (10.99.0.2) to the engine's TAP
// rse1-eth0.
std::string divert_port_9_to_engine(std::uint8_t protocol = 17) {
  netem::Band band;
  band.profile = "bench";
  netem::AddressRanges peers;
  peers.add(*net::IpAddress::parse("10.99.0.2"));
  band.classifiers.push_back({peers, {{protocol, 9, 9}}, {}, {}, false});
  netem::nft::DeviceRules rules{"eth0", netem::Direction::Egress, "", {{&band, 1, "rse1-eth0"}}, true};
  return netem::nft::replace_table({rules}, 1);
}

void engine_path(double seconds) {
  if (::geteuid() != 0) {
    fmt::print("engine: skipped (needs root for network namespaces)\n");
    return;
  }
  net::test::ScratchNetns a;
  net::test::ScratchNetns b;
  net::test::connect_with_veth(a, b, "10.99.0.1", "10.99.0.2");
  engine::Supervisor engine({.program = RIASC_BINARY, .log = {}});
  engine::AttachmentSpec spec{a.path(), "rse1-eth0", "eth0", {}, "", {}};
  spec.options.netem.limit = 100'000;
  engine.attach("bench", spec);
  a.run([&] { net::Nftables().run(divert_port_9_to_engine()); });

  const Flow unshaped = blast(a, b, 10, seconds);
  const double cpu_before = engine_cpu_seconds(engine.pid());
  const Flow through = blast(a, b, 9, seconds);
  const double cpu = engine_cpu_seconds(engine.pid()) - cpu_before;
  fmt::print(
      "UDP 1400 B, one sender, {:.0f} s: unshaped path {:.0f} kpps {:.2f} Gbit/s; through the engine (no "
      "impairment) {:.0f} kpps {:.2f} Gbit/s, engine CPU {:.2f} µs per packet\n",
      seconds, unshaped.packets_per_second / 1e3, unshaped.gbit_per_second, through.packets_per_second / 1e3,
      through.gbit_per_second, cpu / static_cast<double>(std::max<std::uint64_t>(through.packets, 1)) * 1e6);

  // Bulk TCP: the TAP takes super-packets, so the engine decides once per up to 64 KiB.
  a.run([&] { net::Nftables().run(divert_port_9_to_engine(6)); });
  const net::test::TcpTransfer tcp_unshaped =
      net::test::tcp_transfer(a, b, "10.99.0.2", 10, 0, seconds, false);
  const Json before = engine.stats()["attachments"]["bench"];
  const double tcp_cpu_before = engine_cpu_seconds(engine.pid());
  const net::test::TcpTransfer tcp_through = net::test::tcp_transfer(a, b, "10.99.0.2", 9, 0, seconds, false);
  const double tcp_cpu = engine_cpu_seconds(engine.pid()) - tcp_cpu_before;
  const Json after = engine.stats()["attachments"]["bench"];
  const double frames = after["packets_in"].get<double>() - before["packets_in"].get<double>();
  const double super_packets = after["super_packets"].get<double>() - before["super_packets"].get<double>();
  const double gigabytes = (after["bytes_in"].get<double>() - before["bytes_in"].get<double>()) / 1e9;
  fmt::print(
      "TCP bulk (GSO), one stream, {:.0f} s: unshaped path {:.2f} Gbit/s; through the engine (no impairment) "
      "{:.2f} Gbit/s in {:.0f} k frames/s ({:.0f} % super-packets, {:.0f} B each), engine CPU {:.1f} µs per "
      "frame, {:.2f} s per GB\n",
      seconds, tcp_unshaped.mbit_per_second() / 1e3, tcp_through.mbit_per_second() / 1e3,
      frames / seconds / 1e3, 100 * super_packets / std::max(frames, 1.0),
      gigabytes * 1e9 / std::max(frames, 1.0), tcp_cpu / std::max(frames, 1.0) * 1e6,
      tcp_cpu / std::max(gigabytes, 1e-9));
  a.run([&] { net::Nftables().run(divert_port_9_to_engine()); });

  shaper::ShaperOptions delayed;
  delayed.netem.latency_ns = 5'000'000;
  engine.detach("bench");
  engine.attach("paced", {a.path(), "rse1-eth0", "eth0", delayed, "", {}});
  const double cpu_paced_before = engine_cpu_seconds(engine.pid());
  const Flow paced = blast(a, b, 9, seconds, 1000);
  const double cpu_paced = engine_cpu_seconds(engine.pid()) - cpu_paced_before;
  const Json histogram = engine.stats()["attachments"]["paced"]["lateness_seconds"];
  fmt::print(
      "~1 kpps with 5 ms delay: lateness p50 <= {:.0f} µs, p99 <= {:.0f} µs (histogram buckets), mean {:.1f} "
      "µs; engine CPU {:.1f} % of a core\n",
      lateness_quantile_us(histogram, 0.5), lateness_quantile_us(histogram, 0.99),
      histogram["sum"].get<double>() / histogram["count"].get<double>() * 1e6, cpu_paced / seconds * 100);
  (void)paced;
}

// Busy CPU seconds of the whole machine (every CPU, all but idle and iowait): what an engine costs
// wherever it runs, in a softirq (kernel netem) or in a process (the userspace engine).
double machine_busy_seconds() {
  std::istringstream line(read_file("/proc/stat"));
  std::string label;
  line >> label;
  double values[8] = {};
  for (double& value : values) line >> value;
  const double busy = values[0] + values[1] + values[2] + values[5] + values[6] + values[7];
  return busy / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// Busy seconds of one CPU (/proc/stat's cpuN line).
double cpu_busy_seconds(int cpu) {
  std::istringstream stat(read_file("/proc/stat"));
  const std::string label = fmt::format("cpu{}", cpu);
  for (std::string line; std::getline(stat, line);) {
    std::istringstream fields(line);
    std::string name;
    fields >> name;
    if (name != label) continue;
    double values[8] = {};
    for (double& value : values) fields >> value;
    return (values[0] + values[1] + values[2] + values[5] + values[6] + values[7]) /
           static_cast<double>(::sysconf(_SC_CLK_TCK));
  }
  return NAN;
}

// Runs `work` with this thread (and the threads it starts) and `also` (a process, 0 for none) on
// CPU 0 only, then gives both every CPU back.
template <typename Work>
void on_cpu_0(pid_t also, Work work) {
  cpu_set_t all;
  ::sched_getaffinity(0, sizeof all, &all);
  cpu_set_t first;
  CPU_ZERO(&first);
  CPU_SET(0, &first);
  ::sched_setaffinity(0, sizeof first, &first);
  if (also > 0) ::sched_setaffinity(also, sizeof first, &first);
  work();
  ::sched_setaffinity(0, sizeof all, &all);
  if (also > 0) ::sched_setaffinity(also, sizeof all, &all);
}

double realtime_ns() {
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  return static_cast<double>(now.tv_sec) * 1e9 + static_cast<double>(now.tv_nsec);
}

// One-way delays (µs) of `count` UDP probes from a to b port `port`, one every `gap`: the sender's
// time before sendto() in the payload, the receiver's kernel time of arrival (SO_TIMESTAMPNS).
std::vector<double> one_way_us(const net::test::ScratchNetns& a, const net::test::ScratchNetns& b,
                               std::uint16_t port, int count, std::chrono::microseconds gap) {
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  ::inet_pton(AF_INET, "10.99.0.2", &to.sin_addr);
  UniqueFd receiver = b.run([&] {
    UniqueFd socket(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_in any = to;
    any.sin_addr.s_addr = htonl(INADDR_ANY);
    ::bind(socket.get(), reinterpret_cast<const sockaddr*>(&any), sizeof any);
    const int on = 1;
    ::setsockopt(socket.get(), SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on);
    timeval timeout{1, 0};
    ::setsockopt(socket.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    return socket;
  });
  UniqueFd sender = a.run([] { return UniqueFd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)); });
  std::vector<double> delays;
  std::thread reader([&] {
    for (int got = 0; got < count; ++got) {
      double sent = 0;
      alignas(cmsghdr) char control[128];
      iovec data{&sent, sizeof sent};
      msghdr message{};
      message.msg_iov = &data;
      message.msg_iovlen = 1;
      message.msg_control = control;
      message.msg_controllen = sizeof control;
      if (::recvmsg(receiver.get(), &message, 0) < 0) return;
      if (const auto at = net::test::receive_time_ns(message)) delays.push_back((*at - sent) / 1e3);
    }
  });
  for (int i = 0; i < count; ++i) {
    const double now = realtime_ns();
    ::sendto(sender.get(), &now, sizeof now, 0, reinterpret_cast<const sockaddr*>(&to), sizeof to);
    std::this_thread::sleep_for(gap);
  }
  reader.join();
  return delays;
}

double mean_of(const std::vector<double>& values) {
  double sum = 0;
  for (double value : values) sum += value;
  return values.empty() ? NAN : sum / static_cast<double>(values.size());
}

double quantile_of(std::vector<double> values, double q) {
  if (values.empty()) return NAN;
  std::sort(values.begin(), values.end());
  return values[static_cast<std::size_t>(q * static_cast<double>(values.size() - 1))];
}

// How one engine sets a plain delay on a's egress to b (UDP port 9 for the userspace engine's
// diversion; every packet of eth0 for the kernel's root netem) and takes it away.
struct Emulation {
  std::string name;
  std::function<void(std::uint64_t latency_ns)> set;
  std::function<void()> clear;
  std::function<std::string()> describe = [] { return std::string(); };  // after each delay's probes
  std::function<pid_t()> process = [] { return pid_t{0}; };  // where it runs, if a process of its own
};

void side_by_side(const net::test::ScratchNetns& a, const net::test::ScratchNetns& b,
                  const Emulation& emulation, double seconds, double pps) {
  const int probes = 300;
  const auto gap = std::chrono::microseconds(2000);
  // The path's own one-way delay, before and after each emulated run, so that drift cancels.
  auto base = [&] {
    emulation.clear();
    return mean_of(one_way_us(a, b, 9, probes, gap));
  };
  double base_before = base();
  for (const double delay_ms : {5.0, 0.5}) {
    emulation.set(static_cast<std::uint64_t>(delay_ms * 1e6));
    std::vector<double> extra = one_way_us(a, b, 9, probes, gap);
    const double base_after = base();
    for (double& value : extra) value -= (base_before + base_after) / 2 + delay_ms * 1e3;
    base_before = base_after;
    fmt::print(
        "  {:<10} {:>4} ms delay: one way +{:.1f} µs over the delay (mean), p50 +{:.1f} µs, p99 +{:.1f} µs; "
        "{} of {} probes arrived{}\n",
        emulation.name, delay_ms, mean_of(extra), quantile_of(extra, 0.5), quantile_of(extra, 0.99),
        extra.size(), probes, emulation.describe());
  }
  // `measure` (filling its flow) without emulation, with 0.5 ms of delay, and without again: the
  // emulated figure and the mean of the two plain ones, so that drift cancels.
  Flow plain;
  Flow emulated;
  auto with_and_without = [&](const std::function<double(Flow&)>& measure) {
    emulation.clear();
    double without = measure(plain);
    emulation.set(500'000);
    const double with = measure(emulated);
    emulation.clear();
    without = (without + measure(plain)) / 2;
    return std::pair{with, without};
  };

  // The CPU a packet costs: the machine's busy time during a flow at a fixed rate with 0.5 ms of
  // delay, less that of the same flow without emulation, per packet. The same rate every time, so
  // the sender's and receiver's shares cancel out.
  const auto [emulated_busy, plain_busy] = with_and_without([&](Flow& flow) {
    const double before = machine_busy_seconds();
    flow = blast(a, b, 9, seconds, pps);
    return machine_busy_seconds() - before;
  });
  fmt::print(
      "  {:<10} UDP 1400 B at {:.0f} pps, 0.5 ms delay: {} of {} packets arrived; machine CPU {:+.1f} µs per "
      "packet over the plain path\n",
      emulation.name, pps, emulated.packets, plain.packets,
      (emulated_busy - plain_busy) / static_cast<double>(std::max<std::uint64_t>(emulated.packets, 1)) * 1e6);

  // The same cost without the machine's idle accounting (which QEMU's TCG swamps): everything on
  // CPU 0, flat out. The sender, the receiver, the emulation (the engine's process, or netem's
  // enqueue in the sender's system call and its timer and dequeue, which stay on the CPU that
  // armed them) share one busy CPU, so its busy time over the packets delivered is what a packet
  // costs, and the difference to the path without emulation is the emulation's share.
  const auto [emulated_us, plain_us] = with_and_without([&](Flow& flow) {
    double busy = 0;
    on_cpu_0(emulation.process(), [&] {
      const double before = cpu_busy_seconds(0);
      flow = blast(a, b, 9, seconds);
      busy = cpu_busy_seconds(0) - before;
    });
    return busy / static_cast<double>(std::max<std::uint64_t>(flow.packets, 1)) * 1e6;
  });
  fmt::print(
      "  {:<10} flat out on CPU 0, 0.5 ms delay: {:.0f} kpps delivered ({:.0f} kpps without emulation); "
      "{:.1f} µs "
      "of CPU 0 per packet, {:+.1f} µs over the plain path\n",
      emulation.name, emulated.packets_per_second / 1e3, plain.packets_per_second / 1e3, emulated_us,
      emulated_us - plain_us);
}

void engines_side_by_side(double seconds, double pps, std::optional<int> spin_us) {
  if (::geteuid() != 0) return;
  fmt::print("side by side (same namespaces, probes and flows):\n");
  net::test::ScratchNetns a;
  net::test::ScratchNetns b;
  net::test::connect_with_veth(a, b, "10.99.0.1", "10.99.0.2");
  const int eth0 = a.run([] { return net::Rtnetlink().link("eth0")->index; });

  const std::uint32_t root = 0xFFFFFFFFU;  // TC_H_ROOT
  const bool has_netem = a.run([&] {
    try {
      net::Rtnetlink().replace_qdisc(eth0, 0x10000, root, net::NetemOptions{});
      net::Rtnetlink().delete_qdisc(eth0, 0x10000, root);
      return true;
    } catch (const std::exception& error) {
      fmt::print("  kernel     not measured: {} (sch_netem missing; run it in the VM)\n", error.what());
      return false;
    }
  });
  if (has_netem) {
    bool installed = false;
    side_by_side(a, b,
                 {"kernel",
                  [&](std::uint64_t latency) {
                    net::NetemOptions options;
                    options.latency_ns = latency;
                    options.limit = 100'000;
                    a.run([&] { net::Rtnetlink().replace_qdisc(eth0, 0x10000, root, options); });
                    installed = true;
                  },
                  [&] {
                    if (installed) a.run([&] { net::Rtnetlink().delete_qdisc(eth0, 0x10000, root); });
                    installed = false;
                  }},
                 seconds, pps);
  }

  engine::Supervisor engine({.program = RIASC_BINARY, .spin_us = spin_us, .log = {}});
  engine::AttachmentSpec spec{a.path(), "rse1-eth0", "eth0", {}, "", {}};
  spec.options.netem.limit = 100'000;
  engine.attach("side", spec);
  if (spin_us) fmt::print("  userspace  spins at most {} µs before a departure (--spin-us)\n", *spin_us);
  bool diverted = false;
  side_by_side(a, b,
               {"userspace",
                [&](std::uint64_t latency) {
                  shaper::ShaperOptions options = spec.options;
                  options.netem.latency_ns = latency;
                  engine.change("side", options);
                  if (!diverted) a.run([&] { net::Nftables().run(divert_port_9_to_engine()); });
                  diverted = true;
                },
                [&] {
                  if (diverted)
                    a.run([&] { net::Nftables().run(netem::nft::delete_table(netem::nft::kTable)); });
                  diverted = false;
                },
                [&] {
                  const Json stats = engine.stats();
                  const Json histogram = stats["attachments"]["side"]["lateness_seconds"];
                  return fmt::format(
                      "; engine since attach: lateness p50 <= {:.0f} µs, p99 <= {:.0f} µs, spin now "
                      "{:.0f} µs of at most {:.0f}",
                      lateness_quantile_us(histogram, 0.5), lateness_quantile_us(histogram, 0.99),
                      stats["spin_seconds"].get<double>() * 1e6,
                      stats["spin_cap_seconds"].get<double>() * 1e6);
                },
                [&] { return engine.pid(); }},
               seconds, pps);
}

}  // namespace
}  // namespace riasc::bench

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 3.0;
  riasc::bench::shaper_cost();
  riasc::bench::engine_path(seconds);
  riasc::bench::engines_side_by_side(seconds, argc > 2 ? std::atof(argv[2]) : 5000,
                                     argc > 3 ? std::optional<int>(std::atoi(argv[3])) : std::nullopt);
  return 0;
}
