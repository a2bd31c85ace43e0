#pragma once

// Which network namespace a pod's containers share. The local runtime records it on the pod
// (annotation riasc.eu/netns); for pods of any other runtime and CNI the namespace that holds the
// pod's IP on one of its interfaces is looked up (/proc/*/ns/net, /run/netns/*) and remembered
// for the pod's uid and IP.

#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "riasc/core/json.hpp"

namespace riasc::agent {

inline constexpr const char* kNetnsAnnotation = "riasc.eu/netns";

class NetnsResolver {
 public:
  virtual ~NetnsResolver() = default;
  // A path for net::in_netns, or nullopt while the pod has no namespace (yet).
  virtual std::optional<std::string> resolve(const Json& pod);
  void forget(const std::string& uid);

 private:
  std::mutex mutex_;
  std::map<std::string, std::string> by_uid_;  // uid + "|" + ip → path
};

}  // namespace riasc::agent
