#pragma once

// Pod networking on one machine: a bridge that holds the pod CIDR's first address as the pods'
// gateway, and per pod a network namespace with loopback up, an eth0 (a veth whose other end is
// on the bridge), an address from the CIDR and a default route. Pods reach each other through
// the bridge and the host through its address.
//
// Namespaces are held by file descriptors of this process, never bind-mounted: if the process
// dies, its containers die with it (PR_SET_PDEATHSIG) and the kernel removes each namespace and
// its veth pair with them. Only the bridge can outlive a crash; remove_leftovers() takes it.

#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "riasc/net/ip_address.hpp"

namespace riasc::runtime {

struct PodNetworkOptions {
  std::string bridge = "riasc0";
  net::IpPrefix cidr = *net::IpPrefix::parse("10.79.0.0/16");
};

struct Sandbox {
  int netns_fd = -1;
  std::string netns_path;      // /proc/<pid>/fd/<fd>: usable by this process (and root) while it runs
  std::string host_interface;  // the veth's end on the bridge
  net::IpAddress ip;
};

class PodNetwork {
 public:
  // Creates the bridge, or takes over one a crashed run left. Throws net::NetlinkError.
  explicit PodNetwork(PodNetworkOptions options);
  ~PodNetwork();
  PodNetwork(const PodNetwork&) = delete;
  PodNetwork& operator=(const PodNetwork&) = delete;

  // A namespace for the pod with uid `pod_uid`; `preferred` (the address the pod had before a
  // restart) is kept when it is free. Throws on netlink errors or when the CIDR is full.
  Sandbox create(const std::string& pod_uid, std::optional<net::IpAddress> preferred);
  // Releases the address and closes the namespace (the kernel removes it once no process is
  // left in it, and the veth pair with it).
  void destroy(Sandbox& sandbox);
  // Deletes the bridge. Sandboxes must be destroyed first.
  void shutdown();

  [[nodiscard]] const net::IpAddress& gateway() const { return gateway_; }
  [[nodiscard]] const PodNetworkOptions& options() const { return options_; }

  // The bridge a run that did not stop cleanly left, if any.
  static void remove_leftovers(const PodNetworkOptions& options);

 private:
  net::IpAddress allocate(std::optional<net::IpAddress> preferred);

  PodNetworkOptions options_;
  net::IpAddress gateway_;
  int bridge_index_ = 0;
  std::mutex mutex_;
  std::set<net::IpAddress> used_;
};

}  // namespace riasc::runtime
