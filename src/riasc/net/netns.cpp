#include "riasc/net/netns.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <system_error>
#include <vector>

#include "riasc/net/netlink_error.hpp"
#include "riasc/net/rtnetlink.hpp"

namespace riasc::net {

namespace {

constexpr const char* kThreadNetns = "/proc/thread-self/ns/net";

int open_netns(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "opening network namespace " + path);
  return fd;
}

std::vector<std::string> list_dir(const std::string& path) {
  std::vector<std::string> names;
  DIR* dir = ::opendir(path.c_str());
  if (dir == nullptr) return names;
  while (const dirent* entry = ::readdir(dir)) {
    const std::string name = entry->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  ::closedir(dir);
  return names;
}

bool all_digits(const std::string& text) {
  return !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
}

}  // namespace

NetnsGuard::NetnsGuard(const std::string& netns_path) {
  original_ = open_netns(kThreadNetns);
  const int target = [&] {
    try {
      return open_netns(netns_path);
    } catch (...) {
      ::close(original_);
      throw;
    }
  }();
  if (::setns(target, CLONE_NEWNET) != 0) {
    const int error = errno;
    ::close(target);
    ::close(original_);
    throw std::system_error(error, std::generic_category(), "entering network namespace " + netns_path);
  }
  ::close(target);
}

NetnsGuard::~NetnsGuard() {
  if (::setns(original_, CLONE_NEWNET) != 0) {
    std::fprintf(stderr, "riasc: cannot return to the thread's network namespace: %s\n",
                 std::strerror(errno));
    std::abort();
  }
  ::close(original_);
}

std::uint64_t netns_inode(const std::string& netns_path) {
  struct stat status {};
  if (::stat(netns_path.c_str(), &status) != 0) {
    throw std::system_error(errno, std::generic_category(), "reading network namespace " + netns_path);
  }
  return status.st_ino;
}

std::string current_netns_path() { return kThreadNetns; }

std::optional<std::string> find_netns_with_address(const IpAddress& address) {
  std::vector<std::string> candidates;
  for (const auto& name : list_dir("/run/netns")) candidates.push_back("/run/netns/" + name);
  for (const auto& name : list_dir("/proc")) {
    if (all_digits(name)) candidates.push_back("/proc/" + name + "/ns/net");
  }
  std::set<std::uint64_t> seen;
  for (const auto& path : candidates) {
    try {
      if (!seen.insert(netns_inode(path)).second) continue;
      const bool found = in_netns(path, [&] {
        for (const auto& held : Rtnetlink().addresses()) {
          if (held.prefix.address == address) return true;
        }
        return false;
      });
      if (found) return path;
    } catch (const std::system_error&) {
      // The process exited, or its namespace is not ours to enter: not a candidate.
    } catch (const NetlinkError&) {
    }
  }
  return std::nullopt;
}

}  // namespace riasc::net
