#pragma once

// What the HTTP/1.1 (server.cpp) and HTTP/2 (http2_connection.cpp) sides of http::Server share:
// per-client limits, wake-ups of waiting streams, and the error answers the server gives itself.
// Private to this folder; handlers see only server.hpp.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "riasc/http/server.hpp"

namespace riasc::http::detail {

using TlsStream = boost::beast::ssl_stream<boost::beast::tcp_stream>;

std::string lower(std::string_view text);

// CN and O of a verified client certificate, into `request`.
void read_client_identity(TlsStream& stream, Request& request);

// A certificate's user is the same client from any address; without one, the address is.
std::string client_key(const Request& request, const std::string& remote);

std::string status_body(unsigned code, std::string_view reason, std::string_view message);
Response status_response(unsigned code, std::string_view reason, std::string_view message);
Response too_many_requests(std::string_view what);

struct Wakeup;

// Wake-ups for the streams of one event loop, handed to the loop in bursts: one event in the store
// wakes every watcher at once, and this costs one hand-off per loop instead of one cross-thread
// post per watcher.
class LoopWakeups {
 public:
  // The context is only stored here, not used, so it may still be under construction.
  explicit LoopWakeups(boost::asio::io_context* context) : context_(*context) {}
  void push(std::weak_ptr<Wakeup> wakeup);

 private:
  void deliver();

  boost::asio::io_context& context_;
  std::mutex mutex_;
  std::vector<std::weak_ptr<Wakeup>> pending_;
};

// A wake-up that may come from any thread, for a stream served by one event loop.
struct Wakeup {
  Wakeup(boost::asio::any_io_executor executor, LoopWakeups& owner)
      : timer(std::move(executor)), loop(owner) {}
  boost::asio::steady_timer timer;
  LoopWakeups& loop;
  std::atomic<bool> pending{false};  // a wake-up came since the last wait
  std::atomic<bool> queued{false};   // in the loop's burst already
};

// Exchange::wait and Exchange::waker over a Wakeup.
boost::asio::awaitable<void> wait_for_wakeup(Wakeup& wakeup, std::chrono::milliseconds timeout);
std::function<void()> make_waker(const std::shared_ptr<Wakeup>& wakeup);

// Counts per client, shared by all connections. Slots are returned by the guards below, so an
// exception in a handler or a dropped connection cannot leak one.
class ClientLimits {
 public:
  ClientLimits(unsigned max_requests, unsigned max_streams)
      : max_requests_(max_requests), max_streams_(max_streams) {}

  bool try_start_request(const std::string& client);
  void end_request(const std::string& client);
  // Moves the client's request to the stream count; false (and nothing moved) when it has as many
  // streams open as allowed.
  bool try_start_stream(const std::string& client);
  void end_stream(const std::string& client);

 private:
  struct Counts {
    unsigned requests = 0;
    unsigned streams = 0;
  };
  bool try_add(const std::string& client, unsigned Counts::*count, unsigned limit);
  void remove(const std::string& client, unsigned Counts::*count);

  unsigned max_requests_;
  unsigned max_streams_;
  std::mutex mutex_;
  std::unordered_map<std::string, Counts> clients_;
};

// One request's place in its client's counts, from admission to the end of its answer.
class ClientSlot {
 public:
  ClientSlot(ClientLimits& limits, std::string client) : limits_(limits), client_(std::move(client)) {}
  ~ClientSlot();
  ClientSlot(const ClientSlot&) = delete;
  ClientSlot& operator=(const ClientSlot&) = delete;

  bool admit();
  bool become_stream();

 private:
  enum class State { None, Request, Stream };
  ClientLimits& limits_;
  std::string client_;
  State state_ = State::None;
};

// What the exchanges of both protocols share: the client's slot, the wake-up, and how far the
// answer has got.
class ExchangeBase : public Exchange {
 public:
  boost::asio::awaitable<void> wait(std::chrono::milliseconds timeout) override;
  [[nodiscard]] std::function<void()> waker() override;
  [[nodiscard]] bool answered() const { return answered_; }

 protected:
  ExchangeBase(ClientSlot& slot, std::shared_ptr<Wakeup> wakeup) : slot_(slot), wakeup_(std::move(wakeup)) {}
  // Before a stream's headers go out: moves the request to its client's stream count, or answers
  // 429 when the client has as many open as allowed. True when the stream may start.
  boost::asio::awaitable<bool> begin_stream();

  ClientSlot& slot_;
  std::shared_ptr<Wakeup> wakeup_;
  bool answered_ = false;
  bool streaming_ = false;
};

// What a connection needs of its server.
struct ConnectionContext {
  const ServerOptions& options;
  const Handler& handler;
  ClientLimits& limits;
  LoopWakeups& wakeups;
  const std::atomic<bool>& stopped;
};

// Serves one connection whose TLS handshake chose HTTP/2 by ALPN, until the client or the server
// ends it.
boost::asio::awaitable<void> serve_http2(std::shared_ptr<TlsStream> stream, ConnectionContext context,
                                         std::string remote);

}  // namespace riasc::http::detail
