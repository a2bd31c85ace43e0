#include "riasc/engine/devices.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <linux/filter.h>
#include <linux/if.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <net/ethernet.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <system_error>

#include "riasc/net/rtnetlink.hpp"

namespace riasc::engine {
namespace {

[[noreturn]] void fail(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

ifreq request_for(const std::string& name) {
  if (name.empty() || name.size() >= IFNAMSIZ)
    throw std::invalid_argument(fmt::format("bad device name \"{}\"", name));
  ifreq request{};
  std::memcpy(request.ifr_name, name.data(), name.size());
  return request;
}

// A fresh TAP runs IPv6 (router solicitations, MLD reports) before anyone asks; with IPv6 off it
// is quiet from the moment it goes up. A kernel without IPv6 has no such file and nothing to say.
void disable_ipv6(const std::string& name) {
  std::ofstream file(fmt::format("/proc/sys/net/ipv6/conf/{}/disable_ipv6", name));
  if (file) file << "1\n";
}

// struct virtio_net_hdr and its constants: linux/virtio_net.h cannot be included in C++ (a
// member there is named `class`). A stable kernel ABI.
struct VirtioNetHeader {
  std::uint8_t flags;
  std::uint8_t gso_type;
  std::uint16_t hdr_len;
  std::uint16_t gso_size;
  std::uint16_t csum_start;
  std::uint16_t csum_offset;
};
constexpr std::uint8_t kNeedsChecksum = 1;
constexpr std::uint8_t kGsoNone = 0, kGsoTcp4 = 1, kGsoTcp6 = 4, kGsoEcn = 0x80;

std::uint32_t fnv1a(const std::string& text) {
  std::uint32_t hash = 2166136261u;
  for (char c : text) hash = (hash ^ static_cast<unsigned char>(c)) * 16777619u;
  return hash;
}

}  // namespace

UniqueFd open_tap(const std::string& name, int mtu) {
  UniqueFd tap(::open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK));
  if (!tap) fail("opening /dev/net/tun");
  ifreq request = request_for(name);
  request.ifr_flags = IFF_TAP | IFF_NO_PI;
  if (::ioctl(tap.get(), TUNSETIFF, &request) < 0) fail(fmt::format("creating or attaching TAP {}", name));
  if (::ioctl(tap.get(), TUNSETPERSIST, 1) < 0) fail(fmt::format("making TAP {} persistent", name));
  // The kernel runs this filter when the TAP transmits, after packet sockets have had their copy.
  sock_filter drop_all{BPF_RET | BPF_K, 0, 0, 0};
  sock_fprog program{1, &drop_all};
  if (::ioctl(tap.get(), TUNATTACHFILTER, &program) < 0)
    fail(fmt::format("attaching the drop filter to TAP {}", name));
  // Without these the kernel cuts super-packets and finishes checksums before the TAP, which
  // still works, at one emulation decision per segment.
  (void)::ioctl(tap.get(), TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN);
  disable_ipv6(name);
  // Device ioctls on any socket act in the namespace the socket was made in: this thread's.
  UniqueFd control(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!control) fail("opening a socket for device settings");
  ifreq settings = request_for(name);
  if (mtu > 0) {
    settings.ifr_mtu = mtu;
    if (::ioctl(control.get(), SIOCSIFMTU, &settings) < 0)
      fail(fmt::format("setting the MTU of TAP {} to {}", name, mtu));
  }
  if (::ioctl(control.get(), SIOCGIFFLAGS, &settings) < 0)
    fail(fmt::format("reading the flags of TAP {}", name));
  settings.ifr_flags = static_cast<short>(settings.ifr_flags | IFF_UP | IFF_NOARP);
  if (::ioctl(control.get(), SIOCSIFFLAGS, &settings) < 0) fail(fmt::format("bringing TAP {} up", name));
  return tap;
}

MacAddress tap_mac(int tap_fd) {
  ifreq request{};
  if (::ioctl(tap_fd, SIOCGIFHWADDR, &request) < 0) fail("reading a TAP's MAC address");
  MacAddress mac{};
  std::memcpy(mac.data(), request.ifr_hwaddr.sa_data, mac.size());
  return mac;
}

void delete_tap(const std::string& name) {
  net::Rtnetlink rtnl;
  if (auto link = rtnl.link(name)) rtnl.delete_link(link->index);
}

UniqueFd open_receiver(int ifindex) {
  // Protocol 0 until bound, so no frame of another device gets in before bind() picks the TAP.
  UniqueFd receiver(::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!receiver) fail("opening a packet socket");
  const int on = 1;
  if (::setsockopt(receiver.get(), SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on) < 0)
    fail("setting SO_TIMESTAMPNS");
  if (::setsockopt(receiver.get(), SOL_PACKET, PACKET_VNET_HDR, &on, sizeof on) < 0)
    fail("setting PACKET_VNET_HDR on the receiving socket");
  // Room for bursts (and for what arrives while a dead engine restarts); FORCE needs
  // CAP_NET_ADMIN, which the agent has and tests may not.
  const int buffer = 16 << 20;
  if (::setsockopt(receiver.get(), SOL_SOCKET, SO_RCVBUFFORCE, &buffer, sizeof buffer) < 0)
    (void)::setsockopt(receiver.get(), SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
  sockaddr_ll address{};
  address.sll_family = AF_PACKET;
  address.sll_protocol = htons(ETH_P_ALL);
  address.sll_ifindex = ifindex;
  if (::bind(receiver.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) < 0)
    fail(fmt::format("binding a packet socket to TAP ifindex {}", ifindex));
  return receiver;
}

UniqueFd open_sender(int ifindex) {
  // Protocol 0: the socket receives nothing, so no frame is ever copied to it.
  UniqueFd sender(::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!sender) fail("opening a packet socket");
  const int on = 1;
  if (::setsockopt(sender.get(), SOL_PACKET, PACKET_QDISC_BYPASS, &on, sizeof on) < 0)
    fail("setting PACKET_QDISC_BYPASS");
  if (::setsockopt(sender.get(), SOL_PACKET, PACKET_VNET_HDR, &on, sizeof on) < 0)
    fail("setting PACKET_VNET_HDR on the sending socket");
  const std::uint32_t mark = kSentByEngineMark;
  if (::setsockopt(sender.get(), SOL_SOCKET, SO_MARK, &mark, sizeof mark) < 0)
    fail("marking the packet socket's frames (SO_MARK needs CAP_NET_ADMIN)");
  const int buffer = 4 << 20;
  (void)::setsockopt(sender.get(), SOL_SOCKET, SO_SNDBUF, &buffer, sizeof buffer);
  sockaddr_ll address{};
  address.sll_family = AF_PACKET;
  address.sll_ifindex = ifindex;
  if (::bind(sender.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) < 0)
    fail(fmt::format("binding a packet socket to ifindex {}", ifindex));
  return sender;
}

// Packet sockets use the legacy header in the host's byte order.
std::optional<shaper::Offload> read_vnet_header(const std::uint8_t* header) {
  VirtioNetHeader raw{};
  static_assert(sizeof raw == kVnetHeaderBytes);
  std::memcpy(&raw, header, sizeof raw);
  shaper::Offload offload;
  offload.needs_checksum = (raw.flags & kNeedsChecksum) != 0;
  if (offload.needs_checksum) {
    offload.checksum_start = raw.csum_start;
    offload.checksum_offset = raw.csum_offset;
  }
  switch (raw.gso_type & ~kGsoEcn) {
    case kGsoNone:
      return offload;
    case kGsoTcp4:
      offload.gso = shaper::Gso::Tcp4;
      break;
    case kGsoTcp6:
      offload.gso = shaper::Gso::Tcp6;
      break;
    default:
      return std::nullopt;
  }
  offload.gso_ecn = (raw.gso_type & kGsoEcn) != 0;
  offload.segment_size = raw.gso_size;
  offload.header_length = raw.hdr_len;
  return offload;
}

VnetHeader vnet_header(const shaper::Offload& offload) {
  VirtioNetHeader raw{};
  if (offload.needs_checksum) {
    raw.flags = kNeedsChecksum;
    raw.csum_start = offload.checksum_start;
    raw.csum_offset = offload.checksum_offset;
  }
  if (offload.gso != shaper::Gso::None) {
    raw.gso_type = offload.gso == shaper::Gso::Tcp4 ? kGsoTcp4 : kGsoTcp6;
    if (offload.gso_ecn) raw.gso_type = static_cast<std::uint8_t>(raw.gso_type | kGsoEcn);
    raw.gso_size = offload.segment_size;
    raw.hdr_len = offload.header_length;
  }
  VnetHeader out{};
  std::memcpy(out.data(), &raw, sizeof raw);
  return out;
}

std::string tap_name(bool ingress, int slot, const std::string& device) {
  const std::string prefix = fmt::format("{}{:x}-", ingress ? "rsi" : "rse", slot);
  if (prefix.size() + device.size() < IFNAMSIZ) return prefix + device;
  return fmt::format("{}{:08x}", prefix, fnv1a(device));
}

}  // namespace riasc::engine
