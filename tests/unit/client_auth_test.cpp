// Bearer tokens, TLS options and error answers, against a small http::Server that plays the API
// server's part (the embedded server takes no tokens until issue 7).

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <mutex>

#include "client_test_support.hpp"
#include "riasc/client/client.hpp"
#include "riasc/client/exec_credential.hpp"
#include "riasc/core/base64.hpp"
#include "riasc/http/server.hpp"

namespace riasc::client {
namespace {

using client_test::ScopedEnvironment;
using client_test::TemporaryDirectory;
using ::testing::HasSubstr;

struct Identities {
  http::KeyPair ca = http::create_certificate_authority("client-auth-ca");
  http::KeyPair server = http::issue_certificate(ca, {"server", {}, {"localhost"}, {"127.0.0.1"}, true});
};
const Identities& identities() {
  static const Identities instance;
  return instance;
}

// Answers /version to requests with `Authorization: Bearer <token>`, 401 to others; /busy with
// 429, /broken with a proxy's HTML page.
class TokenServer {
 public:
  TokenServer() {
    http::ServerOptions options;
    options.identity = identities().server;
    server_ = std::make_unique<http::Server>(options,
                                             [this](http::Exchange& exchange) { return handle(exchange); });
    server_->start();
  }

  void accept(std::string token) {
    std::lock_guard lock(mutex_);
    token_ = std::move(token);
  }

  [[nodiscard]] Config config() const {
    Config config;
    config.server = fmt::format("https://127.0.0.1:{}", server_->port());
    config.ca_pem = identities().ca.certificate_pem;
    return config;
  }

 private:
  boost::asio::awaitable<void> handle(http::Exchange& exchange) {
    const http::Request& request = exchange.request();
    http::Response response;
    response.headers.emplace_back("Content-Type", "application/json");
    std::string expected;
    {
      std::lock_guard lock(mutex_);
      expected = "Bearer " + token_;
    }
    if (request.target == "/busy") {
      response.status = 429;
      response.headers.emplace_back("Retry-After", "7");
      response.body = R"({"kind":"Status","apiVersion":"v1","status":"Failure","message":"slow down",)"
                      R"("reason":"TooManyRequests","code":429})";
    } else if (request.target == "/broken") {
      response.status = 502;
      response.body = "<html>Bad Gateway</html>";
    } else if (request.header("authorization") != expected) {
      response.status = 401;
      response.body = R"({"kind":"Status","apiVersion":"v1","status":"Failure","message":"Unauthorized",)"
                      R"("reason":"Unauthorized","code":401})";
    } else {
      response.body = R"({"major":"1","minor":"32"})";
    }
    co_await exchange.respond(std::move(response));
  }

  std::mutex mutex_;  // before server_: the handler may run until server_ is gone
  std::string token_ = "secret";
  std::unique_ptr<http::Server> server_;
};

TEST(ClientAuthTest, BearerTokensAreSentAndWrongOnesAreUnauthorized) {
  TokenServer server;
  Config config = server.config();
  config.bearer_token = "secret";
  EXPECT_EQ(Client(config).get_path("/version")["minor"], "32");
  config.bearer_token = "wrong";
  try {
    Client(config).get_path("/version");
    FAIL() << "no Unauthorized";
  } catch (const Unauthorized& error) {
    EXPECT_EQ(error.code(), 401);
    EXPECT_EQ(error.reason(), "Unauthorized");
  }
}

TEST(ClientAuthTest, InClusterTokenAndCaFromTheServiceAccountDirectory) {
  TokenServer server;
  TemporaryDirectory directory;
  directory.write("token", "secret\n");
  directory.write("ca.crt", identities().ca.certificate_pem);
  const ScopedEnvironment host("KUBERNETES_SERVICE_HOST", "127.0.0.1");
  const ScopedEnvironment port("KUBERNETES_SERVICE_PORT",
                               std::to_string(parse_server_url(server.config().server).port));
  Client client(load_in_cluster_config(directory.path()));
  EXPECT_EQ(client.get_path("/version")["major"], "1");
  EXPECT_EQ(client.default_namespace(), "default");  // no namespace file
}

TEST(ClientAuthTest, TlsServerNameAndInsecureSkipVerify) {
  TokenServer server;
  Config config = server.config();
  config.bearer_token = "secret";
  config.tls_server_name = "localhost";  // the certificate's DNS name, while connecting by IP
  EXPECT_EQ(Client(config).get_path("/version")["major"], "1");
  config.tls_server_name = "elsewhere.example";
  EXPECT_THROW(Client(config).get_path("/version"), ConnectionError);

  Config untrusted = server.config();
  untrusted.bearer_token = "secret";
  untrusted.ca_pem.clear();  // the system's CAs do not know the test CA
  EXPECT_THROW(Client(untrusted).get_path("/version"), ConnectionError);
  untrusted.insecure_skip_tls_verify = true;
  EXPECT_EQ(Client(untrusted).get_path("/version")["major"], "1");
}

TEST(ClientAuthTest, ErrorAnswersBecomeTypedErrors) {
  TokenServer server;
  Config config = server.config();
  config.max_retries = 0;  // the answer itself, not the retries (client_transport_test)
  Client client(config);
  try {
    client.get_path("/busy");
    FAIL() << "no TooManyRequests";
  } catch (const TooManyRequests& error) {
    EXPECT_EQ(error.retry_after(), std::chrono::seconds(7));
    EXPECT_STREQ(error.what(), "slow down");
  }
  try {
    client.get_path("/broken");
    FAIL() << "no ServerError";
  } catch (const ServerError& error) {
    EXPECT_EQ(error.code(), 502);
    EXPECT_THAT(error.what(), HasSubstr("<html>Bad Gateway</html>"));
  }
  Config nowhere = server.config();
  nowhere.server = "https://127.0.0.1:1";
  EXPECT_THROW(Client(nowhere).get_path("/version"), ConnectionError);
}

// An exec credential plugin in a kubeconfig: a shell script that counts its runs and prints the
// ExecCredential in credential.json, with its environment from the kubeconfig's `env`.
class ExecPluginTest : public ::testing::Test {
 protected:
  void SetUp() override {
    directory_.write("bin/plugin.sh",
                     "#!/bin/sh\n"
                     "echo run >> \"$RUNS\"\n"
                     "printf '%s' \"$KUBERNETES_EXEC_INFO\" > \"$INFO\"\n"
                     "cat \"$CREDENTIAL\"\n"
                     "exit \"${EXIT_STATUS:-0}\"\n");
    std::filesystem::permissions(directory_.path() / "bin/plugin.sh", std::filesystem::perms::owner_all);
    credential(R"({"token": "secret"})");
  }

  void credential(const std::string& status,
                  const std::string& api_version = "client.authentication.k8s.io/v1") {
    directory_.write("credential.json",
                     fmt::format(R"({{"apiVersion": "{}", "kind": "ExecCredential", "status": {}}})",
                                 api_version, status));
  }

  Config load(const std::string& extra = "") {
    const Config target = server_.config();
    const std::string kubeconfig = fmt::format(
        R"(apiVersion: v1
kind: Config
current-context: lab
contexts:
- name: lab
  context: {{cluster: lab, user: plugin}}
clusters:
- name: lab
  cluster:
    server: {}
    certificate-authority-data: {}
users:
- name: plugin
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: ./bin/plugin.sh
      provideClusterInfo: true
      installHint: install the lab's credential helper
      env:
      - {{name: RUNS, value: "{}"}}
      - {{name: INFO, value: "{}"}}
      - {{name: CREDENTIAL, value: "{}"}}
{})",
        target.server, base64_encode(target.ca_pem), (directory_.path() / "runs").string(),
        (directory_.path() / "info.json").string(), (directory_.path() / "credential.json").string(), extra);
    return load_kubeconfig({directory_.write("config", kubeconfig)});
  }

  int runs() const {
    std::ifstream in(directory_.path() / "runs");
    int count = 0;
    for (std::string line; std::getline(in, line);) ++count;
    return count;
  }

  TemporaryDirectory directory_;
  TokenServer server_;
};

TEST_F(ExecPluginTest, TheTokenIsFetchedOnceAndTheClusterPassedToThePlugin) {
  Client client(load());
  EXPECT_EQ(client.get_path("/version")["minor"], "32");
  EXPECT_EQ(client.get_path("/version")["minor"], "32");
  EXPECT_EQ(runs(), 1);
  std::ifstream in(directory_.path() / "info.json");
  const Json info = Json::parse(in);
  EXPECT_EQ(info["kind"], "ExecCredential");
  EXPECT_EQ(info["spec"]["interactive"], false);
  EXPECT_EQ(info["spec"]["cluster"]["server"], server_.config().server);
}

TEST_F(ExecPluginTest, ARejectedTokenIsFetchedAgainOnceAndAnExpiredOneBeforeUse) {
  Client client(load());
  EXPECT_EQ(client.get_path("/version")["minor"], "32");
  server_.accept("rotated");
  credential(R"({"token": "rotated"})");
  EXPECT_EQ(client.get_path("/version")["minor"], "32");  // 401, the plugin again, then 200
  EXPECT_EQ(runs(), 2);

  server_.accept("unknown");  // the plugin's token keeps failing: one more run, then Unauthorized
  EXPECT_THROW(client.get_path("/version"), Unauthorized);
  EXPECT_EQ(runs(), 3);

  server_.accept("short");
  credential(R"({"token": "short", "expirationTimestamp": "2001-01-01T00:00:00Z"})");
  Client expiring(load());
  EXPECT_EQ(expiring.get_path("/version")["minor"], "32");
  EXPECT_EQ(expiring.get_path("/version")["minor"], "32");
  EXPECT_EQ(runs(), 5);  // expired at once: run before every request
}

TEST_F(ExecPluginTest, FailuresNameThePluginAndWhy) {
  auto failure = [&](const std::string& extra = "") -> std::string {
    try {
      Client(load(extra)).get_path("/version");
    } catch (const ConfigError& error) {
      return error.what();
    }
    return "no error";
  };
  credential(R"({"token": "secret"})", "client.authentication.k8s.io/v1beta1");
  EXPECT_THAT(failure(), HasSubstr("printed apiVersion \"client.authentication.k8s.io/v1beta1\""));
  credential(R"({})");
  EXPECT_THAT(failure(), HasSubstr("neither a token nor clientCertificateData"));
  credential(R"({"token": "secret", "expirationTimestamp": "tomorrow"})");
  EXPECT_THAT(failure(), HasSubstr("expirationTimestamp \"tomorrow\" is not RFC 3339"));
  credential(R"({"token": "secret"})");
  const std::string failed = failure("      - {name: EXIT_STATUS, value: \"3\"}\n");
  EXPECT_THAT(failed, HasSubstr("config:15:5: "));  // the kubeconfig line of `exec`
  EXPECT_THAT(failed, HasSubstr("users[0].user.exec: exec plugin"));
  EXPECT_THAT(failed, HasSubstr("exited with status 3"));

  std::filesystem::remove(directory_.path() / "bin/plugin.sh");
  EXPECT_THAT(failure(), HasSubstr("install the lab's credential helper"));
}

TEST_F(ExecPluginTest, BadPluginSettingsAreRefusedWithTheirField) {
  auto refused = [&](const std::string& user) -> std::string {
    try {
      (void)load_kubeconfig({directory_.write("bad", fmt::format(R"(current-context: c
contexts: [{{name: c, context: {{cluster: c, user: u}}}}]
clusters: [{{name: c, cluster: {{server: "https://127.0.0.1:1"}}}}]
users: [{{name: u, user: {}}}]
)",
                                                                 user))});
    } catch (const ConfigError& error) {
      return error.what();
    }
    return "accepted";
  };
  EXPECT_THAT(
      refused(R"({exec: {apiVersion: client.authentication.k8s.io/v1alpha1, command: x}})"),
      HasSubstr("users[0].user.exec.apiVersion: \"client.authentication.k8s.io/v1alpha1\" is not supported"));
  EXPECT_THAT(refused(R"({exec: {apiVersion: client.authentication.k8s.io/v1}})"),
              HasSubstr("users[0].user.exec.command: required"));
  EXPECT_THAT(refused(R"({exec: {apiVersion: client.authentication.k8s.io/v1, command: x, args: [1, {}]}})"),
              HasSubstr("must be a string"));
  EXPECT_THAT(
      refused(
          R"({exec: {apiVersion: client.authentication.k8s.io/v1, command: x, interactiveMode: Always}})"),
      HasSubstr("needs a terminal"));
  EXPECT_THAT(refused(R"({auth-provider: {name: gcp}})"), HasSubstr("use an exec credential plugin"));
  EXPECT_EQ(
      refused(
          R"({exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: x, interactiveMode: Never}})"),
      "accepted");
}

TEST_F(ExecPluginTest, AClientCertificateFromThePluginIsPresented) {
  http::ServerOptions options;
  options.identity = identities().server;
  options.client_ca_pem = identities().ca.certificate_pem;
  http::Server whoami(options, [](http::Exchange& exchange) -> boost::asio::awaitable<void> {
    http::Response response;
    response.headers.emplace_back("Content-Type", "application/json");
    response.body = Json{{"user", exchange.request().client_user.value_or("")}}.dump();
    co_await exchange.respond(std::move(response));
  });
  whoami.start();
  const http::KeyPair operator_identity =
      http::issue_certificate(identities().ca, {"lab-operator", {"lab"}, {}, {}, false});
  credential(Json{{"clientCertificateData", operator_identity.certificate_pem},
                  {"clientKeyData", operator_identity.private_key_pem}}
                 .dump());
  Config config = load();
  config.server = fmt::format("https://127.0.0.1:{}", whoami.port());
  Client client(config);
  EXPECT_EQ(client.get_path("/whoami")["user"], "lab-operator");
  EXPECT_EQ(client.get_path("/whoami")["user"], "lab-operator");
  EXPECT_EQ(runs(), 1);
}

TEST(ClientErrorsTest, StatusObjectsMapToTheirClasses) {
  auto thrown = [](int code, const std::string& reason) -> std::string {
    Json status = {
        {"kind", "Status"}, {"status", "Failure"}, {"reason", reason}, {"message", "m"}, {"code", code}};
    try {
      throw_status(status);
    } catch (const NotFound&) {
      return "NotFound";
    } catch (const AlreadyExists&) {
      return "AlreadyExists";
    } catch (const Conflict&) {
      return "Conflict";
    } catch (const Gone&) {
      return "Gone";
    } catch (const Forbidden&) {
      return "Forbidden";
    } catch (const ServerError&) {
      return "ServerError";
    } catch (const ApiError& error) {
      return "ApiError " + std::to_string(error.code());
    }
    return "nothing";
  };
  EXPECT_EQ(thrown(404, "NotFound"), "NotFound");
  EXPECT_EQ(thrown(409, "AlreadyExists"), "AlreadyExists");
  EXPECT_EQ(thrown(409, "Conflict"), "Conflict");
  EXPECT_EQ(thrown(410, "Expired"), "Gone");
  EXPECT_EQ(thrown(403, "Forbidden"), "Forbidden");
  EXPECT_EQ(thrown(503, "ServiceUnavailable"), "ServerError");
  EXPECT_EQ(thrown(405, "MethodNotAllowed"), "ApiError 405");
}

}  // namespace
}  // namespace riasc::client
