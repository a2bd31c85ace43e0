#pragma once

// What a handler is given: the object, what changed, a patch to fill, the object's memo and a
// logger. Handlers read; the SDK writes (the patch after the handler returns), so a handler never
// races the framework's own writes to the same object.

#include <chrono>
#include <functional>
#include <stop_token>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "riasc/core/json.hpp"
#include "riasc/operator/index.hpp"

namespace riasc::op {

enum class Reason { Create, Update, Delete, Resume, Field, Timer, Daemon, Index };
std::string_view to_string(Reason reason);

// One changed leaf between the last handled state and the object now.
struct DiffEntry {
  enum class Op { Add, Change, Remove };
  Op op = Op::Change;
  std::vector<std::string> path;  // {"spec", "size"}: keys may hold dots (label names)
  Json old_value;                 // null when added
  Json new_value;                 // null when removed
};
using Diff = std::vector<DiffEntry>;

enum class LogLevel { Debug, Info, Warning, Error };
// Where log lines go: the object ("namespace/name") and the message. Thread-safe.
using LogSink = std::function<void(LogLevel level, const std::string& object, const std::string& message)>;

// A logger that prefixes every line with one object's name, so interleaved handlers stay readable.
class Logger {
 public:
  Logger(std::string object, LogSink sink) : object_(std::move(object)), sink_(std::move(sink)) {}

  template <typename... Args>
  void debug(fmt::format_string<Args...> format, Args&&... args) const {
    log(LogLevel::Debug, fmt::format(format, std::forward<Args>(args)...));
  }
  template <typename... Args>
  void info(fmt::format_string<Args...> format, Args&&... args) const {
    log(LogLevel::Info, fmt::format(format, std::forward<Args>(args)...));
  }
  template <typename... Args>
  void warning(fmt::format_string<Args...> format, Args&&... args) const {
    log(LogLevel::Warning, fmt::format(format, std::forward<Args>(args)...));
  }
  template <typename... Args>
  void error(fmt::format_string<Args...> format, Args&&... args) const {
    log(LogLevel::Error, fmt::format(format, std::forward<Args>(args)...));
  }
  void log(LogLevel level, const std::string& message) const;

 private:
  std::string object_;
  LogSink sink_;
};

// Prints "level object: message" lines to stderr.
LogSink stderr_sink();

namespace detail {
// Everything a Context holds; filled by the SDK.
struct ContextState {
  Reason reason = Reason::Create;
  std::string handler_id;
  int retry = 0;
  Json body;
  Json old_value;
  Json new_value;
  Diff diff;
  Json* memo = nullptr;  // the object's, owned by the operator; outlives the handler
  Logger logger{{}, {}};
  std::stop_token stop;          // daemons only
  std::function<Json()> latest;  // the freshest cached body
  const Indexes* indexes = nullptr;
};
}  // namespace detail

class Context {
 public:
  explicit Context(detail::ContextState state) : state_(std::move(state)) {}

  [[nodiscard]] Reason reason() const { return state_.reason; }
  [[nodiscard]] const std::string& handler_id() const { return state_.handler_id; }
  // Failures of this handler before this call, in this handling cycle.
  [[nodiscard]] int retry() const { return state_.retry; }

  // The object as it was when the handler was called; latest() reads the cache again (daemons).
  [[nodiscard]] const Json& body() const { return state_.body; }
  [[nodiscard]] const Json& metadata() const { return member("metadata"); }
  [[nodiscard]] const Json& spec() const { return member("spec"); }
  [[nodiscard]] const Json& status() const { return member("status"); }
  [[nodiscard]] std::string name() const { return string_member(metadata(), "name"); }
  [[nodiscard]] std::string namespace_name() const { return string_member(metadata(), "namespace"); }
  [[nodiscard]] Json latest() const { return state_.latest ? state_.latest() : state_.body; }

  // Update: the last handled state and the one this cycle handles, as it was when the cycle
  // began (spec, labels, annotations, other top-level fields; never status). Field handlers: the
  // field's values. Create: old is null.
  [[nodiscard]] const Json& old_value() const { return state_.old_value; }
  [[nodiscard]] const Json& new_value() const { return state_.new_value; }
  [[nodiscard]] const Diff& diff() const { return state_.diff; }

  // A JSON merge patch (RFC 7386) applied to the object after the handler, whatever its outcome;
  // its status part goes to the status subresource when the resource has one.
  [[nodiscard]] Json& patch() { return patch_; }
  [[nodiscard]] const Json& patch_document() const { return patch_; }

  // In-memory state per object, kept until the object is gone or the operator stops. Shared with
  // the object's daemons, which run on their own threads: guard it when a daemon touches it.
  [[nodiscard]] Json& memo() { return *state_.memo; }
  [[nodiscard]] const Logger& logger() const { return state_.logger; }

  // The operator's index of this name (see index.hpp); std::out_of_range when there is none.
  [[nodiscard]] const Index& index(std::string_view name) const;

  // Daemons: stop when this is requested (the object is being deleted, or the operator stops).
  [[nodiscard]] std::stop_token stop_token() const { return state_.stop; }
  [[nodiscard]] bool stopping() const { return state_.stop.stop_requested(); }
  // Sleeps, waking early when stopping; returns false when stopping.
  bool sleep_for(std::chrono::milliseconds duration) const;

 private:
  [[nodiscard]] const Json& member(const char* name) const;

  detail::ContextState state_;
  Json patch_ = Json::object();
};

}  // namespace riasc::op
