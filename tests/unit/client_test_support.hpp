#pragma once

// Helpers of the client tests: a temporary directory per test and small files in it, the
// embedded API server in process, polling.

#include <gtest/gtest.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "riasc/apiserver/api_server.hpp"
#include "riasc/client/client.hpp"
#include "riasc/client/config.hpp"

namespace riasc::client_test {

// A fresh directory named after the running test, removed afterwards.
class TemporaryDirectory {
 public:
  TemporaryDirectory() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    // Parameterized tests' names hold '/': one directory, not nested ones left behind.
    std::string name = std::string(info->test_suite_name()) + "-" + info->name();
    std::replace(name.begin(), name.end(), '/', '-');
    path_ =
        std::filesystem::temp_directory_path() / ("riasc-client-" + std::to_string(::getpid()) + "-" + name);
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TemporaryDirectory() { std::filesystem::remove_all(path_); }
  TemporaryDirectory(const TemporaryDirectory&) = delete;
  TemporaryDirectory& operator=(const TemporaryDirectory&) = delete;

  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

  std::filesystem::path write(const std::string& name, std::string_view text) const {
    auto file = path_ / name;
    std::filesystem::create_directories(file.parent_path());
    std::ofstream(file, std::ios::trunc) << text;
    return file;
  }

 private:
  std::filesystem::path path_;
};

// Sets an environment variable for the lifetime of the object, restoring it afterwards.
class ScopedEnvironment {
 public:
  ScopedEnvironment(std::string name, const std::string& value) : name_(std::move(name)) {
    if (const char* old = std::getenv(name_.c_str())) old_ = old;  // NOLINT(concurrency-mt-unsafe)
    ::setenv(name_.c_str(), value.c_str(), 1);                     // NOLINT(concurrency-mt-unsafe)
  }
  ~ScopedEnvironment() {
    if (old_)
      ::setenv(name_.c_str(), old_->c_str(), 1);  // NOLINT(concurrency-mt-unsafe)
    else
      ::unsetenv(name_.c_str());  // NOLINT(concurrency-mt-unsafe)
  }
  ScopedEnvironment(const ScopedEnvironment&) = delete;
  ScopedEnvironment& operator=(const ScopedEnvironment&) = delete;

 private:
  std::string name_;
  std::optional<std::string> old_;
};

// Polls `condition` for up to five seconds.
template <class Condition>
bool eventually(Condition condition) {
  using namespace std::chrono_literals;
  for (int i = 0; i < 100; ++i) {
    if (condition()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

// Polls `condition` every 25 ms until it holds or `timeout` has passed; for controllers whose
// convergence takes several passes.
template <class Condition>
bool wait_until(Condition condition, std::chrono::milliseconds timeout = std::chrono::seconds(15)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  return condition();
}

// The embedded server on `directory` (kept as it is: a restart finds its data), on a free port
// unless one is given, with bookmarks every 200 ms.
// The server's bearer token for the admin (tokens.csv in its data directory).
inline constexpr const char* kAdminToken = "admin-token-3f9c2";

// `more_tokens`: token file lines for users besides the admin.
inline std::unique_ptr<apiserver::ApiServer> start_server(const std::filesystem::path& directory,
                                                          std::chrono::milliseconds compaction_interval,
                                                          std::uint16_t port = 0,
                                                          const std::string& more_tokens = {}) {
  using namespace std::chrono_literals;
  apiserver::ApiServerOptions options;
  options.data_dir = directory;
  std::filesystem::create_directories(directory);
  options.token_auth_file = directory / "tokens.csv";
  std::ofstream(options.token_auth_file)
      << fmt::format("{},admin,admin-uid,\"system:masters\"\n{}", kAdminToken, more_tokens);
  options.port = port;
  options.bookmark_interval = 200ms;
  options.compaction_interval = compaction_interval;
  auto server = std::make_unique<apiserver::ApiServer>(options);
  server->start();
  return server;
}

inline const client::GroupVersionResource kConfigMaps{"", "v1", "configmaps"};
inline const client::GroupVersionResource kNamespaces{"", "v1", "namespaces"};
inline const client::GroupVersionResource kNodes{"", "v1", "nodes"};
inline const client::GroupVersionResource kPods{"", "v1", "pods"};

inline void create_namespace(client::Client& client, const std::string& name) {
  client.resource(kNamespaces)
      .create({{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", name}}}});
}

// One server for a test suite, never compacted, and a namespace of its own for each test.
class ServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    using namespace std::chrono_literals;
    directory_ =
        std::filesystem::temp_directory_path() / ("riasc-client-server-" + std::to_string(::getpid()));
    std::filesystem::remove_all(directory_);
    server_ = start_server(directory_, 0ms);
  }
  static void TearDownTestSuite() {
    server_->stop();
    server_.reset();
    std::filesystem::remove_all(directory_);
  }
  void SetUp() override {
    static int counter = 0;
    namespace_ = "test-" + std::to_string(++counter);
    create_namespace(client_, namespace_);
  }

  static client::Config admin_config() { return client::load_kubeconfig({server_->kubeconfig_path()}); }
  // The same user by bearer token instead of client certificate.
  static client::Config admin_token_config() {
    client::Config config = admin_config();
    config.client_identity.reset();
    config.bearer_token = kAdminToken;
    return config;
  }

  static inline std::filesystem::path directory_;
  static inline std::unique_ptr<apiserver::ApiServer> server_;
  client::Client client_{admin_config()};
  std::string namespace_;
};

}  // namespace riasc::client_test
