#include "riasc/engine/supervisor.hpp"

#include <fmt/format.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <random>
#include <system_error>

#include "riasc/engine/devices.hpp"
#include "riasc/engine/protocol.hpp"
#include "riasc/net/netns.hpp"
#include "riasc/net/rtnetlink.hpp"

namespace riasc::engine {
namespace {

constexpr int kChildControlFd = 3;

}  // namespace

Supervisor::Attached Supervisor::open_ends(const AttachmentSpec& spec) {
  auto open = [&] {
    net::Rtnetlink rtnl;
    auto device = rtnl.link(spec.device);
    if (!device)
      throw std::runtime_error(fmt::format("no device {} to send emulated packets out of", spec.device));
    Attached ends{.spec = spec};
    ends.tap = open_tap(spec.tap, device->mtu);
    auto tap = rtnl.link(spec.tap);
    if (!tap) throw std::runtime_error(fmt::format("TAP {} vanished as it was made", spec.tap));
    ends.receiver = open_receiver(tap->index);
    ends.sender = open_sender(device->index);
    return ends;
  };
  return spec.netns_path.empty() ? open() : net::in_netns(spec.netns_path, open);
}

Supervisor::Supervisor(SupervisorOptions options) : options_(std::move(options)) {
  if (!options_.log) {
    options_.log = [](const std::string& level, const std::string& message) {
      fmt::print(stderr, "{{\"level\":\"{}\",\"logger\":\"engine-supervisor\",\"msg\":{}}}\n", level,
                 Json(message).dump());
    };
  }
  std::unique_lock lock(mutex_);
  monitor_ = std::thread([this] { monitor(); });
  // The first engine is started by the monitor thread (PR_SET_PDEATHSIG follows the thread that
  // forks, so every fork comes from the one thread that lives as long as the supervisor).
  changed_.wait(lock, [&] { return pid_ > 0 || stopping_ || restarts_ > 0; });
}

Supervisor::~Supervisor() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    control_.reset();  // the engine ends when its control socket closes
    if (pid_ > 0) ::kill(pid_, SIGTERM);
  }
  changed_.notify_all();
  if (monitor_.joinable()) monitor_.join();
}

void Supervisor::start_locked() {
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0)
    throw std::system_error(errno, std::generic_category(), "creating the engine's socket pair");
  UniqueFd ours(pair[0]);
  UniqueFd theirs(pair[1]);
  const std::string spin = std::to_string(options_.spin_us.value_or(0));
  const std::string fd = std::to_string(kChildControlFd);
  // argv[0] "riasc" whatever the program's path (/proc/self/exe by default): `ps` and `pgrep -f
  // 'riasc engine'` then find it.
  std::vector<const char*> argv{"riasc", "engine", "--control-fd", fd.c_str()};
  if (options_.spin_us) argv.insert(argv.end(), {"--spin-us", spin.c_str()});
  argv.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t child = ::fork();
  if (child < 0) throw std::system_error(errno, std::generic_category(), "starting the engine");
  if (child == 0) {
    // Only async-signal-safe calls from here to exec.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    sigset_t none;  // the agent blocks SIGINT and SIGTERM to sigwait for them; the engine must not
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    if (::getppid() != parent) ::_exit(1);
    if (::dup2(theirs.get(), kChildControlFd) < 0) ::_exit(1);
    ::execv(options_.program.c_str(), const_cast<char* const*>(argv.data()));
    ::_exit(127);
  }
  theirs.reset();
  timeval timeout{5, 0};  // an engine that does not answer within 5 s is treated as dead
  ::setsockopt(ours.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  control_ = std::move(ours);
  pid_ = child;
}

Json Supervisor::request_locked(const Json& body, std::span<const int> fds) {
  if (!control_) throw std::runtime_error("the engine is not running");
  send_message(control_.get(), body, fds);
  std::optional<Message> answer = receive_message(control_.get());
  if (!answer) throw std::runtime_error("the engine closed its control socket");
  if (answer->body.contains("error"))
    throw std::runtime_error(fmt::format("the engine refused {}: {}", body.value("op", ""),
                                         answer->body["error"].get<std::string>()));
  return std::move(answer->body);
}

void Supervisor::send_attach_locked(const std::string& id, const Attached& attached) {
  const AttachmentSpec& spec = attached.spec;
  const std::uint64_t seed = spec.seed.value_or(std::random_device{}());
  Json body = {{"op", "attach"}, {"id", id}, {"options", to_json(spec.options)}, {"seed", seed}};
  if (!spec.trace_path.empty()) body["trace"] = spec.trace_path;
  const std::array<int, 3> fds{attached.tap.get(), attached.receiver.get(), attached.sender.get()};
  request_locked(body, fds);
}

void Supervisor::attach(const std::string& id, const AttachmentSpec& spec) {
  Attached attached = open_ends(spec);
  std::lock_guard lock(mutex_);
  send_attach_locked(id, attached);
  attachments_.insert_or_assign(id, std::move(attached));
}

void Supervisor::change(const std::string& id, const shaper::ShaperOptions& options,
                        std::optional<std::int64_t> at) {
  std::lock_guard lock(mutex_);
  auto it = attachments_.find(id);
  if (it == attachments_.end()) throw std::invalid_argument(fmt::format("no attachment {}", id));
  it->second.spec.options = options;  // kept first: a restarted engine gets the new parameters
  Json body = {{"op", "change"}, {"id", id}, {"options", to_json(options)}};
  if (at) body["at"] = *at;
  request_locked(body);
}

void Supervisor::detach(const std::string& id) {
  std::lock_guard lock(mutex_);
  if (attachments_.erase(id) == 0) return;
  try {
    request_locked({{"op", "detach"}, {"id", id}});
  } catch (const std::exception& error) {
    // Not kept any more, so a restarted engine will not have it either.
    options_.log("warning", fmt::format("detaching {}: {}", id, error.what()));
  }
}

bool Supervisor::attached(const std::string& id) const {
  std::lock_guard lock(mutex_);
  return attachments_.contains(id);
}

Json Supervisor::stats() {
  std::lock_guard lock(mutex_);
  try {
    return request_locked({{"op", "stats"}});
  } catch (const std::exception&) {
    return nullptr;
  }
}

pid_t Supervisor::pid() const {
  std::lock_guard lock(mutex_);
  return pid_;
}

bool Supervisor::running() const {
  std::lock_guard lock(mutex_);
  return pid_ > 0;
}

void Supervisor::monitor() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    try {
      start_locked();
      for (const auto& [id, attached] : attachments_) {
        try {
          send_attach_locked(id, attached);
        } catch (const std::exception& error) {
          options_.log("warning",
                       fmt::format("giving {} back to the restarted engine: {}", id, error.what()));
        }
      }
    } catch (const std::exception& error) {
      options_.log("error", error.what());
    }
    changed_.notify_all();
    const pid_t child = pid_;
    if (child > 0) {
      lock.unlock();
      int status = 0;
      while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
      }
      lock.lock();
      pid_ = -1;
      control_.reset();
      if (stopping_) break;
      options_.log("error",
                   WIFSIGNALED(status)
                       ? fmt::format("the engine (pid {}) was killed by signal {}; starting it again", child,
                                     WTERMSIG(status))
                       : fmt::format("the engine (pid {}) exited with {}; starting it again", child,
                                     WEXITSTATUS(status)));
    }
    ++restarts_;
    // A short pause, so an engine that cannot start does not spin; well inside the second in which
    // diverted traffic must flow again.
    changed_.wait_for(lock, std::chrono::milliseconds(100), [&] { return stopping_; });
  }
  changed_.notify_all();
}

}  // namespace riasc::engine
