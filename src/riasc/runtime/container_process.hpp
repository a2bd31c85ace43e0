#pragma once

// Starting a container's command as a process of this machine inside its pod's network
// namespace, and the signals and exit status that follow. There is no image: the command runs
// with the host's filesystem, so manifests name programs that exist here (docs/runtime.md).

#include <sys/types.h>

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace riasc::runtime {

struct ProcessSpec {
  std::vector<std::string> argv;  // argv[0] is looked up in the PATH of `env` unless it has a '/'
  std::vector<std::string> env;   // "NAME=value", the whole environment
  std::string working_dir = "/";
  int netns_fd = -1;       // setns target; -1: stay in this process's namespace
  std::string log_path;    // stdout and stderr are appended here; stdin is /dev/null
  std::string cgroup_dir;  // "": no cgroup; else the process moves there before exec
  // Non-empty: the process gets mount and UTS namespaces of its own, with this file over
  // /etc/hosts (so pods find each other by name) and `hostname` as its host name, as in a pod.
  std::string hosts_file;
  std::string hostname;
};

// Why a process could not start: "exec: \"foo\": executable file not found in $PATH", as
// kubelet words it, or the failing step with its errno.
class StartError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ExitStatus {
  int exit_code = 0;          // as a shell reports it: 128 + signal when killed
  std::optional<int> signal;  // set when a signal ended it
};

class ContainerProcess {
 public:
  // fork + exec. The child gets its own session (a process group the runtime signals as a
  // whole) and SIGKILL when the thread that started it ends, so containers never outlive the
  // runtime. Call from a thread that lives as long as the containers. Throws StartError.
  static ContainerProcess start(const ProcessSpec& spec);

  ContainerProcess() = default;
  ContainerProcess(ContainerProcess&& other) noexcept;
  ContainerProcess& operator=(ContainerProcess&& other) noexcept;
  ContainerProcess(const ContainerProcess&) = delete;
  ContainerProcess& operator=(const ContainerProcess&) = delete;
  ~ContainerProcess();  // kills and reaps a process still running

  [[nodiscard]] pid_t pid() const { return pid_; }
  // Becomes readable when the process exits (poll(2)); -1 once reaped.
  [[nodiscard]] int pidfd() const { return pidfd_; }
  // Signals the whole process group.
  void signal(int signal) const;
  // The exit status if the process has ended (then it is reaped), else nullopt.
  std::optional<ExitStatus> reap();

 private:
  void reap_blocking();

  pid_t pid_ = -1;
  int pidfd_ = -1;
};

// The executable `file` resolves to through `path` (a PATH value), relative to `working_dir`
// when it has a '/'; nullopt when none is executable.
std::optional<std::string> find_executable(const std::string& file, const std::string& path,
                                           const std::string& working_dir);

}  // namespace riasc::runtime
