#pragma once

// Container resource limits through cgroup v2, where /sys/fs/cgroup is a cgroup2 mount with the
// cpu, memory and pids controllers. Elsewhere (cgroup v1 hosts) limits are not enforced and
// available() says why once, rather than failing pods.

#include <optional>
#include <string>

namespace riasc::runtime {

struct Limits {
  std::optional<double> cpu;            // cores (limits.cpu)
  std::optional<std::uint64_t> memory;  // bytes (limits.memory)
};

class Cgroups {
 public:
  // root: the cgroup2 mount; parent: our folder under it, made on first use.
  explicit Cgroups(std::string root = "/sys/fs/cgroup", std::string parent = "riasc");

  // "" when containers can get limits here, else the reason they cannot.
  [[nodiscard]] const std::string& unavailable_reason() const { return unavailable_; }

  // A cgroup for one container with its limits written; "" when cgroups are unavailable.
  // Throws std::runtime_error naming the file when a limit cannot be written.
  std::string create(const std::string& name, const Limits& limits);
  // Removes the cgroup once its processes are gone (kills what is left first).
  void remove(const std::string& directory);

 private:
  std::string root_;
  std::string parent_;
  std::string unavailable_;
};

}  // namespace riasc::runtime
