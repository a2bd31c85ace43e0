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

}  // namespace riasc
