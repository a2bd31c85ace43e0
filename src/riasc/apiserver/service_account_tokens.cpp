#include "riasc/apiserver/service_account_tokens.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <ranges>

#include "riasc/core/base64.hpp"
#include "riasc/core/rfc3339.hpp"

namespace riasc::apiserver {

namespace {

// kube-apiserver's bounds for spec.expirationSeconds.
constexpr std::int64_t kMinimumSeconds = 600;
constexpr std::int64_t kMaximumSeconds = std::int64_t{1} << 32;
constexpr std::int64_t kDefaultSeconds = 3600;

std::string string_member(const Json& object, std::string_view key) {
  if (!object.is_object()) return {};
  auto found = object.find(key);
  return found != object.end() && found->is_string() ? found->get<std::string>() : std::string();
}

std::chrono::sys_seconds seconds_member(const Json& object, std::string_view key) {
  auto found = object.find(key);
  if (found == object.end() || !found->is_number_integer()) return {};
  return std::chrono::sys_seconds(std::chrono::seconds(found->get<std::int64_t>()));
}

}  // namespace

std::string ServiceAccountClaims::username() const {
  return fmt::format("system:serviceaccount:{}:{}", namespace_name, name);
}

std::vector<std::string> ServiceAccountClaims::groups() const {
  return {"system:serviceaccounts", "system:serviceaccounts:" + namespace_name};
}

bool ServiceAccountTokens::looks_like_jwt(std::string_view token) {
  if (std::ranges::count(token, '.') != 2) return false;
  return std::ranges::all_of(token, [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
  });
}

std::string ServiceAccountTokens::issue(const ServiceAccountClaims& claims) const {
  // The claims kube-apiserver writes, so tools that read them (e.g. to show the token's owner) work.
  const Json header = {{"alg", "ES256"}, {"kid", key_.key_id()}};
  const Json payload = {{"aud", claims.audiences},
                        {"exp", claims.expires_at.time_since_epoch().count()},
                        {"iat", claims.issued_at.time_since_epoch().count()},
                        {"nbf", claims.issued_at.time_since_epoch().count()},
                        {"iss", kIssuer},
                        {"sub", claims.username()},
                        {"kubernetes.io",
                         {{"namespace", claims.namespace_name},
                          {"serviceaccount", {{"name", claims.name}, {"uid", claims.uid}}}}}};
  std::string signed_part = base64url_encode(header.dump()) + "." + base64url_encode(payload.dump());
  return signed_part + "." + base64url_encode(key_.sign(signed_part));
}

std::variant<ServiceAccountClaims, std::string> ServiceAccountTokens::verify(
    std::string_view token, std::chrono::sys_seconds now) const {
  if (!looks_like_jwt(token)) return std::string("not a JSON Web Token");
  const auto first = token.find('.');
  const auto second = token.find('.', first + 1);
  auto header_text = base64url_decode(token.substr(0, first));
  auto payload_text = base64url_decode(token.substr(first + 1, second - first - 1));
  auto signature = base64url_decode(token.substr(second + 1));
  if (!header_text || !payload_text || !signature) return std::string("a part is not base64url");
  const Json header = Json::parse(*header_text, nullptr, false);
  if (string_member(header, "alg") != "ES256") return std::string("not signed ES256");
  if (!key_.verify(token.substr(0, second), *signature))
    return std::string("the signature is not the server's");
  const Json payload = Json::parse(*payload_text, nullptr, false);
  if (!payload.is_object()) return std::string("the claims are not a JSON object");
  if (string_member(payload, "iss") != kIssuer) return std::string("issued by someone else");
  ServiceAccountClaims claims;
  if (auto audiences = payload.find("aud"); audiences != payload.end()) {
    if (audiences->is_string()) claims.audiences.push_back(audiences->get<std::string>());
    if (audiences->is_array()) {
      for (const auto& audience : *audiences)
        if (audience.is_string()) claims.audiences.push_back(audience.get<std::string>());
    }
  }
  if (std::ranges::find(claims.audiences, kIssuer) == claims.audiences.end())
    return std::string("meant for another audience");
  claims.issued_at = seconds_member(payload, "iat");
  claims.expires_at = seconds_member(payload, "exp");
  if (now >= claims.expires_at) return fmt::format("expired at {}", format_rfc3339(claims.expires_at));
  if (payload.contains("nbf") && now < seconds_member(payload, "nbf")) return std::string("not valid yet");
  const Json kubernetes = payload.value("kubernetes.io", Json::object());
  claims.namespace_name = string_member(kubernetes, "namespace");
  const Json account = kubernetes.is_object() ? kubernetes.value("serviceaccount", Json::object()) : Json();
  claims.name = string_member(account, "name");
  claims.uid = string_member(account, "uid");
  if (claims.namespace_name.empty() || claims.name.empty() || claims.uid.empty())
    return std::string("names no ServiceAccount");
  return claims;
}

std::variant<Json, FieldErrors> answer_token_request(const ServiceAccountTokens& tokens,
                                                     const Json& service_account, const Json& body,
                                                     std::chrono::sys_seconds now) {
  const Json spec = body.is_object() ? body.value("spec", Json::object()) : Json::object();
  FieldErrors errors;
  auto invalid = [&](std::string field, Json value, std::string detail) {
    FieldError error;
    error.path = FieldPath::parse_dotted("spec." + field);
    error.value = std::move(value);
    error.detail = std::move(detail);
    errors.push_back(std::move(error));
  };
  std::int64_t seconds = kDefaultSeconds;
  if (spec.contains("expirationSeconds") && !spec["expirationSeconds"].is_null()) {
    const Json& given = spec["expirationSeconds"];
    if (!given.is_number_integer()) {
      invalid("expirationSeconds", given, "must be an integer number of seconds");
    } else {
      seconds = given.get<std::int64_t>();
      if (seconds < kMinimumSeconds)
        invalid("expirationSeconds", given, "may not specify a duration less than 10 minutes");
      if (seconds > kMaximumSeconds)
        invalid("expirationSeconds", given, "may not specify a duration larger than 2^32 seconds");
    }
  }
  std::vector<std::string> audiences;
  if (spec.contains("audiences") && spec["audiences"].is_array()) {
    for (const auto& audience : spec["audiences"]) {
      if (audience.is_string() && !audience.get<std::string>().empty())
        audiences.push_back(audience.get<std::string>());
    }
  }
  if (audiences.empty()) audiences.emplace_back(ServiceAccountTokens::kIssuer);
  if (spec.contains("boundObjectRef") && !spec["boundObjectRef"].is_null()) {
    invalid(
        "boundObjectRef", spec["boundObjectRef"],
        "tokens bound to a Pod, Secret or Node are not issued here; leave it out (the token is bound to the "
        "ServiceAccount)");
  }
  if (!errors.empty()) return errors;

  const Json& metadata = service_account["metadata"];
  ServiceAccountClaims claims{.namespace_name = string_member(metadata, "namespace"),
                              .name = string_member(metadata, "name"),
                              .uid = string_member(metadata, "uid"),
                              .audiences = audiences,
                              .issued_at = now,
                              .expires_at = now + std::chrono::seconds(seconds)};
  Json answer = {
      {"kind", "TokenRequest"},
      {"apiVersion", "authentication.k8s.io/v1"},
      {"metadata",
       {{"name", claims.name}, {"namespace", claims.namespace_name}, {"creationTimestamp", nullptr}}},
      {"spec", {{"audiences", audiences}, {"expirationSeconds", seconds}, {"boundObjectRef", nullptr}}},
      {"status",
       {{"token", tokens.issue(claims)}, {"expirationTimestamp", format_rfc3339(claims.expires_at)}}}};
  return answer;
}

}  // namespace riasc::apiserver
