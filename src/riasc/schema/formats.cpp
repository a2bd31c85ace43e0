#include <arpa/inet.h>
#include <re2/re2.h>

#include <charconv>
#include <string>
#include <string_view>

#include "riasc/schema/node.hpp"

namespace riasc::schema {

namespace {

bool is_ip(std::string_view text, int family) {
  std::string copy(text);
  unsigned char buffer[16];
  return inet_pton(family, copy.c_str(), buffer) == 1;
}

bool is_cidr(const std::string& text) {
  auto slash = text.find('/');
  if (slash == std::string::npos) return false;
  std::string_view address(text.data(), slash);
  std::string_view prefix(text.data() + slash + 1, text.size() - slash - 1);
  int bits = -1;
  auto [end, error] = std::from_chars(prefix.data(), prefix.data() + prefix.size(), bits);
  if (error != std::errc() || end != prefix.data() + prefix.size() || prefix.empty()) return false;
  if (is_ip(address, AF_INET)) return bits >= 0 && bits <= 32;
  if (is_ip(address, AF_INET6)) return bits >= 0 && bits <= 128;
  return false;
}

bool is_leap(int year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

int number_at(const std::string& text, std::size_t at, std::size_t digits) {
  int value = 0;
  for (std::size_t i = at; i < at + digits; ++i) value = value * 10 + (text[i] - '0');
  return value;
}

// After the shape is checked: the date exists (2024-02-30 does not), the time is on the clock.
bool real_date(const std::string& text) {
  static constexpr std::array<int, 12> kDays = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int year = number_at(text, 0, 4);
  int month = number_at(text, 5, 2);
  int day = number_at(text, 8, 2);
  if (month < 1 || month > 12 || day < 1) return false;
  int days = kDays[static_cast<std::size_t>(month - 1)] + (month == 2 && is_leap(year) ? 1 : 0);
  return day <= days;
}

bool real_time(const std::string& text) {
  // The time starts after "YYYY-MM-DDT"; a numeric offset is the last 6 characters.
  if (number_at(text, 11, 2) > 23 || number_at(text, 14, 2) > 59 || number_at(text, 17, 2) > 60) return false;
  char zone = text[text.size() - 6];
  if (zone == '+' || zone == '-') {
    return number_at(text, text.size() - 5, 2) <= 23 && number_at(text, text.size() - 2, 2) <= 59;
  }
  return true;
}

bool matches(const std::string& text, std::string_view pattern) {
  // One compiled expression per format for the life of the process.
  static thread_local std::unordered_map<std::string_view, std::unique_ptr<RE2>> cache;
  auto& re = cache[pattern];
  if (!re) re = std::make_unique<RE2>(pattern);
  return RE2::FullMatch(text, *re);
}

}  // namespace

std::string check_format(const std::string& format, const std::string& value) {
  if (format == "date-time" || format == "datetime") {
    if (matches(value, R"(\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2}))") &&
        real_date(value) && real_time(value)) {
      return "";
    }
    return "a date-time in RFC 3339 form, e.g. 2024-01-31T12:00:00Z";
  }
  if (format == "date") {
    if (matches(value, R"(\d{4}-\d{2}-\d{2})") && real_date(value)) return "";
    return "a date in RFC 3339 form, e.g. 2024-01-31";
  }
  if (format == "duration") {
    if (matches(value, R"(([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+)")) return "";
    return "a duration such as 200ms, 1.5s or 1h30m";
  }
  if (format == "byte") {
    if (matches(value, R"(([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?)")) return "";
    return "base64-encoded data";
  }
  if (format == "uuid") {
    if (matches(value, R"([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})"))
      return "";
    return "a UUID, e.g. 123e4567-e89b-12d3-a456-426614174000";
  }
  if (format == "ipv4") return is_ip(value, AF_INET) ? "" : "an IPv4 address, e.g. 192.0.2.1";
  if (format == "ipv6") return is_ip(value, AF_INET6) ? "" : "an IPv6 address, e.g. 2001:db8::1";
  if (format == "cidr") return is_cidr(value) ? "" : "a CIDR block, e.g. 192.0.2.0/24 or 2001:db8::/64";
  if (format == "mac") {
    if (matches(value, R"([0-9A-Fa-f]{2}([:-][0-9A-Fa-f]{2}){5})")) return "";
    return "a MAC address, e.g. 02:00:5e:10:00:01";
  }
  if (format == "hostname") {
    if (value.size() <= 253 &&
        matches(
            value,
            R"([A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?)*)")) {
      return "";
    }
    return "a host name (RFC 1123), e.g. ntp.example.org";
  }
  if (format == "email") {
    if (matches(value, R"([^@\s]+@[^@\s]+\.[^@\s]+)")) return "";
    return "an e-mail address";
  }
  if (format == "uri") {
    if (matches(value, R"([A-Za-z][A-Za-z0-9+.-]*:\S+)")) return "";
    return "a URI with a scheme, e.g. https://example.org/archive";
  }
  return "";  // int32, int64, double, password and unknown formats do not restrict strings
}

}  // namespace riasc::schema
