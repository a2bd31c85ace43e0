#pragma once

// A watch: one long-running request whose events are handed to a callback as they arrive.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "riasc/core/json.hpp"

namespace riasc::client {

enum class EventType { Added, Modified, Deleted, Bookmark, Error };

struct WatchEvent {
  EventType type = EventType::Added;
  Json object;  // the object; for Bookmark only kind, apiVersion and resourceVersion; for Error a Status

  // For an Error event, throws its Status as the typed ApiError (410 Expired: Gone, relist).
  void throw_if_error() const;
};

// Why run() returned.
enum class WatchEnd {
  Stopped,    // the callback returned false
  Closed,     // the server ended the watch (timeoutSeconds, an ERROR event, shutdown)
  Cancelled,  // cancel()
};

class WatchStream {
 public:
  struct State;  // the library's; a WatchStream comes from Resource::watch()
  explicit WatchStream(std::shared_ptr<State> state);
  ~WatchStream();
  WatchStream(WatchStream&&) noexcept;
  WatchStream& operator=(WatchStream&&) noexcept;

  // Blocks, calling `on_event` for each event until it returns false, the server ends the
  // stream or cancel() is called. An exception from `on_event` closes the stream and propagates.
  // A failed request throws its ApiError (or ConnectionError). Called again, it watches on from
  // resource_version().
  WatchEnd run(const std::function<bool(const WatchEvent&)>& on_event);

  // From any thread: run() returns Cancelled promptly (the socket is shut down, no event needs
  // to arrive), and later runs return at once.
  void cancel() const;

  // The resourceVersion of the last event or bookmark received, else the one the watch began
  // from: where to resume.
  [[nodiscard]] std::string resource_version() const;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace riasc::client
