#include "riasc/runtime/container_process.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>

namespace riasc::runtime {
namespace {

// What the child reports through its close-on-exec pipe when a step before exec fails.
enum class Step : int { Session, DeathSignal, Cgroup, Namespace, Hosts, Hostname, Output, Directory, Exec };

const char* describe(Step step) {
  switch (step) {
    case Step::Session:
      return "starting a session";
    case Step::DeathSignal:
      return "setting the parent-death signal";
    case Step::Cgroup:
      return "joining the container's cgroup";
    case Step::Namespace:
      return "entering the pod's network namespace";
    case Step::Hosts:
      return "mounting the pod's /etc/hosts";
    case Step::Hostname:
      return "setting the pod's host name";
    case Step::Output:
      return "redirecting output to the log";
    case Step::Directory:
      return "changing to the working directory";
    case Step::Exec:
      return "exec";
  }
  return "starting";
}

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  [[nodiscard]] int get() const { return fd_; }

 private:
  int fd_;
};

[[noreturn]] void fail_in_child(int report_fd, Step step) {
  const int report[2] = {static_cast<int>(step), errno};
  [[maybe_unused]] auto written = ::write(report_fd, report, sizeof report);
  ::_exit(127);
}

std::string value_of(const std::vector<std::string>& env, const std::string& name) {
  for (const auto& entry : env) {
    if (entry.size() > name.size() && entry.compare(0, name.size(), name) == 0 && entry[name.size()] == '=')
      return entry.substr(name.size() + 1);
  }
  return "";
}

}  // namespace

std::optional<std::string> find_executable(const std::string& file, const std::string& path,
                                           const std::string& working_dir) {
  auto executable = [](const std::filesystem::path& candidate) {
    std::error_code error;
    return std::filesystem::is_regular_file(candidate, error) && ::access(candidate.c_str(), X_OK) == 0;
  };
  if (file.find('/') != std::string::npos) {
    const std::filesystem::path candidate = std::filesystem::path(working_dir) / file;
    if (executable(candidate)) return candidate.lexically_normal().string();
    return std::nullopt;
  }
  std::size_t start = 0;
  while (start <= path.size()) {
    const std::size_t end = std::min(path.find(':', start), path.size());
    const std::string directory = path.substr(start, end - start);
    const std::filesystem::path candidate = std::filesystem::path(directory.empty() ? "." : directory) / file;
    if (executable(candidate)) return candidate.string();
    start = end + 1;
  }
  return std::nullopt;
}

ContainerProcess ContainerProcess::start(const ProcessSpec& spec) {
  if (spec.argv.empty()) throw StartError("no command to run");
  const std::string path_variable = value_of(spec.env, "PATH");
  const auto executable = find_executable(spec.argv[0], path_variable, spec.working_dir);
  if (!executable) {
    throw StartError(
        fmt::format("exec: \"{}\": executable file not found in $PATH ({})", spec.argv[0],
                    spec.argv[0].find('/') != std::string::npos ? spec.working_dir : path_variable));
  }
  // Everything the child needs is prepared here: between fork and exec only system calls run.
  std::vector<char*> argv;
  for (const auto& argument : spec.argv) argv.push_back(const_cast<char*>(argument.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (const auto& entry : spec.env) envp.push_back(const_cast<char*>(entry.c_str()));
  envp.push_back(nullptr);
  Fd log(::open(spec.log_path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640));
  if (log.get() < 0)
    throw StartError(fmt::format("opening the log {}: {}", spec.log_path, std::strerror(errno)));
  Fd null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  Fd cgroup(spec.cgroup_dir.empty()
                ? -1
                : ::open((spec.cgroup_dir + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC));
  if (!spec.cgroup_dir.empty() && cgroup.get() < 0) {
    throw StartError(fmt::format("opening cgroup {}: {}", spec.cgroup_dir, std::strerror(errno)));
  }
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) throw StartError(fmt::format("pipe: {}", std::strerror(errno)));
  Fd report_read(report[0]);
  const pid_t parent = ::getpid();
  sigset_t all;
  sigfillset(&all);
  sigset_t previous;
  // Signals stay blocked across fork until the child has reset its handlers.
  pthread_sigmask(SIG_SETMASK, &all, &previous);
  const pid_t pid = ::fork();
  if (pid == 0) {
    for (int number = 1; number < NSIG; ++number) ::signal(number, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    if (::setsid() < 0) fail_in_child(report[1], Step::Session);
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) fail_in_child(report[1], Step::DeathSignal);
    if (::getppid() != parent) ::_exit(127);  // the runtime is already gone
    if (cgroup.get() >= 0 && ::write(cgroup.get(), "0", 1) != 1) fail_in_child(report[1], Step::Cgroup);
    if (spec.netns_fd >= 0 && ::setns(spec.netns_fd, CLONE_NEWNET) != 0)
      fail_in_child(report[1], Step::Namespace);
    if (!spec.hosts_file.empty()) {
      // Mounts made here stay in the container's own namespace (private propagation).
      if (::unshare(CLONE_NEWNS | CLONE_NEWUTS) != 0 ||
          ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
          ::mount(spec.hosts_file.c_str(), "/etc/hosts", nullptr, MS_BIND, nullptr) != 0)
        fail_in_child(report[1], Step::Hosts);
      if (::sethostname(spec.hostname.data(), spec.hostname.size()) != 0)
        fail_in_child(report[1], Step::Hostname);
    }
    if (::dup2(null.get(), 0) < 0 || ::dup2(log.get(), 1) < 0 || ::dup2(log.get(), 2) < 0)
      fail_in_child(report[1], Step::Output);
    if (::chdir(spec.working_dir.c_str()) != 0) fail_in_child(report[1], Step::Directory);
    ::execve(executable->c_str(), argv.data(), envp.data());
    fail_in_child(report[1], Step::Exec);
  }
  const int fork_errno = errno;
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  ::close(report[1]);
  if (pid < 0) throw StartError(fmt::format("fork: {}", std::strerror(fork_errno)));
  ContainerProcess process;
  process.pid_ = pid;
  process.pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  int failure[2] = {0, 0};
  ssize_t got = 0;
  do {
    got = ::read(report_read.get(), failure, sizeof failure);
  } while (got < 0 && errno == EINTR);
  if (got > 0) {
    process.reap_blocking();
    throw StartError(fmt::format("{}{}: {}", describe(static_cast<Step>(failure[0])),
                                 failure[0] == static_cast<int>(Step::Exec) ? " " + *executable : "",
                                 std::strerror(failure[1])));
  }
  if (process.pidfd_ < 0) {
    const int error = errno;
    process.signal(SIGKILL);
    process.reap_blocking();
    throw StartError(fmt::format("pidfd_open: {}", std::strerror(error)));
  }
  return process;
}

ContainerProcess::ContainerProcess(ContainerProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)), pidfd_(std::exchange(other.pidfd_, -1)) {}

ContainerProcess& ContainerProcess::operator=(ContainerProcess&& other) noexcept {
  if (this != &other) {
    if (pid_ > 0) {
      signal(SIGKILL);
      reap_blocking();
    }
    pid_ = std::exchange(other.pid_, -1);
    pidfd_ = std::exchange(other.pidfd_, -1);
  }
  return *this;
}

ContainerProcess::~ContainerProcess() {
  if (pid_ > 0) {
    signal(SIGKILL);
    reap_blocking();
  }
}

void ContainerProcess::signal(int number) const {
  if (pid_ <= 0) return;
  // The group first (the container's children too), then the process itself in case it left
  // its group.
  ::kill(-pid_, number);
  ::kill(pid_, number);
}

std::optional<ExitStatus> ContainerProcess::reap() {
  if (pid_ <= 0) return std::nullopt;
  int status = 0;
  const pid_t done = ::waitpid(pid_, &status, WNOHANG);
  if (done != pid_) return std::nullopt;
  pid_ = -1;
  if (pidfd_ >= 0) ::close(pidfd_);
  pidfd_ = -1;
  if (WIFSIGNALED(status)) return ExitStatus{128 + WTERMSIG(status), WTERMSIG(status)};
  return ExitStatus{WEXITSTATUS(status), std::nullopt};
}

void ContainerProcess::reap_blocking() {
  if (pid_ <= 0) return;
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  if (pidfd_ >= 0) ::close(pidfd_);
  pidfd_ = -1;
}

}  // namespace riasc::runtime
