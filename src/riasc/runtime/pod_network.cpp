#include "riasc/runtime/pod_network.hpp"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <functional>
#include <system_error>
#include <thread>

#include "riasc/net/netlink_error.hpp"
#include "riasc/net/netns.hpp"
#include "riasc/net/rtnetlink.hpp"

namespace riasc::runtime {
namespace {

// A new network namespace, held by the returned descriptor. unshare() moves only the calling
// thread, so a short-lived thread makes it and this one stays where it is.
int new_netns() {
  int fd = -1;
  int error = 0;
  std::thread maker([&] {
    if (::unshare(CLONE_NEWNET) != 0) {
      error = errno;
      return;
    }
    fd = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (fd < 0) error = errno;
  });
  maker.join();
  if (fd < 0) throw std::system_error(error, std::generic_category(), "creating a pod network namespace");
  return fd;
}

// veth names are at most 15 bytes: "rveth" and 8 hex digits of the pod's uid (a hash when the
// uid is short or not hex).
std::string host_interface_name(const std::string& uid, int attempt) {
  std::string hex;
  for (char c : uid) {
    if (std::isxdigit(static_cast<unsigned char>(c)) != 0) hex += static_cast<char>(std::tolower(c));
    if (hex.size() == 8) break;
  }
  if (hex.size() < 8 || attempt > 0) {
    hex = fmt::format("{:016x}", std::hash<std::string>{}(uid + std::to_string(attempt))).substr(0, 8);
  }
  return "rveth" + hex;
}

}  // namespace

PodNetwork::PodNetwork(PodNetworkOptions options) : options_(std::move(options)) {
  const auto gateway = options_.cidr.first().next();
  if (!gateway || options_.cidr.length > options_.cidr.address.bits() - 2) {
    throw std::invalid_argument(
        fmt::format("the pod CIDR {} has no room for a gateway and pods", options_.cidr.to_string()));
  }
  gateway_ = *gateway;
  net::Rtnetlink host;
  auto bridge = host.link(options_.bridge);
  if (bridge && bridge->kind != "bridge") {
    throw std::invalid_argument(fmt::format("{} exists and is not a bridge ({}); choose another bridge name",
                                            options_.bridge,
                                            bridge->kind.empty() ? "a device" : bridge->kind));
  }
  bridge_index_ = bridge ? bridge->index : host.create_bridge(options_.bridge);
  const net::IpPrefix address{gateway_, options_.cidr.length};
  bool has_address = false;
  for (const auto& existing : host.addresses()) {
    if (existing.index == bridge_index_ && existing.prefix == address) has_address = true;
  }
  if (!has_address) host.add_address(bridge_index_, address);
  host.set_link_up(bridge_index_);
}

PodNetwork::~PodNetwork() = default;

net::IpAddress PodNetwork::allocate(std::optional<net::IpAddress> preferred) {
  std::lock_guard lock(mutex_);
  const net::IpAddress last = options_.cidr.last();
  auto usable = [&](const net::IpAddress& address) {
    return options_.cidr.contains(address) && address > gateway_ && address < last &&
           !used_.contains(address);
  };
  if (preferred && usable(*preferred)) {
    used_.insert(*preferred);
    return *preferred;
  }
  for (auto candidate = gateway_.next(); candidate && *candidate < last; candidate = candidate->next()) {
    if (usable(*candidate)) {
      used_.insert(*candidate);
      return *candidate;
    }
  }
  throw std::runtime_error(fmt::format("the pod CIDR {} is full", options_.cidr.to_string()));
}

Sandbox PodNetwork::create(const std::string& pod_uid, std::optional<net::IpAddress> preferred) {
  Sandbox sandbox;
  sandbox.ip = allocate(preferred);
  sandbox.netns_fd = new_netns();
  sandbox.netns_path = fmt::format("/proc/{}/fd/{}", ::getpid(), sandbox.netns_fd);
  try {
    net::Rtnetlink host;
    for (int attempt = 0;; ++attempt) {
      sandbox.host_interface = host_interface_name(pod_uid, attempt);
      try {
        const int index = host.create_veth_into(sandbox.host_interface, "eth0", sandbox.netns_fd);
        host.set_master(index, bridge_index_);
        host.set_link_up(index);
        break;
      } catch (const net::NetlinkError& error) {
        if (error.error_code() != EEXIST || attempt >= 3) throw;
      }
    }
    net::in_netns(sandbox.netns_path, [&] {
      net::Rtnetlink pod;
      pod.set_link_up(pod.link("lo")->index);
      const int eth0 = pod.link("eth0")->index;
      pod.add_address(eth0, net::IpPrefix{sandbox.ip, options_.cidr.length});
      pod.set_link_up(eth0);
      pod.add_route(*net::IpPrefix::parse(sandbox.ip.family == net::Family::V4 ? "0.0.0.0/0" : "::/0"), eth0,
                    gateway_);
    });
  } catch (...) {
    destroy(sandbox);
    throw;
  }
  return sandbox;
}

void PodNetwork::destroy(Sandbox& sandbox) {
  {
    std::lock_guard lock(mutex_);
    used_.erase(sandbox.ip);
  }
  if (sandbox.netns_fd >= 0) ::close(sandbox.netns_fd);
  sandbox.netns_fd = -1;
  // The namespace may live on for a moment in a process that is still exiting; the veth goes
  // with it, but not before: delete our end now so that nothing of the pod stays on the bridge.
  if (!sandbox.host_interface.empty()) {
    try {
      net::Rtnetlink host;
      if (auto link = host.link(sandbox.host_interface)) host.delete_link(link->index);
    } catch (const net::NetlinkError&) {
      // gone meanwhile with its namespace
    }
  }
}

void PodNetwork::shutdown() {
  net::Rtnetlink host;
  if (auto bridge = host.link(options_.bridge); bridge && bridge->kind == "bridge")
    host.delete_link(bridge->index);
}

void PodNetwork::remove_leftovers(const PodNetworkOptions& options) {
  net::Rtnetlink host;
  for (const auto& link : host.links()) {
    if (link.kind == "veth" && link.name.starts_with("rveth")) host.delete_link(link.index);
  }
  if (auto bridge = host.link(options.bridge); bridge && bridge->kind == "bridge")
    host.delete_link(bridge->index);
}

}  // namespace riasc::runtime
