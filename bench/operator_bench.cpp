// The operator SDK's figures (docs/benchmarks.md), against `riasc server` started as its own
// process on loopback (so that this process is the operator alone):
//   (a) reconciles/s: N objects of a CRD exist; an operator with one on_create handler returning
//       a small result starts; timed until every object's cycle is complete (handler run, result
//       in status, last-handled record written), seen by a separate watch: with the defaults
//       (HandlerSucceeded events; records in the status, where this CRD's schema keeps them),
//       without success events (one write per object), and without them with the records in
//       annotations (two writes: the status subresource and the object);
//   (b) dispatch: a second operator starts on the N handled objects, where nothing is due; the
//       time and CPU per reconcile from its caches being filled until it has reconciled all N
//       are the SDK's own cost (work queue, cache read, essence and diff), no API call;
//   (c) memory per cached object: RSS growth of an informer holding the N objects, and of the
//       second operator, against the objects' average JSON size;
//   (d) idle RSS of the example operator (build/examples/operators/greeting_operator) after it
//       has synced on an empty namespace, and with 10 Greetings handled.
//
//   riasc_operator_bench [OBJECTS]    (default 10000)
#include <malloc.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "bench_process.hpp"
#include "riasc/client/client.hpp"
#include "riasc/client/informer.hpp"
#include "riasc/core/yaml_document.hpp"
#include "riasc/operator/operator.hpp"

namespace {

using namespace riasc;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using bench::ChildProcess;

const client::GroupVersionResource kCrds{"apiextensions.k8s.io", "v1", "customresourcedefinitions"};
const client::GroupVersionResource kNamespaces{"", "v1", "namespaces"};
const client::GroupVersionResource kSensors{"bench.riasc.eu", "v1", "sensors"};
const client::GroupVersionResource kGreetings{"example.riasc.eu", "v1", "greetings"};
constexpr const char* kLastHandled = "riasc.eu/last-handled-configuration";

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}
double own_rss_mib() { return ChildProcess::rss_mib_of("/proc/self/status"); }
// Bytes the program holds from malloc, in all arenas: what a cache costs, without the pages
// glibc keeps after a burst of transient allocations (the list being parsed).
double heap_in_use_bytes() {
  const struct mallinfo2 info = mallinfo2();
  return static_cast<double>(info.uordblks + info.hblkhd);
}
// After freeing, so that RSS counts what is held rather than what glibc keeps.
double trimmed_rss_mib() {
  malloc_trim(0);
  return own_rss_mib();
}

void create_namespace(client::Client& api, const std::string& name) {
  api.resource(kNamespaces)
      .create({{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", name}}}});
}

// Creates a CRD and waits until its resource is served.
void install_crd(client::Client& api, const Json& crd, const client::GroupVersionResource& resource) {
  api.resource(kCrds).create(crd);
  for (int i = 0; i < 200; ++i) {
    try {
      (void)api.resolve(resource);
      return;
    } catch (const client::NotFound&) {
      std::this_thread::sleep_for(50ms);
    }
  }
  throw std::runtime_error("the CRD's resource is not served");
}

Json sensor_crd() {
  return {
      {"apiVersion", "apiextensions.k8s.io/v1"},
      {"kind", "CustomResourceDefinition"},
      {"metadata", {{"name", "sensors.bench.riasc.eu"}}},
      {"spec",
       {{"group", "bench.riasc.eu"},
        {"scope", "Namespaced"},
        {"names", {{"kind", "Sensor"}, {"plural", "sensors"}, {"singular", "sensor"}}},
        {"versions",
         {{{"name", "v1"},
           {"served", true},
           {"storage", true},
           {"subresources", {{"status", Json::object()}}},
           {"schema",
            {{"openAPIV3Schema",
              {{"type", "object"},
               {"properties",
                {{"spec", {{"type", "object"}, {"x-kubernetes-preserve-unknown-fields", true}}},
                 {"status", {{"type", "object"}, {"x-kubernetes-preserve-unknown-fields", true}}}}}}}}}}}}}}};
}

// A small lab object: a few labels and settings, about 400 bytes of JSON once stored.
Json sensor(int index) {
  return {{"apiVersion", "bench.riasc.eu/v1"},
          {"kind", "Sensor"},
          {"metadata",
           {{"name", fmt::format("sensor-{:05}", index)}, {"labels", {{"lab", "rwth"}, {"rack", "r2"}}}}},
          {"spec",
           {{"address", fmt::format("10.0.{}.{}", index / 250, index % 250)},
            {"setpoint", index},
            {"mode", "auto"},
            {"interval", 0.5}}}};
}

// Creates `count` sensors with 8 writers.
void create_sensors(client::Client& api, const std::string& namespace_name, int count) {
  std::vector<std::thread> writers;
  std::atomic<int> next{0};
  for (int w = 0; w < 8; ++w) {
    writers.emplace_back([&] {
      client::Resource sensors = api.resource(kSensors, namespace_name);
      for (int i; (i = next++) < count;) sensors.create(sensor(i));
    });
  }
  for (auto& writer : writers) writer.join();
}

// Warnings and errors only: the handlers' info lines would be 10,000 lines of noise.
op::LogSink quiet_sink() {
  op::LogSink sink = op::stderr_sink();
  return [sink](op::LogLevel level, const std::string& object, const std::string& message) {
    if (level >= op::LogLevel::Warning) sink(level, object, message);
  };
}

// Counts objects whose handling cycle is complete (last-handled record and status.create),
// on a watch of its own, from `resource_version` on.
class CompletionWatch {
 public:
  CompletionWatch(client::Resource resource, const std::string& resource_version, std::size_t expected)
      : stream_(resource.watch(from(resource_version))), expected_(expected) {
    thread_ = std::thread([this] {
      try {
        stream_.run([this](const client::WatchEvent& event) {
          const Json& object = event.object;
          if (event.type != client::EventType::Modified || !object.contains("status") ||
              !object["status"].contains("create"))
            return true;
          const Json annotations = object["metadata"].value("annotations", Json::object());
          const Json records = object["status"].value("riasc.eu", Json::object());
          if (!annotations.contains(kLastHandled) && !records.contains("last-handled-configuration"))
            return true;
          std::lock_guard lock(mutex_);
          done_.insert(object["metadata"]["name"].get<std::string>());
          if (done_.size() == expected_) finished_at_ = Clock::now();
          return done_.size() < expected_;
        });
      } catch (const std::exception& error) {
        fmt::print(stderr, "completion watch failed: {}\n", error.what());
      }
    });
  }
  static client::WatchOptions from(const std::string& resource_version) {
    client::WatchOptions options;
    options.resource_version = resource_version;
    return options;
  }
  ~CompletionWatch() {
    stream_.cancel();
    thread_.join();
  }
  CompletionWatch(const CompletionWatch&) = delete;
  CompletionWatch& operator=(const CompletionWatch&) = delete;

  // When the last object completed; throws after `timeout`.
  Clock::time_point wait(std::chrono::seconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      {
        std::lock_guard lock(mutex_);
        if (done_.size() == expected_) return finished_at_;
      }
      std::this_thread::sleep_for(5ms);
    }
    std::lock_guard lock(mutex_);
    throw std::runtime_error(fmt::format("only {} of {} objects were handled", done_.size(), expected_));
  }

 private:
  client::WatchStream stream_;
  std::size_t expected_;
  std::mutex mutex_;
  std::unordered_set<std::string> done_;
  Clock::time_point finished_at_;
  std::thread thread_;
};

// The server's request counts for `resources` ("sensors", "events"), as "labels count" lines.
std::map<std::string, double> request_counts(const bench::RiascServer& server) {
  const auto pki = server.directory() / "pki";
  const std::string kubeconfig = bench::read_file(server.kubeconfig());
  const auto at = kubeconfig.find("server: ");
  const std::string address = kubeconfig.substr(at + 8, kubeconfig.find('\n', at) - at - 8);
  const std::string command =
      fmt::format("curl -s --cacert {} --cert {} --key {} {}/metrics", (pki / "ca.crt").string(),
                  (pki / "admin.crt").string(), (pki / "admin.key").string(), address);
  std::map<std::string, double> counts;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return counts;
  char line[1024];
  while (std::fgets(line, sizeof line, pipe)) {
    const std::string text = line;
    if (text.rfind("apiserver_request_total{", 0) != 0) continue;
    if (text.find("\"sensors") == std::string::npos && text.find("\"events\"") == std::string::npos) continue;
    const auto space = text.rfind(' ');
    counts[text.substr(24, space - 25)] += std::stod(text.substr(space + 1));
  }
  pclose(pipe);
  return counts;
}

// (a): every object's create handler, timed from start() until the last cycle completed.
void measure_handling(client::Client& api, const bench::RiascServer& server,
                      const std::string& namespace_name, int objects, bool success_events,
                      op::Records records) {
  const client::ListResult before = api.resource(kSensors, namespace_name).list();
  CompletionWatch completion(api.resource(kSensors, namespace_name), before.resource_version,
                             static_cast<std::size_t>(objects));
  metrics::Registry registry;
  op::Metrics metrics(registry);
  op::Operator operator_(api, {.name = "bench",
                               .namespace_name = namespace_name,
                               .workers = 4,
                               .success_events = success_events,
                               .records = records,
                               .log = quiet_sink(),
                               .metrics = &metrics});
  std::atomic<int> calls{0};
  operator_.on_create(kSensors, [&calls](op::Context& ctx) {
    ++calls;
    return Json{{"observed", ctx.spec()["setpoint"]}};
  });
  const auto requests_before = request_counts(server);
  const double server_cpu = server.process().cpu_seconds();
  const double own_cpu = bench::process_cpu_seconds();
  const auto start = Clock::now();
  operator_.start();
  const double synced = seconds_since(start);
  const double handled = std::chrono::duration<double>(completion.wait(600s) - start).count();
  fmt::print(
      "(a) {} objects handled (create handler, result in status, cycle stored{}) in {:.2f} s "
      "(caches filled after {:.2f} s): {:.0f} reconciles/s\n",
      objects,
      fmt::format("{}{}", success_events ? ", HandlerSucceeded events" : ", success_events off",
                  records == op::Records::Annotations ? ", records in annotations" : ""),
      handled, synced, objects / handled);
  fmt::print(
      "    CPU per object: operator {:.0f} us, server {:.0f} us; handler calls {}, reconciles {:.0f}\n",
      (bench::process_cpu_seconds() - own_cpu) * 1e6 / objects,
      (server.process().cpu_seconds() - server_cpu) * 1e6 / objects, calls.load(),
      metrics.reconcile_total.with({"bench", "success"}).value());
  fmt::print("    requests per object:");
  for (const auto& [labels, count] : request_counts(server)) {
    const auto earlier = requests_before.find(labels);
    const double added = count - (earlier == requests_before.end() ? 0 : earlier->second);
    if (added > 0) fmt::print(" {{{}}} {:.2f};", labels, added / objects);
  }
  fmt::print("\n");
  operator_.stop();
}

// (b) and (c): the SDK on objects where nothing is due, and what its caches hold.
void measure_dispatch_and_memory(client::Client& api, const bench::RiascServer& server, int objects) {
  const client::ListResult handled = api.resource(kSensors, "bench").list();
  double json_bytes = 0;
  for (const Json& item : handled.items) json_bytes += static_cast<double>(item.dump().size());
  json_bytes /= static_cast<double>(handled.items.size());

  double before = trimmed_rss_mib();
  const double heap_before = heap_in_use_bytes();
  {
    client::Informer informer(api.resource(kSensors, "bench"));
    informer.start();
    if (!informer.wait_for_sync(60s)) throw std::runtime_error("the informer did not sync");
    const double heap = (heap_in_use_bytes() - heap_before) / objects;
    const double cached = (trimmed_rss_mib() - before) * 1024 * 1024 / objects;
    fmt::print(
        "(c) informer cache: {:.0f} bytes of heap per object for {:.0f} bytes of JSON ({:.2f}x); "
        "RSS growth {:.0f} bytes per object ({:.2f}x, with the pages glibc keeps from parsing the list)\n",
        heap, json_bytes, heap / json_bytes, cached, cached / json_bytes);
  }

  before = trimmed_rss_mib();
  metrics::Registry registry;
  op::Metrics metrics(registry);
  op::Operator operator_(
      api, {.name = "resync", .namespace_name = "bench", .log = quiet_sink(), .metrics = &metrics});
  operator_.on_create(kSensors,
                      [](op::Context&) { throw std::logic_error("all objects were handled before"); });
  operator_.start();
  const auto synced = Clock::now();
  const double own_cpu = bench::process_cpu_seconds();
  const double server_cpu = server.process().cpu_seconds();
  auto& reconciles = metrics.reconcile_total.with({"resync", "success"});
  while (reconciles.value() < objects) std::this_thread::sleep_for(1ms);
  const double elapsed = seconds_since(synced);
  const double cpu = bench::process_cpu_seconds() - own_cpu;
  fmt::print(
      "(b) dispatch with nothing due: {} reconciles in {:.3f} s after the caches filled: {:.0f}/s, "
      "{:.1f} us wall and {:.1f} us CPU per reconcile (server CPU meanwhile {:.0f} ms)\n",
      objects, elapsed, objects / elapsed, elapsed * 1e6 / objects, cpu * 1e6 / objects,
      (server.process().cpu_seconds() - server_cpu) * 1000);
  const double held = (trimmed_rss_mib() - before) * 1024 * 1024 / objects;
  fmt::print("(c) operator (cache and per-object state): {:.0f} bytes per object ({:.2f}x the JSON)\n", held,
             held / json_bytes);
  operator_.stop();
}

// (d): the example operator's resident memory.
void measure_example_operator(client::Client& api, const bench::RiascServer& server,
                              const std::string& binary) {
  const std::string crd_text = bench::read_file(std::filesystem::path(RIASC_SOURCE_DIR) / "examples" /
                                                "operators" / "greeting-crd.yaml");
  install_crd(api, parse_yaml_stream(crd_text).at(0).value, kGreetings);
  create_namespace(api, "idle");
  const auto log = server.directory() / "greeter.log";
  ChildProcess greeter({binary, "--kubeconfig", server.kubeconfig().string(), "--namespace", "idle"}, log);
  const auto deadline = Clock::now() + 30s;
  while (bench::read_file(log).find("info running") == std::string::npos) {
    if (Clock::now() > deadline)
      throw std::runtime_error("the example operator did not start; see " + log.string());
    std::this_thread::sleep_for(20ms);
  }
  std::this_thread::sleep_for(3s);
  const double idle = greeter.rss_mib();
  client::Resource greetings = api.resource(kGreetings, "idle");
  for (int i = 0; i < 10; ++i) {
    greetings.create({{"apiVersion", "example.riasc.eu/v1"},
                      {"kind", "Greeting"},
                      {"metadata", {{"name", fmt::format("g{}", i)}}},
                      {"spec", {{"name", fmt::format("Guest {}", i)}}}});
  }
  for (int i = 0; i < 10; ++i) {
    while (!greetings.get(fmt::format("g{}", i)).value("status", Json::object()).contains("message")) {
      if (Clock::now() > deadline + 30s) throw std::runtime_error("the example operator did not greet");
      std::this_thread::sleep_for(20ms);
    }
  }
  std::this_thread::sleep_for(2s);
  fmt::print(
      "(d) example operator VmRSS: {:.1f} MiB idle after sync (empty namespace), {:.1f} MiB with 10 "
      "Greetings "
      "handled\n",
      idle, greeter.rss_mib());
  if (greeter.terminate() != 0) fmt::print("    (the example operator did not exit 0 on SIGTERM)\n");
}

}  // namespace

int main(int argc, char** argv) {
  const int objects = argc > 1 ? std::atoi(argv[1]) : 10000;
  try {
    bench::RiascServer server(RIASC_BINARY, std::filesystem::temp_directory_path() /
                                                fmt::format("riasc-operator-bench-{}", getpid()));
    client::Client api(client::load_kubeconfig({server.kubeconfig()}));
    install_crd(api, sensor_crd(), kSensors);
    create_namespace(api, "bench");
    create_namespace(api, "quiet");
    create_namespace(api, "lean");
    const auto start = Clock::now();
    create_sensors(api, "bench", objects);
    fmt::print("created {} Sensors in {:.2f} s\n", objects, seconds_since(start));
    create_sensors(api, "quiet", objects);
    create_sensors(api, "lean", objects);
    measure_handling(api, server, "bench", objects, true, op::Records::Auto);
    measure_handling(api, server, "lean", objects, false, op::Records::Auto);
    measure_handling(api, server, "quiet", objects, false, op::Records::Annotations);
    measure_dispatch_and_memory(api, server, objects);
    measure_example_operator(api, server, RIASC_EXAMPLE_OPERATOR);
  } catch (const std::exception& error) {
    fmt::print(stderr, "riasc_operator_bench: {}\n", error.what());
    return 1;
  }
  return 0;
}
