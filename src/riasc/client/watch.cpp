#include "riasc/client/watch.hpp"

#include <fmt/format.h>

#include <atomic>
#include <mutex>
#include <optional>

#include "riasc/client/errors.hpp"
#include "riasc/client/transport.hpp"

namespace riasc::client {

struct WatchStream::State {
  std::shared_ptr<detail::Transport> transport;
  std::string target;  // path and query, without resourceVersion
  // Made with the stream, so cancel() always has it to shut down: no window where a run() has
  // started a connection cancel() cannot see.
  std::unique_ptr<http::Client> connection;
  std::atomic<bool> cancelled{false};
  mutable std::mutex mutex;
  std::string resource_version;
};

namespace {

std::optional<EventType> event_type(std::string_view name) {
  if (name == "ADDED") return EventType::Added;
  if (name == "MODIFIED") return EventType::Modified;
  if (name == "DELETED") return EventType::Deleted;
  if (name == "BOOKMARK") return EventType::Bookmark;
  if (name == "ERROR") return EventType::Error;
  return std::nullopt;
}

// An error answer (not 200) is one Status object, kept for the exception; bounded so a strange
// server cannot fill memory.
constexpr std::size_t kMaxErrorBody = 64 * 1024;

}  // namespace

void WatchEvent::throw_if_error() const {
  if (type == EventType::Error) throw_status(object);
}

WatchStream::WatchStream(std::shared_ptr<State> state) : state_(std::move(state)) {}
WatchStream::~WatchStream() = default;
WatchStream::WatchStream(WatchStream&&) noexcept = default;
WatchStream& WatchStream::operator=(WatchStream&&) noexcept = default;

void WatchStream::cancel() const {
  state_->cancelled = true;
  state_->connection->cancel();
}

std::string WatchStream::resource_version() const {
  std::lock_guard lock(state_->mutex);
  return state_->resource_version;
}

WatchEnd WatchStream::run(const std::function<bool(const WatchEvent&)>& on_event) {
  State& state = *state_;
  std::string target = state.target;
  if (std::string from = resource_version(); !from.empty())
    target += "&resourceVersion=" + detail::escape(from);

  std::string pending;  // an event's line not yet complete
  std::string other;    // what was not an event: an error answer's body
  std::exception_ptr failure;
  bool stopped = false;

  // false stops the stream.
  auto deliver = [&](std::string_view line) {
    Json parsed = Json::parse(line, nullptr, false);
    std::optional<EventType> type;
    if (!parsed.is_discarded() && parsed.is_object()) type = event_type(string_member(parsed, "type"));
    if (!type || !parsed.contains("object")) {
      if (other.size() < kMaxErrorBody) other.append(line);
      return true;
    }
    WatchEvent event{*type, std::move(parsed["object"])};
    if (event.type != EventType::Error && event.object.contains("metadata") &&
        event.object["metadata"].is_object()) {
      std::string version = string_member(event.object["metadata"], "resourceVersion");
      if (!version.empty()) {
        std::lock_guard lock(state.mutex);
        state.resource_version = std::move(version);
      }
    }
    try {
      if (on_event(event)) return true;
      stopped = true;
    } catch (...) {
      // Not thrown through the HTTP parser's callback: kept, the stream closed, then rethrown.
      failure = std::current_exception();
    }
    return false;
  };

  auto on_data = [&](std::string_view data) {
    pending.append(data);
    std::size_t start = 0;
    for (std::size_t end = 0; (end = pending.find('\n', start)) != std::string::npos; start = end + 1) {
      if (end > start && !deliver(std::string_view(pending).substr(start, end - start))) return false;
    }
    pending.erase(0, start);
    return true;
  };

  unsigned status = 0;
  try {
    status = state.connection->stream("GET", state.transport->full_path(target), on_data,
                                      state.transport->headers());
  } catch (const std::exception& error) {
    if (state.cancelled) return WatchEnd::Cancelled;
    throw ConnectionError(fmt::format("watch {}: {}", state.transport->config().server, error.what()));
  }
  if (failure) std::rethrow_exception(failure);
  if (state.cancelled || status == 0) return WatchEnd::Cancelled;
  if (status >= 400) throw_api_error(static_cast<int>(status), other + pending);
  return stopped ? WatchEnd::Stopped : WatchEnd::Closed;
}

namespace detail {

WatchStream open_watch(std::shared_ptr<Transport> transport, std::string path_and_query,
                       std::string resource_version) {
  auto state = std::make_shared<WatchStream::State>();
  state->connection = transport->connect();
  state->transport = std::move(transport);
  state->target = std::move(path_and_query);
  state->resource_version = std::move(resource_version);
  return WatchStream(std::move(state));
}

}  // namespace detail

}  // namespace riasc::client
