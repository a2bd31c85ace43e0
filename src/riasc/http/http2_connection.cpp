// HTTP/2 (RFC 9113) for http::Server, on nghttp2's session state machine. One connection carries
// many requests and streams; everything of a connection runs on its event loop, so the session
// needs no lock. A reader feeds the session, a single writer drains it: a burst of watch events
// across many streams leaves as one TLS write instead of one per stream.

#include <utility>  // Boost 1.74's awaitable.hpp needs it first under g++ 12

#include <fmt/format.h>
#include <nghttp2/nghttp2.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>

#include "riasc/http/server_internals.hpp"

namespace riasc::http::detail {

namespace asio = boost::asio;
using asio::use_awaitable;

namespace {

// A stream's answer waiting to be framed beyond this makes its handler wait (the client reads
// slowly or its flow-control window is closed), as an HTTP/1.1 write would.
constexpr std::size_t kStreamBufferLimit = 1024 * 1024;
// One TLS write carries at most this much; the rest follows in the next.
constexpr std::size_t kWriteBatch = 256 * 1024;
constexpr std::size_t kHeaderLimit = 64 * 1024;
constexpr std::size_t kDiscardLimit = 16 * 1024 * 1024;
// Request bodies: the client may send this much per stream and per connection before we ask for
// more, so that a body of a few MB does not wait for a round trip every 64 KiB.
constexpr std::int32_t kStreamReceiveWindow = 1024 * 1024;
constexpr std::int32_t kConnectionReceiveWindow = 8 * 1024 * 1024;

bool hop_by_hop(std::string_view name) {
  return name == "connection" || name == "keep-alive" || name == "transfer-encoding" || name == "upgrade" ||
         name == "proxy-connection" || name == "content-length";
}

struct Http2Stream {
  Http2Stream(std::int32_t stream_id, asio::any_io_executor executor)
      : id(stream_id), drained(std::move(executor)) {}

  std::int32_t id;
  Request request;
  std::size_t header_bytes = 0;
  bool body_too_large = false;
  std::size_t discarded = 0;    // body bytes dropped after the 413
  bool answer_started = false;  // a handler runs (or ran) for it

  // The answer's bytes not yet framed: outgoing[offset..].
  std::string outgoing;
  std::size_t offset = 0;
  bool ended = false;     // no more bytes will be appended
  bool deferred = false;  // nghttp2 waits for resume_data
  bool closed = false;    // reset, finished, or the connection is gone
  asio::steady_timer drained;
  std::function<void()> wake_handler;

  [[nodiscard]] std::size_t pending() const { return outgoing.size() - offset; }
};

}  // namespace

class Http2Connection : public std::enable_shared_from_this<Http2Connection> {
 public:
  Http2Connection(std::shared_ptr<TlsStream> stream, ConnectionContext context, std::string remote)
      : stream_(std::move(stream)),
        context_(context),
        remote_(std::move(remote)),
        executor_(stream_->get_executor()),
        writer_signal_(executor_) {
    nghttp2_session_callbacks* callbacks = nullptr;
    nghttp2_session_callbacks_new(&callbacks);
    nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, &on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(callbacks, &on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, &on_data_chunk);
    nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, &on_frame_received);
    nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, &on_stream_close);
    nghttp2_session_server_new(&session_, callbacks, this);
    nghttp2_session_callbacks_del(callbacks);
    read_client_identity(*stream_, identity_);
  }
  ~Http2Connection() { nghttp2_session_del(session_); }
  Http2Connection(const Http2Connection&) = delete;
  Http2Connection& operator=(const Http2Connection&) = delete;

  asio::awaitable<void> run() {
    const auto& options = context_.options;
    std::array<nghttp2_settings_entry, 2> settings{{
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS,
         options.max_requests_per_client + options.max_streams_per_client},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, static_cast<std::uint32_t>(kStreamReceiveWindow)},
    }};
    nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings.data(), settings.size());
    nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0, kConnectionReceiveWindow);
    boost::beast::get_lowest_layer(*stream_).expires_never();
    asio::co_spawn(executor_, write_loop(shared_from_this()), asio::detached);
    co_await read_loop();
  }

  // --- for the exchanges of this connection's streams ---

  void submit_response(Http2Stream& stream, unsigned status, const Headers& headers, bool streaming) {
    if (stream.closed) return;
    Headers texts;  // nghttp2 copies them during the call
    texts.emplace_back(":status", std::to_string(status));
    for (const auto& [name, value] : headers) {
      auto lower_name = lower(name);
      if (!hop_by_hop(lower_name)) texts.emplace_back(std::move(lower_name), value);
    }
    if (!streaming) texts.emplace_back("content-length", std::to_string(stream.pending()));
    std::vector<nghttp2_nv> fields;
    for (auto& [name, value] : texts) {
      fields.push_back({reinterpret_cast<std::uint8_t*>(name.data()),
                        reinterpret_cast<std::uint8_t*>(value.data()), name.size(), value.size(),
                        NGHTTP2_NV_FLAG_NONE});
    }
    stream.ended = !streaming;
    nghttp2_data_provider provider{};
    provider.source.ptr = &stream;
    provider.read_callback = &read_answer;
    const bool no_body = !streaming && stream.pending() == 0;
    if (nghttp2_submit_response(session_, stream.id, fields.data(), fields.size(),
                                no_body ? nullptr : &provider) != 0) {
      stream.closed = true;
    }
    wake_writer();
  }

  void append(Http2Stream& stream, std::string_view bytes) {
    if (stream.closed) return;
    stream.outgoing.append(bytes);
    resume(stream);
  }

  void end(Http2Stream& stream) {
    if (stream.closed || stream.ended) return;
    stream.ended = true;
    resume(stream);
  }

  // Until the stream's unframed bytes are few enough again, or it closed.
  asio::awaitable<void> drain(std::shared_ptr<Http2Stream> stream) {
    while (!stream->closed && stream->pending() > kStreamBufferLimit) {
      blocked_.push_back(stream);
      stream->drained.expires_at(asio::steady_timer::time_point::max());
      boost::system::error_code ignored;
      co_await stream->drained.async_wait(asio::redirect_error(use_awaitable, ignored));
    }
  }

  [[nodiscard]] LoopWakeups& wakeups() const { return context_.wakeups; }
  [[nodiscard]] const asio::any_io_executor& executor() const { return executor_; }

 private:
  void resume(Http2Stream& stream) {
    if (stream.deferred) {
      stream.deferred = false;
      nghttp2_session_resume_data(session_, stream.id);
    }
    wake_writer();
  }

  void wake_writer() {
    if (writer_waiting_) writer_signal_.cancel();
  }

  asio::awaitable<void> read_loop() {
    std::vector<char> buffer(64 * 1024);
    while (!context_.stopped && !closing_) {
      boost::system::error_code error;
      std::size_t size =
          co_await stream_->async_read_some(asio::buffer(buffer), asio::redirect_error(use_awaitable, error));
      if (error) break;
      auto used =
          nghttp2_session_mem_recv(session_, reinterpret_cast<const std::uint8_t*>(buffer.data()), size);
      wake_writer();  // SETTINGS and PING acknowledgements, WINDOW_UPDATE, GOAWAY after errors
      if (used < 0) break;
    }
    close();
  }

  // The only place that writes to the socket.
  static asio::awaitable<void> write_loop(std::shared_ptr<Http2Connection> self) {
    std::string batch;
    for (;;) {
      batch.clear();
      while (batch.size() < kWriteBatch) {
        const std::uint8_t* data = nullptr;
        auto size = nghttp2_session_mem_send(self->session_, &data);
        if (size <= 0) break;
        batch.append(reinterpret_cast<const char*>(data), static_cast<std::size_t>(size));
      }
      if (!batch.empty()) {
        boost::system::error_code error;
        co_await asio::async_write(*self->stream_, asio::buffer(batch),
                                   asio::redirect_error(use_awaitable, error));
        if (error) break;
        self->release_drained();
        continue;
      }
      if (self->closing_ ||
          (!nghttp2_session_want_read(self->session_) && !nghttp2_session_want_write(self->session_))) {
        break;
      }
      // Nothing to send: wait for a handler or the reader, at most the idle timeout.
      self->writer_waiting_ = true;
      self->writer_signal_.expires_after(self->context_.options.idle_timeout);
      boost::system::error_code error;
      co_await self->writer_signal_.async_wait(asio::redirect_error(use_awaitable, error));
      self->writer_waiting_ = false;
      if (!error && self->streams_.empty()) {
        // Idle for the whole timeout: say goodbye, then close once that went out.
        nghttp2_session_terminate_session(self->session_, NGHTTP2_NO_ERROR);
        self->closing_ = true;
      }
    }
    self->close();
    boost::system::error_code ignored;
    boost::beast::get_lowest_layer(*self->stream_)
        .socket()
        .shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  }

  void release_drained() {
    std::erase_if(blocked_, [](const std::shared_ptr<Http2Stream>& stream) {
      if (!stream->closed && stream->pending() > kStreamBufferLimit / 2) return false;
      stream->drained.cancel();
      return true;
    });
  }

  // The connection is over: every stream learns it at its next write or wait.
  void close() {
    closing_ = true;
    for (auto& [id, stream] : streams_) mark_closed(*stream);
    streams_.clear();
    release_drained();
    wake_writer();
  }

  static void mark_closed(Http2Stream& stream) {
    stream.closed = true;
    stream.drained.cancel();
    if (stream.wake_handler) stream.wake_handler();
  }

  Http2Stream* find(std::int32_t id) {
    auto found = streams_.find(id);
    return found == streams_.end() ? nullptr : found->second.get();
  }

  void start_answer(Http2Stream& stream);

  // --- nghttp2 callbacks; user_data is the connection ---

  static Http2Connection& self(void* user_data) { return *static_cast<Http2Connection*>(user_data); }

  static int on_begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    auto& connection = self(user_data);
    auto stream = std::make_shared<Http2Stream>(frame->hd.stream_id, connection.executor_);
    stream->request.client_user = connection.identity_.client_user;
    stream->request.client_groups = connection.identity_.client_groups;
    connection.streams_[stream->id] = std::move(stream);
    return 0;
  }

  static int on_header(nghttp2_session*, const nghttp2_frame* frame, const std::uint8_t* name_data,
                       std::size_t name_length, const std::uint8_t* value_data, std::size_t value_length,
                       std::uint8_t, void* user_data) {
    if (frame->hd.type != NGHTTP2_HEADERS) return 0;
    auto* stream = self(user_data).find(frame->hd.stream_id);
    if (!stream) return 0;
    stream->header_bytes += name_length + value_length;
    if (stream->header_bytes > kHeaderLimit) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;  // resets it
    std::string_view name(reinterpret_cast<const char*>(name_data), name_length);
    std::string value(reinterpret_cast<const char*>(value_data), value_length);
    auto& request = stream->request;
    if (name == ":method") {
      request.method = std::move(value);
    } else if (name == ":path") {
      request.target = std::move(value);
    } else if (name == ":authority") {
      request.headers.emplace_back("host", std::move(value));
    } else if (!name.starts_with(':')) {
      request.headers.emplace_back(std::string(name), std::move(value));  // lower case in HTTP/2
    }
    return 0;
  }

  static int on_data_chunk(nghttp2_session* session, std::uint8_t, std::int32_t stream_id,
                           const std::uint8_t* data, std::size_t length, void* user_data) {
    auto& connection = self(user_data);
    auto* stream = connection.find(stream_id);
    if (!stream) return 0;
    if (stream->body_too_large) {
      // The 413 went out already. The rest of the body is dropped unread, as clients (curl) take a
      // reset of the stream for a failure even after a complete answer; but not without end.
      stream->discarded += length;
      if (stream->discarded > kDiscardLimit)
        nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, stream_id, NGHTTP2_CANCEL);
      return 0;
    }
    if (stream->request.body.size() + length > connection.context_.options.body_limit) {
      // Answer now rather than collect a body we will not take; what follows is dropped above.
      stream->body_too_large = true;
      stream->request.body.clear();
      connection.start_answer(*stream);
      return 0;
    }
    stream->request.body.append(reinterpret_cast<const char*>(data), length);
    return 0;
  }

  static int on_frame_received(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
    if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) return 0;
    if ((frame->hd.flags & NGHTTP2_FLAG_END_STREAM) == 0) return 0;
    auto& connection = self(user_data);
    if (auto* stream = connection.find(frame->hd.stream_id)) {
      connection.start_answer(*stream);
    }
    return 0;
  }

  static int on_stream_close(nghttp2_session*, std::int32_t stream_id, std::uint32_t, void* user_data) {
    auto& connection = self(user_data);
    auto found = connection.streams_.find(stream_id);
    if (found == connection.streams_.end()) return 0;
    mark_closed(*found->second);
    connection.streams_.erase(found);
    return 0;
  }

  static ssize_t read_answer(nghttp2_session*, std::int32_t, std::uint8_t* buffer, std::size_t length,
                             std::uint32_t* flags, nghttp2_data_source* source, void*) {
    auto& stream = *static_cast<Http2Stream*>(source->ptr);
    const std::size_t size = std::min(length, stream.pending());
    if (size == 0 && !stream.ended) {
      stream.deferred = true;
      return NGHTTP2_ERR_DEFERRED;
    }
    std::memcpy(buffer, stream.outgoing.data() + stream.offset, size);
    stream.offset += size;
    if (stream.offset == stream.outgoing.size()) {
      stream.outgoing.clear();  // keeps its capacity for the next events
      stream.offset = 0;
    } else if (stream.offset > kStreamBufferLimit) {
      stream.outgoing.erase(0, stream.offset);
      stream.offset = 0;
    }
    if (stream.ended && stream.pending() == 0) *flags |= NGHTTP2_DATA_FLAG_EOF;
    return static_cast<ssize_t>(size);
  }

  std::shared_ptr<TlsStream> stream_;
  ConnectionContext context_;
  std::string remote_;
  asio::any_io_executor executor_;
  nghttp2_session* session_ = nullptr;
  Request identity_;  // the client certificate's user and groups, the same for every stream
  std::unordered_map<std::int32_t, std::shared_ptr<Http2Stream>> streams_;
  std::vector<std::shared_ptr<Http2Stream>> blocked_;  // handlers waiting in drain()
  asio::steady_timer writer_signal_;
  bool writer_waiting_ = false;
  bool closing_ = false;
};

namespace {

class Http2Exchange final : public ExchangeBase {
 public:
  Http2Exchange(std::shared_ptr<Http2Connection> connection, std::shared_ptr<Http2Stream> stream,
                std::shared_ptr<Wakeup> wakeup, ClientSlot& slot)
      : ExchangeBase(slot, std::move(wakeup)),
        connection_(std::move(connection)),
        stream_(std::move(stream)) {}

  const Request& request() const override { return stream_->request; }

  asio::awaitable<void> respond(Response response) override {
    if (answered_) co_return;
    answered_ = true;
    stream_->outgoing = std::move(response.body);
    connection_->submit_response(*stream_, response.status, response.headers, false);
    co_return;
  }

  asio::awaitable<bool> start_stream(unsigned status, Headers headers) override {
    const bool admitted = co_await begin_stream();  // (g++ 12 miscompiles co_await inside the if)
    if (!admitted) co_return false;
    connection_->submit_response(*stream_, status, headers, true);
    co_return !stream_->closed;
  }

  asio::awaitable<bool> write_chunk(std::string chunk) override {
    if (!streaming_ || stream_->closed) co_return false;
    connection_->append(*stream_, chunk);
    if (stream_->pending() > kStreamBufferLimit) co_await connection_->drain(stream_);
    co_return !stream_->closed;
  }

  void finish() {
    if (streaming_) connection_->end(*stream_);
  }

 private:
  std::shared_ptr<Http2Connection> connection_;
  std::shared_ptr<Http2Stream> stream_;
};

asio::awaitable<void> answer(std::shared_ptr<Http2Connection> connection, std::shared_ptr<Http2Stream> stream,
                             ConnectionContext context, std::string client) {
  auto wakeup = std::make_shared<Wakeup>(connection->executor(), connection->wakeups());
  stream->wake_handler = make_waker(wakeup);
  ClientSlot slot(context.limits, std::move(client));
  Http2Exchange exchange(connection, stream, wakeup, slot);
  std::string failure = "the handler gave no response";
  if (stream->body_too_large) {
    auto refusal =
        status_response(413, "RequestEntityTooLarge",
                        fmt::format("the request body is larger than {} bytes", context.options.body_limit));
    co_await exchange.respond(std::move(refusal));
  } else if (!slot.admit()) {
    auto refusal = too_many_requests("requests at once");
    co_await exchange.respond(std::move(refusal));
  } else {
    try {
      co_await context.handler(exchange);
    } catch (const std::exception& error_in_handler) {
      failure = error_in_handler.what();
    }
  }
  if (!exchange.answered()) {
    auto internal_error = status_response(500, "InternalError", failure);
    co_await exchange.respond(std::move(internal_error));
  }
  exchange.finish();
}

}  // namespace

void Http2Connection::start_answer(Http2Stream& stream) {
  if (stream.answer_started) return;
  stream.answer_started = true;
  // co_spawn posts: the handler starts after nghttp2 has returned from this callback.
  asio::co_spawn(
      executor_,
      answer(shared_from_this(), streams_.at(stream.id), context_, client_key(stream.request, remote_)),
      asio::detached);
}

asio::awaitable<void> serve_http2(std::shared_ptr<TlsStream> stream, ConnectionContext context,
                                  std::string remote) {
  auto connection = std::make_shared<Http2Connection>(std::move(stream), context, std::move(remote));
  co_await connection->run();
}

}  // namespace riasc::http::detail
