#pragma once

// The options of the qdiscs the network-emulation data plane installs, in kernel units, and the
// netem option encoding (the TCA_OPTIONS payload) in both directions. Pure functions apart from
// load_distribution, which reads iproute2's distribution tables; no sockets here, so the
// encoding is unit-tested byte for byte.

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace riasc::net {

// sch_netem's parameters. Times in nanoseconds, probabilities and correlations as fractions in
// [0, 1] (sent as round(fraction * UINT32_MAX), as tc does).
struct NetemOptions {
  std::uint64_t latency_ns = 0;
  std::uint64_t jitter_ns = 0;
  double delay_correlation = 0;
  // The jitter's distribution: a table from iproute2's <name>.dist (load_distribution), sent only
  // when jitter_ns > 0 and the distribution is not Uniform (uniform jitter needs no table).
  enum class Distribution { Uniform, Normal, Pareto, ParetoNormal } distribution = Distribution::Uniform;
  double loss = 0, loss_correlation = 0;
  double duplicate = 0, duplicate_correlation = 0;
  // Reordering needs latency_ns > 0; a gap of 0 with reorder > 0 is sent as 1, as tc does (the
  // kernel reorders nothing with gap 0). A gap without reorder is rejected, as tc rejects it.
  double reorder = 0, reorder_correlation = 0;
  std::uint32_t gap = 0;
  double corrupt = 0, corrupt_correlation = 0;
  std::uint32_t limit = 1000;  // packets queued in netem
  // Rate limit (0 = none); more than 32 bits is sent as TCA_NETEM_RATE64.
  std::uint64_t rate_bytes_per_second = 0;
  std::int32_t packet_overhead = 0;
  std::uint32_t cell_size = 0;
  std::int32_t cell_overhead = 0;
  // Slotting: slot_delay_ns > 0 selects the distribution form (slot_distribution with
  // slot_delay_ns and slot_jitter_ns, which must be > 0; Uniform has no table and is rejected:
  // use the min/max form); else slot_min_ns > 0 selects the min/max form (slot_max_ns 0 means
  // equal to slot_min_ns). slot_max_packets/bytes 0 = unlimited.
  std::uint64_t slot_min_ns = 0, slot_max_ns = 0, slot_delay_ns = 0, slot_jitter_ns = 0;
  Distribution slot_distribution = Distribution::Normal;
  std::int32_t slot_max_packets = 0, slot_max_bytes = 0;
  bool ecn = false;  // mark ECN-capable packets instead of dropping them (with loss)

  bool operator==(const NetemOptions&) const = default;
};

// sch_prio: `bands` bands (2..16), priomap from the packet's priority (skb->priority & 15) to a
// band. Default: every priority to band 0, unlike tc's default map, so that only classifiers
// send traffic to the other bands.
struct PrioOptions {
  int bands = 3;
  std::array<std::uint8_t, 16> priomap{};
  bool operator==(const PrioOptions&) const = default;
};

// sch_pfifo: a FIFO of `limit` packets (what a prio band holds before netem replaces it).
struct PfifoOptions {
  std::uint32_t limit = 1000;
  bool operator==(const PfifoOptions&) const = default;
};

enum class NetemEncoding {
  // Byte for byte what iproute2 6.1's `tc qdisc add ... netem <options>` sends for the command
  // that states exactly the non-default options: struct tc_netem_qopt (latency and jitter in
  // psched ticks, ns / 64), then CORR, REORDER, ECN, CORRUPT, SLOT, RATE64, RATE, DELAY_DIST,
  // SLOT_DIST, each only when used.
  Tc,
  // What Rtnetlink sends: as Tc plus TCA_NETEM_LATENCY64 and TCA_NETEM_JITTER64 (full ns range;
  // what iproute2 >= 6.9 sends), and CORR, REORDER, ECN, CORRUPT, SLOT and RATE always, zeros
  // included. The kernel keeps the old value of every attribute a change leaves out, so a change
  // that did not restate them would not reset, say, a correlation to 0.
  Complete,
};

// What tc and netem refuse in `options`: a fraction outside [0, 1], gap without reorder, reorder
// without latency, slot_max_ns < slot_min_ns, a slot distribution form with Uniform or jitter 0,
// times beyond int64. Throws std::invalid_argument naming it. The kernel encoding and the
// userspace shaper both check through it, so both backends accept the same options.
void check_netem(const NetemOptions& options);

// A probability as netem holds it: tc's rint(fraction * UINT32_MAX). Throws std::invalid_argument
// naming `name` for a value outside [0, 1].
std::uint32_t netem_fraction(double fraction, const char* name);

// The TCA_OPTIONS payload for `options`. Throws std::invalid_argument for a fraction outside
// [0, 1], gap without reorder, reorder without latency, slot_max_ns < slot_min_ns, a slot
// distribution form with Uniform or jitter 0; std::runtime_error from load_distribution.
std::vector<std::uint8_t> encode_netem(const NetemOptions& options,
                                       NetemEncoding encoding = NetemEncoding::Tc);

// The inverse, for payloads from encode_netem and from the kernel's qdisc dumps. Fractions come
// back as the nearest multiple of 1e-9 (the u32 scale resolves 2.3e-10), so any fraction with up
// to nine decimals survives a round trip exactly. The distribution tables are not decoded (the
// kernel does not dump them): distribution stays Uniform and slot_distribution Normal. Latency
// and jitter come from LATENCY64/JITTER64 when present, else from the ticks (ns = ticks * 64).
// Throws std::invalid_argument for a payload shorter than struct tc_netem_qopt or with malformed
// attributes.
NetemOptions decode_netem(std::span<const std::uint8_t> options);

// The table of a distribution: iproute2's /usr/lib/<multiarch>/tc/<name>.dist or
// /usr/lib/tc/<name>.dist (normal, pareto, paretonormal), or <name>.dist in $RIASC_TC_DIST_DIR
// when that is set. Empty for Uniform (it has no table). The format is tc's: '#' comment lines,
// whitespace-separated integers in -32768..32767, at most 16384 of them (NETEM_DIST_MAX).
// Throws std::runtime_error naming the file (and the line, for a bad value) when it is missing,
// unreadable, empty or malformed.
std::vector<std::int16_t> load_distribution(NetemOptions::Distribution distribution);

// "uniform", "normal", "pareto", "paretonormal".
std::string distribution_name(NetemOptions::Distribution distribution);

// The TCA_OPTIONS payloads of prio (struct tc_prio_qopt) and pfifo (struct tc_fifo_qopt).
std::vector<std::uint8_t> encode_prio(const PrioOptions& options);
std::vector<std::uint8_t> encode_pfifo(const PfifoOptions& options);

}  // namespace riasc::net
