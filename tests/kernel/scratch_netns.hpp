#pragma once

// Throwaway network namespaces for the kernel and VM tests and the engine benchmark. Each
// ScratchNetns is made by a thread that unshares a new network namespace and opens it; the thread
// ends, the open file keeps the namespace alive, and its path /proc/self/fd/N works with in_netns()
// from any thread. Closing the file (the destructor) destroys the namespace with every link, qdisc
// and rule in it, so a failing run leaves nothing behind on the host.

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
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

// Joins `a` and `b` with a veth pair, "eth0" on both sides, up, with address_a/24 and
// address_b/24 ("10.99.0.1", "10.99.0.2").
inline void connect_with_veth(const ScratchNetns& a, const ScratchNetns& b, const char* address_a,
                              const char* address_b) {
  const int b_fd = ::open(b.path().c_str(), O_RDONLY | O_CLOEXEC);
  a.run([&] {
    Rtnetlink rtnl;
    const int eth0 = rtnl.create_veth_into("eth0", "eth0", b_fd);
    rtnl.add_address(eth0, IpPrefix{*IpAddress::parse(address_a), 24});
    rtnl.set_link_up(eth0);
  });
  ::close(b_fd);
  b.run([&] {
    Rtnetlink rtnl;
    const int eth0 = rtnl.link("eth0")->index;
    rtnl.add_address(eth0, IpPrefix{*IpAddress::parse(address_b), 24});
    rtnl.set_link_up(eth0);
  });
}

}  // namespace riasc::net::test
