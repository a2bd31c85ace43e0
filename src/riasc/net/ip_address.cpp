#include "riasc/net/ip_address.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <charconv>
#include <cstring>

namespace riasc::net {

namespace {

std::size_t byte_count(Family family) { return family == Family::V4 ? 4 : 16; }

// Keeps the first `length` bits of `address` and sets the rest to `host_bits`.
IpAddress with_host_bits(IpAddress address, int length, bool host_bits) {
  const std::size_t size = byte_count(address.family);
  for (std::size_t i = 0; i < size; ++i) {
    const int first_bit = static_cast<int>(i) * 8;
    if (first_bit + 8 <= length) continue;
    const int keep = length > first_bit ? length - first_bit : 0;  // 0..7 leading bits kept
    const auto host_mask = static_cast<std::uint8_t>(0xffu >> keep);
    address.bytes[i] = host_bits ? static_cast<std::uint8_t>(address.bytes[i] | host_mask)
                                 : static_cast<std::uint8_t>(address.bytes[i] & ~host_mask);
  }
  return address;
}

std::string format_v6(const std::array<std::uint8_t, 16>& bytes) {
  std::array<unsigned, 8> groups{};
  for (std::size_t i = 0; i < 8; ++i) groups[i] = (unsigned{bytes[2 * i]} << 8) | bytes[2 * i + 1];

  // RFC 5952 §5: IPv4-mapped addresses keep the dotted quad.
  const bool mapped = groups[0] == 0 && groups[1] == 0 && groups[2] == 0 && groups[3] == 0 &&
                      groups[4] == 0 && groups[5] == 0xffff;
  if (mapped) return fmt::format("::ffff:{}.{}.{}.{}", bytes[12], bytes[13], bytes[14], bytes[15]);

  // §4.2: the longest run of at least two zero groups becomes "::", the first of equal runs.
  std::size_t best_start = 8, best_length = 0;
  for (std::size_t i = 0; i < 8;) {
    if (groups[i] != 0) {
      ++i;
      continue;
    }
    std::size_t end = i;
    while (end < 8 && groups[end] == 0) ++end;
    if (end - i > best_length) {
      best_start = i;
      best_length = end - i;
    }
    i = end;
  }
  if (best_length < 2) best_start = 8;

  std::string out;
  for (std::size_t i = 0; i < 8; ++i) {
    if (i == best_start) {
      out += "::";
      i += best_length - 1;
      continue;
    }
    if (!out.empty() && out.back() != ':') out += ':';
    out += fmt::format("{:x}", groups[i]);
  }
  return out;
}

}  // namespace

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  if (text.empty() || text.size() > INET6_ADDRSTRLEN) return std::nullopt;
  const std::string copy(text);  // inet_pton wants a NUL-terminated string
  IpAddress address;
  if (copy.find(':') == std::string::npos) {
    address.family = Family::V4;
    if (inet_pton(AF_INET, copy.c_str(), address.bytes.data()) != 1) return std::nullopt;
  } else {
    address.family = Family::V6;
    if (inet_pton(AF_INET6, copy.c_str(), address.bytes.data()) != 1) return std::nullopt;
  }
  return address;
}

IpAddress IpAddress::v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
  IpAddress address;
  address.bytes[0] = a;
  address.bytes[1] = b;
  address.bytes[2] = c;
  address.bytes[3] = d;
  return address;
}

std::string IpAddress::to_string() const {
  if (family == Family::V4) return fmt::format("{}.{}.{}.{}", bytes[0], bytes[1], bytes[2], bytes[3]);
  return format_v6(bytes);
}

std::optional<IpAddress> IpAddress::next() const {
  IpAddress out = *this;
  for (std::size_t i = byte_count(family); i-- > 0;) {
    if (++out.bytes[i] != 0) return out;  // no carry: done
  }
  return std::nullopt;  // wrapped around: this was the last address
}

std::optional<IpAddress> IpAddress::prev() const {
  IpAddress out = *this;
  for (std::size_t i = byte_count(family); i-- > 0;) {
    if (out.bytes[i]-- != 0) return out;  // no borrow: done
  }
  return std::nullopt;
}

std::optional<IpPrefix> IpPrefix::parse(std::string_view text) {
  const auto slash = text.find('/');
  const auto address = IpAddress::parse(text.substr(0, slash));
  if (!address) return std::nullopt;
  if (slash == std::string_view::npos) return of(*address, address->bits());
  const std::string_view digits = text.substr(slash + 1);
  if (digits.empty() || digits.size() > 3) return std::nullopt;
  int length = -1;
  const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), length);
  if (error != std::errc{} || end != digits.data() + digits.size()) return std::nullopt;
  return of(*address, length);
}

std::optional<IpPrefix> IpPrefix::of(const IpAddress& address, int length) {
  if (length < 0 || length > address.bits()) return std::nullopt;
  return IpPrefix{with_host_bits(address, length, false), length};
}

IpAddress IpPrefix::first() const { return with_host_bits(address, length, false); }

IpAddress IpPrefix::last() const { return with_host_bits(address, length, true); }

bool IpPrefix::contains(const IpAddress& other) const {
  return other.family == address.family && with_host_bits(other, length, false) == first();
}

std::string IpPrefix::to_string() const { return fmt::format("{}/{}", address.to_string(), length); }

}  // namespace riasc::net
