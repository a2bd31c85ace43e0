#pragma once

// Helpers of the operator SDK tests: the embedded server with a Widget CRD (status subresource,
// any spec), a namespace per test, what handlers were called with, and the events recorded.

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "client_test_support.hpp"
#include "riasc/operator/operator.hpp"
#include "test_support.hpp"

namespace riasc::operator_test {

using namespace std::chrono_literals;

inline const client::GroupVersionResource kWidgets{"example.com", "v1", "widgets"};

// Thread-safe record of handler calls, as "create a" and the like, with when they happened.
class Calls {
 public:
  void add(const std::string& call) {
    std::lock_guard lock(mutex_);
    calls_.push_back(call);
    times_.push_back(std::chrono::steady_clock::now());
  }
  [[nodiscard]] std::vector<std::string> all() const {
    std::lock_guard lock(mutex_);
    return calls_;
  }
  [[nodiscard]] long count(const std::string& call) const {
    std::lock_guard lock(mutex_);
    return std::count(calls_.begin(), calls_.end(), call);
  }
  // When the n-th (from 0) call named `call` happened.
  [[nodiscard]] std::chrono::steady_clock::time_point time_of(const std::string& call, int n) const {
    std::lock_guard lock(mutex_);
    for (std::size_t i = 0; i < calls_.size(); ++i)
      if (calls_[i] == call && n-- == 0) return times_[i];
    return {};
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> calls_;
  std::vector<std::chrono::steady_clock::time_point> times_;
};

// Handled, with nothing left in progress, by records in annotations: the operator is at rest
// for this object.
inline bool at_rest(const Json& object) {
  const Json annotations = object["metadata"].value("annotations", Json::object());
  if (!annotations.contains("riasc.eu/last-handled-configuration") ||
      annotations.contains("riasc.eu/handling-configuration"))
    return false;
  for (const auto& [key, value] : annotations.items())
    if (key.starts_with("riasc.eu/progress-") &&
        value.get<std::string>().find("\"final\"") == std::string::npos)
      return false;
  return true;
}

// Two create handlers of widgets, "first" and "second", recorded in `calls` as "first <name>"
// and "second <name>"; "second" fails with a TemporaryError(200 ms) while `failing(name)` holds.
inline void on_create_first_and_second(op::Operator& operator_, Calls& calls,
                                       std::function<bool(const std::string&)> failing) {
  operator_.on_create(kWidgets, [&calls](op::Context& ctx) { calls.add("first " + ctx.name()); },
                      {.id = "first"});
  operator_.on_create(kWidgets,
                      [&calls, failing = std::move(failing)](op::Context& ctx) {
                        calls.add("second " + ctx.name());
                        if (failing(ctx.name())) throw op::TemporaryError("not yet", 200ms);
                      },
                      {.id = "second"});
}

class OperatorTest : public client_test::ServerTest {
 protected:
  static void SetUpTestSuite() {
    ServerTest::SetUpTestSuite();
    Json crd = test::widget_crd(test::yaml(R"(
type: object
properties:
  spec: {type: object, x-kubernetes-preserve-unknown-fields: true}
  status: {type: object, x-kubernetes-preserve-unknown-fields: true}
)"));
    crd["spec"]["versions"][0]["subresources"] = {{"status", Json::object()}};
    client::Client(admin_config())
        .resource(client::GroupVersionResource{"apiextensions.k8s.io", "v1", "customresourcedefinitions"})
        .create(crd);
  }

  void TearDown() override {
    if (HasFailure()) {
      std::lock_guard lock(log_mutex_);
      for (const std::string& line : log_) std::fprintf(stderr, "%s\n", line.c_str());
    }
  }

  // Short backoffs, this test's namespace, records in annotations; log lines are shown when the
  // test fails.
  op::OperatorOptions options() {
    op::OperatorOptions options;
    options.name = "test";
    options.namespace_name = namespace_;
    options.informer.backoff_base = 50ms;
    // These tests read the records as annotations; operator_records_test covers the others.
    options.records = op::Records::Annotations;
    options.log = [this](op::LogLevel, const std::string& object, const std::string& message) {
      std::lock_guard lock(log_mutex_);
      log_.push_back(object + ": " + message);
    };
    return options;
  }

  client::Resource widgets() { return client_.resource(kWidgets, namespace_); }

  Json create_widget(const std::string& name, Json spec = Json::object()) {
    return widgets().create({{"apiVersion", "example.com/v1"},
                             {"kind", "Widget"},
                             {"metadata", {{"name", name}}},
                             {"spec", spec}});
  }
  // As a user's client would: the server gives up after a few conflicts with the operator's own
  // writes to the same object, which a loaded test machine can make happen.
  Json patch_spec(const std::string& name, const Json& spec) {
    for (int attempt = 0;; ++attempt) {
      try {
        return widgets().patch(name, client::PatchType::Merge, {{"spec", spec}});
      } catch (const client::Conflict&) {
        if (attempt >= 5) throw;
      }
    }
  }
  Json get(const std::string& name) { return widgets().get(name); }
  bool gone(const std::string& name) {
    try {
      (void)get(name);
      return false;
    } catch (const client::NotFound&) {
      return true;
    }
  }
  Json status(const std::string& name) { return get(name).value("status", Json::object()); }
  std::string annotation(const std::string& name, const std::string& key) {
    return get(name)["metadata"].value("annotations", Json::object()).value(key, "");
  }

  // The reasons and messages of the events about object `name`, as "reason: message".
  std::vector<std::string> events_about(const std::string& name) {
    std::vector<std::string> found;
    for (const Json& event :
         client_.resource(client::GroupVersionResource{"", "v1", "events"}, namespace_).list().items)
      if (event["involvedObject"].value("name", "") == name)
        found.push_back(event.value("reason", "") + ": " + event.value("message", ""));
    return found;
  }
  bool has_event(const std::string& name, const std::string& text) {
    auto events = events_about(name);
    return std::any_of(events.begin(), events.end(),
                       [&](const std::string& event) { return event.find(text) != std::string::npos; });
  }

  // The operators' log lines so far, as "<object>: <message>".
  std::vector<std::string> log() {
    std::lock_guard lock(log_mutex_);
    return log_;
  }

  std::mutex log_mutex_;
  std::vector<std::string> log_;
};

}  // namespace riasc::operator_test
