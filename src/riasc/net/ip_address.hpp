#pragma once

// IPv4 and IPv6 addresses and prefixes as values: parsed from and printed to their text forms,
// ordered, and stepped through (the network-emulation agent allocates peers and walks ranges with
// next()/prev()). Pure functions, no I/O.

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace riasc::net {

enum class Family { V4, V6 };

struct IpAddress {
  Family family = Family::V4;
  std::array<std::uint8_t, 16> bytes{};  // network order; V4 uses the first 4, the rest stay 0

  // "10.0.0.1", "fd00::1", "::ffff:192.0.2.1". Dotted quads must have four decimal parts without
  // leading zeros (inet_pton's rules); no zone ("%eth0"), no brackets, no surrounding spaces.
  static std::optional<IpAddress> parse(std::string_view text);
  static IpAddress v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d);

  // Canonical text: dotted quad, or RFC 5952 for IPv6 (lowercase, no leading zeros, the longest
  // run of two or more zero groups as "::", leftmost on a tie, dotted quad only for ::ffff:0:0/96).
  [[nodiscard]] std::string to_string() const;
  [[nodiscard]] int bits() const { return family == Family::V4 ? 32 : 128; }
  [[nodiscard]] std::optional<IpAddress> next() const;  // +1, nullopt past the last address
  [[nodiscard]] std::optional<IpAddress> prev() const;  // -1, nullopt before the first
  auto operator<=>(const IpAddress&) const = default;   // family first, then bytes
};

struct IpPrefix {
  IpAddress address;  // host bits cleared (except in rtnetlink's Address, which keeps them)
  int length = 0;

  // "10.0.0.0/8", "fd00::/64"; host bits are cleared ("10.1.2.3/8" is 10.0.0.0/8); a bare
  // address is /32 or /128. The length is decimal, 0..32 or 0..128.
  static std::optional<IpPrefix> parse(std::string_view text);
  // `address` with `length` and its host bits cleared; nullopt when length is out of range.
  static std::optional<IpPrefix> of(const IpAddress& address, int length);

  [[nodiscard]] IpAddress first() const;                // host bits cleared
  [[nodiscard]] IpAddress last() const;                 // host bits set
  [[nodiscard]] bool contains(const IpAddress&) const;  // false across families
  [[nodiscard]] std::string to_string() const;          // "10.0.0.0/8"
  auto operator<=>(const IpPrefix&) const = default;
};

}  // namespace riasc::net
