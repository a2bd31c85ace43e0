#include "riasc/runtime/cgroups.hpp"

#include <linux/magic.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

namespace riasc::runtime {
namespace {

void write_file(const std::string& file, const std::string& text) {
  std::ofstream out(file);
  out << text;
  out.flush();
  if (!out)
    throw std::runtime_error(fmt::format("writing \"{}\" to {}: {}", text, file, std::strerror(errno)));
}

std::string read_file(const std::string& file) {
  std::ifstream in(file);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return text;
}

}  // namespace

Cgroups::Cgroups(std::string root, std::string parent)
    : root_(std::move(root)), parent_(root_ + "/" + parent) {
  struct statfs info {};
  if (::statfs(root_.c_str(), &info) != 0 || info.f_type != CGROUP2_SUPER_MAGIC) {
    unavailable_ =
        fmt::format("{} is not a cgroup v2 mount (cgroup v1 or none): limits are not enforced", root_);
    return;
  }
  const std::string controllers = read_file(root_ + "/cgroup.controllers");
  for (const char* needed : {"cpu", "memory", "pids"}) {
    if (controllers.find(needed) == std::string::npos) {
      unavailable_ = fmt::format("the cgroup v2 controller {} is not available in {}", needed, root_);
      return;
    }
  }
  try {
    std::filesystem::create_directories(parent_);
    // Controllers must be delegated down each level before a container's cgroup can use them.
    for (const std::string& level : {root_, parent_}) {
      const std::string enabled = read_file(level + "/cgroup.subtree_control");
      if (enabled.find("memory") == std::string::npos || enabled.find("cpu") == std::string::npos ||
          enabled.find("pids") == std::string::npos)
        write_file(level + "/cgroup.subtree_control", "+cpu +memory +pids");
    }
  } catch (const std::exception& error) {
    unavailable_ = fmt::format("cannot delegate cgroup controllers: {}", error.what());
  }
}

std::string Cgroups::create(const std::string& name, const Limits& limits) {
  if (!unavailable_.empty()) return "";
  const std::string directory = parent_ + "/" + name;
  std::filesystem::create_directories(directory);
  if (limits.memory) write_file(directory + "/memory.max", std::to_string(*limits.memory));
  if (limits.cpu) {
    constexpr std::uint64_t kPeriod = 100000;  // µs, the kernel's default
    const auto quota = static_cast<std::uint64_t>(std::ceil(*limits.cpu * kPeriod));
    write_file(directory + "/cpu.max", fmt::format("{} {}", std::max<std::uint64_t>(quota, 1000), kPeriod));
  }
  return directory;
}

void Cgroups::remove(const std::string& directory) {
  if (directory.empty()) return;
  // cgroup.kill (Linux 5.14) ends whatever is left, e.g. a daemon a container forked off.
  if (std::filesystem::exists(directory + "/cgroup.kill")) {
    try {
      write_file(directory + "/cgroup.kill", "1");
    } catch (const std::exception&) {
    }
  }
  for (int attempt = 0; attempt < 50; ++attempt) {
    if (::rmdir(directory.c_str()) == 0 || errno == ENOENT) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace riasc::runtime
