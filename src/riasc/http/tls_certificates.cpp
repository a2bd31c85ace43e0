#include "riasc/http/tls_certificates.hpp"

#include <fmt/format.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <array>

#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <stdexcept>

#include "riasc/core/base64.hpp"

namespace riasc::http {

namespace {

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* pointer) const { Free(pointer); }
};
using Key = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using Certificate = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using Bio = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;

[[noreturn]] void fail(const std::string& what) {
  unsigned long code = ERR_get_error();
  char reason[256] = "unknown error";
  if (code != 0) ERR_error_string_n(code, reason, sizeof reason);
  throw std::runtime_error(fmt::format("{}: {}", what, reason));
}

Key new_key() {
  Key key(EVP_EC_gen("P-256"));
  if (!key) fail("cannot generate an EC key");
  return key;
}

std::string to_pem(const Key& key) {
  Bio bio(BIO_new(BIO_s_mem()));
  if (!PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr)) fail("PEM key");
  char* data = nullptr;
  long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(size));
}

std::string to_pem(const Certificate& certificate) {
  Bio bio(BIO_new(BIO_s_mem()));
  if (!PEM_write_bio_X509(bio.get(), certificate.get())) fail("PEM certificate");
  char* data = nullptr;
  long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(size));
}

Key key_from_pem(const std::string& pem) {
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  Key key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) fail("cannot read a private key");
  return key;
}

Certificate certificate_from_pem(const std::string& pem) {
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  Certificate certificate(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!certificate) fail("cannot read a certificate");
  return certificate;
}

void add_extension(X509* certificate, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX context;
  X509V3_set_ctx_nodb(&context);
  X509V3_set_ctx(&context, issuer, certificate, nullptr, nullptr, 0);
  X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &context, nid, value.c_str());
  if (!extension) fail(fmt::format("extension {}", value));
  X509_add_ext(certificate, extension, -1);
  X509_EXTENSION_free(extension);
}

// Everything but the issuer-specific parts; the caller adds extensions and signs.
Certificate new_certificate(const Key& key, const std::string& common_name,
                            const std::vector<std::string>& organizations, int valid_days) {
  Certificate certificate(X509_new());
  X509_set_version(certificate.get(), 2);
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof serial) != 1) fail("random serial");
  serial[0] &= 0x7F;  // positive
  BIGNUM* number = BN_bin2bn(serial, sizeof serial, nullptr);
  BN_to_ASN1_INTEGER(number, X509_get_serialNumber(certificate.get()));
  BN_free(number);
  X509_gmtime_adj(X509_getm_notBefore(certificate.get()), -60 * 60);  // tolerate clock skew
  X509_gmtime_adj(X509_getm_notAfter(certificate.get()), 60L * 60 * 24 * valid_days);
  X509_set_pubkey(certificate.get(), key.get());
  X509_NAME* name = X509_get_subject_name(certificate.get());
  for (const auto& organization : organizations) {
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(organization.c_str()), -1, -1, 0);
  }
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1, 0);
  return certificate;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

void write_file(const std::filesystem::path& path, const std::string& content, bool secret) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
  ::chmod(path.c_str(), secret ? 0600 : 0644);
}

KeyPair load_or_create(const std::filesystem::path& directory, const std::string& name,
                       const std::function<KeyPair()>& create) {
  auto certificate = directory / (name + ".crt");
  auto key = directory / (name + ".key");
  if (std::filesystem::exists(certificate) && std::filesystem::exists(key)) {
    return {read_file(certificate), read_file(key)};
  }
  KeyPair pair = create();
  write_file(key, pair.private_key_pem, true);
  write_file(certificate, pair.certificate_pem, false);
  return pair;
}

}  // namespace

KeyPair create_certificate_authority(const std::string& common_name, int valid_days) {
  Key key = new_key();
  Certificate certificate = new_certificate(key, common_name, {}, valid_days);
  X509_set_issuer_name(certificate.get(), X509_get_subject_name(certificate.get()));
  add_extension(certificate.get(), certificate.get(), NID_basic_constraints, "critical,CA:TRUE");
  add_extension(certificate.get(), certificate.get(), NID_key_usage,
                "critical,keyCertSign,cRLSign,digitalSignature");
  add_extension(certificate.get(), certificate.get(), NID_subject_key_identifier, "hash");
  if (!X509_sign(certificate.get(), key.get(), EVP_sha256())) fail("cannot sign the CA");
  return {to_pem(certificate), to_pem(key)};
}

KeyPair issue_certificate(const KeyPair& ca, const CertificateRequest& request) {
  Key ca_key = key_from_pem(ca.private_key_pem);
  Certificate ca_certificate = certificate_from_pem(ca.certificate_pem);
  Key key = new_key();
  Certificate certificate =
      new_certificate(key, request.common_name, request.organizations, request.valid_days);
  X509_set_issuer_name(certificate.get(), X509_get_subject_name(ca_certificate.get()));
  add_extension(certificate.get(), ca_certificate.get(), NID_basic_constraints, "critical,CA:FALSE");
  add_extension(certificate.get(), ca_certificate.get(), NID_key_usage,
                "critical,digitalSignature,keyEncipherment");
  add_extension(certificate.get(), ca_certificate.get(), NID_ext_key_usage,
                request.server ? "serverAuth" : "clientAuth");
  add_extension(certificate.get(), ca_certificate.get(), NID_authority_key_identifier, "keyid:always");
  std::string alt_names;
  for (const auto& dns : request.dns_names) alt_names += (alt_names.empty() ? "" : ",") + ("DNS:" + dns);
  for (const auto& ip : request.ip_addresses) alt_names += (alt_names.empty() ? "" : ",") + ("IP:" + ip);
  if (!alt_names.empty())
    add_extension(certificate.get(), ca_certificate.get(), NID_subject_alt_name, alt_names);
  if (!X509_sign(certificate.get(), ca_key.get(), EVP_sha256())) fail("cannot sign a certificate");
  return {to_pem(certificate), to_pem(key)};
}

ServerCertificates load_or_create_server_certificates(const std::filesystem::path& directory,
                                                      const std::vector<std::string>& dns_names,
                                                      const std::vector<std::string>& ip_addresses) {
  std::filesystem::create_directories(directory);
  ServerCertificates out;
  out.ca = load_or_create(directory, "ca", [] { return create_certificate_authority("riasc-ca"); });
  out.server = load_or_create(directory, "server", [&] {
    return issue_certificate(out.ca, {"riasc-apiserver", {}, dns_names, ip_addresses, true});
  });
  out.admin = load_or_create(directory, "admin", [&] {
    // O=system:masters is the group Kubernetes grants every permission.
    return issue_certificate(out.ca, {"admin", {"system:masters"}, {}, {}, false});
  });
  return out;
}

ServingIdentity create_serving_identity(const std::string& name, const std::string& host) {
  const KeyPair ca = create_certificate_authority(name + " CA");
  CertificateRequest request;
  request.common_name = name;
  request.dns_names = {"localhost"};
  request.ip_addresses = {"127.0.0.1"};
  // A wildcard address names no host a client would dial.
  if (host != "0.0.0.0" && host != "127.0.0.1" && host != "::") request.ip_addresses.push_back(host);
  request.server = true;
  return {issue_certificate(ca, request), ca.certificate_pem};
}

struct SigningKey::Key {
  ::riasc::http::Key key;
};

SigningKey::SigningKey(std::shared_ptr<const Key> key) : key_(std::move(key)) {
  unsigned char* der = nullptr;
  const int size = i2d_PUBKEY(key_->key.get(), &der);
  if (size <= 0) fail("cannot encode a public key");
  std::array<unsigned char, 32> digest{};
  unsigned int length = 0;
  EVP_Digest(der, static_cast<std::size_t>(size), digest.data(), &length, EVP_sha256(), nullptr);
  OPENSSL_free(der);
  key_id_ = base64url_encode({reinterpret_cast<const char*>(digest.data()), length});
}

SigningKey SigningKey::load_or_create(const std::filesystem::path& file) {
  if (!std::filesystem::exists(file)) {
    std::filesystem::create_directories(file.parent_path());
    write_file(file, to_pem(new_key()), true);
  }
  Key loaded;
  try {
    loaded.key = key_from_pem(read_file(file));
  } catch (const std::exception& error) {
    throw std::runtime_error(fmt::format("{}: {}", file.string(), error.what()));
  }
  if (EVP_PKEY_get_base_id(loaded.key.get()) != EVP_PKEY_EC || EVP_PKEY_get_bits(loaded.key.get()) != 256)
    throw std::runtime_error(fmt::format("{}: not an EC P-256 private key", file.string()));
  return SigningKey(std::make_shared<const Key>(std::move(loaded)));
}

namespace {

using DigestContext = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX, EVP_MD_CTX_free>>;
using Signature = std::unique_ptr<ECDSA_SIG, Deleter<ECDSA_SIG, ECDSA_SIG_free>>;
constexpr std::size_t kCoordinate = 32;  // bytes of r and of s for P-256

}  // namespace

std::string SigningKey::sign(std::string_view data) const {
  DigestContext context(EVP_MD_CTX_new());
  std::size_t size = 0;
  if (EVP_DigestSignInit(context.get(), nullptr, EVP_sha256(), nullptr, key_->key.get()) != 1 ||
      EVP_DigestSign(context.get(), nullptr, &size, reinterpret_cast<const unsigned char*>(data.data()),
                     data.size()) != 1)
    fail("cannot sign");
  std::string der(size, '\0');
  auto* out = reinterpret_cast<unsigned char*>(der.data());
  if (EVP_DigestSign(context.get(), out, &size, reinterpret_cast<const unsigned char*>(data.data()),
                     data.size()) != 1)
    fail("cannot sign");
  const auto* in = reinterpret_cast<const unsigned char*>(der.data());
  Signature signature(d2i_ECDSA_SIG(nullptr, &in, static_cast<long>(size)));
  if (!signature) fail("cannot read an ECDSA signature");
  std::string raw(2 * kCoordinate, '\0');
  auto* bytes = reinterpret_cast<unsigned char*>(raw.data());
  BN_bn2binpad(ECDSA_SIG_get0_r(signature.get()), bytes, kCoordinate);
  BN_bn2binpad(ECDSA_SIG_get0_s(signature.get()), bytes + kCoordinate, kCoordinate);
  return raw;
}

bool SigningKey::verify(std::string_view data, std::string_view signature) const {
  if (signature.size() != 2 * kCoordinate) return false;
  const auto* bytes = reinterpret_cast<const unsigned char*>(signature.data());
  Signature parsed(ECDSA_SIG_new());
  BIGNUM* r = BN_bin2bn(bytes, kCoordinate, nullptr);
  BIGNUM* s = BN_bin2bn(bytes + kCoordinate, kCoordinate, nullptr);
  if (ECDSA_SIG_set0(parsed.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    return false;
  }
  unsigned char* der = nullptr;
  const int size = i2d_ECDSA_SIG(parsed.get(), &der);
  if (size <= 0) return false;
  DigestContext context(EVP_MD_CTX_new());
  const bool valid =
      EVP_DigestVerifyInit(context.get(), nullptr, EVP_sha256(), nullptr, key_->key.get()) == 1 &&
      EVP_DigestVerify(context.get(), der, static_cast<std::size_t>(size),
                       reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
  OPENSSL_free(der);
  ERR_clear_error();  // a bad signature leaves an error on the thread's queue
  return valid;
}

}  // namespace riasc::http
