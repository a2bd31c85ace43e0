// Issue 3's figures for the whole API server: starts `riasc server` as its own process and
// drives it over HTTPS on loopback with keep-alive, as kubectl and operators do. Prints creates/s
// and gets/s with 8 clients, the time to list 10,000 objects, watch delivery latency with 1,000
// watchers, creates/s while watchers do not read, and the server's resident memory idle and with
// 100,000 small objects. Client and server share the machine's cores, as they would on a lab PC.
//
//   riasc_http_bench [--watch-only] [--watchers N] [RIASC_BINARY]
// Progress goes to standard error, one line per phase, so that `perf record -p` can be started
// on the server when a phase begins; RIASC_BENCH_GETS and RIASC_BENCH_LISTS lengthen two phases.
#include <fcntl.h>
#include <fmt/format.h>
#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "bench_process.hpp"
#include "riasc/http/client.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using riasc::bench::process_cpu_seconds;
using riasc::bench::read_file;

constexpr int kClients = 8;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}
double milliseconds(Clock::duration duration) {
  return std::chrono::duration<double, std::milli>(duration).count();
}

double percentile(std::vector<double> values, double fraction) {
  if (values.empty()) return 0;
  std::ranges::sort(values);
  auto index = static_cast<std::size_t>(fraction * static_cast<double>(values.size() - 1));
  return values[index];
}

// A small ConfigMap (about 300 bytes of JSON), the kind of object operators keep many of.
std::string config_map(std::string_view name) {
  return fmt::format(
      R"({{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"{}","labels":{{"app":"bench"}}}},)"
      R"("data":{{"setpoint":"{}","note":"{}"}}}})",
      name, name.size(), std::string(160, 'x'));
}

// The server under test, in its own process with its own data folder.
class ServerProcess {
 public:
  ServerProcess(const std::string& binary, std::filesystem::path directory)
      : server_(binary, std::move(directory)) {
    std::smatch match;
    const std::string text = read_file(server_.kubeconfig());
    if (!std::regex_search(text, match, std::regex(R"(server: https://127\.0\.0\.1:(\d+))")))
      throw std::runtime_error("no server address in " + server_.kubeconfig().string());
    port_ = static_cast<std::uint16_t>(std::stoi(match[1]));
    const auto pki = server_.directory() / "pki";
    options_.port = port_;
    options_.ca_pem = read_file(pki / "ca.crt");
    options_.client_identity =
        riasc::http::KeyPair{read_file(pki / "admin.crt"), read_file(pki / "admin.key")};
  }

  [[nodiscard]] const riasc::http::ClientOptions& client_options() const { return options_; }
  [[nodiscard]] std::uint16_t port() const { return port_; }
  // User + system CPU seconds the server has used so far.
  [[nodiscard]] double cpu_seconds() const { return server_.process().cpu_seconds(); }
  [[nodiscard]] double rss_mib() const { return server_.process().rss_mib(); }

 private:
  riasc::bench::RiascServer server_;
  std::uint16_t port_ = 0;
  riasc::http::ClientOptions options_;
};

void expect(const riasc::http::Response& response, unsigned status, std::string_view what) {
  if (response.status != status)
    throw std::runtime_error(
        fmt::format("{}: HTTP {} {}", what, response.status, response.body.substr(0, 300)));
}

void create_namespace(riasc::http::Client& client, std::string_view name) {
  auto body = fmt::format(R"({{"apiVersion":"v1","kind":"Namespace","metadata":{{"name":"{}"}}}})", name);
  expect(client.request("POST", "/api/v1/namespaces", body, {{"Content-Type", "application/json"}}), 201,
         "create namespace");
}

// Creates names `prefix-0` .. `prefix-(count-1)` in `namespace_name` from kClients clients.
double create_config_maps(const ServerProcess& server, std::string_view namespace_name,
                          std::string_view prefix, int first, int count) {
  const auto start = Clock::now();
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      riasc::http::Client client(server.client_options());
      const auto path = fmt::format("/api/v1/namespaces/{}/configmaps", namespace_name);
      for (int i = first + c; i < first + count; i += kClients) {
        expect(client.request("POST", path, config_map(fmt::format("{}-{}", prefix, i)),
                              {{"Content-Type", "application/json"}}),
               201, "create");
      }
    });
  }
  for (auto& thread : clients) thread.join();
  return count / seconds_since(start);
}

double get_config_maps(const ServerProcess& server, std::string_view namespace_name, int objects, int gets) {
  const auto start = Clock::now();
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      riasc::http::Client client(server.client_options());
      for (int i = c; i < gets; i += kClients) {
        expect(client.request(
                   "GET", fmt::format("/api/v1/namespaces/{}/configmaps/cm-{}", namespace_name, i % objects)),
               200, "get");
      }
    });
  }
  for (auto& thread : clients) thread.join();
  return gets / seconds_since(start);
}

// How the watchers reach the server: HTTP/1.1 with a connection per watch (the Python client,
// curl), or HTTP/2 with the watches of a process multiplexed on one connection (client-go,
// kubectl: all informers of an operator share one), here one connection per client.
enum class Protocol { Http1, Http2 };

std::string_view protocol_name(Protocol protocol) {
  return protocol == Protocol::Http1 ? "HTTP/1.1, a connection per watch" : "HTTP/2, 8 connections";
}

// Watchers in this process, all on one epoll loop over OpenSSL directly, noting when each
// benchmark event reaches each watch. The loop is lean on purpose (one recv per delivery over
// HTTP/1.1) so that the figures are the server's, not the benchmark's.
class Watchers {
 public:
  Watchers(const ServerProcess& server, int count, int events, bool reading,
           Protocol protocol = Protocol::Http1)
      : port_(server.port()),
        arrivals_(static_cast<std::size_t>(events),
                  std::vector<Clock::time_point>(static_cast<std::size_t>(count))),
        reading_(reading),
        protocol_(protocol),
        watch_buffers_(static_cast<std::size_t>(count)) {
    const auto& options = server.client_options();
    context_ = SSL_CTX_new(TLS_client_method());
    add_pem(options.ca_pem, options.client_identity->certificate_pem,
            options.client_identity->private_key_pem);
    SSL_CTX_set_verify(context_, SSL_VERIFY_PEER, nullptr);
    SSL_CTX_set_read_ahead(context_, 1);  // a whole record (or several) per recv
    if (protocol_ == Protocol::Http2) {
      static constexpr unsigned char kAlpn[] = "\x02h2";
      SSL_CTX_set_alpn_protos(context_, kAlpn, sizeof kAlpn - 1);
    }
    connections_.resize(protocol_ == Protocol::Http2
                            ? std::min<std::size_t>(kClients, static_cast<std::size_t>(count))
                            : static_cast<std::size_t>(count));
    epoll_ = epoll_create1(EPOLL_CLOEXEC);
  }
  ~Watchers() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    for (auto& connection : connections_) {
      if (connection.session) nghttp2_session_del(connection.session);
      if (connection.ssl) SSL_free(connection.ssl);
      if (connection.fd >= 0) close(connection.fd);
    }
    close(epoll_);
    SSL_CTX_free(context_);
  }
  Watchers(const Watchers&) = delete;
  Watchers& operator=(const Watchers&) = delete;

  // Opens every watch (`path`) and waits for its response headers, then starts the loop.
  void open(const std::string& path) {
    for (std::size_t i = 0; i < connections_.size(); ++i) {
      if (protocol_ == Protocol::Http2) {
        open_multiplexed(connections_[i], path, i);
      } else {
        open_one(connections_[i], path, i);
      }
    }
    if (reading_) thread_ = std::thread([this] { loop(); });
  }

  // Waits until every watcher has seen every event; false when some never arrive.
  bool wait_for_all(std::chrono::seconds timeout) {
    const auto expected = static_cast<long>(arrivals_.size() * arrivals_[0].size());
    const auto deadline = Clock::now() + timeout;
    while (received_ < expected && Clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return received_ >= expected;
  }
  [[nodiscard]] long received() const { return received_; }

  // Delivery latencies in milliseconds from `sent[event]`, for events that arrived.
  [[nodiscard]] std::vector<double> latencies(const std::vector<Clock::time_point>& sent) const {
    std::vector<double> values;
    for (std::size_t event = 0; event < arrivals_.size(); ++event) {
      for (const auto& arrival : arrivals_[event]) {
        if (arrival != Clock::time_point{}) values.push_back(milliseconds(arrival - sent[event]));
      }
    }
    return values;
  }

 private:
  struct Connection {
    int fd = -1;
    SSL* ssl = nullptr;
    std::string buffer;
    // HTTP/2: the session, which watch each stream is, and how many answered 200 so far.
    nghttp2_session* session = nullptr;
    std::unordered_map<std::int32_t, std::size_t> watch_of_stream;
    std::size_t answered = 0;
    std::string failure;
  };

  void add_pem(const std::string& ca, const std::string& certificate, const std::string& key) {
    auto read_bio = [](const std::string& pem) {
      return BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    };
    BIO* bio = read_bio(ca);
    X509* ca_certificate = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
    X509_STORE_add_cert(SSL_CTX_get_cert_store(context_), ca_certificate);
    X509_free(ca_certificate);
    BIO_free(bio);
    bio = read_bio(certificate);
    X509* own = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
    SSL_CTX_use_certificate(context_, own);
    X509_free(own);
    BIO_free(bio);
    bio = read_bio(key);
    EVP_PKEY* private_key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
    SSL_CTX_use_PrivateKey(context_, private_key);
    EVP_PKEY_free(private_key);
    BIO_free(bio);
  }

  void connect_tls(Connection& connection, std::size_t index) {
    connection.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port_);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(connection.fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0)
      throw std::runtime_error(fmt::format("watcher {}: connect: {}", index, strerror(errno)));
    const int one = 1;
    setsockopt(connection.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    connection.ssl = SSL_new(context_);
    SSL_set_fd(connection.ssl, connection.fd);
    if (SSL_connect(connection.ssl) != 1)
      throw std::runtime_error(fmt::format("watcher {}: TLS handshake failed", index));
  }

  void watch_readable(const Connection& connection, std::size_t index) {
    fcntl(connection.fd, F_SETFL, fcntl(connection.fd, F_GETFL) | O_NONBLOCK);
    epoll_event event{};
    event.events = EPOLLIN;  // level-triggered: one read per wake-up, no read that ends in EAGAIN
    event.data.u64 = index;
    epoll_ctl(epoll_, EPOLL_CTL_ADD, connection.fd, &event);
  }

  // Blocking connect, handshake and request; then non-blocking on the epoll loop.
  void open_one(Connection& connection, const std::string& path, std::size_t index) {
    connect_tls(connection, index);
    const std::string request =
        fmt::format("GET {} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n\r\n", path);
    SSL_write(connection.ssl, request.data(), static_cast<int>(request.size()));
    char data[4096];
    while (connection.buffer.find("\r\n\r\n") == std::string::npos) {
      const int n = SSL_read(connection.ssl, data, sizeof data);
      if (n <= 0) throw std::runtime_error(fmt::format("watcher {}: the server closed the watch", index));
      connection.buffer.append(data, static_cast<std::size_t>(n));
    }
    if (connection.buffer.rfind("HTTP/1.1 200", 0) != 0)
      throw std::runtime_error(
          fmt::format("watcher {}: {}", index, connection.buffer.substr(0, connection.buffer.find('\r'))));
    connection.buffer.erase(0, connection.buffer.find("\r\n\r\n") + 4);
    watch_readable(connection, index);
  }

  // HTTP/2: this connection's share of the watches as streams, each answered 200 before the loop.
  void open_multiplexed(Connection& connection, const std::string& path, std::size_t index) {
    connect_tls(connection, index);
    const unsigned char* protocol = nullptr;
    unsigned length = 0;
    SSL_get0_alpn_selected(connection.ssl, &protocol, &length);
    if (std::string_view(reinterpret_cast<const char*>(protocol), protocol ? length : 0) != "h2")
      throw std::runtime_error("the server did not choose HTTP/2");
    nghttp2_session_callbacks* callbacks = nullptr;
    nghttp2_session_callbacks_new(&callbacks);
    nghttp2_session_callbacks_set_on_header_callback(callbacks, &on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, &on_data);
    nghttp2_session_client_new(&connection.session, callbacks, this);
    nghttp2_session_callbacks_del(callbacks);
    // Windows as client-go opens them, so that flow control never holds an event back.
    const nghttp2_settings_entry settings[] = {{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 4 << 20}};
    nghttp2_submit_settings(connection.session, NGHTTP2_FLAG_NONE, settings, 1);
    nghttp2_session_set_local_window_size(connection.session, NGHTTP2_FLAG_NONE, 0, 1 << 30);
    std::string method = "GET", scheme = "https", authority = "127.0.0.1", target = path,
                accept = "application/json";
    auto field = [](std::string_view name, std::string& value) {
      return nghttp2_nv{reinterpret_cast<std::uint8_t*>(const_cast<char*>(name.data())),
                        reinterpret_cast<std::uint8_t*>(value.data()), name.size(), value.size(),
                        NGHTTP2_NV_FLAG_NONE};
    };
    const nghttp2_nv fields[] = {field(":method", method), field(":scheme", scheme),
                                 field(":authority", authority), field(":path", target),
                                 field("accept", accept)};
    for (std::size_t watch = index; watch < watch_buffers_.size(); watch += connections_.size()) {
      const auto stream = nghttp2_submit_request(connection.session, nullptr, fields, 5, nullptr, nullptr);
      if (stream < 0) throw std::runtime_error("nghttp2_submit_request failed");
      connection.watch_of_stream[stream] = watch;
    }
    while (connection.answered < connection.watch_of_stream.size()) {
      if (!pump(connection))
        throw std::runtime_error(fmt::format("watcher connection {}: the server closed it", index));
      if (!connection.failure.empty()) throw std::runtime_error(connection.failure);
    }
    watch_readable(connection, index);
  }

  // Sends what the session has to send, then reads once and feeds the session; false when the
  // connection is gone.
  bool pump(Connection& connection) {
    const std::uint8_t* data = nullptr;
    for (auto size = nghttp2_session_mem_send(connection.session, &data); size > 0;
         size = nghttp2_session_mem_send(connection.session, &data)) {
      for (int written = 0; written < size;) {
        const int n = SSL_write(connection.ssl, data + written, static_cast<int>(size - written));
        if (n <= 0 && SSL_get_error(connection.ssl, n) != SSL_ERROR_WANT_WRITE) return false;
        if (n > 0) written += n;
      }
    }
    char buffer[16384];
    do {
      const int n = SSL_read(connection.ssl, buffer, sizeof buffer);
      if (n <= 0) return SSL_get_error(connection.ssl, n) == SSL_ERROR_WANT_READ;
      if (nghttp2_session_mem_recv(connection.session, reinterpret_cast<std::uint8_t*>(buffer),
                                   static_cast<std::size_t>(n)) < 0)
        return false;
    } while (SSL_has_pending(connection.ssl) == 1);
    return true;
  }

  Connection& connection_of(nghttp2_session* session) {
    for (auto& connection : connections_) {
      if (connection.session == session) return connection;
    }
    throw std::logic_error("unknown session");
  }

  static int on_header(nghttp2_session* session, const nghttp2_frame* frame, const std::uint8_t* name,
                       std::size_t name_length, const std::uint8_t* value, std::size_t value_length,
                       std::uint8_t, void* user_data) {
    if (std::string_view(reinterpret_cast<const char*>(name), name_length) != ":status") return 0;
    auto& connection = static_cast<Watchers*>(user_data)->connection_of(session);
    const std::string_view status(reinterpret_cast<const char*>(value), value_length);
    if (status != "200") connection.failure = fmt::format("stream {}: HTTP {}", frame->hd.stream_id, status);
    ++connection.answered;
    return 0;
  }

  static int on_data(nghttp2_session* session, std::uint8_t, std::int32_t stream, const std::uint8_t* data,
                     std::size_t length, void* user_data) {
    auto& self = *static_cast<Watchers*>(user_data);
    const auto watch = self.connection_of(session).watch_of_stream.at(stream);
    auto& buffer = self.watch_buffers_[watch];
    buffer.append(reinterpret_cast<const char*>(data), length);
    self.collect(watch, buffer);
    return 0;
  }

  void loop() {
    std::vector<epoll_event> ready(1024);
    char data[16384];
    while (!stop_) {
      const int count = epoll_wait(epoll_, ready.data(), static_cast<int>(ready.size()), 100);
      for (int i = 0; i < count; ++i) {
        const auto index = static_cast<std::size_t>(ready[static_cast<std::size_t>(i)].data.u64);
        auto& connection = connections_[index];
        if (connection.session) {
          pump(connection);  // events and window updates
          continue;
        }
        do {
          const int n = SSL_read(connection.ssl, data, sizeof data);
          if (n <= 0) break;
          connection.buffer.append(data, static_cast<std::size_t>(n));
        } while (SSL_has_pending(connection.ssl) == 1);
        collect(index, connection.buffer);
      }
    }
  }

  // Notes the arrival of each complete event line naming a benchmark object `ev-N`.
  void collect(std::size_t index, std::string& buffer) {
    const auto now = Clock::now();
    std::size_t start = 0;
    for (auto end = buffer.find('\n'); end != std::string::npos; end = buffer.find('\n', start)) {
      const std::string_view line(buffer.data() + start, end - start);
      static constexpr std::string_view kMarker = R"("name":"ev-)";
      if (auto at = line.find(kMarker); at != std::string_view::npos) {
        const auto event = static_cast<std::size_t>(std::atoi(line.data() + at + kMarker.size()));
        if (event < arrivals_.size() && arrivals_[event][index] == Clock::time_point{}) {
          arrivals_[event][index] = now;
          ++received_;
        }
      }
      start = end + 1;
    }
    buffer.erase(0, start);
  }

  std::uint16_t port_;
  SSL_CTX* context_ = nullptr;
  int epoll_ = -1;
  std::vector<Connection> connections_;
  std::vector<std::vector<Clock::time_point>> arrivals_;  // [event][watcher]
  bool reading_;
  Protocol protocol_;
  std::vector<std::string> watch_buffers_;  // HTTP/2: the bytes of each watch's stream so far
  std::atomic<bool> stop_{false};
  std::atomic<long> received_{0};
  std::thread thread_;
};

std::string current_revision(riasc::http::Client& client, std::string_view namespace_name) {
  auto response =
      client.request("GET", fmt::format("/api/v1/namespaces/{}/configmaps?limit=1", namespace_name));
  expect(response, 200, "list");
  std::smatch match;
  if (!std::regex_search(response.body, match, std::regex(R"re("resourceVersion":"(\d+)")re")))
    throw std::runtime_error("no resourceVersion in a list");
  return match[1];
}

// One create at a time from one client; each watcher's delay is measured from just before the
// create was sent, so the store's commit is included.
void measure_watch_latency(const ServerProcess& server, int watchers, int events, Protocol protocol) {
  riasc::http::Client client(server.client_options());
  const std::string namespace_name =
      fmt::format("watch-{}-{}", watchers, protocol == Protocol::Http1 ? "http1" : "http2");
  create_namespace(client, namespace_name);
  Watchers group(server, watchers, events, true, protocol);
  group.open(fmt::format("/api/v1/namespaces/{}/configmaps?watch=1&resourceVersion={}", namespace_name,
                         current_revision(client, namespace_name)));
  fmt::print(stderr, "{} watches open; sending {} events\n", watchers, events);
  std::vector<Clock::time_point> sent(static_cast<std::size_t>(events));
  const double server_cpu = server.cpu_seconds();
  const double own_cpu = process_cpu_seconds();
  const auto path = fmt::format("/api/v1/namespaces/{}/configmaps", namespace_name);
  for (int i = 0; i < events; ++i) {
    sent[static_cast<std::size_t>(i)] = Clock::now();
    expect(client.request("POST", path, config_map(fmt::format("ev-{}", i)),
                          {{"Content-Type", "application/json"}}),
           201, "create");
    // Spaced so that one event has reached every watcher before the next: latency, not queueing.
    std::this_thread::sleep_for(std::chrono::milliseconds(watchers >= 500 ? 40 : 10));
  }
  const bool complete = group.wait_for_all(std::chrono::seconds(30));
  const double deliveries = static_cast<double>(watchers) * events;
  const double server_us = (server.cpu_seconds() - server_cpu) * 1e6 / deliveries;
  const double own_us = (process_cpu_seconds() - own_cpu) * 1e6 / deliveries;
  auto values = group.latencies(sent);
  fmt::print(
      "watch delivery, {:>4} watchers x {} events ({}): p50 {:.2f} ms, p99 {:.2f} ms, max {:.2f} ms{}\n",
      watchers, events, protocol_name(protocol), percentile(values, 0.5), percentile(values, 0.99),
      percentile(values, 1.0),
      complete ? ""
               : fmt::format(" (only {} of {} deliveries arrived)", group.received(), watchers * events));
  fmt::print("  CPU per delivery: server {:.1f} us, watchers (this process) {:.1f} us\n", server_us, own_us);
}

int env_number(const char* name, int fallback) {
  const char* value = std::getenv(name);
  return value ? std::atoi(value) : fallback;
}

void raise_open_file_limit() {
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);
}

}  // namespace

int main(int argc, char** argv) {
  std::string binary = RIASC_BINARY;
  bool quick = false;
  std::vector<int> watcher_counts{100, 500, 1000};
  for (int i = 1; i < argc; ++i) {
    const std::string_view argument = argv[i];
    if (argument == "--watch-only") {
      quick = true;
    } else if (argument == "--watchers" && i + 1 < argc) {
      watcher_counts = {std::atoi(argv[++i])};
    } else {
      binary = argument;
    }
  }
  raise_open_file_limit();
  // The client side keeps its heap as the server does (riasc server's tune_memory_allocator), so
  // that a list's latency is not the benchmark's page faults.
  mallopt(M_MMAP_THRESHOLD, 16 * 1024 * 1024);
  mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024);
  try {
    ServerProcess server(
        binary, std::filesystem::temp_directory_path() / fmt::format("riasc-http-bench-{}", getpid()));
    riasc::http::Client admin(server.client_options());
    fmt::print("riasc server over HTTPS on loopback, keep-alive, {} clients, {} cores\n", kClients,
               std::thread::hardware_concurrency());
    if (!quick) {
      std::this_thread::sleep_for(std::chrono::seconds(1));
      fmt::print("idle RSS: {:.1f} MiB\n", server.rss_mib());

      create_namespace(admin, "bench");
      constexpr int kObjects = 10'000;
      fmt::print(stderr, "creating\n");
      double cpu = server.cpu_seconds();
      fmt::print("creates/s: {:.0f} ({} ConfigMaps)\n",
                 create_config_maps(server, "bench", "cm", 0, kObjects), kObjects);
      fmt::print("  server CPU per create: {:.0f} us\n", (server.cpu_seconds() - cpu) * 1e6 / kObjects);
      cpu = server.cpu_seconds();
      const int kGets = env_number("RIASC_BENCH_GETS", 100'000);
      fmt::print(stderr, "getting\n");
      fmt::print("gets/s: {:.0f} ({} gets)\n", get_config_maps(server, "bench", kObjects, kGets), kGets);
      fmt::print("  server CPU per get: {:.0f} us\n", (server.cpu_seconds() - cpu) * 1e6 / kGets);

      std::vector<double> lists;
      const double server_cpu = server.cpu_seconds();
      const double own_cpu = process_cpu_seconds();
      const int list_rounds = env_number("RIASC_BENCH_LISTS", 10);
      fmt::print(stderr, "listing\n");
      for (int i = 0; i < list_rounds; ++i) {
        const auto start = Clock::now();
        auto response = admin.request("GET", "/api/v1/namespaces/bench/configmaps");
        lists.push_back(milliseconds(Clock::now() - start));
        expect(response, 200, "list");
      }
      fmt::print("list of {} objects (JSON): median {:.1f} ms, best {:.1f} ms\n", kObjects,
                 percentile(lists, 0.5), percentile(lists, 0.0));
      fmt::print("  CPU per list: server {:.1f} ms, client {:.1f} ms\n",
                 (server.cpu_seconds() - server_cpu) * 1000 / list_rounds,
                 (process_cpu_seconds() - own_cpu) * 1000 / list_rounds);
    }

    for (auto protocol : {Protocol::Http2, Protocol::Http1}) {
      for (int watchers : watcher_counts)
        measure_watch_latency(server, watchers, watchers >= 500 ? 100 : 200, protocol);
    }
    if (quick) return 0;

    {
      create_namespace(admin, "stalled");
      Watchers stalled(server, kClients, 1, false);
      stalled.open("/api/v1/namespaces/stalled/configmaps?watch=1");
      fmt::print("creates/s with {} watchers that never read: {:.0f}\n", kClients,
                 create_config_maps(server, "stalled", "cm", 0, 10'000));
    }

    constexpr int kMany = 100'000;
    create_config_maps(server, "bench", "cm", 10'000, kMany - 10'000);
    fmt::print("RSS with {} ConfigMaps in one namespace (plus 10,000 more and watch history): {:.1f} MiB\n",
               kMany, server.rss_mib());
  } catch (const std::exception& error) {
    fmt::print(stderr, "riasc_http_bench: {}\n", error.what());
    return 1;
  }
  return 0;
}
