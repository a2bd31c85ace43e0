#pragma once

// Network namespaces. setns(CLONE_NEWNET) moves only the calling thread, so code that must act in
// a pod's namespace runs on the caller's thread inside in_netns(), and sockets opened there (an
// Rtnetlink, an Nftables) stay bound to that namespace after it returns.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "riasc/net/ip_address.hpp"

namespace riasc::net {

// Enters a network namespace on construction and returns the thread to the one it was in on
// destruction. Throws std::system_error (naming the path) when the namespace cannot be opened or
// entered. If going back fails, which the kernel only does when the original namespace is gone
// from under an open file, the process aborts: a thread silently left in a pod's namespace would
// apply the next pod's configuration to the wrong one.
class NetnsGuard {
 public:
  explicit NetnsGuard(const std::string& netns_path);
  ~NetnsGuard();
  NetnsGuard(const NetnsGuard&) = delete;
  NetnsGuard& operator=(const NetnsGuard&) = delete;

 private:
  int original_ = -1;
};

// Runs fn() inside the network namespace at netns_path (/proc/PID/ns/net, /run/netns/NAME,
// /proc/self/fd/N) on the calling thread and returns its result; the thread's own namespace is
// restored on return and on exception.
template <class F>
decltype(auto) in_netns(const std::string& netns_path, F&& fn) {
  NetnsGuard guard(netns_path);
  return std::forward<F>(fn)();
}

// The namespace's inode number: two paths name the same namespace when their inodes are equal.
// Throws std::system_error naming the path.
std::uint64_t netns_inode(const std::string& netns_path);

// The calling thread's own namespace as a path usable with in_netns: /proc/thread-self/ns/net.
std::string current_netns_path();

// Which network namespace has `address` on one of its interfaces: looks in /run/netns/* first
// (their names outlive processes), then /proc/*/ns/net, each namespace once (by inode). Returns a
// path usable with in_netns, or nullopt. Namespaces that cannot be entered (a process that exited
// meanwhile) are skipped. Needs CAP_SYS_ADMIN (setns). Threads that unshared a namespace of their
// own are not found: only processes' namespaces are visible under /proc/PID/ns/net.
std::optional<std::string> find_netns_with_address(const IpAddress& address);

}  // namespace riasc::net
