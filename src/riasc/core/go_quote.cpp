#include "riasc/core/go_quote.hpp"

#include <fmt/format.h>

namespace riasc {

std::string go_quote(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\a':
        out += "\\a";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\v':
        out += "\\v";
        break;
      default: {
        const auto byte = static_cast<unsigned char>(c);
        if (byte < 0x20U || byte == 0x7FU) {
          out += fmt::format("\\x{:02x}", static_cast<unsigned>(byte));
        } else {
          out += c;
        }
      }
    }
  }
  out += '"';
  return out;
}

}  // namespace riasc
