// The memory floor of any C++ client of a Kubernetes API server on this machine: a program that
// links only OpenSSL and libstdc++, makes one request with a client certificate (as the agent
// authenticates to `riasc server`), then stops itself (SIGSTOP) for riasc_netem_bench to read its
// memory next to the agent's. Whatever this needs, an agent that talks TLS with the same
// libraries needs too.
//
//   riasc_tls_floor HOST PORT PKI_DIR   (PKI_DIR: ca.crt, admin.crt, admin.key)

#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <csignal>
#include <iostream>
#include <string>

namespace {

int connect_to(const std::string& host, const std::string& port) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), port.c_str(), &hints, &found) != 0 || found == nullptr) return -1;
  const int fd = socket(found->ai_family, found->ai_socktype, 0);
  const bool connected = fd >= 0 && connect(fd, found->ai_addr, found->ai_addrlen) == 0;
  freeaddrinfo(found);
  return connected ? fd : -1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: riasc_tls_floor HOST PORT PKI_DIR\n";
    return 2;
  }
  const std::string host = argv[1];
  const std::string pki = argv[3];
  SSL_CTX* context = SSL_CTX_new(TLS_client_method());
  if (SSL_CTX_load_verify_locations(context, (pki + "/ca.crt").c_str(), nullptr) != 1 ||
      SSL_CTX_use_certificate_file(context, (pki + "/admin.crt").c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_use_PrivateKey_file(context, (pki + "/admin.key").c_str(), SSL_FILETYPE_PEM) != 1) {
    std::cerr << "riasc_tls_floor: cannot load the certificates of " << pki << "\n";
    return 1;
  }
  SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nullptr);
  const int fd = connect_to(host, argv[2]);
  if (fd < 0) {
    std::cerr << "riasc_tls_floor: cannot connect to " << host << ":" << argv[2] << "\n";
    return 1;
  }
  SSL* ssl = SSL_new(context);
  SSL_set_fd(ssl, fd);
  SSL_set1_host(ssl, host.c_str());
  if (SSL_connect(ssl) != 1) {
    ERR_print_errors_fp(stderr);
    return 1;
  }
  const std::string request =
      "GET /api/v1/namespaces HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n";
  SSL_write(ssl, request.data(), static_cast<int>(request.size()));
  std::array<char, 16384> buffer{};
  std::string status_line;  // from the first read; later reads overwrite the buffer
  for (int got = 0; (got = SSL_read(ssl, buffer.data(), static_cast<int>(buffer.size()))) > 0;) {
    if (status_line.empty()) status_line.assign(buffer.data(), std::min<std::size_t>(got, 12));
  }
  if (status_line.find(" 200") == std::string::npos) {
    std::cerr << "riasc_tls_floor: no 200 answer\n";
    return 1;
  }

  // Stopped, so that riasc_netem_bench reads this process's memory as it reads the agent's.
  raise(SIGSTOP);
  SSL_free(ssl);
  SSL_CTX_free(context);
  close(fd);
  return 0;
}
