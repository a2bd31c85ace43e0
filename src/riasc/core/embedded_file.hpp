#pragma once

#include <span>
#include <string_view>

namespace riasc {

// A file compiled into the binary by cmake/RiascEmbed.cmake.
struct EmbeddedFile {
  std::string_view name;
  std::string_view content;
};

}  // namespace riasc
