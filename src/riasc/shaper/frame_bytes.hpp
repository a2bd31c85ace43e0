#pragma once

// Big-endian fields of an Ethernet frame, as the IP and TCP headers carry them (internal to the
// shaper: the ECN mark and the offload code both edit headers in place).

#include <cstdint>
#include <vector>

namespace riasc::shaper::frame_bytes {

inline std::uint16_t be16(const std::vector<std::uint8_t>& frame, std::size_t at) {
  return static_cast<std::uint16_t>((frame[at] << 8) | frame[at + 1]);
}
inline std::uint32_t be32(const std::vector<std::uint8_t>& frame, std::size_t at) {
  return static_cast<std::uint32_t>(be16(frame, at)) << 16 | be16(frame, at + 2);
}
inline void put_be16(std::vector<std::uint8_t>& frame, std::size_t at, std::uint16_t value) {
  frame[at] = static_cast<std::uint8_t>(value >> 8);
  frame[at + 1] = static_cast<std::uint8_t>(value);
}
inline void put_be32(std::vector<std::uint8_t>& frame, std::size_t at, std::uint32_t value) {
  put_be16(frame, at, static_cast<std::uint16_t>(value >> 16));
  put_be16(frame, at + 2, static_cast<std::uint16_t>(value));
}

}  // namespace riasc::shaper::frame_bytes
