#pragma once

// Throwaway network namespaces for the kernel and VM tests. Each ScratchNetns is made by a thread
// that unshares a new network namespace and opens it; the thread ends, the open file keeps the
// namespace alive, and its path /proc/self/fd/N works with in_netns() from any thread. Closing
// the file (the destructor) destroys the namespace with every link, qdisc and rule in it, so a
// failing test leaves nothing behind on the host.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <exception>
#include <string>
#include <system_error>
#include <thread>

#include "riasc/net/netns.hpp"
#include "riasc/net/rtnetlink.hpp"

namespace riasc::net::test {

class ScratchNetns {
 public:
  ScratchNetns() {
    int error = 0;
    std::thread maker([&] {
      if (::unshare(CLONE_NEWNET) != 0) {
        error = errno;
        return;
      }
      fd_ = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
      if (fd_ < 0) error = errno;
    });
    maker.join();
    if (error != 0) throw std::system_error(error, std::generic_category(), "unshare(CLONE_NEWNET)");
    path_ = "/proc/self/fd/" + std::to_string(fd_);
    in_netns(path_, [] {
      Rtnetlink rtnl;
      rtnl.set_link_up(rtnl.link("lo")->index);
    });
  }
  ~ScratchNetns() {
    if (fd_ >= 0) ::close(fd_);
  }
  ScratchNetns(const ScratchNetns&) = delete;
  ScratchNetns& operator=(const ScratchNetns&) = delete;

  [[nodiscard]] const std::string& path() const { return path_; }

  template <class F>
  decltype(auto) run(F&& fn) const {
    return in_netns(path_, std::forward<F>(fn));
  }

 private:
  int fd_ = -1;
  std::string path_;
};

// Empty when this process may create network namespaces, else why not (for GTEST_SKIP).
inline std::string why_no_namespaces() {
  if (::geteuid() != 0) return "needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN) to create network namespaces";
  try {
    ScratchNetns probe;
  } catch (const std::exception& error) {
    return std::string("cannot create a network namespace here: ") + error.what();
  }
  return {};
}

#define RIASC_REQUIRE_NETNS()                                                            \
  do {                                                                                   \
    if (const std::string why = ::riasc::net::test::why_no_namespaces(); !why.empty()) { \
      GTEST_SKIP() << why;                                                               \
    }                                                                                    \
  } while (false)

}  // namespace riasc::net::test
