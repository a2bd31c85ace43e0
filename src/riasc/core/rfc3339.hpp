#pragma once

// RFC 3339 times as Kubernetes writes them (metav1.Time, MicroTime) and Go's time.RFC3339Nano
// reads them: one parser for the server's tables, the client's credential plugins and the
// operator SDK's records.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace riasc {

// "2026-11-25T11:47:25Z", "2026-11-25T11:47:25.5+01:00": a date, 'T', a time, an optional
// fraction of up to nine digits (kept to the nanosecond), then 'Z' or an offset ±hh:mm.
// nullopt for anything else, a day the month does not have included.
std::optional<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view text);

// "2026-11-25T11:47:25Z": UTC, whole seconds.
std::string format_rfc3339(std::chrono::sys_seconds time);

}  // namespace riasc
