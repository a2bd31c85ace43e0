#include "riasc/operator/context.hpp"

#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <stdexcept>

namespace riasc::op {

std::string_view to_string(Reason reason) {
  switch (reason) {
    case Reason::Create:
      return "create";
    case Reason::Update:
      return "update";
    case Reason::Delete:
      return "delete";
    case Reason::Resume:
      return "resume";
    case Reason::Field:
      return "field";
    case Reason::Timer:
      return "timer";
    case Reason::Daemon:
      return "daemon";
    case Reason::Index:
      return "index";
  }
  return "unknown";
}

void Logger::log(LogLevel level, const std::string& message) const {
  if (sink_) sink_(level, object_, message);
}

LogSink stderr_sink() {
  return [](LogLevel level, const std::string& object, const std::string& message) {
    static constexpr const char* kNames[] = {"debug", "info", "warning", "error"};
    // One write per line: lines of concurrent handlers do not interleave.
    const std::string line = fmt::format("{} {}: {}\n", kNames[static_cast<int>(level)], object, message);
    std::fwrite(line.data(), 1, line.size(), stderr);
  };
}

const Json& Context::member(const char* name) const {
  static const Json kEmpty = Json::object();
  if (!state_.body.is_object()) return kEmpty;
  auto found = state_.body.find(name);
  return found == state_.body.end() ? kEmpty : *found;
}

const Index& Context::index(std::string_view name) const {
  if (state_.indexes)
    if (auto found = state_.indexes->find(name); found != state_.indexes->end()) return *found->second;
  throw std::out_of_range(fmt::format("no index named \"{}\" is registered with the operator", name));
}

bool Context::sleep_for(std::chrono::milliseconds duration) const {
  // Local: the stop callback wakes exactly this wait, and nothing outlives the call.
  std::mutex mutex;
  std::condition_variable_any wake;
  std::unique_lock lock(mutex);
  std::stop_token stop = state_.stop;
  wake.wait_for(lock, stop, duration, [] { return false; });
  return !stop.stop_requested();
}

}  // namespace riasc::op
