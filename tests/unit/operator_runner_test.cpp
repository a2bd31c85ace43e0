// The runner of operator programs (op::run): its flags, its log lines, and a whole run against the
// embedded server: handlers registered by the setup run, the probes answer over plain HTTP, and
// stop() ends the run with 0; a server that cannot be reached ends it with 1.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <future>
#include <sstream>
#include <thread>

#include "operator_test_support.hpp"
#include "riasc/operator/runner.hpp"

namespace riasc::operator_test {
namespace {

struct Parsed {
  std::variant<op::RunnerOptions, int> result;
  std::string out;
  std::string err;
};

Parsed parse(const std::vector<std::string>& args) {
  std::ostringstream out;
  std::ostringstream err;
  auto result = op::parse_runner_flags("greeter", args, out, err);
  return {std::move(result), out.str(), err.str()};
}

TEST(RunnerFlagsTest, DefaultsWithoutFlags) {
  Parsed parsed = parse({});
  ASSERT_TRUE(std::holds_alternative<op::RunnerOptions>(parsed.result)) << parsed.err;
  const auto& options = std::get<op::RunnerOptions>(parsed.result);
  EXPECT_EQ(options.kubeconfig, "");
  EXPECT_EQ(options.namespace_name, "");
  EXPECT_EQ(options.workers, 4U);
  EXPECT_EQ(options.probe_port, 0U);
  EXPECT_FALSE(options.probe_https);
  EXPECT_FALSE(options.leader_elect);
  EXPECT_EQ(options.log_format, "text");
}

TEST(RunnerFlagsTest, EveryFlag) {
  Parsed parsed = parse({"--kubeconfig",
                         "/tmp/k",
                         "--context",
                         "lab",
                         "-n",
                         "sim",
                         "--workers",
                         "2",
                         "--probe-port",
                         "8081",
                         "--probe-address",
                         "127.0.0.1",
                         "--probe-https",
                         "--leader-elect",
                         "--lease-name",
                         "greeter-lease",
                         "--lease-namespace",
                         "riasc-system",
                         "--log-format",
                         "json",
                         "-v"});
  ASSERT_TRUE(std::holds_alternative<op::RunnerOptions>(parsed.result)) << parsed.err;
  const auto& options = std::get<op::RunnerOptions>(parsed.result);
  EXPECT_EQ(options.kubeconfig, "/tmp/k");
  EXPECT_EQ(options.context, "lab");
  EXPECT_EQ(options.namespace_name, "sim");
  EXPECT_EQ(options.workers, 2U);
  EXPECT_EQ(options.probe_port, 8081U);
  EXPECT_EQ(options.probe_address, "127.0.0.1");
  EXPECT_TRUE(options.probe_https);
  EXPECT_TRUE(options.leader_elect);
  EXPECT_EQ(options.lease_name, "greeter-lease");
  EXPECT_EQ(options.lease_namespace, "riasc-system");
  EXPECT_EQ(options.log_format, "json");
  EXPECT_TRUE(options.verbose);
}

TEST(RunnerFlagsTest, UsageErrorsExitTwoWithAMessage) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--no-such-flag"}, "--no-such-flag"},
      {{"--workers", "0"}, "--workers"},
      {{"--probe-port", "70000"}, "--probe-port"},
      {{"--log-format", "xml"}, "--log-format"},
      {{"--kubeconfig"}, "--kubeconfig"},
      {{"--lease-name", "x"}, "need --leader-elect"},
      {{"extra"}, "extra"},
  };
  for (const auto& [args, expected] : cases) {
    Parsed parsed = parse(args);
    ASSERT_TRUE(std::holds_alternative<int>(parsed.result)) << args.front();
    EXPECT_EQ(std::get<int>(parsed.result), 2) << args.front();
    EXPECT_NE(parsed.err.find(expected), std::string::npos) << args.front() << ": " << parsed.err;
  }
}

TEST(RunnerFlagsTest, HelpExitsZeroAndListsTheFlags) {
  Parsed parsed = parse({"--help"});
  ASSERT_TRUE(std::holds_alternative<int>(parsed.result));
  EXPECT_EQ(std::get<int>(parsed.result), 0);
  for (const char* flag : {"--kubeconfig", "--namespace", "--probe-port", "--leader-elect", "--log-format"})
    EXPECT_NE(parsed.out.find(flag), std::string::npos) << flag;
}

TEST(RunnerLogTest, JsonLinesCarryLevelLoggerObjectAndMessage) {
  testing::internal::CaptureStderr();
  op::LogSink sink = op::runner_log_sink("json", "greeter", false);
  sink(op::LogLevel::Info, "default/ada", "greeted \"Ada\"");
  sink(op::LogLevel::Debug, "default/ada", "not shown without verbose");
  const std::string output = testing::internal::GetCapturedStderr();
  ASSERT_EQ(std::count(output.begin(), output.end(), '\n'), 1) << output;
  const Json line = Json::parse(output);
  EXPECT_EQ(line["level"], "info");
  EXPECT_EQ(line["logger"], "greeter");
  EXPECT_EQ(line["object"], "default/ada");
  EXPECT_EQ(line["msg"], "greeted \"Ada\"");
  EXPECT_TRUE(line["time"].get<std::string>().ends_with("Z"));
  EXPECT_THROW(op::runner_log_sink("xml", "greeter", false), std::invalid_argument);
}

// A port that was free a moment ago.
std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  return ntohs(address.sin_port);
}

// A plain HTTP/1.1 GET on loopback: the whole answer, or "" when nothing answers.
std::string http_get(std::uint16_t port, const std::string& path) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string answer;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) {
    const std::string request = "GET " + path + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    if (::write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
      char buffer[4096];
      for (ssize_t n; (n = ::read(fd, buffer, sizeof buffer)) > 0;)
        answer.append(buffer, static_cast<std::size_t>(n));
    }
  }
  ::close(fd);
  return answer;
}

class RunnerTest : public OperatorTest {};

TEST_F(RunnerTest, RunsTheHandlersServesPlainHttpProbesAndStops) {
  op::RunnerOptions options;
  options.kubeconfig = server_->kubeconfig_path().string();
  options.namespace_name = namespace_;
  options.probe_port = free_port();
  options.probe_address = "127.0.0.1";
  op::OperatorOptions operator_options = this->options();
  op::Runner runner(options, operator_options, [](op::Operator& operator_, client::Client&) {
    operator_.on_create(kWidgets, [](op::Context& ctx) { return Json{{"size", ctx.spec()["size"]}}; });
  });
  auto result = std::async(std::launch::async, [&runner] { return runner.run(); });
  ASSERT_TRUE(client_test::eventually([&] {
    return http_get(options.probe_port, "/healthz").ends_with("\r\n\r\nok");
  })) << http_get(options.probe_port, "/healthz");
  EXPECT_EQ(runner.probe_port(), options.probe_port);
  EXPECT_NE(http_get(options.probe_port, "/metrics").find("controller_runtime_reconcile_total"),
            std::string::npos);

  create_widget("a", {{"size", 3}});
  EXPECT_TRUE(client_test::eventually([&] {
    return status("a").value("create", Json()) == Json{{"size", 3}};
  }));

  runner.stop();
  ASSERT_EQ(result.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(result.get(), 0);
  EXPECT_EQ(http_get(options.probe_port, "/healthz"), "");  // the probe server has stopped
}

TEST_F(RunnerTest, AServerThatCannotBeReachedExitsOne) {
  client_test::TemporaryDirectory directory;
  // The embedded server's kubeconfig, pointed at a port where nothing listens.
  std::ifstream in(server_->kubeconfig_path());
  std::stringstream text;
  text << in.rdbuf();
  std::string kubeconfig = text.str();
  const std::string from = "https://127.0.0.1:" + std::to_string(server_->port());
  ASSERT_NE(kubeconfig.find(from), std::string::npos);
  kubeconfig.replace(kubeconfig.find(from), from.size(), "https://127.0.0.1:" + std::to_string(free_port()));
  op::RunnerOptions options;
  options.kubeconfig = directory.write("kubeconfig", kubeconfig).string();
  op::Runner runner(options, this->options(), [](op::Operator&, client::Client&) {});
  testing::internal::CaptureStderr();
  const int exit_code = runner.run();
  const std::string output = testing::internal::GetCapturedStderr();
  EXPECT_EQ(exit_code, 1);
  EXPECT_NE(output.find("cannot reach the API server at https://127.0.0.1:"), std::string::npos) << output;

  options.kubeconfig = (directory.path() / "missing").string();
  op::Runner without_config(options, this->options(), [](op::Operator&, client::Client&) {});
  testing::internal::CaptureStderr();
  EXPECT_EQ(without_config.run(), 1);
  EXPECT_NE(testing::internal::GetCapturedStderr().find("cannot use the client configuration"),
            std::string::npos);
}

}  // namespace
}  // namespace riasc::operator_test
