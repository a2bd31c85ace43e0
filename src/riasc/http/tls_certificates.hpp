#pragma once

// The certificates the embedded API server needs: a CA it creates on first start, a serving
// certificate signed by it, and a client certificate for the admin user. Kept as PEM files so a
// restart serves with the same identity and existing kubeconfigs stay valid.

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace riasc::http {

struct KeyPair {
  std::string certificate_pem;
  std::string private_key_pem;
};

struct CertificateRequest {
  std::string common_name;
  std::vector<std::string> organizations;  // Kubernetes reads groups from O=
  std::vector<std::string> dns_names;      // subjectAltName DNS entries (servers)
  std::vector<std::string> ip_addresses;   // subjectAltName IP entries (servers)
  bool server = false;                     // serverAuth, else clientAuth
  int valid_days = 3650;
};

// A self-signed CA (EC P-256).
KeyPair create_certificate_authority(const std::string& common_name, int valid_days = 3650);

// A leaf certificate (EC P-256) signed by `ca`.
KeyPair issue_certificate(const KeyPair& ca, const CertificateRequest& request);

// A serving identity for a process's own small HTTPS server (webhooks, probes), made in memory
// at start: a fresh CA named "<name> CA" and a certificate for localhost, 127.0.0.1 and `host`
// when that is a specific address. Clients trust the CA's PEM.
struct ServingIdentity {
  KeyPair identity;
  std::string ca_pem;
};
ServingIdentity create_serving_identity(const std::string& name, const std::string& host);

// The files below `directory`: ca.crt/ca.key, server.crt/server.key, admin.crt/admin.key. Each
// pair is created if missing and read otherwise. Private keys are written with mode 0600.
struct ServerCertificates {
  KeyPair ca;
  KeyPair server;
  KeyPair admin;
};
ServerCertificates load_or_create_server_certificates(const std::filesystem::path& directory,
                                                      const std::vector<std::string>& dns_names,
                                                      const std::vector<std::string>& ip_addresses);

// An EC P-256 key that signs and verifies ES256 (ECDSA with SHA-256, the signature as the 64 bytes
// r||s that JWS wants, not DER): the API server signs its ServiceAccount tokens with it. Kept as a
// PEM file so tokens stay valid across restarts. Safe to use from many threads at once.
class SigningKey {
 public:
  // Reads `file`, or creates it (mode 0600) when missing. std::runtime_error naming the file for
  // one that is not an EC P-256 private key.
  static SigningKey load_or_create(const std::filesystem::path& file);
  [[nodiscard]] std::string sign(std::string_view data) const;
  [[nodiscard]] bool verify(std::string_view data, std::string_view signature) const;
  // The unpadded base64url SHA-256 of the public key's DER, as kube-apiserver's `kid`.
  [[nodiscard]] const std::string& key_id() const { return key_id_; }

 private:
  struct Key;
  explicit SigningKey(std::shared_ptr<const Key> key);
  std::shared_ptr<const Key> key_;
  std::string key_id_;
};

}  // namespace riasc::http
