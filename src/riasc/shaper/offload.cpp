#include "riasc/shaper/offload.hpp"

#include <optional>

#include "riasc/shaper/frame_bytes.hpp"

namespace riasc::shaper {
namespace {

constexpr std::uint8_t kFin = 0x01, kPsh = 0x08, kCwr = 0x80;
constexpr std::uint8_t kTcp = 6;

using frame_bytes::be16;
using frame_bytes::be32;
using frame_bytes::put_be16;
using frame_bytes::put_be32;

// The one's complement sum of [from, to) as 16-bit big-endian words, not yet folded.
std::uint64_t sum_words(const std::vector<std::uint8_t>& bytes, std::size_t from, std::size_t to,
                        std::uint64_t sum = 0) {
  std::size_t i = from;
  for (; i + 1 < to; i += 2) sum += be16(bytes, i);
  if (i < to) sum += static_cast<std::uint64_t>(bytes[i]) << 8;
  return sum;
}

std::uint16_t fold(std::uint64_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(sum);
}

// Where a super-packet's headers are.
struct Layout {
  std::size_t network = 0;    // the IP header
  std::size_t transport = 0;  // the TCP header
  std::size_t headers = 0;    // the first payload byte
};

std::optional<Layout> layout(const std::vector<std::uint8_t>& frame, const Offload& offload) {
  if (offload.gso == Gso::None || offload.segment_size == 0 || frame.size() < 14) return std::nullopt;
  Layout out;
  const std::uint16_t type = be16(frame, 12);
  out.network = type == 0x8100 || type == 0x88a8 ? 18 : 14;
  if (frame.size() < out.network + 40) return std::nullopt;
  const std::uint8_t version = frame[out.network] >> 4;
  if (offload.gso == Gso::Tcp4) {
    const std::size_t ihl = (frame[out.network] & 0x0f) * 4u;
    if (version != 4 || ihl < 20 || frame[out.network + 9] != kTcp) return std::nullopt;
    out.transport = out.network + ihl;
  } else {
    if (version != 6) return std::nullopt;
    // With extension headers only the kernel's checksum start says where TCP begins.
    if (offload.needs_checksum) {
      out.transport = offload.checksum_start;
    } else if (frame[out.network + 6] == kTcp) {
      out.transport = out.network + 40;
    } else {
      return std::nullopt;
    }
    if (out.transport < out.network + 40) return std::nullopt;
  }
  if (frame.size() < out.transport + 20) return std::nullopt;
  const std::size_t tcp_header = (frame[out.transport + 12] >> 4) * 4u;
  out.headers = out.transport + tcp_header;
  if (tcp_header < 20 || out.headers >= frame.size()) return std::nullopt;
  return out;
}

// The TCP checksum of a whole segment, pseudo-header included.
void fill_tcp_checksum(std::vector<std::uint8_t>& frame, const Layout& at, bool ipv4) {
  const std::size_t tcp_length = frame.size() - at.transport;
  std::uint64_t sum = kTcp + tcp_length;
  if (ipv4) {
    sum = sum_words(frame, at.network + 12, at.network + 20, sum);
  } else {
    sum = sum_words(frame, at.network + 8, at.network + 40, sum);
  }
  put_be16(frame, at.transport + 16, 0);
  sum = sum_words(frame, at.transport, frame.size(), sum);
  put_be16(frame, at.transport + 16, static_cast<std::uint16_t>(~fold(sum)));
}

}  // namespace

std::uint32_t segment_count(const std::vector<std::uint8_t>& frame, const Offload& offload) {
  const auto at = layout(frame, offload);
  if (!at) return 1;
  const std::size_t payload = frame.size() - at->headers;
  return static_cast<std::uint32_t>((payload + offload.segment_size - 1) / offload.segment_size);
}

std::uint64_t wire_length(const std::vector<std::uint8_t>& frame, const Offload& offload) {
  const auto at = layout(frame, offload);
  if (!at) return frame.size();
  return frame.size() + std::uint64_t{segment_count(frame, offload) - 1} * at->headers;
}

void finish_checksum(std::vector<std::uint8_t>& frame, Offload& offload) {
  if (!offload.needs_checksum) return;
  offload.needs_checksum = false;
  const std::size_t field = std::size_t{offload.checksum_start} + offload.checksum_offset;
  if (field + 2 > frame.size()) return;
  // The field holds the pseudo-header's sum, which the sum over the rest completes. A result of
  // 0 goes out as 0xffff, its other form, since 0 means "no checksum" to UDP.
  const std::uint16_t checksum =
      static_cast<std::uint16_t>(~fold(sum_words(frame, offload.checksum_start, frame.size())));
  put_be16(frame, field, checksum == 0 ? 0xffff : checksum);
}

std::vector<std::vector<std::uint8_t>> segment(const std::vector<std::uint8_t>& frame,
                                               const Offload& offload) {
  const auto at = layout(frame, offload);
  if (!at) return {};
  const bool ipv4 = offload.gso == Gso::Tcp4;
  const std::size_t payload = frame.size() - at->headers;
  const std::uint32_t sequence = be32(frame, at->transport + 4);
  const std::uint8_t flags = frame[at->transport + 13];
  std::vector<std::vector<std::uint8_t>> out;
  out.reserve((payload + offload.segment_size - 1) / offload.segment_size);
  for (std::size_t offset = 0; offset < payload; offset += offload.segment_size) {
    const std::size_t length = std::min<std::size_t>(offload.segment_size, payload - offset);
    const auto first = frame.begin() + static_cast<std::ptrdiff_t>(at->headers + offset);
    std::vector<std::uint8_t> piece(frame.begin(), frame.begin() + static_cast<std::ptrdiff_t>(at->headers));
    piece.insert(piece.end(), first, first + static_cast<std::ptrdiff_t>(length));
    std::uint8_t piece_flags = flags;
    if (offset + length < payload) piece_flags &= static_cast<std::uint8_t>(~(kFin | kPsh));
    if (offset > 0) piece_flags &= static_cast<std::uint8_t>(~kCwr);
    piece[at->transport + 13] = piece_flags;
    put_be32(piece, at->transport + 4, sequence + static_cast<std::uint32_t>(offset));
    if (ipv4) {
      const std::size_t ihl = at->transport - at->network;
      put_be16(piece, at->network + 2, static_cast<std::uint16_t>(piece.size() - at->network));
      put_be16(piece, at->network + 4, static_cast<std::uint16_t>(be16(frame, at->network + 4) + out.size()));
      put_be16(piece, at->network + 10, 0);
      put_be16(piece, at->network + 10,
               static_cast<std::uint16_t>(~fold(sum_words(piece, at->network, at->network + ihl))));
    } else {
      put_be16(piece, at->network + 4, static_cast<std::uint16_t>(piece.size() - at->network - 40));
    }
    fill_tcp_checksum(piece, *at, ipv4);
    out.push_back(std::move(piece));
  }
  return out;
}

}  // namespace riasc::shaper
