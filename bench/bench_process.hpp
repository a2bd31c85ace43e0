#pragma once

// What the benchmarks that start programs share: a child process with its standard error in a
// log file, its CPU time and resident memory read from /proc, and `riasc server` on a fresh data
// folder, ready once it has written its kubeconfig.

#include <fcntl.h>
#include <fmt/format.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

extern "C" char** environ;

namespace riasc::bench {

inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// User + system CPU seconds this process has used so far.
inline double process_cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& time) {
    return static_cast<double>(time.tv_sec) + static_cast<double>(time.tv_usec) / 1e6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// A process's memory four ways, in MiB, from /proc/<pid>/smaps_rollup. RSS counts every page
// mapped, shared library text included (the kernel maps up to 64 KiB around each page touched);
// PSS divides shared pages among the processes that map them; USS is what only this process maps
// (what its exit would free); anonymous is heap, stacks and relocated data.
struct Memory {
  double rss = 0, pss = 0, uss = 0, anonymous = 0;
};

inline Memory memory_of(pid_t pid) {
  std::ifstream rollup(fmt::format("/proc/{}/smaps_rollup", pid));
  Memory memory;
  std::string line;
  while (std::getline(rollup, line)) {
    const auto colon = line.find(':');
    if (colon == std::string::npos || line.find(" kB") == std::string::npos) continue;
    const double mib = std::stod(line.substr(colon + 1)) / 1024.0;
    const std::string key = line.substr(0, colon);
    if (key == "Rss") memory.rss = mib;
    if (key == "Pss") memory.pss = mib;
    if (key == "Private_Clean" || key == "Private_Dirty") memory.uss += mib;
    if (key == "Anonymous") memory.anonymous = mib;
  }
  return memory;
}

// The children of a process (as /proc/<pid>/task/*/children lists them).
inline std::vector<pid_t> children_of(pid_t pid) {
  std::vector<pid_t> children;
  for (const auto& task : std::filesystem::directory_iterator(fmt::format("/proc/{}/task", pid))) {
    std::istringstream list(read_file(task.path() / "children"));
    pid_t child = 0;
    while (list >> child) children.push_back(child);
  }
  return children;
}

// A program started with posix_spawn, its standard error going to `log`; SIGTERM when destroyed.
class ChildProcess {
 public:
  // `quiet`: standard output goes to /dev/null too (programs that print progress).
  ChildProcess(std::vector<std::string> arguments, const std::filesystem::path& log, bool quiet = false) {
    std::vector<char*> argv;
    for (auto& argument : arguments) argv.push_back(argument.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 2, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (quiet) posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    const int failed = posix_spawn(&pid_, arguments.front().c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (failed != 0) throw std::runtime_error("cannot start " + arguments.front());
  }
  ~ChildProcess() { terminate(); }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // SIGTERM, then its exit status (as waitpid gives it); -1 when it had already been reaped.
  int terminate() {
    if (pid_ <= 0) return -1;
    kill(pid_, SIGTERM);
    kill(pid_, SIGCONT);  // a stopped process acts on SIGTERM once continued
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = 0;
    return status;
  }

  [[nodiscard]] pid_t pid() const { return pid_; }

  // Waits until the process stops itself (SIGSTOP) or ends; false when it ended.
  bool wait_for_stop() {
    int status = 0;
    waitpid(pid_, &status, WUNTRACED);
    if (WIFSTOPPED(status)) return true;
    pid_ = 0;
    return false;
  }

  // User + system CPU seconds the process has used so far.
  [[nodiscard]] double cpu_seconds() const {
    const std::string text = read_file(fmt::format("/proc/{}/stat", pid_));
    std::istringstream fields(text.substr(text.rfind(')') + 2));
    std::string field;
    double ticks = 0;
    for (int i = 3; i <= 15 && fields >> field; ++i) {
      if (i == 14 || i == 15) ticks += std::stod(field);
    }
    return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
  }

  [[nodiscard]] double rss_mib() const { return rss_mib_of(fmt::format("/proc/{}/status", pid_)); }

  // VmRSS of a /proc/<pid>/status file (/proc/self/status: this process), in MiB.
  static double rss_mib_of(const std::string& status_file) {
    std::ifstream status(status_file);
    std::string line;
    while (std::getline(status, line)) {
      if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
    }
    return 0;
  }

 private:
  pid_t pid_ = 0;
};

// `riasc server` on a fresh `directory` (removed afterwards) on a free loopback port; the
// constructor returns once its kubeconfig (directory/kubeconfig) is written.
class RiascServer {
 public:
  RiascServer(const std::string& binary, std::filesystem::path directory)
      : directory_(prepare(std::move(directory))),
        process_({binary, "server", "--data-dir", directory_.string(), "--listen", "127.0.0.1:0"},
                 directory_ / "server.log") {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!std::filesystem::exists(kubeconfig())) {
      if (std::chrono::steady_clock::now() > deadline)
        throw std::runtime_error("the server did not start; see " + (directory_ / "server.log").string());
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  ~RiascServer() {
    process_.terminate();
    std::filesystem::remove_all(directory_);
  }
  RiascServer(const RiascServer&) = delete;
  RiascServer& operator=(const RiascServer&) = delete;

  [[nodiscard]] const std::filesystem::path& directory() const { return directory_; }
  [[nodiscard]] std::filesystem::path kubeconfig() const { return directory_ / "kubeconfig"; }
  [[nodiscard]] const ChildProcess& process() const { return process_; }

 private:
  static std::filesystem::path prepare(std::filesystem::path directory) {
    std::filesystem::remove_all(directory);
    std::filesystem::create_directories(directory);
    return directory;
  }

  std::filesystem::path directory_;
  ChildProcess process_;
};

}  // namespace riasc::bench
