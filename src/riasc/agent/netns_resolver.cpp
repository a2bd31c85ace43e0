#include "riasc/agent/netns_resolver.hpp"

#include <filesystem>

#include "riasc/net/ip_address.hpp"
#include "riasc/net/netns.hpp"

namespace riasc::agent {

std::optional<std::string> NetnsResolver::resolve(const Json& pod) {
  const Json metadata = pod.value("metadata", Json::object());
  const Json annotations = metadata.value("annotations", Json::object());
  if (auto path = annotations.find(kNetnsAnnotation); path != annotations.end() && path->is_string()) {
    std::error_code error;
    if (std::filesystem::exists(path->get<std::string>(), error)) return path->get<std::string>();
    return std::nullopt;
  }
  const Json status = pod.value("status", Json::object());
  const std::string ip = status.value("podIP", "");
  auto address = net::IpAddress::parse(ip);
  if (!address) return std::nullopt;
  const std::string key = metadata.value("uid", "") + "|" + ip;
  {
    std::lock_guard lock(mutex_);
    if (auto it = by_uid_.find(key); it != by_uid_.end()) {
      std::error_code error;
      if (std::filesystem::exists(it->second, error)) return it->second;
      by_uid_.erase(it);
    }
  }
  auto found = net::find_netns_with_address(*address);
  if (!found) return std::nullopt;
  std::lock_guard lock(mutex_);
  by_uid_[key] = *found;
  return found;
}

void NetnsResolver::forget(const std::string& uid) {
  std::lock_guard lock(mutex_);
  for (auto it = by_uid_.begin(); it != by_uid_.end();) {
    it = it->first.starts_with(uid + "|") ? by_uid_.erase(it) : std::next(it);
  }
}

}  // namespace riasc::agent
