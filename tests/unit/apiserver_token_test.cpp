// The static token file (kube-apiserver's --token-auth-file): what it accepts, and errors that
// name the line.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "client_test_support.hpp"
#include "riasc/apiserver/token_authenticator.hpp"

namespace riasc::apiserver {
namespace {

using ::testing::HasSubstr;

TEST(TokenAuthenticatorTest, UsersAndGroupsByToken) {
  client_test::TemporaryDirectory directory;
  const auto file = directory.write("tokens.csv",
                                    "# lab robots\n"
                                    "t0k3n,operator,u-1,\"lab,system:serviceaccounts\"\r\n"
                                    "\n"
                                    "other,ci,u-2\n");
  const TokenAuthenticator tokens = TokenAuthenticator::load(file);
  EXPECT_EQ(tokens.size(), 2u);
  auto user = tokens.authenticate("Bearer t0k3n");
  ASSERT_TRUE(user);
  EXPECT_EQ(user->name, "operator");
  EXPECT_EQ(user->uid, "u-1");
  EXPECT_EQ(user->groups, (std::vector<std::string>{"lab", "system:serviceaccounts"}));
  EXPECT_TRUE(tokens.authenticate("Bearer other")->groups.empty());
  EXPECT_FALSE(tokens.authenticate("Bearer t0k3"));
  EXPECT_FALSE(tokens.authenticate("Basic t0k3n"));
  EXPECT_FALSE(tokens.authenticate("Bearer "));
  EXPECT_FALSE(tokens.authenticate(""));
}

TEST(TokenAuthenticatorTest, MalformedLinesAreNamed) {
  client_test::TemporaryDirectory directory;
  auto error = [&](const std::string& text) -> std::string {
    try {
      (void)TokenAuthenticator::load(directory.write("tokens.csv", text));
    } catch (const std::runtime_error& failure) {
      return failure.what();
    }
    return "accepted";
  };
  EXPECT_THAT(error("a,b,c\nonly-two,fields\n"), HasSubstr("tokens.csv:2: expected token,user,uid"));
  EXPECT_THAT(error("a,b,c,\"open\n"), HasSubstr("tokens.csv:1: a quote is not closed"));
  EXPECT_THAT(error(",b,c\n"), HasSubstr("the token is empty"));
  EXPECT_THAT(error("a,,c\n"), HasSubstr("the user name is empty"));
  EXPECT_THAT(error("a,b,c\na,d,e\n"), HasSubstr("tokens.csv:2: this token is already given"));
  EXPECT_EQ(error("a,b,c\n"), "accepted");
  EXPECT_THROW((void)TokenAuthenticator::load(directory.path() / "missing.csv"), std::runtime_error);
}

}  // namespace
}  // namespace riasc::apiserver
