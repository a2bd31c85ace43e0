#pragma once

// The probes of an operator process: /healthz (and /readyz) for the kubelet, /metrics for
// Prometheus. Over HTTPS with a certificate made at start (kubelet's HTTPS probes and
// Prometheus' insecure_skip_verify accept it; ca_pem() is there for clients that verify), or
// plain HTTP with `tls = false`, as a kubelet's httpGet probe reads without `scheme: HTTPS`.
//
//   op::ProbeServer probes({.port = 8081, .registry = &registry});
//   probes.add(chroma);  // healthy while chroma's caches are filled and its workers run
//   probes.start();

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "riasc/core/metrics.hpp"

namespace riasc::op {

class Operator;

struct ProbeServerOptions {
  std::string host = "0.0.0.0";
  std::uint16_t port = 8081;              // 0: any free port (see port())
  metrics::Registry* registry = nullptr;  // served at /metrics; none: 404
  bool tls = true;                        // false: plain HTTP
};

class ProbeServer {
 public:
  explicit ProbeServer(ProbeServerOptions options);
  ~ProbeServer();  // stop()
  ProbeServer(const ProbeServer&) = delete;
  ProbeServer& operator=(const ProbeServer&) = delete;

  // Before start(). /healthz answers 200 when every check passes, else 500 naming the failed.
  void add_check(std::string name, std::function<bool()> check);
  void add(const Operator& operator_);  // outlives the server

  void start();  // throws when the address cannot be bound
  void stop();
  [[nodiscard]] std::uint16_t port() const;
  [[nodiscard]] const std::string& ca_pem() const;  // after start(); empty without TLS

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace riasc::op
