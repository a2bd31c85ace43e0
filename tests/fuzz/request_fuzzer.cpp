// Arbitrary bytes through the request side of the API server, as far as it is pure (kubeapi):
//
//   <request target>\n<engine byte><body>
//
// The target goes to parse_request_target; the engine byte picks what reads the body: the
// protobuf decoder, JSON merge patch, JSON patch, strategic merge patch, server-side apply (with
// and without force, on create) and ownership tracking of ordinary writes, against a fixed live Pod
// (or a custom resource with a list-map schema). Only the documented exceptions may come out;
// anything else, and any broken invariant, aborts.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "riasc/core/json.hpp"
#include "riasc/kubeapi/list_shapes.hpp"
#include "riasc/kubeapi/protobuf_body.hpp"
#include "riasc/kubeapi/resource_path.hpp"
#include "riasc/kubeapi/server_side_apply.hpp"
#include "riasc/kubeapi/status.hpp"
#include "riasc/kubeapi/strategic_merge.hpp"
#include "riasc/schema/schema.hpp"

namespace {

using riasc::Json;
namespace kubeapi = riasc::kubeapi;

constexpr std::string_view kNow = "2024-05-01T10:00:00Z";

void check(bool condition) {
  if (!condition) std::abort();
}

const kubeapi::ListShapes& pod_shapes() {
  static const kubeapi::ListShapes shapes = kubeapi::builtin_list_shapes("", "Pod");
  return shapes;
}

const kubeapi::ListShapes& widget_shapes() {
  static const kubeapi::ListShapes shapes = kubeapi::schema_list_shapes(
      riasc::schema::Schema::compile(Json::parse(R"({"type": "object", "properties": {
        "spec": {"type": "object", "properties": {"items": {"type": "array", "x-kubernetes-list-type": "map",
          "x-kubernetes-list-map-keys": ["id", "kind"],
          "items": {"type": "object", "properties": {"id": {"type": "string"},
                                                     "kind": {"type": "string", "default": "a"}}}},
          "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}}}},
        "status": {"type": "object", "properties": {"conditions": {"type": "array",
          "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"],
          "items": {"type": "object"}}}}}})"),
                                     riasc::schema::Schema::Root::Resource));
  return shapes;
}

kubeapi::ApplyOptions apply_options(const char* manager, const kubeapi::ListShapes& shapes, bool force) {
  kubeapi::ApplyOptions options;
  options.manager = manager;
  options.force = force;
  options.api_version = "v1";
  options.now = std::string(kNow);
  options.shapes = shapes;
  return options;
}

// A Pod as the server stores it after `kubectl apply --server-side` and a `kubectl edit`.
const Json& live_pod() {
  static const Json pod = [] {
    Json config = Json::parse(R"({"apiVersion": "v1", "kind": "Pod",
      "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}, "finalizers": ["a/b"]},
      "spec": {"containers": [{"name": "nginx", "image": "nginx:1.25",
                               "ports": [{"containerPort": 80, "protocol": "TCP"}],
                               "env": [{"name": "A", "value": "1"}]},
                              {"name": "log", "image": "busybox"}],
               "volumes": [{"name": "data", "emptyDir": {}}],
               "tolerations": [{"key": "k", "operator": "Exists"}]},
      "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}})");
    Json applied =
        kubeapi::server_side_apply(nullptr, config, apply_options("kubectl", pod_shapes(), false)).object;
    Json edited = applied;
    edited["spec"]["containers"][1]["image"] = "busybox:1.36";
    return kubeapi::track_update(&applied, edited, "kubectl-edit", "v1", kNow, pod_shapes());
  }();
  return pod;
}

const Json& live_widget() {
  static const Json widget = [] {
    Json config = Json::parse(R"({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
      "spec": {"items": [{"id": "x"}, {"id": "y", "kind": "b"}], "tags": ["t"]},
      "status": {"conditions": [{"type": "Ready", "status": "True"}]}})");
    return kubeapi::server_side_apply(nullptr, config, apply_options("ctl", widget_shapes(), false)).object;
  }();
  return widget;
}

// Ownership tracking of a write that changes nothing changes nothing, and what apply and
// track_update write is readable again.
void check_stored(const Json& object, const kubeapi::ListShapes& shapes) {
  (void)object.dump();
  check(kubeapi::track_update(&object, object, "noop", "v1", kNow, shapes) == object);
}

void apply_twice(const Json* live, const Json& config, const kubeapi::ListShapes& shapes) {
  for (bool force : {false, true}) {
    auto outcome = kubeapi::server_side_apply(live, config, apply_options("fuzzer", shapes, force));
    if (!outcome.conflicts.empty()) {
      check(!force);
      Json status = kubeapi::status_apply_conflict(outcome.conflicts);
      check(kubeapi::status_code(status) == 409);
      continue;
    }
    check_stored(outcome.object, shapes);
    // Applying the same configuration again is a no-op.
    auto again = kubeapi::server_side_apply(&outcome.object, config, apply_options("fuzzer", shapes, false));
    check(again.conflicts.empty());
    check(again.object == outcome.object);
  }
}

void run_engine(std::uint8_t engine, std::string_view body) {
  switch (engine % 9) {
    case 0:
      (void)kubeapi::decode_protobuf_body(body).dump();
      return;
    case 1: {
      Json pod = live_pod();
      pod.merge_patch(Json::parse(body));
      (void)kubeapi::track_update(&live_pod(), pod, "merge-patch", "v1", kNow, pod_shapes()).dump();
      return;
    }
    case 2: {
      Json pod = live_pod().patch(Json::parse(body));
      (void)kubeapi::track_update(&live_pod(), pod, "json-patch", "v1", kNow, pod_shapes()).dump();
      return;
    }
    case 3: {
      Json pod = kubeapi::strategic_merge_patch(live_pod(), Json::parse(body), pod_shapes());
      check_stored(kubeapi::track_update(&live_pod(), pod, "smp", "v1", kNow, pod_shapes()), pod_shapes());
      return;
    }
    case 4:
      apply_twice(&live_pod(), Json::parse(body), pod_shapes());
      return;
    case 5:
      apply_twice(nullptr, Json::parse(body), pod_shapes());
      return;
    case 6: {
      Json object = Json::parse(body);
      (void)kubeapi::track_update(&live_pod(), object, "update", "v1", kNow, pod_shapes()).dump();
      (void)kubeapi::track_update(nullptr, object, "create", "v1", kNow, pod_shapes()).dump();
      // The body as a stored object with managedFields of its own, updated and applied to.
      (void)kubeapi::track_update(&object, live_pod(), "update", "v1", kNow, pod_shapes()).dump();
      if (object.is_object()) {
        Json config = Json::parse(R"({"metadata": {"labels": {"app": "other"}}, "spec": {"replicas": 2}})");
        apply_twice(&object, config, pod_shapes());
      }
      return;
    }
    case 7: {
      Json patch = Json::parse(body);
      Json widget = kubeapi::strategic_merge_patch(live_widget(), patch, widget_shapes());
      check_stored(kubeapi::track_update(&live_widget(), widget, "smp", "v1", kNow, widget_shapes()),
                   widget_shapes());
      return;
    }
    case 8: {
      Json config = Json::parse(body);
      apply_twice(&live_widget(), config, widget_shapes());
      auto status = apply_options("status-ctl", widget_shapes(), false);
      status.only_status = true;
      (void)kubeapi::server_side_apply(&live_widget(), config, status).object.dump();
      status.only_status = false;
      status.ignore_status = true;
      (void)kubeapi::server_side_apply(&live_widget(), config, status).object.dump();
      return;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t newline = input.find('\n');
  const std::string_view target = input.substr(0, newline);
  try {
    auto request = kubeapi::parse_request_target(target);
    (void)request.path.api_version();
    (void)request.path.group_version_path();
  } catch (const kubeapi::PathError&) {
  } catch (const kubeapi::QueryError&) {
  }
  if (newline == std::string_view::npos || newline + 1 >= input.size()) return 0;
  // '0'..'8' name the engines in the seed corpus; other bytes pick one too.
  const char selector = input[newline + 1];
  const auto engine =
      static_cast<std::uint8_t>(selector >= '0' && selector <= '8' ? selector - '0' : selector);
  const std::string_view body = input.substr(newline + 2);
  try {
    run_engine(engine, body);
  } catch (const kubeapi::PatchError&) {
  } catch (const kubeapi::ProtobufError&) {
  } catch (const Json::exception&) {
  }
  return 0;
}
