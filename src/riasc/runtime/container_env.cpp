#include "riasc/runtime/container_env.hpp"

#include <fmt/format.h>

namespace riasc::runtime {
namespace {

std::optional<std::string> lookup_env(const std::vector<std::string>& env, const std::string& name) {
  for (auto it = env.rbegin(); it != env.rend(); ++it) {
    if (it->size() > name.size() && it->compare(0, name.size(), name) == 0 && (*it)[name.size()] == '=')
      return it->substr(name.size() + 1);
  }
  return std::nullopt;
}

void set_env(std::vector<std::string>& env, const std::string& name, const std::string& value) {
  std::erase_if(env, [&](const std::string& entry) {
    return entry.size() > name.size() && entry.compare(0, name.size(), name) == 0 &&
           entry[name.size()] == '=';
  });
  env.push_back(name + "=" + value);
}

// metadata.labels['app'] → {"labels", "app"}
std::optional<std::pair<std::string, std::string>> subscript(const std::string& path) {
  for (const char* map : {"metadata.labels['", "metadata.annotations['"}) {
    const std::string prefix = map;
    if (path.starts_with(prefix) && path.ends_with("']") && path.size() > prefix.size() + 2) {
      return std::pair{prefix.substr(9, prefix.size() - 11),
                       path.substr(prefix.size(), path.size() - prefix.size() - 2)};
    }
  }
  return std::nullopt;
}

std::string field_value(const Json& pod, const std::string& path, const std::string& variable) {
  const Json metadata = pod.value("metadata", Json::object());
  const Json spec = pod.value("spec", Json::object());
  const Json status = pod.value("status", Json::object());
  if (path == "metadata.name") return metadata.value("name", "");
  if (path == "metadata.namespace") return metadata.value("namespace", "");
  if (path == "metadata.uid") return metadata.value("uid", "");
  if (path == "spec.nodeName") return spec.value("nodeName", "");
  if (path == "spec.serviceAccountName") return spec.value("serviceAccountName", "default");
  if (path == "status.podIP") return status.value("podIP", "");
  if (path == "status.hostIP") return status.value("hostIP", "");
  if (auto entry = subscript(path)) {
    const Json map = metadata.value(entry->first, Json::object());
    return map.value(entry->second, "");
  }
  throw ConfigError(
      fmt::format("env {}: fieldRef.fieldPath \"{}\" is not supported (metadata.name, "
                  "metadata.namespace, metadata.uid, metadata.labels['KEY'], "
                  "metadata.annotations['KEY'], spec.nodeName, spec.serviceAccountName, "
                  "status.podIP, status.hostIP)",
                  variable, path));
}

std::optional<std::string> key_value(const DataLookup& lookup, const std::string& resource,
                                     const Json& reference, const std::string& variable) {
  const std::string name = reference.value("name", "");
  const std::string key = reference.value("key", "");
  const bool optional = reference.value("optional", false);
  const char* kind = resource == "secrets" ? "secret" : "configmap";
  const auto data = lookup(resource, name);
  if (!data) {
    if (optional) return std::nullopt;
    throw ConfigError(fmt::format("env {}: {} \"{}\" not found", variable, kind, name));
  }
  if (!data->contains(key) || !(*data)[key].is_string()) {
    if (optional) return std::nullopt;
    throw ConfigError(fmt::format("env {}: couldn't find key {} in {} {}", variable, key, kind, name));
  }
  return (*data)[key].get<std::string>();
}

}  // namespace

std::string expand_references(const std::string& text, const std::vector<std::string>& env) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '$' || i + 1 >= text.size()) {
      out += text[i];
      continue;
    }
    if (text[i + 1] == '$') {
      out += '$';
      ++i;
      continue;
    }
    const auto close = text.find(')', i + 2);
    if (text[i + 1] == '(' && close != std::string::npos) {
      const std::string name = text.substr(i + 2, close - i - 2);
      if (auto value = lookup_env(env, name)) {
        out += *value;
        i = close;
        continue;
      }
    }
    out += text[i];
  }
  return out;
}

ResolvedCommand resolve_command(const Json& pod, const Json& container, const DataLookup& lookup,
                                const std::string& extra_path) {
  const std::string container_name = container.value("name", "");
  ResolvedCommand resolved;
  std::vector<std::string>& env = resolved.env;
  env.push_back(std::string("PATH=") + kDefaultPath + (extra_path.empty() ? "" : ":" + extra_path));
  env.push_back("HOME=/root");
  env.push_back("HOSTNAME=" + pod.value("metadata", Json::object()).value("name", ""));
  for (const auto& source : container.value("envFrom", Json::array())) {
    const std::string prefix = source.value("prefix", "");
    for (const char* resource : {"configmaps", "secrets"}) {
      const char* field = std::string(resource) == "secrets" ? "secretRef" : "configMapRef";
      if (!source.contains(field)) continue;
      const Json reference = source[field];
      const auto data = lookup(resource, reference.value("name", ""));
      if (!data) {
        if (reference.value("optional", false)) continue;
        throw ConfigError(fmt::format("envFrom: {} \"{}\" not found",
                                      resource == std::string("secrets") ? "secret" : "configmap",
                                      reference.value("name", "")));
      }
      for (const auto& [key, value] : data->items()) {
        if (value.is_string()) set_env(env, prefix + key, value.get<std::string>());
      }
    }
  }
  for (const auto& variable : container.value("env", Json::array())) {
    const std::string name = variable.value("name", "");
    if (name.empty()) continue;
    if (variable.contains("value")) {
      set_env(env, name, expand_references(variable.value("value", ""), env));
      continue;
    }
    const Json from = variable.value("valueFrom", Json::object());
    std::optional<std::string> value;
    if (from.contains("fieldRef")) {
      value = field_value(pod, from["fieldRef"].value("fieldPath", ""), name);
    } else if (from.contains("configMapKeyRef")) {
      value = key_value(lookup, "configmaps", from["configMapKeyRef"], name);
    } else if (from.contains("secretKeyRef")) {
      value = key_value(lookup, "secrets", from["secretKeyRef"], name);
    } else if (!from.empty()) {
      throw ConfigError(
          fmt::format("env {}: only value, fieldRef, configMapKeyRef and secretKeyRef are supported", name));
    } else {
      value = "";
    }
    if (value) set_env(env, name, *value);
  }
  const Json command = container.value("command", Json::array());
  if (!command.is_array() || command.empty()) {
    throw NoCommand(fmt::format(
        "container \"{}\" has no command: riasc runs containers as processes of this machine and cannot pull "
        "images, so the image's entrypoint is unknown{}; give the container a command",
        container_name,
        container.contains("image") ? fmt::format(" (image \"{}\" is not used)", container.value("image", ""))
                                    : ""));
  }
  for (const auto& part : command) resolved.argv.push_back(expand_references(part.get<std::string>(), env));
  for (const auto& part : container.value("args", Json::array())) {
    resolved.argv.push_back(expand_references(part.get<std::string>(), env));
  }
  resolved.working_dir = container.value("workingDir", "/");
  if (resolved.working_dir.empty()) resolved.working_dir = "/";
  return resolved;
}

}  // namespace riasc::runtime
