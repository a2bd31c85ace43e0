// `riasc up` on this machine (needs root): how long until it is ready, how long 50 pods take to
// be Running, and the resident memory of the riasc process idle and with 50 pods (their
// containers are processes of their own and not counted). Prints figures for docs/benchmarks.md.
//
//   riasc_up_bench [RIASC_BINARY] [PODS]

#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <thread>

#include "bench_process.hpp"
#include "riasc/client/client.hpp"
#include "riasc/client/config.hpp"

namespace {

using namespace riasc;
using Clock = std::chrono::steady_clock;

const client::GroupVersionResource kPods{"", "v1", "pods"};
const client::GroupVersionResource kNamespaces{"", "v1", "namespaces"};

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

template <typename Done>
void wait_for(Done done, std::chrono::seconds limit, const char* what) {
  const auto deadline = Clock::now() + limit;
  while (!done()) {
    if (Clock::now() > deadline) throw std::runtime_error(fmt::format("timed out waiting for {}", what));
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::string binary = argc > 1 ? argv[1] : RIASC_BINARY;
  const int count = argc > 2 ? std::stoi(argv[2]) : 50;
  if (::geteuid() != 0) {
    fmt::print(stderr, "riasc_up_bench: needs root (riasc up makes network namespaces)\n");
    return 1;
  }
  const auto directory = std::filesystem::temp_directory_path() / "riasc-up-bench";
  std::filesystem::remove_all(directory);
  std::filesystem::create_directories(directory);
  try {
    const auto spawned = Clock::now();
    bench::ChildProcess up({binary, "up", "--data-dir", directory.string(), "--listen", "127.0.0.1:0",
                            "--bridge", "riasc-bench", "--pod-cidr", "10.76.0.0/24", "--node", "bench-node"},
                           directory / "up.log", true);
    wait_for([&] { return bench::read_file(directory / "up.log").find("ready in") != std::string::npos; },
             std::chrono::seconds(30), "riasc up to be ready");
    const double ready = seconds_since(spawned);
    const std::string log = bench::read_file(directory / "up.log");
    const auto said = log.find("ready in ");
    fmt::print("riasc up: ready {:.3f} s after exec (it says: {})\n", ready,
               log.substr(said + 9, log.find(' ', said + 9) - said - 9) + " s");
    std::this_thread::sleep_for(std::chrono::seconds(2));
    fmt::print("riasc up RSS, idle: {:.1f} MiB\n", up.rss_mib());

    client::Client api(client::load_kubeconfig({(directory / "kubeconfig").string()}));
    api.resource(kNamespaces)
        .create({{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", "bench"}}}});
    auto pods = api.resource(kPods, "bench");
    const auto created = Clock::now();
    for (int i = 0; i < count; ++i) {
      pods.create({{"apiVersion", "v1"},
                   {"kind", "Pod"},
                   {"metadata", {{"name", fmt::format("sleeper-{}", i)}, {"namespace", "bench"}}},
                   {"spec", {{"containers", {{{"name", "main"}, {"command", {"sleep", "3600"}}}}}}}});
    }
    const double all_created = seconds_since(created);
    wait_for(
        [&] {
          const auto list = pods.list().items;
          return static_cast<int>(std::ranges::count_if(list, [](const Json& pod) {
                   return pod.value("status", Json::object()).value("phase", "") == "Running";
                 })) == count;
        },
        std::chrono::seconds(120), "the pods to run");
    fmt::print("{} pods: created in {:.3f} s, all Running {:.3f} s after the first create\n", count,
               all_created, seconds_since(created));
    std::this_thread::sleep_for(std::chrono::seconds(2));
    fmt::print("riasc up RSS, {} pods: {:.1f} MiB\n", count, up.rss_mib());
    const auto stopping = Clock::now();
    up.terminate();
    fmt::print("riasc up: stopped with {} pods in {:.3f} s\n", count, seconds_since(stopping));
  } catch (const std::exception& error) {
    fmt::print(stderr, "riasc_up_bench: {}\n", error.what());
    return 1;
  }
  std::filesystem::remove_all(directory);
  return 0;
}
