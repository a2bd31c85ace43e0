#pragma once

// The units RIasC manifests accept in strings (docs/api-conventions.md).

#include <optional>
#include <string_view>

namespace riasc {

// "200ms", "1.5s", "1m30s", "10us"/"10µs" → seconds; nullopt if not a duration.
std::optional<double> parse_duration_seconds(std::string_view text);

}  // namespace riasc
