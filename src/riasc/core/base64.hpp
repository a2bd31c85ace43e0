#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace riasc {

// Standard base64 (RFC 4648 §4) with padding, as Kubernetes writes `[]byte` fields and kubeconfig
// `*-data` members.
std::string base64_encode(std::string_view bytes);

// Accepts the standard alphabet with or without padding and ignores whitespace (kubeconfigs are
// often folded by hand); nullopt for any other character or a truncated group.
std::optional<std::string> base64_decode(std::string_view text);

// The URL-safe alphabet without padding (RFC 4648 §5), as JSON Web Tokens use it.
std::string base64url_encode(std::string_view bytes);
std::optional<std::string> base64url_decode(std::string_view text);

}  // namespace riasc
