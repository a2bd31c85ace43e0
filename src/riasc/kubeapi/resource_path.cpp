#include "riasc/kubeapi/resource_path.hpp"

#include <fmt/format.h>

#include <charconv>
#include <utility>

namespace riasc::kubeapi {

namespace {

[[noreturn]] void bad_path(std::string_view path, std::string_view why) {
  throw PathError(fmt::format("no such API path \"{}\": {}", path, why));
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string join(const std::vector<std::string>& parts, std::size_t from) {
  std::string out;
  for (std::size_t i = from; i < parts.size(); ++i) {
    if (i > from) out += '/';
    out += parts[i];
  }
  return out;
}

// The parts after /api/<version> or /apis/<group>/<version>.
void parse_resource_parts(std::string_view path, std::vector<std::string> parts, ResourcePath& out) {
  if (parts.empty()) {
    out.kind = ResourcePath::Kind::ResourceList;
    return;
  }
  out.kind = ResourcePath::Kind::Resource;
  if (parts.front() == "watch") {
    out.watch_prefix = true;
    parts.erase(parts.begin());
    if (parts.empty()) bad_path(path, "watch of what?");
  }
  // /namespaces/{namespace}/{resource}/..., except the Namespace subresources status and finalize.
  if (parts.front() == "namespaces" && parts.size() > 1) {
    out.namespace_name = parts[1];
    if (parts.size() > 2 && parts[2] != "status" && parts[2] != "finalize") {
      parts.erase(parts.begin(), parts.begin() + 2);
    }
  }
  if (parts.size() > 3) bad_path(path, "expected at most <resource>/<name>/<subresource>");
  out.resource = parts[0];
  if (parts.size() > 1) out.name = parts[1];
  if (parts.size() > 2) out.subresource = parts[2];
}

bool parse_bool(const std::string& value) {
  if (value == "0") return false;
  if (value.size() == 5) {
    std::string lower;
    for (char c : value) lower += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    if (lower == "false") return false;
  }
  return true;
}

std::optional<std::int64_t> parse_int(std::string_view key, std::string_view value) {
  if (value.empty()) return std::nullopt;
  std::string_view digits = value;
  if (digits.front() == '+') digits.remove_prefix(1);
  std::int64_t number = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), number);
  if (ec != std::errc() || end != digits.data() + digits.size() || digits.empty()) {
    throw QueryError(fmt::format("invalid value \"{}\" for query parameter {}: not an integer", value, key));
  }
  return number;
}

}  // namespace

std::string ResourcePath::group_version_path() const {
  return group.empty() ? "/api/" + version : fmt::format("/apis/{}/{}", group, version);
}

std::string ResourcePath::api_version() const { return group.empty() ? version : group + "/" + version; }

std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      int high = hex_value(text[i + 1]);
      int low = hex_value(text[i + 2]);
      if (high < 0 || low < 0) return std::nullopt;
      out += static_cast<char>(high * 16 + low);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

ResourcePath parse_resource_path(std::string_view path) {
  if (path.empty() || path.front() != '/') bad_path(path, "a path starts with '/'");
  std::string_view trimmed = path;
  while (!trimmed.empty() && trimmed.back() == '/') trimmed.remove_suffix(1);
  if (trimmed.empty()) bad_path(path, "the root is not an API");

  std::vector<std::string> parts;
  std::string_view rest = trimmed.substr(1);
  while (true) {
    auto slash = rest.find('/');
    std::string_view segment = rest.substr(0, slash);
    if (segment.empty()) bad_path(path, "empty path segment");
    auto decoded = percent_decode(segment, false);
    if (!decoded) bad_path(path, "malformed %-escape");
    if (decoded->empty() || *decoded == "." || *decoded == "..") bad_path(path, "invalid path segment");
    parts.push_back(std::move(*decoded));
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }

  ResourcePath out;
  const std::string& first = parts.front();
  if (first == "version" && parts.size() == 1) {
    out.kind = ResourcePath::Kind::Version;
  } else if (first == "metrics" && parts.size() == 1) {
    out.kind = ResourcePath::Kind::Metrics;
  } else if (first == "healthz" || first == "livez" || first == "readyz") {
    out.kind = first == "healthz" ? ResourcePath::Kind::Healthz
               : first == "livez" ? ResourcePath::Kind::Livez
                                  : ResourcePath::Kind::Readyz;
    out.rest = join(parts, 1);
  } else if (first == "openapi" && parts.size() == 2 && parts[1] == "v2") {
    out.kind = ResourcePath::Kind::OpenApiV2;
  } else if (first == "openapi" && parts.size() >= 2 && parts[1] == "v3") {
    out.kind = ResourcePath::Kind::OpenApiV3;
    out.rest = join(parts, 2);
  } else if (first == "api") {
    if (parts.size() == 1) {
      out.kind = ResourcePath::Kind::LegacyVersions;
    } else {
      out.version = parts[1];
      parse_resource_parts(path, {parts.begin() + 2, parts.end()}, out);
    }
  } else if (first == "apis") {
    if (parts.size() == 1) {
      out.kind = ResourcePath::Kind::GroupList;
    } else if (parts.size() == 2) {
      out.kind = ResourcePath::Kind::Group;
      out.group = parts[1];
    } else {
      out.group = parts[1];
      out.version = parts[2];
      parse_resource_parts(path, {parts.begin() + 3, parts.end()}, out);
    }
  } else {
    bad_path(path, "not an API path");
  }
  return out;
}

QueryParameters parse_query(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> pairs;
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (pair.empty()) continue;
    auto eq = pair.find('=');
    auto key = percent_decode(pair.substr(0, eq), true);
    auto value =
        percent_decode(eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1), true);
    if (!key || !value) throw QueryError(fmt::format("malformed %-escape in query parameter \"{}\"", pair));
    pairs.emplace_back(std::move(*key), std::move(*value));
  }

  QueryParameters out;
  auto first = [&](std::string_view key) -> const std::string* {
    for (const auto& [k, v] : pairs) {
      if (k == key) return &v;
    }
    return nullptr;
  };
  auto text = [&](std::string_view key, std::string& field) {
    if (const auto* value = first(key)) field = *value;
  };
  auto boolean = [&](std::string_view key) -> std::optional<bool> {
    if (const auto* value = first(key)) return parse_bool(*value);
    return std::nullopt;
  };
  auto integer = [&](std::string_view key) -> std::optional<std::int64_t> {
    if (const auto* value = first(key)) return parse_int(key, *value);
    return std::nullopt;
  };

  out.watch = boolean("watch").value_or(false);
  text("resourceVersion", out.resource_version);
  text("resourceVersionMatch", out.resource_version_match);
  out.limit = integer("limit");
  text("continue", out.continue_token);
  text("labelSelector", out.label_selector);
  text("fieldSelector", out.field_selector);
  out.allow_watch_bookmarks = boolean("allowWatchBookmarks").value_or(false);
  out.send_initial_events = boolean("sendInitialEvents");
  out.timeout_seconds = integer("timeoutSeconds");
  text("timeout", out.timeout);
  text("fieldManager", out.field_manager);
  out.force = boolean("force");
  for (const auto& [k, v] : pairs) {
    if (k == "dryRun") out.dry_run.push_back(v);
  }
  text("fieldValidation", out.field_validation);
  text("propagationPolicy", out.propagation_policy);
  out.grace_period_seconds = integer("gracePeriodSeconds");
  text("includeObject", out.include_object);
  out.pretty = boolean("pretty").value_or(false);
  text("container", out.log.container);
  out.log.follow = boolean("follow").value_or(false);
  out.log.previous = boolean("previous").value_or(false);
  out.log.timestamps = boolean("timestamps").value_or(false);
  out.log.tail_lines = integer("tailLines");
  out.log.limit_bytes = integer("limitBytes");
  out.log.since_seconds = integer("sinceSeconds");
  return out;
}

RequestTarget parse_request_target(std::string_view target) {
  auto question = target.find('?');
  RequestTarget out;
  out.path = parse_resource_path(target.substr(0, question));
  if (question != std::string_view::npos) out.query = parse_query(target.substr(question + 1));
  return out;
}

}  // namespace riasc::kubeapi
