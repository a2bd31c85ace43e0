#pragma once

// What a container's process is started with, from its pod: argv (command + args), the
// environment (env and envFrom, with fieldRef, configMapKeyRef and secretKeyRef) and the working
// directory, with Kubernetes' $(VAR) expansion. Pure apart from the lookup it is given.

#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "riasc/core/json.hpp"

namespace riasc::runtime {

struct ResolvedCommand {
  std::vector<std::string> argv;
  std::vector<std::string> env;  // "NAME=value"
  std::string working_dir = "/";
};

// The container has no command: without images there is no entrypoint to fall back to.
class NoCommand : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A reference that cannot be resolved (kubelet's CreateContainerConfigError).
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The string data of a ConfigMap or Secret ("configmaps"/"secrets") in the pod's namespace,
// Secrets already decoded; nullopt when it does not exist.
using DataLookup = std::function<std::optional<Json>(const std::string& resource, const std::string& name)>;

// The PATH a container gets unless its env sets one: the usual one of a Debian image.
inline constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// `extra_path` is appended to the default PATH (the folder of the riasc binary, so that
// manifests can run `riasc cosim ...` from a build tree).
ResolvedCommand resolve_command(const Json& pod, const Json& container, const DataLookup& lookup,
                                const std::string& extra_path = "");

// "$(NAME)" → its value when NAME is defined, else left as written; "$$" → "$".
std::string expand_references(const std::string& text, const std::vector<std::string>& env);

}  // namespace riasc::runtime
