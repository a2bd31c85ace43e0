#include "riasc/http/server.hpp"

#include <openssl/ssl.h>

#include <fmt/format.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <algorithm>
#include <atomic>
#include <list>
#include <mutex>
#include <thread>
#include <type_traits>
#include <unordered_map>

#include "riasc/http/server_internals.hpp"

namespace riasc::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using asio::use_awaitable;
using tcp = asio::ip::tcp;
using detail::TlsStream;

std::string_view Request::header(std::string_view lower_case_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_case_name) return value;
  }
  return {};
}

namespace detail {

std::string lower(std::string_view text) {
  std::string out(text);
  std::ranges::transform(out, out.begin(),
                         [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

void read_client_identity(TlsStream& stream, Request& request) {
  SSL* ssl = stream.native_handle();
  X509* certificate = SSL_get1_peer_certificate(ssl);
  if (!certificate) return;
  if (SSL_get_verify_result(ssl) == X509_V_OK) {
    X509_NAME* name = X509_get_subject_name(certificate);
    for (int i = 0; i < X509_NAME_entry_count(name); ++i) {
      X509_NAME_ENTRY* entry = X509_NAME_get_entry(name, i);
      int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(entry));
      ASN1_STRING* data = X509_NAME_ENTRY_get_data(entry);
      std::string value(reinterpret_cast<const char*>(ASN1_STRING_get0_data(data)),
                        static_cast<std::size_t>(ASN1_STRING_length(data)));
      if (nid == NID_commonName) request.client_user = value;
      if (nid == NID_organizationName) request.client_groups.push_back(value);
    }
  }
  X509_free(certificate);
}

std::string client_key(const Request& request, const std::string& remote) {
  return request.client_user ? "user:" + *request.client_user : "address:" + remote;
}

void LoopWakeups::push(std::weak_ptr<Wakeup> wakeup) {
  bool first = false;
  {
    std::lock_guard lock(mutex_);
    first = pending_.empty();
    pending_.push_back(std::move(wakeup));
  }
  if (first) asio::post(context_, [this] { deliver(); });
}

void LoopWakeups::deliver() {
  std::vector<std::weak_ptr<Wakeup>> burst;
  {
    std::lock_guard lock(mutex_);
    burst.swap(pending_);
  }
  for (auto& weak : burst) {
    if (auto wakeup = weak.lock()) {
      wakeup->queued = false;
      wakeup->timer.cancel();
    }
  }
}

asio::awaitable<void> wait_for_wakeup(Wakeup& wakeup, std::chrono::milliseconds timeout) {
  if (wakeup.pending.exchange(false)) co_return;
  wakeup.timer.expires_after(timeout);
  beast::error_code error;
  co_await wakeup.timer.async_wait(asio::redirect_error(use_awaitable, error));
  wakeup.pending = false;
}

std::function<void()> make_waker(const std::shared_ptr<Wakeup>& wakeup) {
  std::weak_ptr<Wakeup> weak = wakeup;
  return [weak] {
    auto alive = weak.lock();
    if (!alive) return;
    alive->pending = true;
    if (!alive->queued.exchange(true)) alive->loop.push(weak);
  };
}

bool ClientLimits::try_start_request(const std::string& client) {
  return try_add(client, &Counts::requests, max_requests_);
}
void ClientLimits::end_request(const std::string& client) { remove(client, &Counts::requests); }
bool ClientLimits::try_start_stream(const std::string& client) {
  std::lock_guard lock(mutex_);
  auto& counts = clients_[client];
  if (counts.streams >= max_streams_) return false;
  ++counts.streams;
  --counts.requests;
  return true;
}
void ClientLimits::end_stream(const std::string& client) { remove(client, &Counts::streams); }
bool ClientLimits::try_add(const std::string& client, unsigned Counts::*count, unsigned limit) {
  std::lock_guard lock(mutex_);
  auto& counts = clients_[client];
  if (counts.*count >= limit) return false;
  ++(counts.*count);
  return true;
}
void ClientLimits::remove(const std::string& client, unsigned Counts::*count) {
  std::lock_guard lock(mutex_);
  auto found = clients_.find(client);
  if (found == clients_.end()) return;
  --(found->second.*count);
  if (found->second.requests == 0 && found->second.streams == 0) clients_.erase(found);
}

ClientSlot::~ClientSlot() {
  if (state_ == State::Request) limits_.end_request(client_);
  if (state_ == State::Stream) limits_.end_stream(client_);
}
bool ClientSlot::admit() {
  if (limits_.try_start_request(client_)) state_ = State::Request;
  return state_ == State::Request;
}
bool ClientSlot::become_stream() {
  if (state_ != State::Request || !limits_.try_start_stream(client_)) return false;
  state_ = State::Stream;
  return true;
}

std::string status_body(unsigned code, std::string_view reason, std::string_view message) {
  return fmt::format(
      R"({{"kind":"Status","apiVersion":"v1","metadata":{{}},"status":"Failure","message":"{}","reason":"{}","code":{}}})",
      message, reason, code);
}

Response status_response(unsigned code, std::string_view reason, std::string_view message) {
  Response response;
  response.status = code;
  response.headers.emplace_back("Content-Type", "application/json");
  response.body = status_body(code, reason, message);
  return response;
}

Response too_many_requests(std::string_view what) {
  auto response = status_response(429, "TooManyRequests",
                                  fmt::format("too many {} from this client, please try again later", what));
  response.headers.emplace_back("Retry-After", "1");
  return response;
}

asio::awaitable<void> ExchangeBase::wait(std::chrono::milliseconds timeout) {
  co_await wait_for_wakeup(*wakeup_, timeout);
}

std::function<void()> ExchangeBase::waker() { return make_waker(wakeup_); }

asio::awaitable<bool> ExchangeBase::begin_stream() {
  if (answered_) co_return false;
  if (!slot_.become_stream()) {
    auto refusal = too_many_requests("open streams");
    co_await respond(std::move(refusal));
    co_return false;
  }
  answered_ = true;
  streaming_ = true;
  co_return true;
}

}  // namespace detail

namespace {

using namespace detail;

// Over TLS or plain TCP (ServerOptions::tls).
template <typename Stream>
class ExchangeImpl final : public ExchangeBase {
 public:
  ExchangeImpl(Stream& stream, Request request, bool keep_alive, std::shared_ptr<Wakeup> wakeup,
               ClientSlot& slot)
      : ExchangeBase(slot, std::move(wakeup)),
        stream_(stream),
        request_(std::move(request)),
        keep_alive_(keep_alive) {}

  const Request& request() const override { return request_; }

  asio::awaitable<void> respond(Response response) override {
    if (answered_) co_return;
    answered_ = true;
    bhttp::response<bhttp::string_body> message{static_cast<bhttp::status>(response.status), 11};
    for (auto& [name, value] : response.headers) message.set(name, value);
    message.body() = std::move(response.body);
    message.keep_alive(keep_alive_);
    message.prepare_payload();
    beast::error_code error;
    co_await bhttp::async_write(stream_, message, asio::redirect_error(use_awaitable, error));
    if (error) keep_alive_ = false;
  }

  asio::awaitable<bool> start_stream(unsigned status, Headers headers) override {
    const bool admitted = co_await begin_stream();  // (g++ 12 miscompiles co_await inside the if)
    if (!admitted) co_return false;
    keep_alive_ = false;  // the stream ends the connection; clients reconnect for the next request
    bhttp::response<bhttp::empty_body> message{static_cast<bhttp::status>(status), 11};
    for (auto& [name, value] : headers) message.set(name, value);
    message.chunked(true);
    message.keep_alive(false);
    bhttp::response_serializer<bhttp::empty_body> serializer{message};
    beast::get_lowest_layer(stream_).expires_never();
    beast::error_code error;
    co_await bhttp::async_write_header(stream_, serializer, asio::redirect_error(use_awaitable, error));
    co_return !error;
  }

  asio::awaitable<bool> write_chunk(std::string chunk) override {
    if (!streaming_ || chunk.empty()) co_return streaming_;
    beast::error_code error;
    co_await asio::async_write(stream_, bhttp::make_chunk(asio::buffer(chunk)),
                               asio::redirect_error(use_awaitable, error));
    if (error) streaming_ = false;
    co_return !error;
  }

  asio::awaitable<void> finish() {
    if (streaming_) {
      beast::error_code error;
      co_await asio::async_write(stream_, bhttp::make_chunk_last(),
                                 asio::redirect_error(use_awaitable, error));
    }
  }

  [[nodiscard]] bool keep_alive() const { return keep_alive_; }

 private:
  Stream& stream_;
  Request request_;
  bool keep_alive_;
};

}  // namespace

class Server::Impl {
 public:
  Impl(ServerOptions options, Handler handler)
      : options_(std::move(options)),
        handler_(std::move(handler)),
        limits_(options_.max_requests_per_client, options_.max_streams_per_client),
        tls_(asio::ssl::context::tls_server),
        acceptor_(loops_.front()->context) {
    if (!options_.tls) return;
    tls_.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                     asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                     asio::ssl::context::no_tlsv1_1);
    tls_.use_certificate_chain(asio::buffer(options_.identity.certificate_pem));
    tls_.use_private_key(asio::buffer(options_.identity.private_key_pem), asio::ssl::context::pem);
    if (!options_.client_ca_pem.empty()) {
      tls_.add_certificate_authority(asio::buffer(options_.client_ca_pem));
      // Ask for a client certificate, accept connections without one (tokens authenticate those).
      tls_.set_verify_mode(asio::ssl::verify_peer);
      tls_.set_verify_callback([](bool, asio::ssl::verify_context&) { return true; });
    }
    // HTTP/2 when the client offers it (kubectl and client-go do): all of a client's requests and
    // watches then share one connection, and one write carries the events of many watches.
    SSL_CTX_set_alpn_select_cb(tls_.native_handle(), &Impl::select_protocol, &options_);
  }

  void start() {
    tcp::endpoint endpoint(asio::ip::make_address(options_.host), options_.port);
    acceptor_.open(endpoint.protocol());
    acceptor_.set_option(asio::socket_base::reuse_address(true));
    acceptor_.bind(endpoint);
    acceptor_.listen(asio::socket_base::max_listen_connections);
    port_ = acceptor_.local_endpoint().port();
    asio::co_spawn(loops_.front()->context, accept_loop(), asio::detached);
    for (auto& loop : loops_) {
      // Loops without a connection yet have no work and would return at once.
      threads_.emplace_back([&context = loop->context] {
        auto work = asio::make_work_guard(context);
        context.run();
      });
    }
  }

  void stop() {
    if (stopped_.exchange(true)) return;
    asio::post(loops_.front()->context, [this] {
      beast::error_code ignored;
      acceptor_.close(ignored);
      std::lock_guard lock(connections_mutex_);
      for (auto& weak : connections_) {
        if (auto stream = weak.lock()) {
          asio::post(stream->get_executor(), [stream] {
            beast::error_code error;
            stream->socket().shutdown(tcp::socket::shutdown_both, error);
            stream->cancel();
          });
        }
      }
    });
    // Let connections finish their current write, then end the loop.
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    for (auto& loop : loops_) loop->context.stop();
    for (auto& thread : threads_) thread.join();
    threads_.clear();
  }

  std::uint16_t port() const { return port_; }

 private:
  static int select_protocol(SSL*, const unsigned char** out, unsigned char* out_length,
                             const unsigned char* offered, unsigned offered_length, void* argument) {
    const auto& options = *static_cast<const ServerOptions*>(argument);
    std::string_view list(reinterpret_cast<const char*>(offered), offered_length);
    // The list is length-prefixed names; ours in order of preference.
    for (std::string_view wanted : {std::string_view("\x02h2"), std::string_view("\x08http/1.1")}) {
      if (wanted == "\x02h2" && !options.http2) continue;
      for (std::size_t at = 0; at < list.size(); at += 1U + static_cast<unsigned char>(list[at])) {
        if (list.substr(at, wanted.size()) == wanted) {
          *out = offered + at + 1;
          *out_length = static_cast<unsigned char>(wanted.size() - 1);
          return SSL_TLSEXT_ERR_OK;
        }
      }
    }
    return SSL_TLSEXT_ERR_NOACK;
  }

  static bool negotiated_http2(TlsStream& stream) {
    const unsigned char* protocol = nullptr;
    unsigned length = 0;
    SSL_get0_alpn_selected(stream.native_handle(), &protocol, &length);
    return std::string_view(reinterpret_cast<const char*>(protocol), protocol ? length : 0) == "h2";
  }

  asio::awaitable<void> accept_loop() {
    while (acceptor_.is_open()) {
      beast::error_code error;
      Loop& loop = *loops_[next_loop_++ % loops_.size()];
      tcp::socket socket =
          co_await acceptor_.async_accept(loop.context, asio::redirect_error(use_awaitable, error));
      if (error) {
        if (!acceptor_.is_open()) co_return;
        continue;  // e.g. too many open files: keep serving the connections we have
      }
      auto executor = socket.get_executor();
      asio::co_spawn(executor, serve(std::move(socket), loop.wakeups), asio::detached);
    }
  }

  asio::awaitable<void> serve(tcp::socket socket, LoopWakeups& loop) {
    beast::error_code error;
    const auto remote = socket.remote_endpoint(error).address().to_string();
    // Answers go out whole at once; Nagle's algorithm would hold the last piece of a large one
    // until the client's delayed acknowledgement, 40 ms later.
    socket.set_option(tcp::no_delay(true), error);
    if (!options_.tls) {
      auto plain = std::make_shared<beast::tcp_stream>(std::move(socket));
      track(plain);
      co_await serve_http1(*plain, loop, remote);
      plain->socket().shutdown(tcp::socket::shutdown_send, error);
      co_return;
    }
    auto owned = std::make_shared<TlsStream>(std::move(socket), tls_);
    // The TCP stream inside, sharing the TLS stream's ownership.
    track(std::shared_ptr<beast::tcp_stream>(owned, &beast::get_lowest_layer(*owned)));
    TlsStream& stream = *owned;
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(30));
    co_await stream.async_handshake(asio::ssl::stream_base::server,
                                    asio::redirect_error(use_awaitable, error));
    if (error) co_return;
    if (negotiated_http2(stream)) {
      ConnectionContext context{options_, handler_, limits_, loop, stopped_};
      co_await serve_http2(std::move(owned), context, remote);
      co_return;
    }
    co_await serve_http1(stream, loop, remote);
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(5));
    co_await stream.async_shutdown(asio::redirect_error(use_awaitable, error));
  }

  // HTTP/1.1 requests on one connection until it is not kept alive.
  template <typename Stream>
  asio::awaitable<void> serve_http1(Stream& stream, LoopWakeups& loop, const std::string& remote) {
    auto wakeup = std::make_shared<Wakeup>(stream.get_executor(), loop);
    beast::error_code error;
    beast::flat_buffer buffer;
    while (!stopped_) {
      bhttp::request_parser<bhttp::string_body> parser;
      parser.body_limit(options_.body_limit);
      parser.header_limit(64 * 1024);
      beast::get_lowest_layer(stream).expires_after(options_.idle_timeout);
      co_await bhttp::async_read(stream, buffer, parser, asio::redirect_error(use_awaitable, error));
      if (error == bhttp::error::body_limit) {
        co_await reply_error(stream, 413, "RequestEntityTooLarge",
                             fmt::format("the request body is larger than {} bytes", options_.body_limit));
        break;
      }
      if (error) break;
      auto message = parser.release();
      Request request;
      request.method = std::string(message.method_string());
      request.target = std::string(message.target());
      for (const auto& field : message) {
        auto name = field.name_string();
        request.headers.emplace_back(lower(std::string_view(name.data(), name.size())),
                                     std::string(field.value()));
      }
      request.body = std::move(message.body());
      if constexpr (std::is_same_v<Stream, TlsStream>) read_client_identity(stream, request);
      ClientSlot slot(limits_, client_key(request, remote));
      ExchangeImpl<Stream> exchange(stream, std::move(request), message.keep_alive(), wakeup, slot);
      beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(60));
      std::string failure = "the handler gave no response";
      if (!slot.admit()) {
        auto refusal = too_many_requests("requests at once");
        co_await exchange.respond(std::move(refusal));
      } else {
        try {
          co_await handler_(exchange);
        } catch (const std::exception& error_in_handler) {
          failure = error_in_handler.what();
        }
      }
      if (!exchange.answered()) {
        // (A named Response: g++ 12 miscompiles braced temporaries inside co_await.)
        auto internal_error = status_response(500, "InternalError", failure);
        co_await exchange.respond(std::move(internal_error));
      }
      co_await exchange.finish();
      if (!exchange.keep_alive()) break;
    }
  }

  template <typename Stream>
  asio::awaitable<void> reply_error(Stream& stream, unsigned code, std::string_view reason,
                                    std::string message) {
    bhttp::response<bhttp::string_body> response{static_cast<bhttp::status>(code), 11};
    response.set(bhttp::field::content_type, "application/json");
    response.body() = status_body(code, reason, message);
    response.keep_alive(false);
    response.prepare_payload();
    beast::error_code error;
    co_await bhttp::async_write(stream, response, asio::redirect_error(use_awaitable, error));
  }

  void track(const std::shared_ptr<beast::tcp_stream>& stream) {
    std::lock_guard lock(connections_mutex_);
    std::erase_if(connections_, [](const auto& weak) { return weak.expired(); });
    connections_.push_back(stream);
  }

  ServerOptions options_;
  Handler handler_;
  // One event loop per thread, each connection on one of them, so that a connection's handlers
  // never run concurrently and need no strand.
  struct Loop {
    Loop() : wakeups(&context) {}
    // Declared first so that it outlives the coroutine frames the context destroys: wakers that
    // other threads call until then reach it.
    LoopWakeups wakeups;
    asio::io_context context{1};
  };
  static std::vector<std::unique_ptr<Loop>> make_loops(unsigned count) {
    std::vector<std::unique_ptr<Loop>> loops;
    for (unsigned i = 0; i < std::max(1U, count); ++i) loops.push_back(std::make_unique<Loop>());
    return loops;
  }

  // Before the loops: coroutine frames that they destroy hold slots in it.
  ClientLimits limits_;
  std::vector<std::unique_ptr<Loop>> loops_ = make_loops(options_.threads);
  std::size_t next_loop_ = 0;  // round robin, only touched by the accept loop
  asio::ssl::context tls_;
  tcp::acceptor acceptor_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stopped_{false};
  std::uint16_t port_ = 0;
  std::mutex connections_mutex_;
  std::vector<std::weak_ptr<beast::tcp_stream>> connections_;  // of TLS streams too
};

Server::Server(ServerOptions options, Handler handler)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler))) {}
Server::~Server() { stop(); }
void Server::start() { impl_->start(); }
void Server::stop() { impl_->stop(); }
std::uint16_t Server::port() const { return impl_->port(); }

}  // namespace riasc::http
