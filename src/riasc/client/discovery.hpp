#pragma once

// Inside the client library: the discovery documents (/api, /apis, /api/v1, /apis/g/v), cached
// and fetched again when a lookup misses, so a CRD created after the first lookup is found.

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "riasc/client/client.hpp"

namespace riasc::client::detail {

class Transport;

class Discovery {
 public:
  explicit Discovery(std::shared_ptr<Transport> transport) : transport_(std::move(transport)) {}

  ResourceInfo by_resource(const GroupVersionResource& resource);
  ResourceInfo by_kind(const GroupVersionKind& kind);
  ResourceInfo find(std::string_view name);
  void forget();

 private:
  using Resources = std::vector<ResourceInfo>;
  struct Group {
    std::string name;
    std::string preferred_version;
  };
  using Match = std::function<bool(const ResourceInfo&)>;

  std::optional<ResourceInfo> search(const std::string& group, const std::string& version, const Match& match,
                                     bool refresh);
  ResourceInfo lookup(const std::string& group, const std::string& version, const Match& match,
                      std::string_view what);
  const Resources& resources(const std::string& group, const std::string& version, bool refresh);
  const std::vector<Group>& groups(bool refresh);

  std::shared_ptr<Transport> transport_;
  std::mutex mutex_;  // held while fetching too: lookups are rare once the cache is warm
  std::map<std::string, Resources> resources_;  // by group version ("v1", "apps/v1")
  std::optional<std::vector<Group>> groups_;
};

}  // namespace riasc::client::detail
