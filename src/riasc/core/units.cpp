#include "riasc/core/units.hpp"

#include <array>
#include <charconv>
#include <string>
#include <utility>

namespace riasc {

std::optional<double> parse_duration_seconds(std::string_view text) {
  // Longest unit names first, so "ms" is not read as "m" followed by "s".
  static constexpr std::array<std::pair<std::string_view, double>, 8> kUnits = {
      {{"ns", 1e-9},
       {"us", 1e-6},
       {"\xC2\xB5s", 1e-6},
       {"\xCE\xBCs", 1e-6},  // µs (micro sign), μs (mu)
       {"ms", 1e-3},
       {"s", 1.0},
       {"m", 60.0},
       {"h", 3600.0}}};
  if (text.empty()) return std::nullopt;
  double total = 0;
  while (!text.empty()) {
    std::size_t digits = 0;
    while (digits < text.size() &&
           (std::isdigit(static_cast<unsigned char>(text[digits])) != 0 || text[digits] == '.')) {
      ++digits;
    }
    if (digits == 0) return std::nullopt;
    double value = 0;
    std::string number(text.substr(0, digits));
    auto [end, error] = std::from_chars(number.data(), number.data() + number.size(), value);
    if (error != std::errc() || end != number.data() + number.size()) return std::nullopt;
    text.remove_prefix(digits);
    bool matched = false;
    for (const auto& [unit, scale] : kUnits) {
      if (text.starts_with(unit)) {
        total += value * scale;
        text.remove_prefix(unit.size());
        matched = true;
        break;
      }
    }
    if (!matched) return std::nullopt;
  }
  return total;
}

std::optional<double> parse_quantity(std::string_view text) {
  static constexpr std::array<std::pair<std::string_view, double>, 14> kSuffixes = {
      {{"Ki", 1024.0},
       {"Mi", 1048576.0},
       {"Gi", 1073741824.0},
       {"Ti", 1099511627776.0},
       {"Pi", 1125899906842624.0},
       {"Ei", 1152921504606846976.0},
       {"n", 1e-9},
       {"u", 1e-6},
       {"m", 1e-3},
       {"k", 1e3},
       {"M", 1e6},
       {"G", 1e9},
       {"T", 1e12},
       {"P", 1e15}}};
  double scale = 1;
  for (const auto& [suffix, factor] : kSuffixes) {
    if (text.size() > suffix.size() && text.ends_with(suffix)) {
      scale = factor;
      text.remove_suffix(suffix.size());
      break;
    }
  }
  if (scale == 1 && text.size() > 1 && text.back() == 'E') {  // exa; "1E3" is an exponent instead
    const auto exponent = text.find_first_of("eE");
    if (exponent == text.size() - 1) {
      scale = 1e18;
      text.remove_suffix(1);
    }
  }
  if (text.empty() || text.front() == '+' || text.front() == '-') return std::nullopt;
  double value = 0;
  const std::string number(text);
  auto [end, error] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (error != std::errc() || end != number.data() + number.size() || value < 0) return std::nullopt;
  return value * scale;
}

}  // namespace riasc
