#pragma once

// A controller's work queue, as client-go's rate-limited workqueue: keys ("namespace/name") come
// from any thread (informer handlers, timers); a key waits in the queue at most once however
// often it is added; a key is handed to one worker at a time, and a key added while a worker has
// it is handed out again after done(). Failed keys come back after a per-key exponential backoff.
//
//   client::WorkQueue queue;
//   std::jthread workers([&] { queue.run(4, [&](const std::string& key) { reconcile(key); }); });
//   queue.add("default/web");
//   ...
//   queue.shut_down();

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>

namespace riasc::client {

using Clock = std::chrono::steady_clock;

// Per key: base_delay * 2^(failures so far), at most max_delay; forget() starts a key over.
class ExponentialBackoff {
 public:
  explicit ExponentialBackoff(Clock::duration base_delay = std::chrono::milliseconds(5),
                              Clock::duration max_delay = std::chrono::seconds(1000))
      : base_(base_delay), max_(max_delay) {}

  // The delay for the key's next retry, counting it as one more failure.
  Clock::duration when(const std::string& key);
  void forget(const std::string& key) { failures_.erase(key); }
  [[nodiscard]] int failures(const std::string& key) const;

 private:
  Clock::duration base_;
  Clock::duration max_;
  std::unordered_map<std::string, int> failures_;
};

struct WorkQueueOptions {
  Clock::duration base_delay = std::chrono::milliseconds(5);
  Clock::duration max_delay = std::chrono::seconds(1000);
};

class WorkQueue {
 public:
  explicit WorkQueue(const WorkQueueOptions& options = {});
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  // Nothing happens after shut_down().
  void add(const std::string& key);
  // The key is added once `delay` has passed; a later add_after with an earlier time wins.
  void add_after(const std::string& key, Clock::duration delay);
  // After the key's backoff (base_delay doubling per failure since forget(), up to max_delay).
  void add_rate_limited(const std::string& key);
  // The key succeeded: its next add_rate_limited waits base_delay again.
  void forget(const std::string& key);
  [[nodiscard]] int failures(const std::string& key) const;

  // Pull API: blocks until a key is ready and hands it out; the caller must call done(key) when
  // finished. nullopt once shut down.
  std::optional<std::string> get();
  void done(const std::string& key);

  // Runs `handler` on `workers` threads until shut_down(), returning when all have finished. A
  // handler that returns forgets the key's failures; one that throws retries it rate-limited.
  void run(std::size_t workers, const std::function<void(const std::string& key)>& handler);

  // Wakes every get() with nullopt and drops the keys not yet handed out (queued or delayed):
  // a restarted controller lists everything again, so draining would only delay the stop. Keys
  // being processed finish; their done() is still expected.
  void shut_down();
  [[nodiscard]] bool shutting_down() const;

  // For metrics: keys ready and waiting, adds accepted (deduplicated or not), add_rate_limited
  // calls, and keys handed out and not yet done.
  [[nodiscard]] std::size_t depth() const;
  [[nodiscard]] std::uint64_t adds() const;
  [[nodiscard]] std::uint64_t retries() const;
  [[nodiscard]] std::size_t in_progress() const;

 private:
  void add_locked(const std::string& key);
  void add_after_locked(const std::string& key, Clock::duration delay);
  void promote_due_locked(Clock::time_point now);

  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::string> queue_;
  std::unordered_set<std::string> dirty_;       // must be processed (again); queued unless in processing_
  std::unordered_set<std::string> processing_;  // handed out, done() not yet called
  std::set<std::pair<Clock::time_point, std::string>> waiting_;       // add_after, earliest first
  std::unordered_map<std::string, Clock::time_point> waiting_until_;  // each key's entry in waiting_
  ExponentialBackoff backoff_;
  bool shut_down_ = false;
  std::uint64_t adds_ = 0;
  std::uint64_t retries_ = 0;
};

}  // namespace riasc::client
