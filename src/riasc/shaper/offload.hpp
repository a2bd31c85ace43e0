#pragma once

// Frames the kernel has not finished. A TAP with offloads passes a TCP super-packet (GSO: up to
// 64 KiB that the device is to cut into MSS-sized segments) and leaves transport checksums for the
// device to fill (CHECKSUM_PARTIAL); a packet socket with PACKET_VNET_HDR hands both through
// with a struct virtio_net_hdr, which Offload mirrors. Passing super-packets whole is what lets
// the engine carry bulk TCP at gigabits: one decision per 64 KiB rather than per 1500 bytes.

#include <cstdint>
#include <vector>

namespace riasc::shaper {

enum class Gso : std::uint8_t { None, Tcp4, Tcp6 };

struct Offload {
  bool needs_checksum = false;        // VIRTIO_NET_HDR_F_NEEDS_CSUM
  std::uint16_t checksum_start = 0;   // from the start of the Ethernet frame
  std::uint16_t checksum_offset = 0;  // of the checksum field, from checksum_start
  Gso gso = Gso::None;
  bool gso_ecn = false;             // the super-packet carries CWR: only its first segment keeps it
  std::uint16_t segment_size = 0;   // TCP payload bytes per segment (the MSS)
  std::uint16_t header_length = 0;  // as the kernel gave it (its linear part); not relied on
  bool operator==(const Offload&) const = default;
};

// The TCP super-packet's segments: 1 for a plain frame, and for a malformed super-packet (one
// segment() refuses).
std::uint32_t segment_count(const std::vector<std::uint8_t>& frame, const Offload& offload);

// What the frame puts on the wire, as the kernel's qdisc_pkt_len counts it for netem's rate and
// limits: the frame, and for a super-packet each further segment's Ethernet, IP and TCP headers.
std::uint64_t wire_length(const std::vector<std::uint8_t>& frame, const Offload& offload);

// Fills in the checksum the kernel left to the device (as skb_checksum_help does), so that a
// change to the bytes afterwards shows up as a bad checksum; clears needs_checksum.
void finish_checksum(std::vector<std::uint8_t>& frame, Offload& offload);

// Cuts a TCP super-packet into the frames a device would send, as the kernel's TSO emulation
// does: consecutive sequence numbers, IPv4 IDs counting up, FIN and PSH on the last segment only,
// CWR on the first only, lengths and every checksum complete. Empty for anything else, or for a
// super-packet whose headers do not parse (the caller then keeps it whole).
std::vector<std::vector<std::uint8_t>> segment(const std::vector<std::uint8_t>& frame,
                                               const Offload& offload);

}  // namespace riasc::shaper
