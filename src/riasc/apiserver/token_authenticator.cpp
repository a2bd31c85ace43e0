#include "riasc/apiserver/token_authenticator.hpp"

#include <fmt/format.h>

#include <fstream>
#include <stdexcept>

namespace riasc::apiserver {

namespace {

// One CSV record: fields split at commas outside double quotes; "" inside quotes is a quote.
std::optional<std::vector<std::string>> split_csv(std::string_view line) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        fields.back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        fields.back() += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.emplace_back();
    } else {
      fields.back() += c;
    }
  }
  if (quoted) return std::nullopt;
  return fields;
}

}  // namespace

TokenAuthenticator TokenAuthenticator::load(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) throw std::runtime_error(fmt::format("{}: cannot read the token file", file.string()));
  TokenAuthenticator authenticator;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos || line.front() == '#') continue;
    auto fail = [&](std::string_view message) {
      throw std::runtime_error(fmt::format("{}:{}: {}", file.string(), number, message));
    };
    auto fields = split_csv(line);
    if (!fields) fail("a quote is not closed");
    if (fields->size() < 3) fail("expected token,user,uid[,\"group1,group2\"]");
    if ((*fields)[0].empty()) fail("the token is empty");
    if ((*fields)[1].empty()) fail("the user name is empty");
    AuthenticatedUser user{(*fields)[1], (*fields)[2], {}};
    if (fields->size() > 3) {
      std::string_view groups = (*fields)[3];
      while (!groups.empty()) {
        const std::size_t comma = groups.find(',');
        if (std::string_view group = groups.substr(0, comma); !group.empty()) user.groups.emplace_back(group);
        groups = comma == std::string_view::npos ? std::string_view() : groups.substr(comma + 1);
      }
    }
    if (!authenticator.users_.emplace((*fields)[0], std::move(user)).second)
      fail("this token is already given to another line's user");
  }
  return authenticator;
}

std::optional<AuthenticatedUser> TokenAuthenticator::authenticate(std::string_view authorization) const {
  constexpr std::string_view kScheme = "Bearer ";
  if (authorization.size() <= kScheme.size() || authorization.substr(0, kScheme.size()) != kScheme)
    return std::nullopt;
  auto found = users_.find(authorization.substr(kScheme.size()));
  if (found == users_.end()) return std::nullopt;
  return found->second;
}

}  // namespace riasc::apiserver
