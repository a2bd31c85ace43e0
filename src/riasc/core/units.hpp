#pragma once

// The units RIasC manifests accept in strings (docs/api-conventions.md).

#include <optional>
#include <string_view>

namespace riasc {

// "200ms", "1.5s", "1m30s", "10us"/"10µs" → seconds; nullopt if not a duration.
std::optional<double> parse_duration_seconds(std::string_view text);

// A Kubernetes resource quantity: "500m" → 0.5, "128Mi" → 134217728, "1G", "2", "1e3"; binary
// (Ki..Ei) and decimal (n, u, m, k, M..E) suffixes. nullopt if not a quantity or negative.
std::optional<double> parse_quantity(std::string_view text);

}  // namespace riasc
