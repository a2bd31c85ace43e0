#pragma once

// Static bearer tokens, as kube-apiserver's --token-auth-file: a CSV file of
// `token,user,uid[,"group1,group2"]` lines. For controllers and scripts that carry a token rather
// than a client certificate (an operator's Secret, a CI job). Read once at start.

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace riasc::apiserver {

struct AuthenticatedUser {
  std::string name;
  std::string uid;
  std::vector<std::string> groups;
};

class TokenAuthenticator {
 public:
  // std::runtime_error naming the file and line for a malformed line or a repeated token.
  static TokenAuthenticator load(const std::filesystem::path& file);

  // The user of an `Authorization: Bearer <token>` header, if the token is known.
  [[nodiscard]] std::optional<AuthenticatedUser> authenticate(std::string_view authorization) const;
  [[nodiscard]] std::size_t size() const { return users_.size(); }

 private:
  std::map<std::string, AuthenticatedUser, std::less<>> users_;
};

}  // namespace riasc::apiserver
