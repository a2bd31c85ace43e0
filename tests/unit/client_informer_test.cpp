// The informer against the real embedded API server, in process: the cache fills and follows
// changes, indexes and selectors, resync, the dead-stream detector, a server restart and 410.

#include "riasc/client/informer.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "client_test_support.hpp"

namespace riasc::client {
namespace {

using client_test::create_namespace;
using client_test::eventually;
using client_test::kConfigMaps;
using client_test::start_server;
using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;
using namespace std::chrono_literals;

Json labelled_config_map(const std::string& name, const std::string& app, const std::string& value = "1") {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", {{"name", name}, {"labels", {{"app", app}}}}},
          {"data", {{"value", value}}}};
}

std::string value_of(const std::optional<Json>& object) {
  return object ? (*object)["data"].value("value", "") : "";
}

// What the handlers were told, as "add a", "update a", "delete a".
class Recorder {
 public:
  void attach(Informer& informer) {
    informer.on_add([this](const Json& object) { record("add", object); });
    informer.on_update([this](const Json&, const Json& object) { record("update", object); });
    informer.on_delete([this](const Json& object) { record("delete", object); });
  }
  std::vector<std::string> events() const {
    std::lock_guard lock(mutex_);
    return events_;
  }

 private:
  void record(const char* what, const Json& object) {
    std::lock_guard lock(mutex_);
    events_.push_back(std::string(what) + " " + object["metadata"]["name"].get<std::string>());
  }
  mutable std::mutex mutex_;
  std::vector<std::string> events_;
};

class InformerTest : public client_test::ServerTest {};

TEST_F(InformerTest, CacheFillsAndFollowsChangesWithHandlersAndIndexes) {
  Resource config_maps = client_.resource(kConfigMaps, namespace_);
  config_maps.create(labelled_config_map("a", "web"));
  config_maps.create(labelled_config_map("b", "db"));

  Recorder recorder;  // outlives the informer, whose handlers it holds
  Informer informer(config_maps);
  recorder.attach(informer);
  informer.store().add_index("app", [](const Json& object) {
    return std::vector<std::string>{object["metadata"]["labels"].value("app", "")};
  });
  informer.start();
  ASSERT_TRUE(informer.wait_for_sync(10s));
  EXPECT_EQ(informer.store().size(), 2U);
  EXPECT_THAT(recorder.events(), UnorderedElementsAre("add a", "add b"));

  config_maps.create(labelled_config_map("c", "web"));
  config_maps.patch("a", PatchType::Merge, {{"data", {{"value", "2"}}}});
  config_maps.remove("b");
  const std::string a = namespace_ + "/a";
  ASSERT_TRUE(
      eventually([&] { return informer.store().size() == 2 && value_of(informer.store().get(a)) == "2"; }));
  EXPECT_FALSE(informer.store().get(namespace_ + "/b"));
  EXPECT_TRUE(informer.store().get(namespace_ + "/c"));
  EXPECT_THAT(recorder.events(), ElementsAre(testing::_, testing::_, "add c", "update a", "delete b"));

  EXPECT_EQ(informer.store().by_index(Store::kNamespaceIndex, namespace_).size(), 2U);
  EXPECT_EQ(informer.store().by_index("app", "web").size(), 2U);
  EXPECT_TRUE(informer.store().by_index("app", "db").empty());
  EXPECT_THROW((void)informer.store().by_index("nothing", "x"), std::out_of_range);
  informer.stop();
  EXPECT_EQ(informer.lists(), 1U);
}

TEST_F(InformerTest, SelectorsScopeTheCache) {
  Resource config_maps = client_.resource(kConfigMaps, namespace_);
  config_maps.create(labelled_config_map("web-1", "web"));
  config_maps.create(labelled_config_map("db-1", "db"));
  InformerOptions options;
  options.label_selector = "app=web";
  Informer informer(client_.resource(kConfigMaps), options);  // all namespaces
  informer.start();
  ASSERT_TRUE(informer.wait_for_sync(10s));
  config_maps.create(labelled_config_map("web-2", "web"));
  config_maps.create(labelled_config_map("db-2", "db"));
  ASSERT_TRUE(eventually([&] { return informer.store().get(namespace_ + "/web-2").has_value(); }));
  std::vector<std::string> names;
  for (const Json& object : informer.store().by_index(Store::kNamespaceIndex, namespace_))
    names.push_back(object["metadata"]["name"].get<std::string>());
  EXPECT_THAT(names, ElementsAre("web-1", "web-2"));
}

TEST_F(InformerTest, ResyncCallsUpdateForEveryCachedObject) {
  Resource config_maps = client_.resource(kConfigMaps, namespace_);
  config_maps.create(labelled_config_map("a", "web"));
  InformerOptions options;
  options.resync_period = 100ms;
  Recorder recorder;  // outlives the informer, whose handlers it holds
  Informer informer(config_maps, options);
  recorder.attach(informer);
  informer.start();
  EXPECT_TRUE(eventually([&] {
    auto events = recorder.events();
    return std::count(events.begin(), events.end(), "update a") >= 3;
  }));
}

TEST_F(InformerTest, AQuietStreamIsRestartedWithoutMissingChanges) {
  Resource config_maps = client_.resource(kConfigMaps, namespace_);
  InformerOptions options;
  options.allow_bookmarks = false;  // nothing arrives on an idle resource
  options.dead_stream_timeout = 300ms;
  Informer informer(config_maps, options);
  informer.start();
  ASSERT_TRUE(informer.wait_for_sync(10s));
  ASSERT_TRUE(eventually([&] { return informer.dead_streams() >= 2; }));
  config_maps.create(labelled_config_map("late", "web"));
  EXPECT_TRUE(eventually([&] { return informer.store().get(namespace_ + "/late").has_value(); }));
  EXPECT_GE(informer.watches(), 3U);
  EXPECT_EQ(informer.lists(), 1U);  // resumed, not relisted
}

// A server of its own, stopped and started again on the same data directory and port.
TEST(InformerRestartTest, RecoversAfterTheServerRestartsWithoutMissingAChange) {
  auto directory =
      std::filesystem::temp_directory_path() / ("riasc-informer-restart-" + std::to_string(::getpid()));
  std::filesystem::remove_all(directory);
  auto server = start_server(directory, 0ms);
  const std::uint16_t port = server->port();
  Client client(load_kubeconfig({server->kubeconfig_path()}));
  Resource config_maps = client.resource(kConfigMaps, "default");
  config_maps.create(labelled_config_map("kept", "web"));
  config_maps.create(labelled_config_map("changed", "web"));
  config_maps.create(labelled_config_map("deleted", "web"));

  InformerOptions options;
  options.backoff_base = 50ms;
  options.backoff_max = 500ms;
  Recorder recorder;  // outlives the informer, whose handlers it holds
  Informer informer(config_maps, options);
  recorder.attach(informer);
  informer.start();
  ASSERT_TRUE(informer.wait_for_sync(10s));

  server->stop();
  server.reset();
  std::this_thread::sleep_for(300ms);  // the informer fails and backs off meanwhile
  server = start_server(directory, 0ms, port);
  config_maps.create(labelled_config_map("new", "web"));
  config_maps.patch("changed", PatchType::Merge, {{"data", {{"value", "2"}}}});
  config_maps.remove("deleted");

  EXPECT_TRUE(eventually([&] {
    return informer.store().size() == 3 && value_of(informer.store().get("default/changed")) == "2" &&
           informer.store().get("default/new").has_value();
  }));
  EXPECT_GE(informer.failures(), 1U);
  auto events = recorder.events();
  EXPECT_THAT(std::vector<std::string>(events.begin() + 3, events.end()),
              UnorderedElementsAre("add new", "update changed", "delete deleted"));
  informer.stop();
  server->stop();
  std::filesystem::remove_all(directory);
}

// Compaction every 300 ms and watches the server ends every second: a watch resumed from the
// list's resourceVersion (no bookmarks move it on) is answered 410, and the informer lists again.
TEST(InformerCompactionTest, RelistsAfterGone) {
  auto directory =
      std::filesystem::temp_directory_path() / ("riasc-informer-compaction-" + std::to_string(::getpid()));
  std::filesystem::remove_all(directory);
  auto server = start_server(directory, 300ms);
  Client client(load_kubeconfig({server->kubeconfig_path()}));
  create_namespace(client, "quiet");
  Resource quiet = client.resource(kConfigMaps, "quiet");
  Resource busy = client.resource(kConfigMaps, "default");
  quiet.create(labelled_config_map("first", "web"));

  InformerOptions options;
  options.allow_bookmarks = false;
  options.watch_timeout = 1s;
  Informer informer(quiet, options);
  informer.start();
  ASSERT_TRUE(informer.wait_for_sync(10s));
  for (int i = 0; i < 200 && informer.lists() < 2; ++i) {
    busy.create(labelled_config_map("busy-" + std::to_string(i), "db"));
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_GE(informer.lists(), 2U);
  quiet.create(labelled_config_map("second", "web"));
  EXPECT_TRUE(eventually([&] { return informer.store().size() == 2; }));
  informer.stop();
  server->stop();
  std::filesystem::remove_all(directory);
}

}  // namespace
}  // namespace riasc::client
