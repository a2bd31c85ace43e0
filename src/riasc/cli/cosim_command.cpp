// `riasc cosim`: the two programs of examples/quickstart, a tiny co-simulation over UDP. The
// simulator sends a grid measurement every interval; the controller answers each with a
// setpoint; the simulator reports the round-trip time of each exchange in its next sample, so
// both logs show what the network between them does (docs/riasc-up.md).

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <iostream>
#include <map>
#include <optional>

#include "riasc/cli/commands.hpp"
#include "riasc/core/units.hpp"

namespace riasc::cli {
namespace {

using Clock = std::chrono::steady_clock;

// One datagram each way, fixed layout, host byte order (both ends run on the same machine kind).
struct Sample {
  std::uint64_t sequence;
  std::int64_t sent_ns;  // the simulator's clock
  double voltage_pu;     // the measurement
  double last_rtt_ms;    // of the previous exchange; < 0 when it was lost
};
struct Setpoint {
  std::uint64_t sequence;
  std::int64_t sent_ns;  // echoed
  double reactive_power_pu;
};

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

void line(const std::string& text) { std::cout << text << std::endl; }

class Socket {
 public:
  explicit Socket(int fd) : fd_(fd) {}
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  [[nodiscard]] int get() const { return fd_; }

 private:
  int fd_;
};

int run_controller(std::uint16_t port) {
  Socket socket(::socket(AF_INET6, SOCK_DGRAM, 0));
  const int off = 0;
  ::setsockopt(socket.get(), IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);  // IPv4 too
  sockaddr_in6 address{};
  address.sin6_family = AF_INET6;
  address.sin6_port = htons(port);
  address.sin6_addr = in6addr_any;
  if (::bind(socket.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    std::cerr << fmt::format("riasc cosim controller: cannot listen on UDP port {}: {}\n", port,
                             std::strerror(errno));
    return 1;
  }
  line(fmt::format("controller: listening on UDP port {}", port));
  double integral = 0;
  while (true) {
    Sample sample{};
    sockaddr_storage from{};
    socklen_t from_size = sizeof from;
    const auto got =
        ::recvfrom(socket.get(), &sample, sizeof sample, 0, reinterpret_cast<sockaddr*>(&from), &from_size);
    if (got != static_cast<ssize_t>(sizeof sample)) continue;
    // A PI-like voltage controller: reactive power against the deviation from 1.0 pu.
    const double error = 1.0 - sample.voltage_pu;
    integral = std::clamp(integral + error, -5.0, 5.0);
    const Setpoint setpoint{sample.sequence, sample.sent_ns, 2.0 * error + 0.1 * integral};
    ::sendto(socket.get(), &setpoint, sizeof setpoint, 0, reinterpret_cast<sockaddr*>(&from), from_size);
    char host[NI_MAXHOST] = {};
    ::getnameinfo(reinterpret_cast<sockaddr*>(&from), from_size, host, sizeof host, nullptr, 0,
                  NI_NUMERICHOST);
    std::string peer = host;
    if (peer.starts_with("::ffff:")) peer = peer.substr(7);
    line(fmt::format("controller: sample {} from {}: voltage {:.4f} pu -> q {:+.4f} pu; {}", sample.sequence,
                     peer, sample.voltage_pu, setpoint.reactive_power_pu,
                     sample.sequence == 0     ? "first sample"
                     : sample.last_rtt_ms < 0 ? "previous answer lost"
                                              : fmt::format("round trip {:.1f} ms", sample.last_rtt_ms)));
  }
}

int run_simulator(const std::string& target, double interval_s, std::uint64_t count) {
  const auto colon = target.rfind(':');
  if (colon == std::string::npos) {
    std::cerr << fmt::format("riasc cosim simulator: --controller wants HOST:PORT, not \"{}\"\n", target);
    return 2;
  }
  const std::string host = target.substr(0, colon);
  const std::string port = target.substr(colon + 1);
  addrinfo hints{};
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* found = nullptr;
  // The controller may start after us: its name appears in /etc/hosts once it has an address.
  for (int attempt = 0;; ++attempt) {
    const int error = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &found);
    if (error == 0) break;
    if (attempt == 0)
      line(fmt::format("simulator: waiting for {} to resolve ({})", host, gai_strerror(error)));
    ::sleep(1);
  }
  Socket socket(::socket(found->ai_family, SOCK_DGRAM, 0));
  if (::connect(socket.get(), found->ai_addr, found->ai_addrlen) != 0) {
    std::cerr << fmt::format("riasc cosim simulator: connect to {}: {}\n", target, std::strerror(errno));
    ::freeaddrinfo(found);
    return 1;
  }
  ::freeaddrinfo(found);
  line(fmt::format("simulator: sending a sample to {} every {:.0f} ms", target, interval_s * 1000));
  const auto interval =
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(interval_s));
  double voltage = 1.0;
  double reactive = 0;
  double last_rtt_ms = -1;
  std::map<std::uint64_t, std::int64_t> outstanding;  // sequence → sent
  std::uint64_t answered = 0;
  std::uint64_t lost = 0;
  double rtt_sum = 0;
  auto next = Clock::now();
  for (std::uint64_t sequence = 0; count == 0 || sequence < count; ++sequence) {
    // A feeder whose voltage drifts with load and is pulled back by the controller's setpoint.
    const double load = 0.03 * std::sin(static_cast<double>(sequence) / 20.0);
    voltage += 0.2 * (1.0 - load + 0.5 * reactive - voltage);
    const Sample sample{sequence, now_ns(), voltage, sequence == 0 ? 0.0 : last_rtt_ms};
    outstanding[sequence] = sample.sent_ns;
    ::send(socket.get(), &sample, sizeof sample, 0);
    last_rtt_ms = -1;
    next += interval;
    // Answers until the next sample is due; older ones that arrive late still count.
    while (true) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(next - Clock::now()).count();
      if (left <= 0) break;
      pollfd wait{socket.get(), POLLIN, 0};
      if (::poll(&wait, 1, static_cast<int>(left)) <= 0) continue;
      Setpoint setpoint{};
      if (::recv(socket.get(), &setpoint, sizeof setpoint, 0) != static_cast<ssize_t>(sizeof setpoint))
        continue;
      auto sent = outstanding.find(setpoint.sequence);
      if (sent == outstanding.end()) continue;  // a duplicate
      const double rtt_ms = static_cast<double>(now_ns() - sent->second) / 1e6;
      outstanding.erase(sent);
      reactive = setpoint.reactive_power_pu;
      ++answered;
      rtt_sum += rtt_ms;
      if (setpoint.sequence == sequence) last_rtt_ms = rtt_ms;
      line(fmt::format("simulator: setpoint {} q {:+.4f} pu, round trip {:.1f} ms", setpoint.sequence,
                       setpoint.reactive_power_pu, rtt_ms));
    }
    // An answer 5 s overdue is lost.
    for (auto it = outstanding.begin(); it != outstanding.end();) {
      if (now_ns() - it->second > 5'000'000'000) {
        ++lost;
        it = outstanding.erase(it);
      } else {
        ++it;
      }
    }
    if ((sequence + 1) % 50 == 0) {
      line(fmt::format("simulator: {} answered, {} lost, mean round trip {:.1f} ms", answered, lost,
                       answered == 0 ? 0.0 : rtt_sum / static_cast<double>(answered)));
    }
  }
  return 0;
}

}  // namespace

void add_cosim_command(CLI::App& app) {
  auto* cosim = app.add_subcommand("cosim",
                                   "The quickstart's co-simulation over UDP: a grid simulator and a voltage "
                                   "controller (examples/quickstart)");
  cosim->require_subcommand(1);
  auto port = std::make_shared<std::uint16_t>(5005);
  auto* controller = cosim->add_subcommand("controller", "Answer each sample with a reactive-power setpoint");
  controller->add_option("--port", *port, "UDP port to listen on")->capture_default_str();
  controller->callback([port] { exit_with(run_controller(*port)); });

  auto target = std::make_shared<std::string>("controller:5005");
  auto interval = std::make_shared<std::string>("200ms");
  auto count = std::make_shared<std::uint64_t>(0);
  auto* simulator =
      cosim->add_subcommand("simulator", "Send a voltage sample every interval and log round trips");
  simulator->add_option("--controller", *target, "HOST:PORT of the controller")->capture_default_str();
  simulator->add_option("--interval", *interval, "Time between samples")->capture_default_str();
  simulator->add_option("--count", *count, "Samples to send (0: forever)")->capture_default_str();
  simulator->callback([target, interval, count] {
    const auto seconds = parse_duration_seconds(*interval);
    if (!seconds || *seconds <= 0) {
      std::cerr << fmt::format("riasc cosim simulator: --interval \"{}\" is not a duration such as 200ms\n",
                               *interval);
      exit_with(2);
    }
    exit_with(run_simulator(*target, *seconds, *count));
  });
}

}  // namespace riasc::cli
