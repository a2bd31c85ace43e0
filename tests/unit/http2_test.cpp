// HTTP/2 on http::Server, driven by curl (built on nghttp2 as kubectl's Go stack is on its own
// HTTP/2): negotiation by ALPN, several requests and streams on one connection, request limits,
// and streams that end when the client goes away. kubectl itself exercises it in the integration
// tests.

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "http_test_support.hpp"

namespace riasc::http {
namespace {

using ::testing::HasSubstr;

class Http2Test : public HttpTest {
 protected:
  Http2Test()
      : directory_(std::filesystem::temp_directory_path() /
                   fmt::format("riasc-http2-{}-{}", ::getpid(),
                               ::testing::UnitTest::GetInstance()->current_test_info()->name())) {
    std::filesystem::create_directories(directory_);
    std::ofstream(directory_ / "ca.crt") << identities().ca.certificate_pem;
    std::ofstream(directory_ / "admin.crt") << identities().admin.certificate_pem;
    std::ofstream(directory_ / "admin.key") << identities().admin.private_key_pem;
  }
  ~Http2Test() override { std::filesystem::remove_all(directory_); }

  // Runs curl against the server with the admin's certificate; returns what it printed.
  std::string curl(const std::string& arguments) {
    const auto command = fmt::format("curl {} {} 2>&1", credentials(), arguments);
    std::string output;
    FILE* pipe = ::popen(command.c_str(), "r");
    if (!pipe) return "popen failed";
    std::array<char, 4096> buffer{};
    while (auto size = std::fread(buffer.data(), 1, buffer.size(), pipe)) output.append(buffer.data(), size);
    ::pclose(pipe);
    return output;
  }
  // Again after each --next, which starts curl's options afresh.
  std::string credentials() const {
    return fmt::format("--silent --show-error --cacert {0}/ca.crt --cert {0}/admin.crt --key {0}/admin.key",
                       directory_.string());
  }
  std::string url(const std::string& path) const {
    return fmt::format("https://127.0.0.1:{}{}", server_->port(), path);
  }

  std::filesystem::path directory_;
};

std::size_t occurrences(std::string_view text, std::string_view part) {
  std::size_t found = 0;
  for (auto at = text.find(part); at != std::string_view::npos; at = text.find(part, at + 1)) ++found;
  return found;
}

// `-w` appends the protocol version curl used and the status after the body.
constexpr std::string_view kVersionAndStatus = R"(-w ' http=%{http_version} status=%{http_code}')";

TEST_F(Http2Test, ClientsThatOfferHttp2GetIt) {
  serve(echo);
  EXPECT_EQ(curl(fmt::format("--http2 -H 'Accept: application/json' {} {}", kVersionAndStatus,
                             url("/version?x=1"))),
            "GET /version?x=1  user=admin accept=application/json group=system:masters group=lab http=2 "
            "status=200");
  EXPECT_EQ(curl(fmt::format("--http2 --data-binary '{{\"a\":1}}' {} {}", kVersionAndStatus, url("/things"))),
            R"(POST /things {"a":1} user=admin accept=*/* group=system:masters group=lab http=2 status=200)");
  EXPECT_THAT(curl(fmt::format("--http1.1 {} {}", kVersionAndStatus, url("/"))),
              HasSubstr("http=1.1 status=200"));
}

TEST_F(Http2Test, CanBeTurnedOff) {
  ServerOptions options;
  options.http2 = false;
  serve(echo, options);
  EXPECT_THAT(curl(fmt::format("--http2 {} {}", kVersionAndStatus, url("/"))),
              HasSubstr("http=1.1 status=200"));
}

// Ten streams that each wait until all ten are open: they can only finish if one connection
// carries them at once.
TEST_F(Http2Test, ManyStreamsShareOneConnectionAtOnce) {
  constexpr int kStreams = 10;
  std::atomic<int> open{0};
  std::mutex mutex;
  std::vector<std::function<void()>> wakers;
  serve([&](Exchange& exchange) -> boost::asio::awaitable<void> {
    Headers headers{{"Content-Type", "text/plain"}};  // named: see server.hpp on g++ 12
    co_await exchange.start_stream(200, std::move(headers));
    {
      std::lock_guard lock(mutex);
      wakers.push_back(exchange.waker());
      if (++open == kStreams) {
        for (auto& wake : wakers) wake();
      }
    }
    while (open < kStreams) co_await exchange.wait(std::chrono::seconds(10));
    co_await exchange.write_chunk(fmt::format("all {} open\n", open.load()));
  });
  std::string urls;
  for (int i = 0; i < kStreams; ++i) urls += " " + url(fmt::format("/watch/{}", i));
  const auto start = std::chrono::steady_clock::now();
  auto output = curl(
      "--max-time 10 --http2 --parallel --parallel-max 20 -w '[%{http_version} "
      "connects=%{num_connects}]'" +
      urls);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5)) << output;
  EXPECT_EQ(occurrences(output, "all 10 open\n"), 10U) << output;
  EXPECT_EQ(occurrences(output, "[2 connects="), 10U) << output;
  EXPECT_EQ(occurrences(output, "connects=1]"), 1U)
      << output;  // the first transfer connected, the others rode along
}

// The per-client stream limit counts HTTP/2 streams as it counts HTTP/1.1 watches.
TEST_F(Http2Test, StreamsBeyondTheClientsLimitGet429) {
  ServerOptions options;
  options.max_streams_per_client = 2;
  serve(
      [](Exchange& exchange) -> boost::asio::awaitable<void> {
        Headers headers{{"Content-Type", "text/plain"}};
        if (!co_await exchange.start_stream(200, std::move(headers))) co_return;
        co_await exchange.write_chunk("open\n");
        co_await exchange.wait(std::chrono::milliseconds(500));  // still open when the others come
      },
      options);
  std::string urls;
  for (int i = 0; i < 4; ++i) urls += " " + url(fmt::format("/watch/{}", i));
  auto output = curl("--max-time 10 --http2 --parallel --parallel-max 10 -w '[%{http_code}]'" + urls);
  EXPECT_EQ(occurrences(output, "open\n"), 2U) << output;
  EXPECT_EQ(occurrences(output, "[200]"), 2U) << output;
  EXPECT_EQ(occurrences(output, "[429]"), 2U) << output;
  EXPECT_THAT(output, HasSubstr("too many open streams from this client")) << output;
}

TEST_F(Http2Test, OversizedBodiesGet413AndTheConnectionServesOn) {
  serve(echo, 16);
  std::ofstream(directory_ / "big") << std::string(100'000, 'x');
  auto output =
      curl(fmt::format("--http2 --data-binary @{}/big {} {} --next {} --http2 {} {}", directory_.string(),
                       kVersionAndStatus, url("/big"), credentials(), kVersionAndStatus, url("/after")));
  EXPECT_THAT(output, HasSubstr(R"("reason":"RequestEntityTooLarge")"));
  EXPECT_THAT(output, HasSubstr("http=2 status=413"));
  EXPECT_THAT(output, HasSubstr("GET /after  user=admin"));
}

TEST_F(Http2Test, AFailingHandlerGives500) {
  serve([](Exchange&) -> boost::asio::awaitable<void> { throw std::runtime_error("disk on fire"); });
  auto output = curl(fmt::format("--http2 {} {}", kVersionAndStatus, url("/")));
  EXPECT_THAT(output, HasSubstr(R"("message":"disk on fire")"));
  EXPECT_THAT(output, HasSubstr("http=2 status=500"));
}

TEST_F(Http2Test, AStreamEndsWhenItsClientGoesAway) {
  std::atomic<bool> write_failed{false};
  serve([&](Exchange& exchange) -> boost::asio::awaitable<void> {
    co_await exchange.start_stream(200, Headers());
    co_await exchange.write_chunk("started\n");
    for (int i = 0; i < 200; ++i) {
      if (!co_await exchange.write_chunk(" ")) {
        write_failed = true;
        co_return;
      }
      co_await exchange.wait(std::chrono::milliseconds(20));
    }
  });
  auto output = curl(fmt::format("--http2 --no-buffer --max-time 0.3 {}", url("/watch")));
  EXPECT_THAT(output, HasSubstr("started"));
  for (int i = 0; i < 100 && !write_failed; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_TRUE(write_failed);
}

TEST_F(Http2Test, ALargeAnswerArrivesWhole) {
  const std::string body(5'000'000, 'y');
  serve([&](Exchange& exchange) -> boost::asio::awaitable<void> {
    Response response;
    response.body = body;
    co_await exchange.respond(std::move(response));
  });
  auto output = curl(
      fmt::format("--http2 -w ' size=%{{size_download}} status=%{{http_code}}' -o /dev/null {}", url("/")));
  EXPECT_EQ(output, " size=5000000 status=200");
}

}  // namespace
}  // namespace riasc::http
