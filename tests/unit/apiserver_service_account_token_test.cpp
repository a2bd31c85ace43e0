// ServiceAccount tokens: what the server signs, and every reason a token is turned away.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "client_test_support.hpp"
#include "riasc/apiserver/service_account_tokens.hpp"
#include "riasc/core/base64.hpp"

namespace riasc::apiserver {
namespace {

using std::chrono::seconds;
using std::chrono::sys_seconds;
using ::testing::HasSubstr;

constexpr sys_seconds kNow{seconds(1'800'000'000)};

ServiceAccountClaims claims_for(std::string audience = std::string(ServiceAccountTokens::kIssuer)) {
  return {.namespace_name = "lab-a",
          .name = "robot",
          .uid = "5d9a7d4e-0000-4000-8000-000000000001",
          .audiences = {std::move(audience)},
          .issued_at = kNow,
          .expires_at = kNow + seconds(600)};
}

std::string why(const std::variant<ServiceAccountClaims, std::string>& verified) {
  const auto* reason = std::get_if<std::string>(&verified);
  return reason != nullptr ? *reason : "accepted";
}

// The token with its payload (the middle part) replaced.
std::string with_payload(const std::string& token, const Json& payload) {
  const auto first = token.find('.');
  const auto second = token.find('.', first + 1);
  return token.substr(0, first + 1) + base64url_encode(payload.dump()) + token.substr(second);
}

class ServiceAccountTokenTest : public ::testing::Test {
 protected:
  client_test::TemporaryDirectory directory_;
  ServiceAccountTokens tokens_{http::SigningKey::load_or_create(directory_.path() / "pki" / "sa.key")};
};

TEST_F(ServiceAccountTokenTest, AnIssuedTokenNamesItsServiceAccount) {
  const std::string token = tokens_.issue(claims_for());
  EXPECT_TRUE(ServiceAccountTokens::looks_like_jwt(token));
  auto verified = tokens_.verify(token, kNow + seconds(599));
  ASSERT_EQ(why(verified), "accepted");
  const auto& claims = std::get<ServiceAccountClaims>(verified);
  EXPECT_EQ(claims.username(), "system:serviceaccount:lab-a:robot");
  EXPECT_EQ(claims.groups(),
            (std::vector<std::string>{"system:serviceaccounts", "system:serviceaccounts:lab-a"}));
  EXPECT_EQ(claims.uid, "5d9a7d4e-0000-4000-8000-000000000001");
  EXPECT_EQ(claims.expires_at, kNow + seconds(600));

  // The payload carries kube-apiserver's claims, so tools that decode tokens read them.
  const auto first = token.find('.');
  const Json payload =
      Json::parse(*base64url_decode(token.substr(first + 1, token.find('.', first + 1) - first - 1)));
  EXPECT_EQ(payload["sub"], "system:serviceaccount:lab-a:robot");
  EXPECT_EQ(payload["kubernetes.io"]["serviceaccount"]["name"], "robot");
  EXPECT_EQ(payload["iss"], ServiceAccountTokens::kIssuer);
}

TEST_F(ServiceAccountTokenTest, ExpiredForeignTamperedAndOtherAudienceTokensAreRefused) {
  const std::string token = tokens_.issue(claims_for());
  EXPECT_THAT(why(tokens_.verify(token, kNow + seconds(600))), HasSubstr("expired at"));
  EXPECT_EQ(why(tokens_.verify(token, kNow - seconds(1))), "not valid yet");

  client_test::TemporaryDirectory elsewhere;
  ServiceAccountTokens other(http::SigningKey::load_or_create(elsewhere.path() / "sa.key"));
  EXPECT_EQ(why(other.verify(token, kNow)), "the signature is not the server's");

  Json payload = {{"iss", ServiceAccountTokens::kIssuer},
                  {"aud", {ServiceAccountTokens::kIssuer}},
                  {"exp", 4'000'000'000},
                  {"kubernetes.io", {{"namespace", "kube-system"}}}};
  EXPECT_EQ(why(tokens_.verify(with_payload(token, payload), kNow)), "the signature is not the server's");

  EXPECT_EQ(why(tokens_.verify(tokens_.issue(claims_for("vault")), kNow)), "meant for another audience");
  EXPECT_EQ(why(tokens_.verify("abc.def", kNow)), "not a JSON Web Token");
  EXPECT_EQ(why(tokens_.verify("a+b.c.d", kNow)), "not a JSON Web Token");
  EXPECT_FALSE(ServiceAccountTokens::looks_like_jwt("t0k3n"));
}

TEST_F(ServiceAccountTokenTest, TheKeySurvivesARestart) {
  const std::string token = tokens_.issue(claims_for());
  ServiceAccountTokens restarted(http::SigningKey::load_or_create(directory_.path() / "pki" / "sa.key"));
  EXPECT_EQ(why(restarted.verify(token, kNow)), "accepted");
  const auto mode = std::filesystem::status(directory_.path() / "pki" / "sa.key").permissions();
  EXPECT_EQ(mode & std::filesystem::perms::group_read, std::filesystem::perms::none);

  const auto broken = directory_.write("broken.key", "not a key");
  EXPECT_THROW((void)http::SigningKey::load_or_create(broken), std::runtime_error);
}

TEST_F(ServiceAccountTokenTest, TokenRequestsAreCheckedAndAnswered) {
  const Json account = {{"metadata", {{"name", "robot"}, {"namespace", "lab-a"}, {"uid", "u-1"}}}};
  auto answer = answer_token_request(tokens_, account, Json::object(), kNow);
  ASSERT_TRUE(std::holds_alternative<Json>(answer));
  const Json& request = std::get<Json>(answer);
  EXPECT_EQ(request["kind"], "TokenRequest");
  EXPECT_EQ(request["spec"]["expirationSeconds"], 3600);
  EXPECT_EQ(request["spec"]["audiences"], Json::array({ServiceAccountTokens::kIssuer}));
  EXPECT_EQ(request["status"]["expirationTimestamp"], "2027-01-15T09:00:00Z");
  auto verified = tokens_.verify(request["status"]["token"].get<std::string>(), kNow);
  ASSERT_EQ(why(verified), "accepted");
  EXPECT_EQ(std::get<ServiceAccountClaims>(verified).uid, "u-1");

  auto errors_of = [&](const Json& spec) {
    auto refused = answer_token_request(tokens_, account, Json{{"spec", spec}}, kNow);
    std::string text;
    if (auto* errors = std::get_if<FieldErrors>(&refused)) {
      for (const auto& error : *errors) text += error.to_string() + "\n";
    }
    return text;
  };
  EXPECT_THAT(
      errors_of({{"expirationSeconds", 599}}),
      HasSubstr(
          "spec.expirationSeconds: Invalid value: 599: may not specify a duration less than 10 minutes"));
  EXPECT_THAT(errors_of({{"expirationSeconds", std::int64_t{1} << 33}}),
              HasSubstr("larger than 2^32 seconds"));
  EXPECT_THAT(errors_of({{"expirationSeconds", "1h"}}), HasSubstr("must be an integer"));
  EXPECT_THAT(errors_of({{"boundObjectRef", {{"kind", "Pod"}, {"name", "p"}}}}),
              HasSubstr("spec.boundObjectRef"));
  EXPECT_EQ(errors_of({{"expirationSeconds", 600}, {"audiences", {"https://vault"}}}), "");
}

TEST(Base64UrlTest, RoundTripsWithoutPaddingAndRefusesTheStandardAlphabet) {
  const std::string bytes("\xfb\xff\xfe\x01", 4);
  EXPECT_EQ(base64url_encode(bytes), "-__-AQ");
  EXPECT_EQ(base64url_decode("-__-AQ"), bytes);
  EXPECT_FALSE(base64url_decode("+//+AQ"));
  EXPECT_FALSE(base64url_decode("-__-AQ=="));
  EXPECT_FALSE(base64url_decode("-__- AQ"));
}

}  // namespace
}  // namespace riasc::apiserver
