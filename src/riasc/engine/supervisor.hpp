#pragma once

// The agent's side of the engine: starts `riasc engine` as a child process on a socket pair,
// gives it its attachments, and keeps it running. When the engine dies it is started again and
// every attachment is given back. The supervisor keeps each attachment's descriptors open, so the
// TAP keeps its carrier and the receiving socket keeps the diverted packets that arrive meanwhile
// (with their arrival times): they are the first the restarted engine reads. The child gets SIGKILL when the
// supervising thread's process ends (PR_SET_PDEATHSIG), so no engine outlives its agent.
//
//   engine::Supervisor engine({.program = "/proc/self/exe"});
//   engine.attach("ns/pod/profile/egress", {.netns_path = ..., .tap = "rse-eth0", ...});

#include <sys/types.h>
#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>

#include "riasc/core/json.hpp"
#include "riasc/core/unique_fd.hpp"
#include "riasc/shaper/shaper.hpp"

namespace riasc::engine {

struct SupervisorOptions {
  std::string program = "/proc/self/exe";  // a riasc binary: started as `PROGRAM engine ...`
  std::optional<int> spin_us{};            // the engine's --spin-us; unset: its cap follows the machine
  // Where restarts and failed replays are reported (level, message); stderr when unset.
  std::function<void(const std::string&, const std::string&)> log;
};

// Where one attachment's packets come from and go to.
struct AttachmentSpec {
  std::string netns_path;  // where the TAP and the sending device are; "" = the agent's own
  std::string tap;         // created when missing
  std::string device;      // the device the emulated packets are sent out of
  shaper::ShaperOptions options;
  std::string trace_path;  // "" = no per-packet trace
  // The seed of the random decisions: unset gives a fresh one. A fixed seed makes a sample of them
  // reproducible (tests); a restarted engine starts that sequence again.
  std::optional<std::uint64_t> seed;
};

class Supervisor {
 public:
  explicit Supervisor(SupervisorOptions options = {});
  ~Supervisor();  // stops the engine
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  // Opens the TAP (creating it), its receiving socket and the sender in the attachment's
  // namespace, and hands them to the engine. Throws std::system_error / std::runtime_error when they cannot
  // be made or the engine refuses; the attachment is then not kept.
  void attach(const std::string& id, const AttachmentSpec& spec);
  // New parameters from `at` (CLOCK_MONOTONIC ns; nullopt = now).
  void change(const std::string& id, const shaper::ShaperOptions& options,
              std::optional<std::int64_t> at = {});
  void detach(const std::string& id);
  [[nodiscard]] bool attached(const std::string& id) const;
  // The engine's counters per attachment; null when it does not answer.
  Json stats();
  [[nodiscard]] std::uint64_t restarts() const { return restarts_; }
  [[nodiscard]] pid_t pid() const;
  [[nodiscard]] bool running() const;

 private:
  void start_locked();
  // The kernel ends of one attachment, kept across engine restarts.
  struct Attached {
    AttachmentSpec spec;
    UniqueFd tap{}, receiver{}, sender{};
  };
  static Attached open_ends(const AttachmentSpec& spec);
  void send_attach_locked(const std::string& id, const Attached& attached);
  Json request_locked(const Json& body, std::span<const int> fds = {});
  void monitor();

  SupervisorOptions options_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::string, Attached> attachments_;
  UniqueFd control_;
  pid_t pid_ = -1;
  bool stopping_ = false;
  std::atomic<std::uint64_t> restarts_{0};
  std::thread monitor_;
};

}  // namespace riasc::engine
