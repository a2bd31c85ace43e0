#pragma once

// The kernel's time of receiving a datagram, from the control data of recvmsg() on a socket with
// SO_TIMESTAMPNS: what the tests and benchmarks measure one-way delays against, free of the
// receiving thread's wake-up.

#include <sys/socket.h>
#include <time.h>

#include <cstring>
#include <optional>

namespace riasc::net::test {

// CLOCK_REALTIME, in ns; nullopt when the message carries no timestamp.
inline std::optional<double> receive_time_ns(msghdr& message) {
  for (cmsghdr* c = CMSG_FIRSTHDR(&message); c != nullptr; c = CMSG_NXTHDR(&message, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_TIMESTAMPNS) continue;
    timespec stamp{};
    std::memcpy(&stamp, CMSG_DATA(c), sizeof stamp);
    return static_cast<double>(stamp.tv_sec) * 1e9 + static_cast<double>(stamp.tv_nsec);
  }
  return std::nullopt;
}

}  // namespace riasc::net::test
