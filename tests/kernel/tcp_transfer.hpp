#pragma once

// One TCP stream between two network namespaces, for the tests and benchmarks of what carries
// bulk traffic (the userspace engine's super-packets, a rate's goodput): what arrived, whether
// every byte is the one sent, and the receiver's goodput from its first byte to its last.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "riasc/core/unique_fd.hpp"
#include "scratch_netns.hpp"

namespace riasc::net::test {

struct TcpTransfer {
  std::uint64_t received = 0;
  bool intact = true;  // every byte as sent (only when asked to check)
  double seconds = 0;
  [[nodiscard]] double mbit_per_second() const {
    return seconds > 0 ? static_cast<double>(received) * 8 / seconds / 1e6 : 0;
  }
};

inline double monotonic_seconds() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) / 1e9;
}

// The byte at `offset` of every stream: a sequence that a dropped, repeated or changed byte breaks.
inline std::uint8_t stream_byte(std::uint64_t offset) {
  return static_cast<std::uint8_t>(offset * 2654435761u >> 13);
}

// Sends from `from` to `ip`:`port` in `to` until `bytes` are sent or `seconds` have passed
// (whichever is set and comes first); `check` compares every byte received with stream_byte().
inline TcpTransfer tcp_transfer(const ScratchNetns& from, const ScratchNetns& to, const std::string& ip,
                                std::uint16_t port, std::uint64_t bytes, double seconds, bool check) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  ::inet_pton(AF_INET, ip.c_str(), &address.sin_addr);
  UniqueFd listener;
  to.run([&] {
    listener = UniqueFd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    const int on = 1;
    ::setsockopt(listener.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (::bind(listener.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(listener.get(), 1) != 0)
      throw std::runtime_error("tcp_transfer: cannot listen on " + ip + ":" + std::to_string(port));
  });
  TcpTransfer out;
  std::thread receiver([&] {
    UniqueFd connection(::accept(listener.get(), nullptr, nullptr));
    const timeval timeout{10, 0};
    ::setsockopt(connection.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    std::vector<std::uint8_t> buffer(1 << 20);
    double first = 0;
    for (;;) {
      const ssize_t got = ::recv(connection.get(), buffer.data(), buffer.size(), 0);
      if (got <= 0) break;
      if (first == 0) first = monotonic_seconds();
      for (ssize_t i = 0; check && i < got; ++i) {
        out.intact = out.intact && buffer[static_cast<std::size_t>(i)] ==
                                       stream_byte(out.received + static_cast<std::uint64_t>(i));
      }
      out.received += static_cast<std::uint64_t>(got);
      out.seconds = monotonic_seconds() - first;
    }
  });
  UniqueFd sender;
  from.run([&] { sender = UniqueFd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)); });
  const double start = monotonic_seconds();
  auto more = [&](std::uint64_t sent) {
    return (bytes == 0 || sent < bytes) && (seconds <= 0 || monotonic_seconds() - start < seconds);
  };
  if (::connect(sender.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0) {
    std::vector<std::uint8_t> chunk(1 << 20);
    for (std::uint64_t offset = 0; more(offset);) {
      std::size_t length = chunk.size();
      if (bytes != 0) length = static_cast<std::size_t>(std::min<std::uint64_t>(length, bytes - offset));
      if (check) {
        for (std::size_t i = 0; i < length; ++i) chunk[i] = stream_byte(offset + i);
      }
      std::size_t done = 0;
      while (done < length) {
        const ssize_t put = ::send(sender.get(), chunk.data() + done, length - done, MSG_NOSIGNAL);
        if (put <= 0) break;
        done += static_cast<std::size_t>(put);
      }
      if (done < length) break;
      offset += length;
    }
  }
  sender.reset();
  receiver.join();
  return out;
}

}  // namespace riasc::net::test
