#include "riasc/shaper/shaper.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <deque>
#include <limits>
#include <map>
#include <stdexcept>
#include <utility>

#include "riasc/shaper/frame_bytes.hpp"

namespace riasc::shaper {

namespace {

using Distribution = net::NetemOptions::Distribution;

constexpr Nanos kNever = std::numeric_limits<Nanos>::min();
constexpr Nanos kForever = std::numeric_limits<Nanos>::max();
constexpr Nanos kHour = 3'600'000'000'000;
constexpr std::uint64_t kNsPerSecond = 1'000'000'000;
constexpr std::int64_t kDistScale = 8192;  // NETEM_DIST_SCALE: table entries are value * 8192
constexpr std::size_t kEthernetHeader = 14;

// xoshiro128** (Blackman and Vigna), seeded through splitmix64: fast, 32-bit output like the
// kernel's prandom_u32_state, and a seed gives the same sequence on every platform.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) {
    for (int i = 0; i < 4; i += 2) {
      const std::uint64_t value = splitmix64(seed);
      s_[i] = static_cast<std::uint32_t>(value);
      s_[i + 1] = static_cast<std::uint32_t>(value >> 32);
    }
    if ((s_[0] | s_[1] | s_[2] | s_[3]) == 0) s_[0] = 1;  // the all-zero state is a fixed point
  }

  std::uint32_t operator()() {
    const std::uint32_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint32_t t = s_[1] << 9;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 11);
    return result;
  }

  // Uniform in [0, n), as get_random_u32_below (multiply-shift; the bias is below 2^-32 * n).
  std::uint32_t below(std::uint32_t n) {
    return static_cast<std::uint32_t>((static_cast<std::uint64_t>((*this)()) * n) >> 32);
  }

 private:
  static std::uint32_t rotl(std::uint32_t x, int k) { return (x << k) | (x >> (32 - k)); }
  static std::uint64_t splitmix64(std::uint64_t& x) {
    std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  std::uint32_t s_[4]{};
};

// A probability as netem holds it (tc's rounding), compared with 32-bit random numbers, so
// probabilities round exactly as they do in the kernel. Fractions are checked by net::check_netem
// (or, for the loss models, here) before they are scaled.
std::uint32_t scaled(double fraction) { return net::netem_fraction(fraction, "probability"); }

void check_fraction(double value, const char* name) { (void)net::netem_fraction(value, name); }

// netem's correlated generator: each number is a weighted mean of a fresh one and the previous
// one, in 32-bit fixed point (rho scaled to 2^32). With rho 0 it is a plain random number.
struct Correlated {
  std::uint32_t rho = 0;
  std::uint32_t last = 0;

  std::uint32_t next(Rng& rng) {
    const std::uint64_t fresh = rng();
    if (rho == 0) return static_cast<std::uint32_t>(fresh);
    const std::uint64_t weight = static_cast<std::uint64_t>(rho) + 1;
    // fresh < 2^32 and weight <= 2^32, so neither product nor their sum overflows 64 bits
    // (the sum is a convex combination scaled by 2^32).
    last = static_cast<std::uint32_t>((fresh * ((std::uint64_t{1} << 32) - weight) + last * weight) >> 32);
    return last;
  }
};

using frame_bytes::be16;
using frame_bytes::put_be16;

// INET_ECN_set_ce on an untagged Ethernet frame: true when the packet now carries CE (it was
// ECT(0) or ECT(1), or already CE, which the kernel also counts as marked); false for Not-ECT
// and for anything but IPv4/IPv6 (the kernel looks at skb->protocol, which is the VLAN type for
// a tagged frame, so tagged frames are not marked there either).
bool set_ce(std::vector<std::uint8_t>& frame) {
  if (frame.size() < kEthernetHeader) return false;
  const std::uint16_t type = be16(frame, 12);
  const std::size_t ip = kEthernetHeader;
  if (type == 0x0800) {
    if (frame.size() < ip + 20 || (frame[ip] >> 4) != 4) return false;
    const std::uint8_t ecn = frame[ip + 1] & 0x3;
    if (ecn == 0) return false;
    if (ecn == 3) return true;
    // The header checksum, updated rather than recomputed (RFC 1624, eqn. 3), so that a header
    // whose checksum was wrong stays wrong: HC' = ~(~HC + ~m + m') over the word holding TOS.
    const std::uint16_t old_word = be16(frame, ip);
    frame[ip + 1] |= 0x3;
    const std::uint16_t new_word = be16(frame, ip);
    std::uint32_t sum = static_cast<std::uint16_t>(~be16(frame, ip + 10));
    sum += static_cast<std::uint16_t>(~old_word);
    sum += new_word;
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    put_be16(frame, ip + 10, static_cast<std::uint16_t>(~sum));
    return true;
  }
  if (type == 0x86dd) {
    if (frame.size() < ip + 40 || (frame[ip] >> 4) != 6) return false;
    // The traffic class straddles bytes 0 and 1; its ECN bits are 0x30 of byte 1. IPv6 has no
    // header checksum (the transport checksums do not cover the traffic class).
    const std::uint8_t ecn = (frame[ip + 1] >> 4) & 0x3;
    if (ecn == 0) return false;
    frame[ip + 1] |= 0x30;
    return true;
  }
  return false;
}

struct Params {
  Nanos latency = 0;
  std::int32_t jitter = 0;  // netem caps it at INT_MAX: tabledist takes a 32-bit sigma
  std::uint32_t loss = 0, duplicate = 0, corrupt = 0, reorder = 0;
  std::uint32_t delay_rho = 0, loss_rho = 0, duplicate_rho = 0, reorder_rho = 0, corrupt_rho = 0;
  std::uint32_t gap = 0;
  std::uint32_t limit = 0;
  std::uint64_t limit_bytes = 0;
  std::uint64_t rate = 0;
  std::int32_t packet_overhead = 0;
  std::uint32_t cell_size = 0;
  std::int32_t cell_overhead = 0;
  bool ecn = false;
  enum class Loss { Random, GilbertElliott, FourState } loss_model = Loss::Random;
  // The loss model's transition and loss probabilities, as the kernel's clgstate a1..a5.
  std::uint32_t a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0;
  bool slots = false, slot_table = false;
  Nanos slot_min = 0, slot_max = 0, slot_delay = 0;
  std::int32_t slot_jitter = 0;
  std::int32_t slot_packets = INT_MAX, slot_bytes = INT_MAX;
  // TraceReplay's series; an empty one leaves latency or rate in force.
  std::vector<TracePoint> delay_trace, rate_trace;
  Nanos trace_period = 0;
  std::optional<Nanos> trace_origin;
  // What one period of the rate series carries, in bytes * 1e9 (rate in bytes/s times ns),
  // saturated: a transmission longer than a period skips whole periods at once.
  std::uint64_t period_work = 0;
};

Nanos to_nanos(std::uint64_t ns, const char* name) {
  if (ns > static_cast<std::uint64_t>(std::numeric_limits<Nanos>::max())) {
    throw std::invalid_argument(fmt::format("shaper: {} {} ns is out of range", name, ns));
  }
  return static_cast<Nanos>(ns);
}

std::int32_t capped(Nanos ns) { return static_cast<std::int32_t>(std::min<Nanos>(ns, INT_MAX)); }

Nanos saturating_add(Nanos a, Nanos b) {
  Nanos sum;
  return __builtin_add_overflow(a, b, &sum) ? kForever : sum;
}

void check_series(const std::vector<TracePoint>& points, const char* name, Nanos period) {
  for (std::size_t i = 0; i < points.size(); ++i) {
    const TracePoint& point = points[i];
    if (i == 0 && point.offset != 0) {
      throw std::invalid_argument(fmt::format(
          "shaper: trace.{}[0].offset is {} ns: the first point must be at offset 0", name, point.offset));
    }
    if (i > 0 && point.offset <= points[i - 1].offset) {
      throw std::invalid_argument(
          fmt::format("shaper: trace.{}[{}].offset {} ns must be greater than the previous point's {} ns",
                      name, i, point.offset, points[i - 1].offset));
    }
    if (point.value < 0) {
      throw std::invalid_argument(fmt::format(
          "shaper: trace.{}[{}].value {} is negative: values must be >= 0", name, i, point.value));
    }
  }
  if (!points.empty() && period != 0 && period <= points.back().offset) {
    throw std::invalid_argument(
        fmt::format("shaper: trace.period {} ns must be 0 (the last point holds) or greater than the last "
                    "offset of trace.{} ({} ns)",
                    period, name, points.back().offset));
  }
}

// Checks the trace and puts it into `p`.
void compile_trace(const TraceReplay& trace, Params& p) {
  if (trace.delay.empty() && trace.rate.empty()) {
    throw std::invalid_argument("shaper: trace needs a delay or a rate series (both are empty)");
  }
  if (trace.period < 0) {
    throw std::invalid_argument(fmt::format(
        "shaper: trace.period {} ns is negative: it must be 0 (the last point holds) or > 0", trace.period));
  }
  check_series(trace.delay, "delay", trace.period);
  check_series(trace.rate, "rate", trace.period);
  for (std::size_t i = 0; i < trace.delay.size(); ++i) {
    // The bound keeps arrival + delay far from overflow; an hour is beyond any recorded link.
    if (trace.delay[i].value >= kHour) {
      throw std::invalid_argument(
          fmt::format("shaper: trace.delay[{}].value {} ns must be below one hour ({} ns)", i,
                      trace.delay[i].value, kHour));
    }
  }
  if (!trace.rate.empty()) {
    // A link that never comes up again would hold its queue forever, and no later change could
    // free it (queued packets keep their times); a permanent outage is loss 1.
    const bool any_up = std::any_of(trace.rate.begin(), trace.rate.end(),
                                    [](const TracePoint& point) { return point.value > 0; });
    if (!any_up)
      throw std::invalid_argument("shaper: trace.rate is 0 throughout: the link would never be up");
    if (trace.period == 0 && trace.rate.back().value == 0) {
      throw std::invalid_argument(
          "shaper: trace.rate ends in 0 and does not repeat (period 0): the link would never come up "
          "again; end with a rate > 0 or set a period");
    }
  }
  p.delay_trace = trace.delay;
  p.rate_trace = trace.rate;
  p.trace_period = trace.period;
  p.trace_origin = trace.origin;
  if (trace.period > 0) {
    std::uint64_t work = 0;
    for (std::size_t i = 0; i < trace.rate.size(); ++i) {
      const Nanos end = i + 1 < trace.rate.size() ? trace.rate[i + 1].offset : trace.period;
      std::uint64_t part;
      if (__builtin_mul_overflow(static_cast<std::uint64_t>(trace.rate[i].value),
                                 static_cast<std::uint64_t>(end - trace.rate[i].offset), &part) ||
          __builtin_add_overflow(work, part, &work)) {
        work = std::numeric_limits<std::uint64_t>::max();
        break;
      }
    }
    p.period_work = work;
  }
}

// The index of the point in force at `rel` ns after the origin (rel >= 0).
std::size_t point_at(const std::vector<TracePoint>& points, Nanos period, Nanos rel) {
  const Nanos phase = period > 0 ? rel % period : rel;
  const auto after = std::upper_bound(points.begin(), points.end(), phase,
                                      [](Nanos t, const TracePoint& point) { return t < point.offset; });
  return static_cast<std::size_t>(after - points.begin()) - 1;
}

// Checks what netem (or tc before it) rejects and turns the options into netem's units.
Params compile(const ShaperOptions& options, const Tables& tables) {
  const auto& o = options.netem;
  if (options.trace && !options.trace->delay.empty()) {
    // The trace's delay stands in for the latency that reordering needs.
    auto replaced = o;
    replaced.latency_ns = 0;
    for (const auto& point : options.trace->delay) {
      replaced.latency_ns =
          std::max(replaced.latency_ns, static_cast<std::uint64_t>(std::max<Nanos>(point.value, 0)));
    }
    net::check_netem(replaced);
  } else {
    net::check_netem(o);  // what the kernel backend refuses, refused here too
  }
  if (options.gemodel && options.four_state) {
    throw std::invalid_argument("shaper: gemodel and four_state loss models are exclusive");
  }

  Params p;
  if (options.trace) compile_trace(*options.trace, p);
  p.latency = to_nanos(o.latency_ns, "latency");
  p.jitter = capped(to_nanos(o.jitter_ns, "jitter"));
  if (p.jitter > 0 && o.distribution != Distribution::Uniform && tables.jitter.empty()) {
    throw std::invalid_argument(fmt::format("shaper: the {} jitter distribution needs its table",
                                            net::distribution_name(o.distribution)));
  }
  p.loss = scaled(o.loss);
  p.delay_rho = scaled(o.delay_correlation);
  p.loss_rho = scaled(o.loss_correlation);
  p.duplicate_rho = scaled(o.duplicate_correlation);
  p.reorder_rho = scaled(o.reorder_correlation);
  p.corrupt_rho = scaled(o.corrupt_correlation);
  p.duplicate = scaled(o.duplicate);
  p.corrupt = scaled(o.corrupt);
  // tc sends a gap of 0 with reorder as 1; the kernel then reorders with the given probability.
  p.gap = o.reorder > 0 && o.gap == 0 ? 1 : o.gap;
  p.reorder = scaled(o.reorder);
  p.limit = o.limit;
  p.limit_bytes = options.limit_bytes;
  p.rate = o.rate_bytes_per_second;
  p.packet_overhead = o.packet_overhead;
  p.cell_size = o.cell_size;
  p.cell_overhead = o.cell_overhead;
  p.ecn = o.ecn;

  if (const auto& ge = options.gemodel) {
    check_fraction(ge->p, "gemodel p");
    check_fraction(ge->r, "gemodel r");
    check_fraction(ge->h, "gemodel h");
    check_fraction(ge->k, "gemodel k");
    p.loss_model = Params::Loss::GilbertElliott;
    p.a1 = scaled(ge->p);
    p.a2 = scaled(ge->r);
    p.a3 = scaled(ge->h);
    p.a4 = scaled(1 - ge->k);
  } else if (const auto& fs = options.four_state) {
    for (const auto& [value, name] :
         {std::pair{fs->p13, "p13"}, std::pair{fs->p31, "p31"}, std::pair{fs->p32, "p32"},
          std::pair{fs->p23, "p23"}, std::pair{fs->p14, "p14"}}) {
      check_fraction(value, name);
    }
    p.loss_model = Params::Loss::FourState;
    p.a1 = scaled(fs->p13);
    p.a2 = scaled(fs->p31);
    p.a3 = scaled(fs->p32);
    p.a4 = scaled(fs->p14);
    p.a5 = scaled(fs->p23);
  }

  if (o.slot_max_packets < 0 || o.slot_max_bytes < 0) {
    throw std::invalid_argument("shaper: negative slot budget");
  }
  if (o.slot_delay_ns > 0) {
    if (tables.slot.empty()) {
      throw std::invalid_argument(fmt::format("shaper: the {} slot distribution needs its table",
                                              net::distribution_name(o.slot_distribution)));
    }
    p.slots = p.slot_table = true;
    p.slot_delay = to_nanos(o.slot_delay_ns, "slot delay");
    p.slot_jitter = capped(to_nanos(o.slot_jitter_ns, "slot jitter"));
  } else if (o.slot_min_ns > 0) {
    p.slots = true;
    p.slot_min = to_nanos(o.slot_min_ns, "slot min");
    p.slot_max = o.slot_max_ns == 0 ? p.slot_min : to_nanos(o.slot_max_ns, "slot max");
  }
  if (o.slot_max_packets > 0) p.slot_packets = o.slot_max_packets;
  if (o.slot_max_bytes > 0) p.slot_bytes = o.slot_max_bytes;
  return p;
}

const char* verdict_name(Verdict verdict) {
  switch (verdict) {
    case Verdict::Sent:
      return "sent";
    case Verdict::Lost:
      return "lost";
    case Verdict::LimitDrop:
      return "limit";
  }
  return "?";
}

}  // namespace

Tables Tables::load(const ShaperOptions& options) {
  const auto& o = options.netem;
  Tables tables;
  if (o.jitter_ns > 0 && o.distribution != Distribution::Uniform) {
    tables.jitter = net::load_distribution(o.distribution);
  }
  if (o.slot_delay_ns > 0 && o.slot_distribution != Distribution::Uniform) {
    tables.slot = net::load_distribution(o.slot_distribution);
  }
  return tables;
}

std::string trace_csv_header() {
  return "id,arrival_ns,departure_ns,bytes,verdict,duplicate,corrupted,reordered,ecn_marked,segments";
}

std::string to_csv(const TraceRecord& r) {
  return fmt::format("{},{},{},{},{},{:d},{:d},{:d},{:d},{}", r.id, r.arrival, r.departure, r.bytes,
                     verdict_name(r.verdict), r.duplicate, r.corrupted, r.reordered, r.ecn_marked,
                     r.segments);
}

struct Shaper::State {
  struct Change {
    Nanos at;
    Params params;
    Tables tables;
  };

  Params params;
  Tables tables;
  Rng rng;
  Correlated delay_cor, loss_cor, dup_cor, reorder_cor, corrupt_cor;
  // The loss model's Markov state: Gilbert-Elliott 1 good, 2 bad; 4-state numbered as the GI
  // model (and FourStateLoss) number them, where the kernel's enum swaps 3 and 4.
  std::uint8_t chain_state = 1;
  std::uint32_t counter = 0;  // packets delayed since the last reordered one

  Nanos slot_next = kNever;     // kNever: open since ever (netem: the time of the last change)
  Nanos trace_origin = kNever;  // kNever: the constructor's options, until the first enqueue
  std::int32_t slot_packets_left = INT_MAX, slot_bytes_left = INT_MAX;

  // netem's tfifo: ordered by time to send, equal times in arrival order (a multimap inserts
  // an equal key after the ones already there). Packet::departure holds the time to send.
  std::multimap<Nanos, Packet> tfifo;
  // netem's own queue, where reordered packets go at the head: sent before the tfifo, slots or
  // not.
  std::deque<Packet> head_queue;
  // Sent by netem (at their departure), not yet returned by dequeue().
  std::deque<Packet> released;
  // When netem's watchdog fires next: the time of its next dequeue attempt.
  std::optional<Nanos> watchdog;
  Nanos clock = kNever;         // the latest time seen
  std::vector<Change> changes;  // by time

  std::uint64_t next_id = 0;
  std::uint64_t queued_bytes = 0;
  Counters counters;
  std::function<void(const TraceRecord&)> sink;

  State(Params p, Tables t, std::uint64_t seed) : rng(seed) { apply(std::move(p), std::move(t), kNever); }

  // netem_change with every attribute present (what riasc sends: NetemEncoding::Complete).
  void apply(Params p, Tables t, Nanos at) {
    params = std::move(p);
    tables = std::move(t);
    // init_crandom: the previous value starts random.
    for (auto [cor, rho] :
         {std::pair{&delay_cor, params.delay_rho}, std::pair{&loss_cor, params.loss_rho},
          std::pair{&dup_cor, params.duplicate_rho}, std::pair{&reorder_cor, params.reorder_rho},
          std::pair{&corrupt_cor, params.corrupt_rho}}) {
      cor->rho = rho;
      cor->last = rng();
    }
    counter = 0;
    chain_state = 1;  // GOOD_STATE / TX_IN_GAP_PERIOD
    trace_origin = params.trace_origin.value_or(at);
    if (params.slots) {
      slot_next = at;
      slot_packets_left = params.slot_packets;
      slot_bytes_left = params.slot_bytes;
    }
  }

  void trace(const Packet& packet, Verdict verdict) {
    if (!sink) return;
    sink(TraceRecord{.id = packet.id,
                     .arrival = packet.arrival,
                     .departure = verdict == Verdict::Sent ? packet.departure : -1,
                     .bytes = static_cast<std::uint32_t>(std::min<std::uint64_t>(packet.bytes, UINT32_MAX)),
                     .verdict = verdict,
                     .duplicate = packet.duplicate,
                     .corrupted = packet.corrupted,
                     .reordered = packet.reordered,
                     .ecn_marked = packet.ecn_marked,
                     .segments = packet.segments});
  }

  // tabledist: mu + sigma * (a table entry / 8192), in integers and rounded as the kernel
  // rounds; uniform in [mu - sigma, mu + sigma) without a table. The correlated number is
  // reduced modulo 2 * sigma or the table size, as in netem, which leaves little of a delay
  // correlation; kept so that profiles behave as they do on the kernel.
  Nanos tabledist(Nanos mu, std::int32_t sigma, Correlated* cor, const std::vector<std::int16_t>& table) {
    if (sigma == 0) return mu;
    const std::uint32_t rnd = cor != nullptr ? cor->next(rng) : rng();
    if (table.empty()) return static_cast<Nanos>(rnd % (2 * static_cast<std::uint32_t>(sigma))) + mu - sigma;
    const std::int64_t t = table[rnd % table.size()];
    // Split sigma so that the product fits: the remainder's part rounded half away from zero.
    std::int64_t x = (sigma % kDistScale) * t;
    x += x >= 0 ? kDistScale / 2 : -kDistScale / 2;
    return x / kDistScale + (sigma / kDistScale) * t + mu;
  }

  bool loss_event() {
    const auto& p = params;
    switch (p.loss_model) {
      case Params::Loss::Random:
        return p.loss != 0 && p.loss >= loss_cor.next(rng);
      case Params::Loss::GilbertElliott:
        // The loss is decided with the state the packet found, after the transition is drawn.
        if (chain_state == 1) {
          if (rng() < p.a1) chain_state = 2;
          return rng() < p.a4;
        } else {
          if (rng() < p.a2) chain_state = 1;
          return rng() > p.a3;
        }
      case Params::Loss::FourState: {
        // States: 1 sent in a gap, 2 sent in a burst, 3 lost in a burst, 4 isolated loss. Sums in
        // 64 bits (the kernel's u32 sums could wrap for probabilities adding up past 1).
        const std::uint64_t rnd = rng();
        switch (chain_state) {
          case 1:
            if (rnd < p.a4) {
              chain_state = 4;
              return true;
            }
            if (rnd < std::uint64_t{p.a1} + p.a4) {
              chain_state = 3;
              return true;
            }
            return false;
          case 2:
            if (rnd < p.a5) {
              chain_state = 3;
              return true;
            }
            return false;
          case 3:
            if (rnd < p.a3) {
              chain_state = 2;
              return false;
            }
            if (rnd < std::uint64_t{p.a2} + p.a3) {
              chain_state = 1;
              return false;
            }
            return true;
          default:
            chain_state = 1;
            return false;
        }
      }
    }
    return false;
  }

  // Flips one random bit in one random byte after the Ethernet header. netem picks any byte of
  // the linear data, MAC header included; on a veth a flipped destination MAC only makes the
  // frame vanish (it reads as loss), while a flipped byte in the IP packet is what a receiver's
  // checksum check sees. A checksum the kernel left to the device is completed first, as netem
  // does, or the receiver would never check it.
  bool corrupt(Packet& packet) {
    std::vector<std::uint8_t>& frame = packet.frame;
    if (frame.size() <= kEthernetHeader) return false;
    finish_checksum(frame, packet.offload);
    const auto at = kEthernetHeader + rng.below(static_cast<std::uint32_t>(frame.size() - kEthernetHeader));
    frame[at] ^= static_cast<std::uint8_t>(1u << rng.below(8));
    return true;
  }

  // netem_segment: a super-packet about to be corrupted goes on as its first segment; the others
  // are returned, for enqueue() as packets of their own once this one is in the queue.
  std::vector<std::vector<std::uint8_t>> split(Packet& packet) {
    if (packet.offload.gso == Gso::None) return {};
    std::vector<std::vector<std::uint8_t>> pieces = segment(packet.frame, packet.offload);
    if (pieces.empty()) return {};  // headers that do not parse: kept whole, corrupted whole
    packet.frame = std::move(pieces.front());
    packet.offload = {};
    packet.bytes = packet.frame.size();
    packet.segments = 1;
    pieces.erase(pieces.begin());
    counters.packets_in += pieces.size();
    return pieces;
  }

  // The latest time to send in the queue: the rate's reference point. netem looks at the tail
  // of its own queue and the last of the tfifo (its linear list and rbtree).
  std::optional<Nanos> last_time_to_send() const {
    std::optional<Nanos> last;
    if (!head_queue.empty()) last = head_queue.back().departure;
    if (!tfifo.empty() && (!last || tfifo.rbegin()->first > *last)) last = tfifo.rbegin()->first;
    return last;
  }

  // What a packet's transmission takes at the rate: each segment's frame with the per-packet
  // overhead and whole cells. netem charges a GSO skb's overhead and cells once, as if it were one
  // frame; each segment is one on the wire, and a bulk profile's rate should not depend on how
  // large the sender's super-packets happened to be.
  std::uint64_t wire_bytes(const Packet& packet) const {
    if (packet.segments <= 1) return wire_bytes(packet.bytes);
    const std::uint64_t others = packet.segments - 1;
    const std::uint64_t headers = (packet.bytes - packet.frame.size()) / others;
    const std::uint64_t full = headers + packet.offload.segment_size;
    return others * wire_bytes(full) + wire_bytes(packet.bytes - others * full);
  }

  // The bytes packet_time_ns charges for a frame: with the per-packet overhead and whole cells
  // (ATM-like links) when a cell size is set.
  std::uint64_t wire_bytes(std::uint64_t bytes) const {
    std::int64_t len = static_cast<std::int64_t>(bytes) + params.packet_overhead;
    len = std::max<std::int64_t>(len, 0);
    if (params.cell_size > 0) {
      const std::int64_t cells = (len + params.cell_size - 1) / params.cell_size;
      len = cells * (static_cast<std::int64_t>(params.cell_size) + params.cell_overhead);
      len = std::max<std::int64_t>(len, 0);
    }
    return static_cast<std::uint64_t>(len);
  }

  // packet_time_ns: the time the frame takes at the rate. In 64 bits as the kernel's (overflows
  // only past 18 GB per packet).
  Nanos packet_time(const Packet& packet) const {
    return static_cast<Nanos>(wire_bytes(packet) * kNsPerSecond / params.rate);
  }

  // When a transmission of `bytes` wire bytes that starts at `start` ends at the rate series'
  // rates: where their integral from `start` reaches the bytes, rounded down to the nanosecond as
  // packet_time_ns rounds (so a constant series gives netem's times exactly). Work is counted in
  // bytes * 1e9, that is rate (bytes/s) times ns, to stay in integers.
  Nanos transmission_end(Nanos start, std::uint64_t bytes) const {
    const auto& points = params.rate_trace;
    const Nanos period = params.trace_period;
    std::uint64_t work = bytes * kNsPerSecond;
    Nanos rel = start - trace_origin;  // >= 0: start >= arrival >= origin
    Nanos base = 0;                    // the start of the current repetition, from the origin
    if (period > 0) {
      base = rel / period * period;
      rel -= base;
    }
    std::size_t i = point_at(points, period, rel);
    for (;;) {
      for (; i < points.size(); ++i) {
        const Nanos end = i + 1 < points.size() ? points[i + 1].offset : period > 0 ? period : kForever;
        const auto rate = static_cast<std::uint64_t>(points[i].value);
        if (rate == 0) {
          if (end == kForever) return kForever;  // refused by compile_trace; no endless loop here
          rel = end;
          continue;
        }
        const std::uint64_t whole = work / rate;
        const std::uint64_t needed = whole + (work % rate != 0 ? 1 : 0);  // ns to carry it all
        if (end == kForever || needed <= static_cast<std::uint64_t>(end - rel)) {
          return saturating_add(saturating_add(saturating_add(trace_origin, base), rel),
                                static_cast<Nanos>(std::min<std::uint64_t>(whole, kForever)));
        }
        work -= rate * static_cast<std::uint64_t>(end - rel);  // < work, as needed > end - rel
        rel = end;
      }
      // The end of a repetition: skip the whole ones the remaining work outlasts, so that the
      // next pass ends within its repetition (period_work > 0, as some rate is > 0).
      std::uint64_t periods = 1;
      if (work > params.period_work) {
        const std::uint64_t skipped = (work - 1) / params.period_work;
        work -= skipped * params.period_work;
        periods += skipped;
      }
      Nanos span;
      if (periods > static_cast<std::uint64_t>(kForever) ||
          __builtin_mul_overflow(static_cast<Nanos>(periods), period, &span)) {
        return kForever;
      }
      base = saturating_add(base, span);
      if (base == kForever) return kForever;
      rel = 0;
      i = 0;
    }
  }

  // The latency for a packet arriving at `now`: the delay series' step in force then, if any.
  Nanos latency_at(Nanos now) const {
    if (params.delay_trace.empty()) return params.latency;
    return params.delay_trace[point_at(params.delay_trace, params.trace_period, now - trace_origin)].value;
  }

  std::size_t queued_packets() const { return tfifo.size() + head_queue.size(); }

  // netem_enqueue for one packet; `copy` is true for the duplicate, which netem re-enqueues at
  // the root with duplication off.
  void enqueue(Packet packet, Nanos now, bool copy) {
    const auto& p = params;
    int count = 1;
    if (!copy && p.duplicate != 0 && p.duplicate >= dup_cor.next(rng)) ++count;

    if (loss_event()) {
      if (p.ecn && set_ce(packet.frame)) {
        packet.ecn_marked = true;
        ++counters.ecn_marked;
      } else {
        // A lost packet that was to be duplicated still goes out once, as in netem.
        --count;
      }
    }
    if (count == 0) {
      ++counters.lost;
      trace(packet, Verdict::Lost);
      return;
    }

    // The copy is taken before corruption, so only the original is corrupted.
    std::optional<Packet> duplicate;
    if (count > 1) {
      duplicate = Packet{.frame = packet.frame,
                         .offload = packet.offload,
                         .bytes = packet.bytes,
                         .segments = packet.segments,
                         .arrival = now,
                         .duplicate = true,
                         .ecn_marked = packet.ecn_marked};
    }

    std::vector<std::vector<std::uint8_t>> pieces;
    if (p.corrupt != 0 && p.corrupt >= corrupt_cor.next(rng)) {
      pieces = split(packet);
      if (corrupt(packet)) {
        packet.corrupted = true;
        ++counters.corrupted;
      }
    }

    if (queued_packets() >= p.limit || (p.limit_bytes != 0 && queued_bytes + packet.bytes > p.limit_bytes)) {
      // The copy goes with it, untraced: it never entered the queue. So do the other segments
      // of a corrupted super-packet, as netem drops them all.
      counters.limit_drops += 1 + pieces.size();
      trace(packet, Verdict::LimitDrop);
      return;
    }

    if (duplicate) {
      duplicate->id = next_id++;
      ++counters.duplicated;
      enqueue(std::move(*duplicate), now, true);
    }

    queued_bytes += packet.bytes;
    // Reorder: past the gap, a packet goes out at once with the reorder probability (the
    // generator is drawn only then, as in netem, which matters with a correlation).
    if (p.gap == 0 || counter < p.gap - 1 || p.reorder < reorder_cor.next(rng)) {
      Nanos delay = tabledist(latency_at(now), p.jitter, &delay_cor, tables.jitter);
      Nanos reference = now;
      if (!p.rate_trace.empty()) {
        // netem's reference point as below, so the transmission starts when the delay is over
        // and the packets ahead have left; but not before the arrival (a negative jitter draw),
        // as the series has no rate before the origin.
        Nanos start = now + delay;
        if (const auto last = last_time_to_send()) start = std::max(start, *last);
        start = std::max(start, now);
        delay = transmission_end(start, wire_bytes(packet)) - now;
      } else if (p.rate != 0) {
        // The last packet in the queue is the reference point: the delay already spent waiting
        // behind it counts against this packet's delay.
        if (const auto last = last_time_to_send()) {
          delay = std::max<Nanos>(delay - (*last - now), 0);
          reference = *last;
        }
        delay += packet_time(packet);
      }
      // netem lets a negative jitter draw send a packet "before" it arrived; it only changes the
      // order among packets already due, and a departure before the arrival would confuse every
      // consumer of the trace.
      packet.departure = std::max(reference + delay, now);
      ++counter;
      tfifo.emplace(packet.departure, std::move(packet));
    } else {
      packet.departure = now;
      packet.reordered = true;
      ++counters.reordered;
      counter = 0;
      head_queue.push_front(std::move(packet));
    }
    for (auto& piece : pieces) {
      const std::uint64_t bytes = piece.size();
      enqueue(Packet{.frame = std::move(piece), .bytes = bytes, .id = next_id++, .arrival = now}, now, false);
    }
  }

  // get_slot_next: the next slot opens a random delay after `now`, with fresh budgets.
  void next_slot(Nanos now) {
    Nanos delay;
    if (!params.slot_table) {
      const auto span = static_cast<std::uint64_t>(params.slot_max - params.slot_min);
      // mul_u64_u32_shr(span, rnd, 32): span * rnd / 2^32 without a 128-bit product.
      const std::uint64_t rnd = rng();
      const std::uint64_t scaled_span = (span >> 32) * rnd + (((span & 0xffffffffu) * rnd) >> 32);
      delay = params.slot_min + static_cast<Nanos>(scaled_span);
    } else {
      delay = tabledist(params.slot_delay, params.slot_jitter, nullptr, tables.slot);
    }
    slot_next = now + delay;
    slot_packets_left = params.slot_packets;
    slot_bytes_left = params.slot_bytes;
  }

  void release(Packet packet, Nanos at) {
    packet.departure = at;
    queued_bytes -= packet.bytes;
    released.push_back(std::move(packet));
  }

  // One netem_dequeue run at `now` (the kernel runs it after every enqueue and when its watchdog
  // fires), repeated as the device asks for more: its queue first, then the tfifo's head when
  // due and its slot open. A slot that opened before the head is due is redrawn from `now`.
  void attempt(Nanos now) {
    while (!head_queue.empty()) {
      Packet packet = std::move(head_queue.front());
      head_queue.pop_front();
      release(std::move(packet), now);
    }
    watchdog.reset();
    while (!tfifo.empty()) {
      const auto head = tfifo.begin();
      const Nanos time_to_send = head->first;
      if (params.slots && slot_next < time_to_send) next_slot(now);
      if (time_to_send > now || (params.slots && slot_next > now)) {
        watchdog = params.slots ? std::max(time_to_send, slot_next) : time_to_send;
        return;
      }
      Packet packet = std::move(head->second);
      tfifo.erase(head);
      if (params.slots) {
        --slot_packets_left;
        slot_bytes_left -= static_cast<std::int32_t>(std::min<std::uint64_t>(packet.bytes, INT_MAX));
        if (slot_packets_left <= 0 || slot_bytes_left <= 0) next_slot(now);
      }
      release(std::move(packet), now);
    }
  }

  // Runs what netem would have done up to `now`, in time order: option changes and watchdog
  // attempts (a change first when both fall on the same nanosecond).
  void advance(Nanos now) {
    for (;;) {
      const bool change_due = !changes.empty() && changes.front().at <= now;
      const bool watchdog_due = watchdog && *watchdog <= now;
      if (change_due && (!watchdog_due || changes.front().at <= *watchdog)) {
        Change change = std::move(changes.front());
        changes.erase(changes.begin());
        clock = std::max(clock, change.at);
        apply(std::move(change.params), std::move(change.tables), clock);
      } else if (watchdog_due) {
        clock = std::max(clock, *watchdog);
        attempt(clock);
      } else {
        break;
      }
    }
    clock = std::max(clock, now);
  }
};

Shaper::Shaper(ShaperOptions options, Tables tables, std::uint64_t seed) {
  Params params = compile(options, tables);
  state_ = std::make_unique<State>(std::move(params), std::move(tables), seed);
}

Shaper::Shaper(Shaper&&) noexcept = default;
Shaper& Shaper::operator=(Shaper&&) noexcept = default;
Shaper::~Shaper() = default;

void Shaper::set_options(ShaperOptions options, Tables tables, Nanos at) {
  Params params = compile(options, tables);
  auto& s = *state_;
  at = std::max(at, s.clock);
  const auto after = std::upper_bound(s.changes.begin(), s.changes.end(), at,
                                      [](Nanos t, const State::Change& change) { return t < change.at; });
  s.changes.insert(after, State::Change{at, std::move(params), std::move(tables)});
}

void Shaper::enqueue(std::vector<std::uint8_t> frame, Nanos now, Offload offload) {
  auto& s = *state_;
  s.advance(now);
  now = s.clock;
  if (s.trace_origin == kNever || s.trace_origin > now) s.trace_origin = now;
  const std::uint64_t bytes = wire_length(frame, offload);
  // A super-packet leaves when its last byte would, all at once: at a slow rate, a burst that
  // no wire delivers (64 KiB at 10 Mbit/s arrive 52 ms after the first byte would have). Cut into
  // its segments it leaves as a wire's frames do. Rate series vary, so they always cut.
  const auto& p = s.params;
  const bool slow = !p.rate_trace.empty() || (p.rate != 0 && bytes * kNsPerSecond / p.rate >
                                                                 static_cast<std::uint64_t>(kLongestBurst));
  if (offload.gso != Gso::None && slow) {
    std::vector<std::vector<std::uint8_t>> pieces = segment(frame, offload);
    if (!pieces.empty()) {
      for (auto& piece : pieces) {
        const std::uint64_t length = piece.size();
        ++s.counters.packets_in;
        s.counters.bytes_in += length;
        s.enqueue(Packet{.frame = std::move(piece), .bytes = length, .id = s.next_id++, .arrival = now}, now,
                  false);
      }
      s.attempt(now);
      return;
    }
  }
  const std::uint32_t segments = segment_count(frame, offload);
  ++s.counters.packets_in;
  s.counters.bytes_in += bytes;
  Packet packet{.frame = std::move(frame),
                .offload = offload,
                .bytes = bytes,
                .segments = segments,
                .id = s.next_id++,
                .arrival = now};
  s.enqueue(std::move(packet), now, false);
  s.attempt(now);
}

std::optional<Nanos> Shaper::next_departure() const {
  const auto& s = *state_;
  if (!s.released.empty()) return s.released.front().departure;
  return s.watchdog;
}

std::vector<Packet> Shaper::dequeue(Nanos now) {
  auto& s = *state_;
  s.advance(now);
  std::vector<Packet> out;
  out.reserve(s.released.size());
  for (auto& packet : s.released) {
    ++s.counters.sent;
    s.counters.bytes_sent += packet.bytes;
    s.trace(packet, Verdict::Sent);
    out.push_back(std::move(packet));
  }
  s.released.clear();
  return out;
}

void Shaper::set_trace(std::function<void(const TraceRecord&)> sink) { state_->sink = std::move(sink); }
const Counters& Shaper::counters() const { return state_->counters; }
std::size_t Shaper::queued_packets() const { return state_->queued_packets(); }
std::uint64_t Shaper::queued_bytes() const { return state_->queued_bytes; }

}  // namespace riasc::shaper
