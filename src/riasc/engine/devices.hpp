#pragma once

// The kernel ends of an engine attachment, made in the calling thread's network namespace (run
// them inside net::in_netns for a pod's): the TAP that diversion rules forward selected packets
// to, and the packet socket that sends them on after emulation. The descriptors keep working in
// any thread and process they are passed to, which is how the engine needs no privileges.

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "riasc/core/unique_fd.hpp"
#include "riasc/shaper/offload.hpp"

namespace riasc::engine {

using MacAddress = std::array<std::uint8_t, 6>;

// Creates the persistent TAP `name`, or attaches to it when it exists, and silences it: IPv6 off
// and IFF_NOARP, so the TAP sends nothing of its own into the diverted stream; up, with the MTU of
// the device it serves. The TAP is only where diverted frames go to be seen: open_receiver's
// socket reads them, stamped by the kernel, and a drop-everything filter on the descriptor keeps
// them from also queueing for a read() nobody makes. The descriptor must stay open (it holds the
// TAP's carrier up). The TAP takes TCP super-packets and partial checksums (TSO and checksum
// offload), so the kernel hands bulk TCP over without cutting it up; a kernel that refuses that
// cuts up and checksums before the TAP instead. Throws std::system_error naming the device.
UniqueFd open_tap(const std::string& name, int mtu);

// A packet socket that receives every frame sent into the TAP `ifindex`, with the kernel's time
// of sending (SO_TIMESTAMPNS, CLOCK_REALTIME), taken in the sender's context as the frame
// reaches the TAP. That time, not the engine's later read, is the frame's arrival, so the
// engine's wake-up latency is not added to the emulated delay. Each frame comes after a
// kVnetHeaderBytes header saying what of it the kernel left unfinished (PACKET_VNET_HDR).
// Non-blocking. Throws std::system_error.
UniqueFd open_receiver(int ifindex);

// The header before every frame the receiver reads and the sender sends (struct virtio_net_hdr).
inline constexpr std::size_t kVnetHeaderBytes = 10;
using VnetHeader = std::array<std::uint8_t, kVnetHeaderBytes>;
// nullopt for a kind of super-packet the shaper cannot cut (the TAP does not take them).
std::optional<shaper::Offload> read_vnet_header(const std::uint8_t* header);
VnetHeader vnet_header(const shaper::Offload& offload);

// The TAP's own MAC address (frames from it are the TAP's, not diverted traffic).
MacAddress tap_mac(int tap_fd);

// Removes a TAP; nothing happens when it does not exist. Persistent TAPs outlive their
// descriptors, so this is the only way they go.
void delete_tap(const std::string& name);

// The firewall mark of every frame the engine sends on. PACKET_QDISC_BYPASS skips the device's
// qdiscs and tc hooks, but since Linux 5.17 not netfilter's egress hook, where the diversion rules
// are; they let frames with this mark pass, so nothing the engine sends comes back to it.
inline constexpr std::uint32_t kSentByEngineMark = 0x52490100;

// A packet socket that sends whole Ethernet frames out of `ifindex`, past the device's qdiscs
// (PACKET_QDISC_BYPASS, so no second queue adds its own delay), marked kSentByEngineMark (which
// needs CAP_NET_ADMIN here, not in the engine). Every frame it is given starts with a
// vnet_header(), so the kernel finishes checksums and cuts super-packets where the device cannot.
// Receives nothing. Throws std::system_error.
UniqueFd open_sender(int ifindex);

// The TAP of one band on a device: "rse" (egress) or "rsi" (ingress), the band's slot (1-15, in
// hex), '-' and the device's name ("rse1-eth0"), or a hash of the name where that would exceed
// IFNAMSIZ.
std::string tap_name(bool ingress, int slot, const std::string& device);

}  // namespace riasc::engine
