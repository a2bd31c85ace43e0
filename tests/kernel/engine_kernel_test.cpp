// The userspace engine on this machine's kernel (label kernel, root): two namespaces joined by a
// veth, the real nftables diversion on one side's egress, the engine as a child process of a
// Supervisor (the riasc binary of this build, RIASC_BINARY), UDP probes timed with CLOCK_MONOTONIC.

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <numeric>
#include <thread>

#include "netns_fixture.hpp"
#include "receive_time.hpp"
#include "riasc/engine/devices.hpp"
#include "riasc/engine/supervisor.hpp"
#include "riasc/net/nftables.hpp"
#include "riasc/net/rtnetlink.hpp"
#include "riasc/netem/nft_rules.hpp"
#include "riasc/netem/userspace_backend.hpp"
#include "tcp_transfer.hpp"

namespace riasc::engine {
namespace {

using net::test::ScratchNetns;
using net::test::tcp_transfer;

double now_ms() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<double>(now.tv_sec) * 1e3 + static_cast<double>(now.tv_nsec) / 1e6;
}

sockaddr_in address_of(const char* ip, std::uint16_t port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  ::inet_pton(AF_INET, ip, &address.sin_addr);
  return address;
}

double realtime_ns() {
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  return static_cast<double>(now.tv_sec) * 1e9 + static_cast<double>(now.tv_nsec);
}

// Where an echo puts the kernel's receive time (CLOCK_REALTIME ns, a double) in its answer.
constexpr std::size_t kReceivedAt = 32;

// UDP echo servers on ports 7 (diverted) and 8 (not), in namespace b, until destroyed. Each answer
// carries the kernel's time of receiving the probe (SO_TIMESTAMPNS) at kReceivedAt: with the
// sender's time of sending, the one-way delay, free of the sender's own wake-up for the answer.
class Echo {
 public:
  explicit Echo(const ScratchNetns& b) {
    for (std::uint16_t port : {std::uint16_t{7}, std::uint16_t{8}}) {
      b.run([&] {
        UniqueFd socket(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
        const sockaddr_in address = address_of("0.0.0.0", port);
        if (::bind(socket.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0)
          throw std::runtime_error("bind");
        timeval timeout{0, 100'000};
        ::setsockopt(socket.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
        const int on = 1;
        ::setsockopt(socket.get(), SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on);
        sockets_.push_back(std::move(socket));
      });
    }
    for (const UniqueFd& socket : sockets_) {
      threads_.emplace_back([this, fd = socket.get()] {
        char buffer[2048];
        alignas(cmsghdr) char control[256];
        while (!stop_) {
          sockaddr_in from{};
          iovec data{buffer, sizeof buffer};
          msghdr message{};
          message.msg_name = &from;
          message.msg_namelen = sizeof from;
          message.msg_iov = &data;
          message.msg_iovlen = 1;
          message.msg_control = control;
          message.msg_controllen = sizeof control;
          const ssize_t got = ::recvmsg(fd, &message, 0);
          if (got <= 0) continue;
          if (const auto at = net::test::receive_time_ns(message);
              at && static_cast<std::size_t>(got) >= kReceivedAt + sizeof(double))
            std::memcpy(buffer + kReceivedAt, &*at, sizeof *at);
          ::sendto(fd, buffer, static_cast<std::size_t>(got), 0, reinterpret_cast<sockaddr*>(&from),
                   message.msg_namelen);
        }
      });
    }
  }
  ~Echo() {
    stop_ = true;
    for (auto& thread : threads_) thread.join();
  }

 private:
  std::vector<UniqueFd> sockets_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stop_{false};
};

struct Probes {
  int sent = 0;
  int lost = 0;
  std::vector<double> rtts;      // ms
  std::vector<double> one_ways;  // ms, from sendto() to the receiver's kernel
  [[nodiscard]] double mean() const { return mean_of(rtts); }
  [[nodiscard]] double one_way() const { return mean_of(one_ways); }
  [[nodiscard]] double one_way_median() const {
    std::vector<double> sorted = one_ways;
    std::sort(sorted.begin(), sorted.end());
    return sorted[sorted.size() / 2];
  }
  void add(const Probes& more) {
    sent += more.sent;
    lost += more.lost;
    rtts.insert(rtts.end(), more.rtts.begin(), more.rtts.end());
    one_ways.insert(one_ways.end(), more.one_ways.begin(), more.one_ways.end());
  }
  static double mean_of(const std::vector<double>& values) {
    return std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
  }
};

class EngineKernelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RIASC_REQUIRE_NETNS();
    if (::access("/dev/net/tun", R_OK | W_OK) != 0) GTEST_SKIP() << "no /dev/net/tun";
    binary_ = RIASC_BINARY;
    a_ = std::make_unique<ScratchNetns>();
    b_ = std::make_unique<ScratchNetns>();
    net::test::connect_with_veth(*a_, *b_, "10.99.0.1", "10.99.0.2");
    echo_ = std::make_unique<Echo>(*b_);
    a_->run([&] { sender_ = UniqueFd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)); });
    timeval timeout{1, 0};
    ::setsockopt(sender_.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  }

  // UDP port 7 (or another protocol and port) to 10.99.0.2 goes to TAP rse1-eth0, which the
  // engine reads.
  void divert(std::uint8_t protocol = 17, std::uint16_t port = 7) {
    netem::Band band;
    band.profile = "probe";
    netem::AddressRanges peers;
    peers.add(*net::IpAddress::parse("10.99.0.2"));
    band.classifiers.push_back({peers, {{protocol, port, port}}, {}, {}, false});
    netem::nft::DeviceRules rules{"eth0", netem::Direction::Egress, "", {{&band, 1, "rse1-eth0"}}, true};
    // nft resolves the TAP's name in the calling thread's namespace.
    a_->run([&] { net::Nftables().run(netem::nft::replace_table({rules}, 1)); });
  }

  AttachmentSpec spec(std::uint64_t latency_ns) const {
    AttachmentSpec out{a_->path(), "rse1-eth0", "eth0", {}, "", {}};
    out.options.netem.latency_ns = latency_ns;
    return out;
  }

  Probes probe(std::uint16_t port, int count, std::chrono::milliseconds interval,
               std::chrono::milliseconds timeout = std::chrono::milliseconds(1000)) {
    const timeval wait{0, static_cast<long>(timeout.count()) * 1000};
    const timeval limit = timeout.count() >= 1000 ? timeval{timeout.count() / 1000, 0} : wait;
    ::setsockopt(sender_.get(), SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    Probes out;
    const sockaddr_in to = address_of("10.99.0.2", port);
    for (int i = 0; i < count; ++i) {
      char payload[64] = {};
      std::snprintf(payload, sizeof payload, "%d", i);
      const double sent = now_ms();
      const double sent_real = realtime_ns();
      ::sendto(sender_.get(), payload, sizeof payload, 0, reinterpret_cast<const sockaddr*>(&to), sizeof to);
      ++out.sent;
      char answer[64];
      bool got = false;
      while (!got) {
        const ssize_t n = ::recv(sender_.get(), answer, sizeof answer, 0);
        if (n < 0) break;                                          // timed out
        got = std::strncmp(answer, payload, sizeof payload) == 0;  // not a late answer to an earlier probe
      }
      if (got) {
        out.rtts.push_back(now_ms() - sent);
        double received = 0;
        std::memcpy(&received, answer + kReceivedAt, sizeof received);
        out.one_ways.push_back((received - sent_real) / 1e6);
      } else {
        ++out.lost;
      }
      std::this_thread::sleep_for(interval);
    }
    return out;
  }

  std::string binary_;
  std::unique_ptr<ScratchNetns> a_;
  std::unique_ptr<ScratchNetns> b_;
  std::unique_ptr<Echo> echo_;
  UniqueFd sender_;
};

TEST_F(EngineKernelTest, DelaysDivertedTrafficToTheMicrosecondAndLeavesTheRestAlone) {
  Supervisor engine({.program = binary_, .log = {}});
  engine.attach("probe", spec(5'000'000));
  divert();
  // The engine's own precision: how late it sends what is due (its lateness histogram; the spin
  // before each departure is what keeps it in microseconds). End to end: the one-way delay (the
  // sender's sendto() to the receiver's kernel) of the path through the engine (port 7) minus
  // that of the path without it (port 8), less the configured delay, is what the emulation adds;
  // its mean must stay within 50 µs. Probes alternate between the two paths, so both meet the
  // same moments of the machine. A 2-CPU virtual machine sometimes stops a CPU for a millisecond
  // or more, which moves a mean of 300 by several µs whichever emulator runs, and such spells last
  // seconds, so up to five rounds are taken until one meets it; every round is printed. The round
  // trip is printed too: it also holds the sender's wake-up for the answer after a sleep of the
  // delay's length.
  double lateness_count = 0;
  double lateness_within_50us = 0;
  for (const double delay_ms : {5.0, 0.5}) {
    engine.change("probe", spec(static_cast<std::uint64_t>(delay_ms * 1e6)).options);
    double best_extra_us = 1e9;
    for (int round = 1; round <= 5 && best_extra_us > 50; ++round) {
      Probes base, shaped;
      for (int i = 0; i < 300; ++i) {
        base.add(probe(8, 1, std::chrono::milliseconds(1)));
        shaped.add(probe(7, 1, std::chrono::milliseconds(1)));
      }
      ASSERT_EQ(base.lost + shaped.lost, 0);
      EXPECT_LT(base.mean(), 1.0) << "unselected traffic went through the engine";
      const double one_way_extra_us = (shaped.one_way() - base.one_way() - delay_ms) * 1000;
      const double round_trip_extra_us = (shaped.mean() - base.mean() - delay_ms) * 1000;
      const Json lateness = engine.stats()["attachments"]["probe"]["lateness_seconds"];
      ASSERT_TRUE(lateness.is_object());
      // The histogram counts since the attachment; this round's share is the growth since the last.
      const double count = lateness["count"].get<double>() - lateness_count;
      double within_50us = -lateness_within_50us;
      for (const Json& bucket : lateness["buckets"]) {
        if (bucket[0].get<double>() <= 50e-6) within_50us = bucket[1].get<double>() - lateness_within_50us;
      }
      lateness_count += count;
      lateness_within_50us += within_50us;
      std::printf(
          "%.1f ms delay, round %d: one way +%.1f µs over the delay (median +%.1f µs, base %.1f µs), round "
          "trip +%.1f µs; the engine sent %.0f %% within 50 µs of their time\n",
          delay_ms, round, one_way_extra_us,
          (shaped.one_way_median() - base.one_way_median() - delay_ms) * 1000, base.one_way() * 1000,
          round_trip_extra_us, 100 * within_50us / count);
      EXPECT_EQ(count, 300);
      EXPECT_GE(within_50us / count, 0.5);
      EXPECT_GE(one_way_extra_us, 0) << "earlier than the delay";
      best_extra_us = std::min(best_extra_us, one_way_extra_us);
    }
    EXPECT_LE(best_extra_us, 50) << "the emulation added more than 50 µs to the mean in every round";
  }

  // A live change, and an engine killed: the supervisor starts another and gives it the TAP's
  // receiving socket it kept open, with the frames that queued there meanwhile.
  engine.change("probe", spec(10'000'000).options);
  EXPECT_NEAR(probe(7, 20, std::chrono::milliseconds(2)).mean(), 10.0, 1.0);
  const pid_t first = engine.pid();
  ASSERT_GT(first, 0);
  const double killed = now_ms();
  ::kill(first, SIGKILL);
  double recovered = 0;
  while (now_ms() - killed < 5000) {
    const Probes one = probe(7, 1, std::chrono::milliseconds(0), std::chrono::milliseconds(20));
    if (one.lost == 0 && engine.pid() != first) {
      recovered = now_ms() - killed;
      break;
    }
  }
  std::printf("restart: selected traffic flows again %.0f ms after the engine was killed\n", recovered);
  EXPECT_GT(recovered, 0) << "no answer within 5 s";
#if defined(__SANITIZE_ADDRESS__)
  // The AddressSanitizer build of riasc (600 MB) alone takes ~0.9 s from exec to main() here.
  EXPECT_LT(recovered, 3000);
#else
  EXPECT_LT(recovered, 1000);
#endif
  EXPECT_EQ(engine.restarts(), 1U);
  EXPECT_NEAR(probe(7, 10, std::chrono::milliseconds(2)).mean(), 10.0, 1.0)
      << "parameters lost in the restart";
}

// The profile of the acceptance: 50 ms ± 5 ms normal, 10 % loss. The round trips must match it
// within sampling error: the mean within 3 standard errors of 50 ms plus the path's own round
// trip, the standard deviation within 3 of its standard errors, the loss within 3 binomial σ. The
// seed is fixed, so the random decisions are one reproducible sample and the test does not fail
// at random in 1 run of 130; the machine's timing is what it is.
TEST_F(EngineKernelTest, DelayJitterAndLossMatchTheProfileWithinSamplingError) {
  Supervisor engine({.program = binary_, .log = {}});
  constexpr double kDelayMs = 50, kJitterMs = 5, kLoss = 0.1;
  AttachmentSpec lossy = spec(static_cast<std::uint64_t>(kDelayMs * 1e6));
  lossy.options.netem.jitter_ns = static_cast<std::uint64_t>(kJitterMs * 1e6);
  lossy.options.netem.distribution = net::NetemOptions::Distribution::Normal;
  lossy.options.netem.loss = kLoss;
  lossy.seed = 20261205;
  engine.attach("probe", lossy);
  divert();
  const double path_ms = probe(8, 100, std::chrono::milliseconds(1)).mean();
  const int count = 1000;
  Probes got;
  // Probes in flight overlap (2 ms apart, ~50 ms on the way), so send them all from one thread
  // and collect in another.
  const sockaddr_in to = address_of("10.99.0.2", 7);
  std::vector<double> sent_at(count);
  std::thread receiver([&] {
    char answer[64];
    int answered = 0;
    while (true) {
      const ssize_t n = ::recv(sender_.get(), answer, sizeof answer, 0);
      if (n <= 0) break;  // a second without answers: the rest were lost
      const int index = std::atoi(answer);
      if (index >= 0 && index < count)
        got.rtts.push_back(now_ms() - sent_at[static_cast<std::size_t>(index)]);
      if (++answered == count) break;
    }
  });
  for (int i = 0; i < count; ++i) {
    char payload[64] = {};
    std::snprintf(payload, sizeof payload, "%d", i);
    sent_at[static_cast<std::size_t>(i)] = now_ms();
    ::sendto(sender_.get(), payload, sizeof payload, 0, reinterpret_cast<const sockaddr*>(&to), sizeof to);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  receiver.join();
  const double n = static_cast<double>(got.rtts.size());
  const double mean = got.mean();
  double variance = 0;
  for (double rtt : got.rtts) variance += (rtt - mean) * (rtt - mean);
  const double sd = std::sqrt(variance / (n - 1));
  const double lost = count - n;
  const double mean_error = kJitterMs / std::sqrt(n);
  const double sd_error = kJitterMs / std::sqrt(2 * (n - 1));
  const double loss_sigma = std::sqrt(count * kLoss * (1 - kLoss));
  std::printf(
      "%.0f ms ± %.0f ms normal, %.0f %% loss: mean %.3f ms (expected %.3f ± %.3f), sd %.3f ms (± %.3f), "
      "lost %.0f "
      "of %d (expected %.0f ± %.1f)\n",
      kDelayMs, kJitterMs, kLoss * 100, mean, kDelayMs + path_ms, 3 * mean_error, sd, 3 * sd_error, lost,
      count, count * kLoss, 3 * loss_sigma);
  EXPECT_NEAR(mean, kDelayMs + path_ms, 3 * mean_error);
  EXPECT_NEAR(sd, kJitterMs, 3 * sd_error);
  EXPECT_NEAR(lost, count * kLoss, 3 * loss_sigma);
  const Json stats = engine.stats();
  ASSERT_TRUE(stats.is_object()) << "the engine did not answer";
  EXPECT_EQ(stats["attachments"]["probe"]["lost"].get<double>(), lost);
  EXPECT_EQ(stats["attachments"]["probe"]["own_frames"], 0) << "the TAP sent frames of its own";
}

// Bulk TCP reaches the engine as super-packets (the TAP takes TSO) and leaves as them, with
// checksums left for the kernel; a rate charges every segment's headers, as on the wire.
TEST_F(EngineKernelTest, BulkTcpPassesAsSuperPacketsAndARateChargesEverySegment) {
  Supervisor engine({.program = binary_, .log = {}});
  engine.attach("probe", spec(0));
  divert(6, 9);
  const auto plain = tcp_transfer(*a_, *b_, "10.99.0.2", 9, 200ULL << 20, 0, true);
  const Json stats = engine.stats()["attachments"]["probe"];
  ASSERT_TRUE(stats.is_object()) << "the engine did not answer";
  const double super_packets = stats["super_packets"].get<double>();
  const double frames = stats["packets_in"].get<double>();
  std::printf(
      "TCP through the engine: %.0f Mbit/s; %.0f of %.0f frames were super-packets, %.0f bytes each\n",
      plain.mbit_per_second(), super_packets, frames, stats["bytes_in"].get<double>() / frames);
  EXPECT_EQ(plain.received, 200ULL << 20);
  EXPECT_TRUE(plain.intact) << "bytes changed on the way";
  EXPECT_GT(super_packets, 0) << "every frame came cut up";
  EXPECT_EQ(stats["unreadable"], 0);
  EXPECT_EQ(stats["send_errors"], 0);

  // 1448 bytes of payload in each 1514-byte frame: 47.82 Mbit/s of goodput at 50 Mbit/s.
  AttachmentSpec rated = spec(0);
  rated.options.netem.rate_bytes_per_second = 50'000'000 / 8;
  engine.change("probe", rated.options);
  const auto shaped = tcp_transfer(*a_, *b_, "10.99.0.2", 9, 12ULL << 20, 0, true);
  std::printf("TCP at a 50 Mbit/s rate: %.2f Mbit/s of goodput\n", shaped.mbit_per_second());
  EXPECT_TRUE(shaped.intact);
  EXPECT_NEAR(shaped.mbit_per_second(), 50.0 * 1448 / 1514, 1.0);
}

TEST_F(EngineKernelTest, TheTapIsSilentAndPersistsUntilDeleted) {
  a_->run([&] {
    UniqueFd tap = open_tap("rse9-eth0", 1500);
    net::Rtnetlink rtnl;
    auto link = rtnl.link("rse9-eth0");
    ASSERT_TRUE(link);
    EXPECT_EQ(link->kind, "tun");
    EXPECT_TRUE(link->up);
    // What the engine would read: the receiver sees everything the TAP transmits.
    UniqueFd receiver = open_receiver(link->index);
    // Long enough for IPv6's router solicitation and MLD reports, were it on.
    std::this_thread::sleep_for(std::chrono::milliseconds(1200));
    char frame[2048];
    EXPECT_LT(::recv(receiver.get(), frame, sizeof frame, 0), 0) << "the TAP sent a frame of its own";
    tap.reset();
    EXPECT_TRUE(rtnl.link("rse9-eth0")) << "a persistent TAP outlives its descriptor";
    delete_tap("rse9-eth0");
    EXPECT_FALSE(rtnl.link("rse9-eth0"));
    delete_tap("rse9-eth0");  // gone: nothing to do, no error
  });
  EXPECT_EQ(tap_name(false, 1, "eth0"), "rse1-eth0");
  EXPECT_EQ(tap_name(true, 15, "v-quickstart-ctrl").size(), 13U);
}

// What an agent that crashed while a pod was on the userspace backend leaves, as the next agent
// finds it when the kernel backend shapes the pod: TAPs in the pod, a table and TAP on the device
// facing it. A scratch namespace stands for the host, so nothing touches the machine's own.
TEST(UserspaceLeftoversTest, APodLosesTheEnginesTapsAndHostSideAndKeepsTheRest) {
  RIASC_REQUIRE_NETNS();
  ScratchNetns host;
  ScratchNetns pod;
  const std::string facing = "v-leftover";
  const std::string host_tap = tap_name(true, 1, facing);
  host.run([&] {
    net::Rtnetlink rtnl;
    const auto [outside, inside] = rtnl.create_veth(facing, "eth0");
    rtnl.move_link(inside, pod.path());
    rtnl.set_link_up(outside);
    (void)open_tap(host_tap, 1500);
    (void)open_tap("keep-host0", 1500);
    net::Nftables().run(fmt::format("add table netdev {}\nadd table netdev riasc_in_elsewhere\n",
                                    netem::nft::ingress_table(facing)));
  });
  pod.run([&] {
    (void)open_tap(tap_name(false, 1, "eth0"), 1500);
    (void)open_tap(tap_name(false, 2, "eth0"), 1500);
    (void)open_tap("keep-pod0", 1500);
    net::Nftables().run(fmt::format("add table netdev {}\n", netem::nft::kTable));
  });
  auto tun_names = [](const ScratchNetns& netns) {
    return netns.run([] {
      std::vector<std::string> names;
      for (const net::Link& link : net::Rtnetlink().links()) {
        if (link.kind == "tun") names.push_back(link.name);
      }
      std::sort(names.begin(), names.end());
      return names;
    });
  };
  auto tables = [](const ScratchNetns& netns) {
    return netns.run([] { return net::Nftables().list_json("tables netdev"); });
  };
  ASSERT_EQ(tun_names(pod).size(), 3U);

  host.run([&] { netem::UserspaceBackend::remove_leftovers(pod.path()); });

  EXPECT_EQ(tun_names(pod), std::vector<std::string>{"keep-pod0"});
  EXPECT_EQ(tun_names(host), std::vector<std::string>{"keep-host0"});
  EXPECT_NE(tables(pod).find("\"riasc\""), std::string::npos) << "the shaping backend's table stays";
  EXPECT_EQ(tables(host).find(netem::nft::ingress_table(facing)), std::string::npos);
  EXPECT_NE(tables(host).find("riasc_in_elsewhere"), std::string::npos) << "another device's table stays";

  // Nothing left, or no pod any more: quiet.
  host.run([&] { netem::UserspaceBackend::remove_leftovers(pod.path()); });
  EXPECT_NO_THROW(netem::UserspaceBackend::remove_leftovers("/run/netns/no-such-pod"));
}

}  // namespace
}  // namespace riasc::engine
