#pragma once

// ServiceAccount tokens, as kube-apiserver issues them through the TokenRequest API
// (POST /api/v1/namespaces/NS/serviceaccounts/NAME/token, what `kubectl create token NAME` calls):
// JSON Web Tokens signed ES256 with the server's key (DATA_DIR/pki/service-account.key), naming the
// ServiceAccount and its uid, with an expiry. They are bound tokens: a token whose ServiceAccount
// was deleted (or deleted and made again, which gives a new uid) no longer authenticates, and an
// expired one never does. Decisions: docs/apiserver.md, "Authentication".

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "riasc/core/field_error.hpp"
#include "riasc/core/json.hpp"
#include "riasc/http/tls_certificates.hpp"

namespace riasc::apiserver {

// The claims a token carries.
struct ServiceAccountClaims {
  std::string namespace_name;
  std::string name;
  std::string uid;  // of the ServiceAccount object the token was issued for
  std::vector<std::string> audiences;
  std::chrono::sys_seconds issued_at{};
  std::chrono::sys_seconds expires_at{};

  // system:serviceaccount:NS:NAME, as Kubernetes names the user.
  [[nodiscard]] std::string username() const;
  // system:serviceaccounts and system:serviceaccounts:NS.
  [[nodiscard]] std::vector<std::string> groups() const;
};

class ServiceAccountTokens {
 public:
  // kube-apiserver's default issuer on k3s and kubeadm clusters; also the audience a token gets
  // when the request names none, and the one this server accepts.
  static constexpr std::string_view kIssuer = "https://kubernetes.default.svc.cluster.local";

  explicit ServiceAccountTokens(http::SigningKey key) : key_(std::move(key)) {}

  [[nodiscard]] std::string issue(const ServiceAccountClaims& claims) const;

  // The claims of a token this server signed, that is meant for it and valid at `now`; otherwise
  // why not, for the server's log (never the token itself).
  [[nodiscard]] std::variant<ServiceAccountClaims, std::string> verify(std::string_view token,
                                                                       std::chrono::sys_seconds now) const;

  // Three base64url parts joined by dots: a JWT, as opposed to a token of the token file.
  static bool looks_like_jwt(std::string_view token);

 private:
  http::SigningKey key_;
};

// TokenRequest (authentication.k8s.io/v1) for `service_account` as asked by `body`: the answer
// with status.token and status.expirationTimestamp, or the errors for a 422 Invalid.
// expirationSeconds defaults to 3600 and must lie in [600, 2^32] as in kube-apiserver; audiences
// default to [kIssuer]; boundObjectRef is refused (tokens bound to pods or secrets are not issued).
std::variant<Json, FieldErrors> answer_token_request(const ServiceAccountTokens& tokens,
                                                     const Json& service_account, const Json& body,
                                                     std::chrono::sys_seconds now);

}  // namespace riasc::apiserver
