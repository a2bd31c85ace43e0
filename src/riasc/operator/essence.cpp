#include "riasc/operator/essence.hpp"

#include <charconv>
#include <cstdint>
#include <ctime>

#include <fmt/format.h>

namespace riasc::op::detail {

Json essence_of(const Json& object, std::string_view prefix,
                const std::vector<std::vector<std::string>>& status_fields) {
  Json essence = Json::object();
  for (const auto& [key, value] : object.items()) {
    if (key != "apiVersion" && key != "kind" && key != "metadata" && key != "status") essence[key] = value;
  }
  const Json metadata = object.value("metadata", Json::object());
  if (metadata.contains("labels") && !metadata["labels"].empty())
    essence["metadata"]["labels"] = metadata["labels"];
  Json annotations = Json::object();
  const std::string own = std::string(prefix) + "/";
  const Json all_annotations = metadata.value("annotations", Json::object());
  for (const auto& [key, value] : all_annotations.items()) {
    // kubectl's copy of the whole object would make every edit look like two.
    if (key.starts_with(own) || key == "kubectl.kubernetes.io/last-applied-configuration") continue;
    annotations[key] = value;
  }
  if (!annotations.empty()) essence["metadata"]["annotations"] = std::move(annotations);
  for (const auto& path : status_fields) {
    Json value = value_at(object, path);
    if (value.is_null()) continue;
    Json* target = &essence;
    for (const std::string& step : path) target = &(*target)[step];
    *target = std::move(value);
  }
  return essence;
}

std::vector<std::string> split_path(std::string_view dotted) {
  std::vector<std::string> path;
  std::size_t start = 0;
  for (;;) {
    const std::size_t dot = dotted.find('.', start);
    path.emplace_back(dotted.substr(start, dot == std::string_view::npos ? dotted.npos : dot - start));
    if (dot == std::string_view::npos) return path;
    start = dot + 1;
  }
}

Json value_at(const Json& object, const std::vector<std::string>& path) {
  const Json* current = &object;
  for (const std::string& step : path) {
    if (!current->is_object()) return nullptr;
    auto found = current->find(step);
    if (found == current->end()) return nullptr;
    current = &*found;
  }
  return *current;
}

bool same(const Json& a, const Json& b) {
  if (a.is_object() != b.is_object() || a.is_array() != b.is_array()) return false;
  if (!a.is_structured()) return a == b;
  return nlohmann::json::parse(a.dump()) == nlohmann::json::parse(b.dump());
}

namespace {

void diff_into(const Json& old_value, const Json& new_value, std::vector<std::string>& path, Diff& out) {
  if (same(old_value, new_value)) return;
  if (old_value.is_object() && new_value.is_object()) {
    for (const auto& [key, value] : old_value.items()) {
      path.push_back(key);
      diff_into(value, new_value.contains(key) ? new_value[key] : Json(), path, out);
      path.pop_back();
    }
    for (const auto& [key, value] : new_value.items()) {
      if (old_value.contains(key)) continue;
      path.push_back(key);
      diff_into(Json(), value, path, out);
      path.pop_back();
    }
    return;
  }
  DiffEntry entry;
  entry.op = old_value.is_null()   ? DiffEntry::Op::Add
             : new_value.is_null() ? DiffEntry::Op::Remove
                                   : DiffEntry::Op::Change;
  entry.path = path;
  entry.old_value = old_value;
  entry.new_value = new_value;
  out.push_back(std::move(entry));
}

}  // namespace

Diff diff(const Json& old_value, const Json& new_value) {
  Diff out;
  std::vector<std::string> path;
  diff_into(old_value, new_value, path, out);
  return out;
}

namespace {
template <typename Unit>
std::string format_utc(SystemClock::time_point time, int digits) {
  const auto since_epoch = std::chrono::duration_cast<Unit>(time.time_since_epoch());
  const auto per_second = Unit::period::den;
  const std::time_t seconds = static_cast<std::time_t>(since_epoch.count() / per_second);
  std::tm utc{};
  ::gmtime_r(&seconds, &utc);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:0{}}Z", utc.tm_year + 1900, utc.tm_mon + 1,
                     utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, since_epoch.count() % per_second,
                     digits);
}
}  // namespace

std::string format_time(SystemClock::time_point time) {
  return format_utc<std::chrono::milliseconds>(time, 3);
}
std::string format_micro_time(SystemClock::time_point time) {
  return format_utc<std::chrono::microseconds>(time, 6);
}

Progress Progress::parse(const Json& annotations, const std::string& key) {
  Progress progress;
  if (!annotations.is_object() || !annotations.contains(key) || !annotations[key].is_string())
    return progress;
  const Json record = Json::parse(annotations[key].get<std::string>(), nullptr, false);
  if (!record.is_object()) return progress;  // someone else's text: start over rather than fail
  progress.started = string_member(record, "started");
  // Hand-edited values of the wrong type read as absent rather than failing every reconcile.
  auto flag = [&](const char* name) { return record.contains(name) && record[name] == true; };
  if (record.contains("retries") && record["retries"].is_number_integer())
    progress.retries = record["retries"].get<int>();
  progress.delayed_until = string_member(record, "delayedUntil");
  progress.success = flag("success");
  progress.failure = flag("failure");
  progress.message = string_member(record, "message");
  progress.final = flag("final");
  return progress;
}

std::string Progress::dump() const {
  Json record = {{"started", started}, {"retries", retries}};
  if (!delayed_until.empty()) record["delayedUntil"] = delayed_until;
  if (success) record["success"] = true;
  if (failure) record["failure"] = true;
  if (!message.empty()) record["message"] = message;
  if (final) record["final"] = true;
  return record.dump();
}

namespace {
std::optional<std::uint64_t> resource_version(const Json& object) {
  const std::string text = string_member(object.value("metadata", Json::object()), "resourceVersion");
  std::uint64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}
}  // namespace

bool newer(const Json& candidate, const Json& than) {
  auto a = resource_version(candidate);
  auto b = resource_version(than);
  return a && b && *a > *b;
}

}  // namespace riasc::op::detail
