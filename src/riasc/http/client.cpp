#include "riasc/http/client.hpp"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <fmt/format.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <algorithm>
#include <mutex>

namespace riasc::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

bool is_ip_address(const std::string& host) {
  unsigned char buffer[16];
  return inet_pton(AF_INET, host.c_str(), buffer) == 1 || inet_pton(AF_INET6, host.c_str(), buffer) == 1;
}

}  // namespace

class Client::Impl {
 public:
  explicit Impl(ClientOptions options) : options_(std::move(options)), tls_(asio::ssl::context::tls_client) {
    if (options_.server_name.empty()) options_.server_name = options_.host;
    if (options_.insecure_skip_tls_verify) {
      tls_.set_verify_mode(asio::ssl::verify_none);
    } else {
      if (options_.ca_pem.empty())
        tls_.set_default_verify_paths();
      else
        tls_.add_certificate_authority(asio::buffer(options_.ca_pem));
      tls_.set_verify_mode(asio::ssl::verify_peer);
    }
    if (options_.client_identity) {
      tls_.use_certificate_chain(asio::buffer(options_.client_identity->certificate_pem));
      tls_.use_private_key(asio::buffer(options_.client_identity->private_key_pem), asio::ssl::context::pem);
    }
  }

  Response request(std::string_view method, std::string_view target, std::string body,
                   const Headers& headers) {
    // Built once: the retry sends the same message (writing leaves it intact), body included.
    auto message = build(method, target, std::move(body), headers);
    for (int attempt = 0;; ++attempt) {
      try {
        connect_if_needed();
        // One deadline for writing the request and reading the whole answer.
        beast::get_lowest_layer(*stream_).expires_after(options_.timeout);
        run([&](auto done) { bhttp::async_write(*stream_, message, std::move(done)); });
        beast::flat_buffer buffer;
        bhttp::response_parser<bhttp::string_body> parser;
        parser.body_limit(std::numeric_limits<std::uint64_t>::max());
        run([&](auto done) { bhttp::async_read(*stream_, buffer, parser, std::move(done)); });
        auto reply = parser.release();
        Response response;
        response.status = reply.result_int();
        for (const auto& field : reply) {
          std::string name(field.name_string());
          std::ranges::transform(name, name.begin(),
                                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
          response.headers.emplace_back(std::move(name), std::string(field.value()));
        }
        response.body = std::move(reply.body());
        if (!reply.keep_alive()) close();
        return response;
      } catch (const boost::system::system_error& error) {
        close();
        // Retry once on a connection the server had closed, but not after the time ran out.
        if (attempt > 0 || error.code() == beast::error::timeout) throw;
      }
    }
  }

  unsigned stream(std::string_view method, std::string_view target,
                  const std::function<bool(std::string_view)>& on_data, const Headers& headers) {
    close();  // a stream gets its own connection and ends it
    if (cancelled()) return 0;
    beast::flat_buffer buffer;
    bhttp::response_parser<bhttp::empty_body> parser;
    try {
      connect_if_needed();
      if (!publish_socket()) return 0;
      bhttp::write(*stream_, build(method, target, {}, headers));
      bhttp::read_header(*stream_, buffer, parser);
    } catch (const boost::system::system_error&) {
      close();
      if (cancelled()) return 0;
      throw;
    }
    unsigned status = parser.get().result_int();
    bool keep_going = true;
    // Each piece of the body, chunked or not, goes to on_data as it arrives.
    bhttp::response_parser<bhttp::string_body> body_parser(std::move(parser));
    body_parser.body_limit(std::numeric_limits<std::uint64_t>::max());
    auto on_chunk = [&](std::uint64_t, beast::string_view data, beast::error_code&) -> std::size_t {
      if (keep_going) keep_going = on_data(std::string_view(data.data(), data.size()));
      return data.size();
    };
    body_parser.on_chunk_body(on_chunk);
    beast::get_lowest_layer(*stream_).expires_never();
    beast::error_code error;
    while (keep_going && !body_parser.is_done()) {
      bhttp::read_some(*stream_, buffer, body_parser, error);
      if (error) break;
      if (!body_parser.chunked() && !body_parser.get().body().empty()) {
        keep_going = on_data(body_parser.get().body());
        body_parser.get().body().clear();
      }
    }
    close();
    return status;
  }

  void cancel() {
    std::lock_guard lock(cancel_mutex_);
    cancelled_ = true;
    if (socket_ >= 0) ::shutdown(socket_, SHUT_RDWR);
  }

 private:
  bhttp::request<bhttp::string_body> build(std::string_view method, std::string_view target, std::string body,
                                           const Headers& headers) {
    bhttp::request<bhttp::string_body> message;
    message.method_string(beast::string_view(method.data(), method.size()));
    message.target(beast::string_view(target.data(), target.size()));
    message.version(11);
    message.set(bhttp::field::host, fmt::format("{}:{}", options_.host, options_.port));
    message.set(bhttp::field::user_agent, "riasc");
    for (const auto& [name, value] : headers) message.set(name, value);
    message.body() = std::move(body);
    message.keep_alive(true);
    message.prepare_payload();
    return message;
  }

  void connect_if_needed() {
    if (stream_) return;
    stream_ = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(io_, tls_);
    SSL* ssl = stream_->native_handle();
    X509_VERIFY_PARAM* parameters = SSL_get0_param(ssl);
    const std::string& name = options_.server_name;
    if (is_ip_address(name)) {
      if (!options_.insecure_skip_tls_verify) X509_VERIFY_PARAM_set1_ip_asc(parameters, name.c_str());
    } else {
      if (!options_.insecure_skip_tls_verify) X509_VERIFY_PARAM_set1_host(parameters, name.c_str(), 0);
      SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, const_cast<char*>(name.c_str()));
    }
    tcp::resolver resolver(io_);
    auto endpoints = resolver.resolve(options_.host, std::to_string(options_.port));
    beast::get_lowest_layer(*stream_).expires_after(options_.timeout);
    run([&](auto done) { beast::get_lowest_layer(*stream_).async_connect(endpoints, std::move(done)); });
    beast::get_lowest_layer(*stream_).socket().set_option(tcp::no_delay(true));  // no 40 ms Nagle stalls
    run([&](auto done) { stream_->async_handshake(asio::ssl::stream_base::client, std::move(done)); });
  }

  // Runs one asynchronous operation to its end on this client's own io_context, in the calling
  // thread. Asynchronous because only those honour the stream's expiry (expires_after): Beast's
  // synchronous calls ignore it, so a server that accepts and never answers would hold the caller
  // forever. Throws system_error, beast::error::timeout when the time ran out.
  template <typename Start>
  void run(Start start) {
    beast::error_code result;
    start([&result](beast::error_code error, auto&&...) { result = error; });
    io_.restart();
    io_.run();
    if (result) throw boost::system::system_error(result);
  }

  // Makes the connected socket reachable from cancel(); false when cancel() came first. cancel()
  // only ever sees a socket that is open, never the Asio object, which is not thread-safe.
  bool publish_socket() {
    std::lock_guard lock(cancel_mutex_);
    if (cancelled_) {
      stream_.reset();
      return false;
    }
    socket_ = beast::get_lowest_layer(*stream_).socket().native_handle();
    return true;
  }

  bool cancelled() {
    std::lock_guard lock(cancel_mutex_);
    return cancelled_;
  }

  void close() {
    {
      std::lock_guard lock(cancel_mutex_);
      socket_ = -1;
    }
    stream_.reset();
  }

  ClientOptions options_;
  std::mutex cancel_mutex_;
  bool cancelled_ = false;
  int socket_ = -1;  // the open stream's socket, for cancel()
  asio::io_context io_;
  asio::ssl::context tls_;
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> stream_;
};

Client::Client(ClientOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Client::~Client() = default;

Response Client::request(std::string_view method, std::string_view target, std::string body,
                         Headers headers) {
  return impl_->request(method, target, std::move(body), headers);
}

unsigned Client::stream(std::string_view method, std::string_view target,
                        const std::function<bool(std::string_view)>& on_data, Headers headers) {
  return impl_->stream(method, target, on_data, headers);
}

void Client::cancel() { impl_->cancel(); }

}  // namespace riasc::http
