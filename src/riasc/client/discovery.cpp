#include "riasc/client/discovery.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "riasc/client/transport.hpp"

namespace riasc::client::detail {

namespace {

std::string group_version(const std::string& group, const std::string& version) {
  return group.empty() ? version : group + "/" + version;
}

std::vector<std::string> strings(const Json& object, std::string_view key) {
  std::vector<std::string> out;
  if (!object.contains(key) || !object[key].is_array()) return out;
  for (const auto& value : object[key]) {
    if (value.is_string()) out.push_back(value.get<std::string>());
  }
  return out;
}

bool same_text(std::string_view a, std::string_view b) {
  return std::ranges::equal(a, b, [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
  });
}

std::vector<ResourceInfo> parse_resource_list(const Json& list, const std::string& group,
                                              const std::string& version) {
  std::vector<ResourceInfo> out;
  if (!list.is_object() || !list.contains("resources") || !list["resources"].is_array()) return out;
  for (const auto& entry : list["resources"]) {
    std::string name = string_member(entry, "name");
    if (name.empty() || name.find('/') != std::string::npos) continue;
    ResourceInfo info;
    info.group = group;
    info.version = version;
    info.resource = name;
    info.singular = string_member(entry, "singularName");
    info.kind = string_member(entry, "kind");
    info.namespaced = entry.value("namespaced", false);
    info.verbs = strings(entry, "verbs");
    info.short_names = strings(entry, "shortNames");
    out.push_back(std::move(info));
  }
  // Subresources ("pods/status") are entries of their own; they belong to their parent.
  for (const auto& entry : list["resources"]) {
    std::string name = string_member(entry, "name");
    const auto slash = name.find('/');
    if (slash == std::string::npos) continue;
    auto parent = std::ranges::find(out, name.substr(0, slash), &ResourceInfo::resource);
    if (parent != out.end()) parent->subresources.push_back(name.substr(slash + 1));
  }
  return out;
}

}  // namespace

const Discovery::Resources& Discovery::resources(const std::string& group, const std::string& version,
                                                 bool refresh) {
  const std::string key = group_version(group, version);
  if (auto cached = resources_.find(key); cached != resources_.end() && !refresh) return cached->second;
  Resources fetched;
  try {
    const std::string path = group.empty() ? "/api/" + escape(version)
                                           : fmt::format("/apis/{}/{}", escape(group), escape(version));
    fetched = parse_resource_list(transport_->call("GET", path), group, version);
  } catch (const NotFound&) {
    // Not served (yet): remembered as empty until a miss asks again.
  }
  return resources_.insert_or_assign(key, std::move(fetched)).first->second;
}

const std::vector<Discovery::Group>& Discovery::groups(bool refresh) {
  if (groups_ && !refresh) return *groups_;
  std::vector<Group> groups;
  Json legacy = transport_->call("GET", "/api");
  auto versions = strings(legacy, "versions");
  if (!versions.empty()) groups.push_back({"", versions.front()});
  Json list = transport_->call("GET", "/apis");
  if (list.contains("groups") && list["groups"].is_array()) {
    for (const auto& group : list["groups"]) {
      std::string preferred;
      if (group.contains("preferredVersion")) preferred = string_member(group["preferredVersion"], "version");
      if (preferred.empty() && group.contains("versions") && group["versions"].is_array() &&
          !group["versions"].empty())
        preferred = string_member(group["versions"][0], "version");
      if (!preferred.empty()) groups.push_back({string_member(group, "name"), preferred});
    }
  }
  groups_ = std::move(groups);
  return *groups_;
}

std::optional<ResourceInfo> Discovery::search(const std::string& group, const std::string& version,
                                              const Match& match, bool refresh) {
  const Resources& list = resources(group, version, refresh);
  auto found = std::ranges::find_if(list, match);
  if (found == list.end()) return std::nullopt;
  return *found;
}

ResourceInfo Discovery::lookup(const std::string& group, const std::string& version, const Match& match,
                               std::string_view what) {
  std::lock_guard lock(mutex_);
  for (bool refresh : {false, true}) {
    if (auto found = search(group, version, match, refresh)) return *found;
  }
  throw NotFound(404, "NotFound",
                 fmt::format("the server does not serve {} in {}", what, group_version(group, version)));
}

ResourceInfo Discovery::by_resource(const GroupVersionResource& resource) {
  return lookup(
      resource.group, resource.version,
      [&](const ResourceInfo& info) { return info.resource == resource.resource; },
      fmt::format("resource \"{}\"", resource.resource));
}

ResourceInfo Discovery::by_kind(const GroupVersionKind& kind) {
  return lookup(
      kind.group, kind.version, [&](const ResourceInfo& info) { return info.kind == kind.kind; },
      fmt::format("kind \"{}\"", kind.kind));
}

ResourceInfo Discovery::find(std::string_view name) {
  const auto dot = name.find('.');
  const std::string_view base = name.substr(0, dot);
  const std::optional<std::string_view> group =
      dot == std::string_view::npos ? std::nullopt : std::optional(name.substr(dot + 1));
  auto match = [&](const ResourceInfo& info) {
    return same_text(info.resource, base) || same_text(info.singular, base) || same_text(info.kind, base) ||
           std::ranges::any_of(info.short_names,
                               [&](const std::string& short_name) { return short_name == base; });
  };
  std::lock_guard lock(mutex_);
  for (bool refresh : {false, true}) {
    for (const auto& candidate : groups(refresh)) {
      if (group && candidate.name != *group) continue;
      if (auto found = search(candidate.name, candidate.preferred_version, match, refresh)) return *found;
    }
  }
  throw NotFound(404, "NotFound", fmt::format("the server doesn't have a resource type \"{}\"", name));
}

void Discovery::forget() {
  std::lock_guard lock(mutex_);
  resources_.clear();
  groups_.reset();
}

}  // namespace riasc::client::detail
