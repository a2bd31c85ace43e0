// TCP super-packets (GSO) and checksums the kernel left to the device: cut, counted and finished
// as the kernel would, and shaped as their segments.

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "riasc/shaper/offload.hpp"
#include "riasc/shaper/shaper.hpp"

namespace riasc::shaper {
namespace {

using Frame = std::vector<std::uint8_t>;

constexpr std::size_t kMss = 1448;
constexpr std::uint32_t kSequence = 0xfffff000;  // wraps within the super-packet

unsigned be16(const Frame& f, std::size_t at) { return static_cast<unsigned>(f[at] << 8 | f[at + 1]); }
std::uint32_t be32(const Frame& f, std::size_t at) { return be16(f, at) << 16 | be16(f, at + 2); }
void put16(Frame& f, std::size_t at, unsigned value) {
  f[at] = static_cast<std::uint8_t>(value >> 8);
  f[at + 1] = static_cast<std::uint8_t>(value);
}

std::uint32_t sum(const Frame& f, std::size_t from, std::size_t to, std::uint32_t total = 0) {
  for (std::size_t i = from; i < to; i += 2)
    total += i + 1 < to ? be16(f, i) : static_cast<unsigned>(f[i] << 8);
  return total;
}
unsigned folded(std::uint32_t total) {
  while (total >> 16) total = (total & 0xffff) + (total >> 16);
  return total;
}

// Where the headers are in the frames below.
struct Shape {
  bool ipv4 = true;
  std::size_t transport() const { return ipv4 ? 34 : 54; }
  std::size_t payload() const { return transport() + 32; }  // TCP with 12 bytes of options
};

std::uint32_t pseudo_header(const Frame& f, const Shape& shape, std::size_t tcp_length) {
  return shape.ipv4 ? sum(f, 26, 34, 6 + static_cast<std::uint32_t>(tcp_length))
                    : sum(f, 22, 54, 6 + static_cast<std::uint32_t>(tcp_length));
}

// A TCP super-packet as a TAP with offloads hands it over: `payload` bytes, PSH|ACK|FIN|CWR, the
// TCP checksum field holding only the pseudo-header's sum (CHECKSUM_PARTIAL).
Frame super_packet(const Shape& shape, std::size_t payload, Offload& offload) {
  Frame f(shape.payload() + payload);
  for (std::size_t i = 0; i < f.size(); ++i) f[i] = static_cast<std::uint8_t>(i * 13 + 5);
  const std::size_t ip = 14;
  if (shape.ipv4) {
    put16(f, 12, 0x0800);
    f[ip] = 0x45;
    put16(f, ip + 2, static_cast<unsigned>(f.size() - ip));
    put16(f, ip + 4, 0xfffe);  // the ID wraps too
    f[ip + 9] = 6;
    put16(f, ip + 10, 0);
    put16(f, ip + 10, ~folded(sum(f, ip, ip + 20)) & 0xffff);
  } else {
    put16(f, 12, 0x86dd);
    f[ip] = 0x60;
    put16(f, ip + 4, static_cast<unsigned>(f.size() - ip - 40));
    f[ip + 6] = 6;
  }
  const std::size_t tcp = shape.transport();
  put16(f, tcp + 4, kSequence >> 16);
  put16(f, tcp + 6, kSequence & 0xffff);
  f[tcp + 12] = 8 << 4;
  f[tcp + 13] = 0x80 | 0x10 | 0x08 | 0x01;
  put16(f, tcp + 16, folded(pseudo_header(f, shape, f.size() - tcp)));
  offload = {.needs_checksum = true,
             .checksum_start = static_cast<std::uint16_t>(tcp),
             .checksum_offset = 16,
             .gso = shape.ipv4 ? Gso::Tcp4 : Gso::Tcp6,
             .segment_size = kMss,
             .header_length = static_cast<std::uint16_t>(shape.payload())};
  return f;
}

bool tcp_checksum_holds(const Frame& f, const Shape& shape) {
  const std::size_t tcp = shape.transport();
  return folded(sum(f, tcp, f.size(), pseudo_header(f, shape, f.size() - tcp))) == 0xffff;
}

class OffloadTest : public testing::TestWithParam<bool> {};

TEST_P(OffloadTest, ASuperPacketIsCutAsTheKernelCutsIt) {
  const Shape shape{.ipv4 = GetParam()};
  Offload offload;
  const Frame whole = super_packet(shape, 3 * kMss + 656, offload);
  EXPECT_EQ(segment_count(whole, offload), 4U);
  EXPECT_EQ(wire_length(whole, offload), whole.size() + 3 * shape.payload());

  const std::vector<Frame> pieces = segment(whole, offload);
  ASSERT_EQ(pieces.size(), 4U);
  Frame payload;
  std::uint64_t bytes = 0;
  for (std::size_t i = 0; i < pieces.size(); ++i) {
    SCOPED_TRACE(i);
    const Frame& piece = pieces[i];
    bytes += piece.size();
    const std::size_t tcp = shape.transport();
    EXPECT_EQ(piece.size(), shape.payload() + (i < 3 ? kMss : 656));
    EXPECT_TRUE(std::equal(piece.begin(), piece.begin() + 12, whole.begin()));  // the MACs
    EXPECT_EQ(be32(piece, tcp + 4), static_cast<std::uint32_t>(kSequence + i * kMss));
    const unsigned flags = piece[tcp + 13];
    EXPECT_EQ((flags & 0x01) != 0, i == 3) << "FIN on the last only";
    EXPECT_EQ((flags & 0x08) != 0, i == 3) << "PSH on the last only";
    EXPECT_EQ((flags & 0x80) != 0, i == 0) << "CWR on the first only";
    EXPECT_NE(flags & 0x10, 0U) << "ACK on all";
    if (shape.ipv4) {
      EXPECT_EQ(be16(piece, 16), piece.size() - 14);
      EXPECT_EQ(be16(piece, 18), (0xfffe + i) & 0xffff);
      EXPECT_EQ(folded(sum(piece, 14, 34)), 0xffffU) << "IPv4 header checksum";
    } else {
      EXPECT_EQ(be16(piece, 18), piece.size() - 54);
    }
    EXPECT_TRUE(tcp_checksum_holds(piece, shape));
    payload.insert(payload.end(), piece.begin() + static_cast<std::ptrdiff_t>(shape.payload()), piece.end());
  }
  EXPECT_EQ(payload, Frame(whole.begin() + static_cast<std::ptrdiff_t>(shape.payload()), whole.end()));
  EXPECT_EQ(bytes, wire_length(whole, offload)) << "the wire length is the segments' lengths";
}

TEST_P(OffloadTest, APartialChecksumIsFinished) {
  const Shape shape{.ipv4 = GetParam()};
  Offload offload;
  Frame frame = super_packet(shape, 700, offload);
  offload.gso = Gso::None;
  EXPECT_FALSE(tcp_checksum_holds(frame, shape));
  finish_checksum(frame, offload);
  EXPECT_FALSE(offload.needs_checksum);
  EXPECT_TRUE(tcp_checksum_holds(frame, shape));
  const Frame finished = frame;
  finish_checksum(frame, offload);  // nothing left to do
  EXPECT_EQ(frame, finished);
}

INSTANTIATE_TEST_SUITE_P(IPv4AndIPv6, OffloadTest, testing::Bool(),
                         [](const testing::TestParamInfo<bool>& param) {
                           return param.param ? "IPv4" : "IPv6";
                         });

TEST(OffloadTest, APlainOrMalformedFrameIsOneSegment) {
  Offload offload;
  Frame frame = super_packet({}, 5000, offload);
  const Offload plain{};
  EXPECT_EQ(segment_count(frame, plain), 1U);
  EXPECT_EQ(wire_length(frame, plain), frame.size());
  EXPECT_TRUE(segment(frame, plain).empty());
  frame[14] = 0x46;  // an IHL that puts TCP where the bytes do not say TCP
  frame[23] = 17;    // and a protocol that is not TCP
  EXPECT_EQ(segment_count(frame, offload), 1U);
  EXPECT_EQ(wire_length(frame, offload), frame.size());
  EXPECT_TRUE(segment(frame, offload).empty());
  EXPECT_TRUE(segment(Frame(40), offload).empty());
}

// The shaper charges a super-packet as its segments, overhead included, and corrupts it as netem
// does: cut up first, the first segment corrupted, the others decided on their own.
TEST(OffloadTest, TheShaperChargesEverySegmentAndCutsUpWhatItCorrupts) {
  Offload offload;
  const Frame whole = super_packet({}, 3 * kMss + 656, offload);
  const std::uint64_t wire = wire_length(whole, offload);

  ShaperOptions rated;
  rated.netem.rate_bytes_per_second = 100'000'000;  // 1 byte per 10 ns: 48 µs for it, kept whole
  rated.netem.packet_overhead = 24;
  Shaper shaper(rated, {}, 1);
  shaper.enqueue(whole, 0, offload);
  ASSERT_TRUE(shaper.next_departure());
  EXPECT_EQ(*shaper.next_departure(), static_cast<Nanos>((wire + 4 * 24) * 10));
  std::vector<Packet> sent = shaper.dequeue(*shaper.next_departure());
  ASSERT_EQ(sent.size(), 1U);
  EXPECT_EQ(sent[0].frame, whole);
  EXPECT_EQ(sent[0].offload, offload) << "passed through for the kernel to finish";
  EXPECT_EQ(sent[0].segments, 4U);
  EXPECT_EQ(shaper.counters().bytes_in, wire);
  EXPECT_EQ(shaper.counters().bytes_sent, wire);

  ShaperOptions corrupting;
  corrupting.netem.corrupt = 1;
  Shaper corrupter(corrupting, {}, 2);
  corrupter.enqueue(whole, 0, offload);
  sent = corrupter.dequeue(0);
  ASSERT_EQ(sent.size(), 4U);
  for (const Packet& packet : sent) {
    EXPECT_EQ(packet.offload, Offload{});
    EXPECT_EQ(packet.segments, 1U);
    EXPECT_TRUE(packet.corrupted);
    EXPECT_FALSE(tcp_checksum_holds(packet.frame, {})) << "finished, then corrupted";
  }
  const Counters& c = corrupter.counters();
  EXPECT_EQ(c.packets_in, 4U);
  EXPECT_EQ(c.corrupted, 4U);
  EXPECT_EQ(c.sent, 4U);
  EXPECT_EQ(c.bytes_in, wire);
  EXPECT_EQ(c.bytes_sent, wire);
}

// At a rate at which it would take more than kLongestBurst, a super-packet is cut on arrival and
// its segments leave one by one, as from a wire.
TEST(OffloadTest, ASlowRateCutsASuperPacketIntoItsSegments) {
  Offload offload;
  const Frame whole = super_packet({}, 3 * kMss + 656, offload);
  ShaperOptions slow;
  slow.netem.rate_bytes_per_second = 1'000'000;  // 1 byte per µs: 4.8 ms for it
  Shaper shaper(slow, {}, 4);
  shaper.enqueue(whole, 0, offload);
  std::vector<Nanos> departures;
  std::uint64_t bytes = 0;
  while (auto next = shaper.next_departure()) {
    for (const Packet& packet : shaper.dequeue(*next)) {
      EXPECT_EQ(packet.offload, Offload{});
      EXPECT_TRUE(tcp_checksum_holds(packet.frame, {}));
      bytes += packet.frame.size();
      departures.push_back(packet.departure);
    }
  }
  ASSERT_EQ(departures.size(), 4U);
  EXPECT_EQ(departures.front(), static_cast<Nanos>(kMss + 66) * 1000) << "the first segment's time alone";
  EXPECT_EQ(departures.back(), static_cast<Nanos>(wire_length(whole, offload)) * 1000);
  EXPECT_EQ(bytes, wire_length(whole, offload));
  EXPECT_EQ(shaper.counters().packets_in, 4U);
  EXPECT_EQ(shaper.counters().bytes_in, wire_length(whole, offload));
}

TEST(OffloadTest, ADuplicateKeepsTheSuperPacketWhole) {
  Offload offload;
  const Frame whole = super_packet({}, 2 * kMss, offload);
  ShaperOptions options;
  options.netem.duplicate = 1;
  Shaper shaper(options, {}, 3);
  shaper.enqueue(whole, 0, offload);
  const std::vector<Packet> sent = shaper.dequeue(0);
  ASSERT_EQ(sent.size(), 2U);
  for (const Packet& packet : sent) {
    EXPECT_EQ(packet.frame, whole);
    EXPECT_EQ(packet.offload, offload);
    EXPECT_EQ(packet.segments, 2U);
  }
}

}  // namespace
}  // namespace riasc::shaper
