#pragma once

// What a handler throws to steer its retries, as kopf's TemporaryError and PermanentError. Any
// other exception is retried too, after an exponential backoff, since it is most likely a
// transient failure the handler did not foresee.

#include <chrono>
#include <stdexcept>
#include <string>

namespace riasc::op {

// Try again after `delay` (kopf's default is a minute). Counts as a retry.
class TemporaryError : public std::runtime_error {
 public:
  explicit TemporaryError(const std::string& message,
                          std::chrono::milliseconds delay = std::chrono::seconds(60))
      : std::runtime_error(message), delay_(delay) {}
  [[nodiscard]] std::chrono::milliseconds delay() const { return delay_; }

 private:
  std::chrono::milliseconds delay_;
};

// Never retry this handler for this change; the reason is kept in its progress annotation and
// reported as a Warning event.
class PermanentError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace riasc::op
