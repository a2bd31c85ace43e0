#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "http_test_support.hpp"

namespace riasc::http {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST_F(HttpTest, RequestsOverOneKeptAliveConnection) {
  serve(echo);
  Client client(client_options());
  auto first = client.request("GET", "/version?x=1", "", {{"Accept", "application/json"}});
  EXPECT_EQ(first.status, 200U);
  EXPECT_EQ(first.body, "GET /version?x=1  user=- accept=application/json");
  auto second = client.request("POST", "/api/v1/namespaces", R"({"a":1})");
  EXPECT_EQ(second.body, R"(POST /api/v1/namespaces {"a":1} user=- accept=)");
}

// The kept-alive connection died with the first server: the request is sent again on a new one,
// body and all.
TEST_F(HttpTest, ARequestRetriedAfterTheServerClosedTheConnectionKeepsItsBody) {
  serve(echo);
  Client client(client_options());
  EXPECT_EQ(client.request("GET", "/").status, 200U);
  ServerOptions options;
  options.port = server_->port();
  server_->stop();
  serve(echo, options);
  EXPECT_EQ(client.request("POST", "/x", "payload").body, "POST /x payload user=- accept=");
}

TEST_F(HttpTest, ClientCertificateNamesUserAndGroups) {
  serve(echo);
  auto options = client_options();
  options.client_identity = identities().admin;
  Client client(options);
  EXPECT_THAT(client.request("GET", "/").body,
              HasSubstr("user=admin accept= group=system:masters group=lab"));
}

TEST_F(HttpTest, ACertificateFromAnotherCaIsNotAnIdentity) {
  serve(echo);
  auto other_ca = create_certificate_authority("other");
  auto options = client_options();
  options.client_identity = issue_certificate(other_ca, {"mallory", {"system:masters"}, {}, {}, false});
  Client client(options);
  EXPECT_THAT(client.request("GET", "/").body, HasSubstr("user=-"));
}

TEST_F(HttpTest, TheClientRefusesAServerItDoesNotTrust) {
  serve(echo);
  auto options = client_options();
  options.ca_pem = create_certificate_authority("other").certificate_pem;
  Client client(options);
  EXPECT_THROW(client.request("GET", "/"), std::exception);
}

TEST_F(HttpTest, OversizedBodiesGet413WithAStatus) {
  serve(echo, 16);
  Client client(client_options());
  auto response = client.request("POST", "/", std::string(100, 'x'));
  EXPECT_EQ(response.status, 413U);
  EXPECT_THAT(response.body, HasSubstr(R"("reason":"RequestEntityTooLarge")"));
  EXPECT_EQ(client.request("POST", "/", "small").status, 200U);  // the server still serves
}

TEST_F(HttpTest, AFailingHandlerGives500AndTheServerGoesOn) {
  serve([](Exchange& exchange) -> boost::asio::awaitable<void> {
    if (exchange.request().target == "/fail") throw std::runtime_error("disk on fire");
    co_await echo(exchange);
  });
  Client client(client_options());
  auto failed = client.request("GET", "/fail");
  EXPECT_EQ(failed.status, 500U);
  EXPECT_THAT(failed.body, HasSubstr(R"("message":"disk on fire")"));
  EXPECT_EQ(client.request("GET", "/ok").status, 200U);
}

// A watch-like stream: the handler sleeps in wait() until another thread wakes it.
TEST_F(HttpTest, StreamsWakeUpFromOtherThreads) {
  std::atomic<int> produced{0};
  std::function<void()> wake;
  std::mutex mutex;
  serve([&](Exchange& exchange) -> boost::asio::awaitable<void> {
    {
      std::lock_guard lock(mutex);
      wake = exchange.waker();
    }
    Headers headers{{"Content-Type", "application/json"}};  // named: see server.hpp on g++ 12
    co_await exchange.start_stream(200, std::move(headers));
    int sent = 0;
    while (sent < 3) {
      co_await exchange.wait(std::chrono::seconds(10));
      while (sent < produced.load()) {
        if (!co_await exchange.write_chunk("{\"event\":" + std::to_string(++sent) + "}\n")) co_return;
      }
    }
  });
  std::thread producer([&] {
    for (int i = 0; i < 3; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      ++produced;
      std::lock_guard lock(mutex);
      if (wake) wake();
    }
  });
  Client client(client_options());
  std::string received;
  auto start = std::chrono::steady_clock::now();
  unsigned status = client.stream("GET", "/watch", [&](std::string_view data) {
    received += data;
    return true;
  });
  producer.join();
  EXPECT_EQ(status, 200U);
  EXPECT_EQ(received, "{\"event\":1}\n{\"event\":2}\n{\"event\":3}\n");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));  // woken, not timed out
}

TEST_F(HttpTest, StopEndsOpenStreams) {
  serve([](Exchange& exchange) -> boost::asio::awaitable<void> {
    co_await exchange.start_stream(200, Headers());
    co_await exchange.write_chunk("started\n");
    while (co_await exchange.write_chunk(" ")) co_await exchange.wait(std::chrono::milliseconds(50));
  });
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    server_->stop();
  });
  Client client(client_options());
  std::string received;
  client.stream("GET", "/", [&](std::string_view data) {
    received += data;
    return true;
  });
  stopper.join();
  EXPECT_THAT(received, HasSubstr("started"));
}

TEST_F(HttpTest, CancelEndsAStreamFromAnotherThreadAndLaterOnes) {
  serve([](Exchange& exchange) -> boost::asio::awaitable<void> {
    co_await exchange.start_stream(200, Headers());
    co_await exchange.write_chunk("started\n");
    for (int i = 0; i < 600; ++i) {
      if (!co_await exchange.write_chunk(" ")) co_return;
      co_await exchange.wait(std::chrono::milliseconds(50));
    }
  });
  Client client(client_options());
  std::atomic<bool> receiving{false};
  std::thread canceller([&] {
    while (!receiving) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    client.cancel();
  });
  std::string received;
  auto start = std::chrono::steady_clock::now();
  unsigned status = client.stream("GET", "/", [&](std::string_view data) {
    received += data;
    receiving = true;
    return true;
  });
  canceller.join();
  EXPECT_EQ(status, 200U);
  EXPECT_THAT(received, HasSubstr("started"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));  // not the handler's 30 s
  EXPECT_EQ(client.stream("GET", "/", [](std::string_view) { return true; }), 0U);
}

TEST_F(HttpTest, ServerNameAndInsecureSkipVerify) {
  serve(echo);
  auto options = client_options();
  options.server_name = "localhost";  // in the certificate, while connecting to 127.0.0.1
  EXPECT_EQ(Client(options).request("GET", "/").status, 200U);
  options.server_name = "elsewhere.example";
  EXPECT_THROW(Client(options).request("GET", "/"), std::exception);
  options.ca_pem = create_certificate_authority("other").certificate_pem;
  options.insecure_skip_tls_verify = true;
  EXPECT_EQ(Client(options).request("GET", "/").status, 200U);
}

// A handler that holds "/hold" requests (answered or streamed) until `release`, and answers the
// rest at once.
struct HoldingHandler {
  std::atomic<int> held{0};
  std::atomic<bool> release{false};
  Handler handler() {
    return [this](Exchange& exchange) -> boost::asio::awaitable<void> {
      const bool stream = exchange.request().target == "/hold-stream";
      if (exchange.request().target == "/hold" || stream) {
        if (stream && !co_await exchange.start_stream(200, Headers())) co_return;
        ++held;
        while (!release) co_await exchange.wait(std::chrono::milliseconds(5));
      }
      Response response;
      response.body = "done";
      if (stream)
        co_await exchange.write_chunk(std::move(response.body));
      else
        co_await exchange.respond(std::move(response));
    };
  }
  void wait_until_held(int count) const {
    for (int i = 0; i < 1000 && held < count; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    ASSERT_EQ(held.load(), count);
  }
};

std::string_view header_of(const Response& response, std::string_view name) {
  for (const auto& [key, value] : response.headers) {
    if (key == name) return value;
  }
  return {};
}

TEST_F(HttpTest, AClientOverItsConcurrencyLimitGets429AndOthersAreServed) {
  HoldingHandler holding;
  ServerOptions options;
  options.max_requests_per_client = 2;
  serve(holding.handler(), options);
  std::vector<std::thread> slow;
  for (int i = 0; i < 2; ++i)
    slow.emplace_back([&] { EXPECT_EQ(Client(client_options()).request("GET", "/hold").status, 200U); });
  holding.wait_until_held(2);

  auto refused = Client(client_options()).request("GET", "/quick");
  EXPECT_EQ(refused.status, 429U);
  EXPECT_EQ(header_of(refused, "retry-after"), "1");
  EXPECT_THAT(refused.body, HasSubstr(R"("reason":"TooManyRequests")"));
  EXPECT_THAT(refused.body, HasSubstr("too many requests at once from this client"));

  // Another client (a certificate's user) has its own count.
  auto admin = client_options();
  admin.client_identity = identities().admin;
  EXPECT_EQ(Client(admin).request("GET", "/quick").status, 200U);

  holding.release = true;
  for (auto& thread : slow) thread.join();
  EXPECT_EQ(Client(client_options()).request("GET", "/quick").status, 200U);  // slots came back
}

TEST_F(HttpTest, StreamsHaveTheirOwnLimitAndDoNotUseRequestSlots) {
  HoldingHandler holding;
  ServerOptions options;
  options.max_requests_per_client = 1;
  options.max_streams_per_client = 1;
  serve(holding.handler(), options);
  std::thread watcher([&] {
    std::string received;
    Client(client_options()).stream("GET", "/hold-stream", [&](std::string_view data) {
      received += data;
      return true;
    });
    EXPECT_EQ(received, "done");
  });
  holding.wait_until_held(1);

  EXPECT_EQ(Client(client_options()).request("GET", "/quick").status,
            200U);  // the stream left the request count
  auto second_stream = Client(client_options()).request("GET", "/hold-stream");
  EXPECT_EQ(second_stream.status, 429U);
  EXPECT_THAT(second_stream.body, HasSubstr("too many open streams"));

  holding.release = true;
  watcher.join();
  std::string received;
  EXPECT_EQ(Client(client_options())
                .stream("GET", "/hold-stream",
                        [&](std::string_view data) {
                          received += data;
                          return true;
                        }),
            200U);  // the stream slot came back
}

TEST(CertificatesTest, ServerCertificatesAreCreatedOnceAndKeptPrivate) {
  auto directory = std::filesystem::temp_directory_path() / ("riasc-certs-" + std::to_string(::getpid()));
  std::filesystem::remove_all(directory);
  auto first = load_or_create_server_certificates(directory, {"localhost"}, {"127.0.0.1"});
  auto second = load_or_create_server_certificates(directory, {"localhost"}, {"127.0.0.1"});
  EXPECT_EQ(first.ca.certificate_pem, second.ca.certificate_pem);
  EXPECT_EQ(first.server.private_key_pem, second.server.private_key_pem);
  EXPECT_THAT(first.ca.certificate_pem, HasSubstr("BEGIN CERTIFICATE"));
  struct stat info {};
  ASSERT_EQ(::stat((directory / "ca.key").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600U);
  std::filesystem::remove_all(directory);
}

}  // namespace
}  // namespace riasc::http
