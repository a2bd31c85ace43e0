#include "riasc/client/work_queue.hpp"

#include <algorithm>
#include <thread>
#include <vector>

namespace riasc::client {

Clock::duration ExponentialBackoff::when(const std::string& key) {
  int& failures = failures_[key];
  // Doubling stops at max_: no overflow however many failures a key collects.
  Clock::duration delay = base_;
  for (int i = 0; i < failures && delay < max_; ++i) delay *= 2;
  ++failures;
  return std::min(delay, max_);
}

int ExponentialBackoff::failures(const std::string& key) const {
  auto found = failures_.find(key);
  return found == failures_.end() ? 0 : found->second;
}

WorkQueue::WorkQueue(const WorkQueueOptions& options) : backoff_(options.base_delay, options.max_delay) {}

void WorkQueue::add(const std::string& key) {
  std::lock_guard lock(mutex_);
  add_locked(key);
}

void WorkQueue::add_locked(const std::string& key) {
  if (shut_down_) return;
  ++adds_;
  if (!dirty_.insert(key).second) return;
  // A key being processed goes back into the queue at done(), never to a second worker now.
  if (processing_.contains(key)) return;
  queue_.push_back(key);
  ready_.notify_one();
}

void WorkQueue::add_after(const std::string& key, Clock::duration delay) {
  std::lock_guard lock(mutex_);
  add_after_locked(key, delay);
}

void WorkQueue::add_after_locked(const std::string& key, Clock::duration delay) {
  if (shut_down_) return;
  if (delay <= Clock::duration::zero()) {
    add_locked(key);
    return;
  }
  auto due = Clock::now() + delay;
  auto [entry, inserted] = waiting_until_.try_emplace(key, due);
  if (!inserted) {
    if (entry->second <= due) return;
    waiting_.erase({entry->second, key});
    entry->second = due;
  }
  waiting_.emplace(due, key);
  // Sleeping getters wait for the earliest due time, which may now be earlier.
  ready_.notify_all();
}

void WorkQueue::add_rate_limited(const std::string& key) {
  std::lock_guard lock(mutex_);
  if (shut_down_) return;
  ++retries_;
  add_after_locked(key, backoff_.when(key));
}

void WorkQueue::forget(const std::string& key) {
  std::lock_guard lock(mutex_);
  backoff_.forget(key);
}

int WorkQueue::failures(const std::string& key) const {
  std::lock_guard lock(mutex_);
  return backoff_.failures(key);
}

void WorkQueue::promote_due_locked(Clock::time_point now) {
  while (!waiting_.empty() && waiting_.begin()->first <= now) {
    auto node = waiting_.extract(waiting_.begin());
    waiting_until_.erase(node.value().second);
    add_locked(node.value().second);
  }
}

std::optional<std::string> WorkQueue::get() {
  std::unique_lock lock(mutex_);
  // No timer thread: the getters themselves sleep until the earliest delayed key is due.
  for (;;) {
    if (shut_down_) return std::nullopt;
    promote_due_locked(Clock::now());
    if (!queue_.empty()) break;
    if (waiting_.empty()) {
      ready_.wait(lock);
    } else {
      // A copy: wait_until reads the time again after waking, when the entry may be gone.
      const Clock::time_point due = waiting_.begin()->first;
      ready_.wait_until(lock, due);
    }
  }
  std::string key = std::move(queue_.front());
  queue_.pop_front();
  dirty_.erase(key);
  processing_.insert(key);
  return key;
}

void WorkQueue::done(const std::string& key) {
  std::lock_guard lock(mutex_);
  processing_.erase(key);
  if (!shut_down_ && dirty_.contains(key)) {
    queue_.push_back(key);
    ready_.notify_one();
  }
}

void WorkQueue::run(std::size_t workers, const std::function<void(const std::string& key)>& handler) {
  std::vector<std::jthread> threads;
  threads.reserve(workers);
  for (std::size_t i = 0; i < workers; ++i) {
    threads.emplace_back([this, &handler] {
      while (auto key = get()) {
        try {
          handler(*key);
          forget(*key);
        } catch (...) {
          add_rate_limited(*key);
        }
        done(*key);
      }
    });
  }
}

void WorkQueue::shut_down() {
  std::lock_guard lock(mutex_);
  shut_down_ = true;
  queue_.clear();
  dirty_.clear();
  waiting_.clear();
  waiting_until_.clear();
  ready_.notify_all();
}

bool WorkQueue::shutting_down() const {
  std::lock_guard lock(mutex_);
  return shut_down_;
}

std::size_t WorkQueue::depth() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

std::uint64_t WorkQueue::adds() const {
  std::lock_guard lock(mutex_);
  return adds_;
}

std::uint64_t WorkQueue::retries() const {
  std::lock_guard lock(mutex_);
  return retries_;
}

std::size_t WorkQueue::in_progress() const {
  std::lock_guard lock(mutex_);
  return processing_.size();
}

}  // namespace riasc::client
