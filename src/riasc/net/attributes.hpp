#pragma once

// Internal to riasc_net: netlink attributes (struct nlattr: u16 length, u16 type, payload padded
// to 4 bytes) written into and read from byte buffers. Reads copy into values with memcpy, so a
// payload of any alignment is safe to read; lengths are checked before anything is read.

#include <linux/netlink.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace riasc::net::detail {

constexpr std::size_t align4(std::size_t size) { return (size + 3) & ~std::size_t{3}; }
// NLA_HDRLEN and NLA_TYPE_MASK without the C casts of their macros.
constexpr std::size_t kAttrHeader = sizeof(nlattr);
static_assert(kAttrHeader == 4);
constexpr std::uint16_t kAttrTypeMask = 0x3fff;  // without NLA_F_NESTED and NLA_F_NET_BYTEORDER

// A growing buffer of attributes, optionally after fixed headers (a netlink message is a
// nlmsghdr, a family header such as struct tcmsg, then attributes).
class AttrWriter {
 public:
  // Appends raw bytes, zero-padded to 4 (a header, or a struct inside an attribute's payload).
  void append(const void* data, std::size_t size) {
    const std::size_t at = bytes_.size();
    bytes_.resize(at + align4(size), 0);
    if (size != 0) std::memcpy(bytes_.data() + at, data, size);
  }
  template <class T>
  void append(const T& value) {
    static_assert(std::is_trivially_copyable_v<T>);
    append(&value, sizeof(T));
  }

  void put(std::uint16_t type, const void* data, std::size_t size) {
    const std::size_t length = kAttrHeader + size;
    if (length > 0xffff) throw std::length_error("netlink attribute too long");
    const nlattr header{static_cast<std::uint16_t>(length), type};
    append(header);  // 4 bytes, so the payload follows it directly
    append(data, size);
  }
  template <class T>
  void put(std::uint16_t type, const T& value) {
    static_assert(std::is_trivially_copyable_v<T>);
    put(type, &value, sizeof(T));
  }
  void put_string(std::uint16_t type, std::string_view text) {  // NUL-terminated, as the kernel wants
    std::string copy(text);
    put(type, copy.c_str(), copy.size() + 1);
  }

  // A nested attribute: begin_nest returns its offset, end_nest fixes its length.
  std::size_t begin_nest(std::uint16_t type) {
    const std::size_t at = bytes_.size();
    append(nlattr{0, static_cast<std::uint16_t>(type | NLA_F_NESTED)});
    return at;
  }
  void end_nest(std::size_t at) {
    const std::size_t length = bytes_.size() - at;
    if (length > 0xffff) throw std::length_error("netlink nested attribute too long");
    const auto length16 = static_cast<std::uint16_t>(length);
    std::memcpy(bytes_.data() + at, &length16, sizeof length16);
  }

  [[nodiscard]] std::vector<std::uint8_t>& bytes() { return bytes_; }
  [[nodiscard]] const std::vector<std::uint8_t>& bytes() const { return bytes_; }

 private:
  std::vector<std::uint8_t> bytes_;
};

struct Attr {
  std::uint16_t type = 0;  // without NLA_F_NESTED / NLA_F_NET_BYTEORDER
  std::span<const std::uint8_t> payload;

  // The payload as a T; nullopt when it is shorter than T.
  template <class T>
  [[nodiscard]] std::optional<T> as() const {
    static_assert(std::is_trivially_copyable_v<T>);
    if (payload.size() < sizeof(T)) return std::nullopt;
    T value;
    std::memcpy(&value, payload.data(), sizeof(T));
    return value;
  }
  // A string attribute, without its terminating NUL.
  [[nodiscard]] std::string as_string() const {
    std::string text(payload.begin(), payload.end());
    if (const auto nul = text.find('\0'); nul != std::string::npos) text.resize(nul);
    return text;
  }
};

// Calls fn(const Attr&) for each attribute in `data`. Returns false (having called fn for the
// well-formed ones before) when an attribute's length runs past the end or is below the header.
template <class F>
bool for_each_attr(std::span<const std::uint8_t> data, F&& fn) {
  std::size_t at = 0;
  while (data.size() - at >= kAttrHeader) {
    nlattr header{};
    std::memcpy(&header, data.data() + at, sizeof header);
    if (header.nla_len < kAttrHeader || header.nla_len > data.size() - at) return false;
    fn(Attr{static_cast<std::uint16_t>(header.nla_type & kAttrTypeMask),
            data.subspan(at + kAttrHeader, header.nla_len - kAttrHeader)});
    at += align4(header.nla_len);
    if (at > data.size()) at = data.size();
  }
  return at == data.size();
}

}  // namespace riasc::net::detail
