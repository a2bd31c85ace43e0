#pragma once

// A value built from stored objects (webhook configurations, RBAC roles and bindings) and kept
// until ObjectService writes one of them: a request then costs a pointer copy instead of parsing
// the store. Requests racing a write may use the older value, as kube-apiserver's informer-fed
// caches lag a write too.

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>

namespace riasc::apiserver {

template <typename Value>
class StoreSnapshot {
 public:
  // The next get() builds the value again.
  void invalidate() { version_.fetch_add(1); }

  // The current value, built by `build()` (returning Value) when none is current.
  template <typename Build>
  std::shared_ptr<const Value> get(Build&& build) {
    // The version is read before the store: a write meanwhile bumps it again, so the next call
    // builds once more rather than keeping a value older than its version says.
    const std::uint64_t version = version_.load();
    {
      std::lock_guard lock(mutex_);
      if (value_ && built_ == version) return value_;
    }
    auto made = std::make_shared<const Value>(build());
    std::lock_guard lock(mutex_);
    if (!value_ || built_ <= version) {
      value_ = made;
      built_ = version;
    }
    return made;
  }

 private:
  std::atomic<std::uint64_t> version_{1};
  std::mutex mutex_;
  std::uint64_t built_ = 0;
  std::shared_ptr<const Value> value_;
};

}  // namespace riasc::apiserver
