#pragma once

// The packet-decision core of the userspace network emulator (docs/architecture.md,
// /work/shared/reference/userspace-netem.md: the "per-attachment netem shaper"): Linux
// sch_netem's decisions, in its order and with its parameters, on Ethernet frames handed in by an
// event loop. Pure: no I/O (apart from Tables::load), no threads, no clock. Time is the caller's
// CLOCK_MONOTONIC in nanoseconds and must not go backwards between calls.
//
// Random numbers come from a seeded xoshiro128**, so a seed gives one exact sequence of
// decisions; the decisions have netem's statistics but not its random numbers (the kernel's
// prandom state cannot be reproduced in userspace anyway).
//
// The caller's loop: enqueue() every frame read, with its arrival time; sleep until
// next_departure(); dequeue() at that time and send what it returns, in order.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "riasc/net/tc_options.hpp"
#include "riasc/shaper/offload.hpp"

namespace riasc::shaper {

using Nanos = std::int64_t;

// The longest a super-packet may take at a band's rate and still leave whole (1 ms: 125 KB at
// 1 Gbit/s, so bulk TCP at gigabit rates keeps its super-packets).
inline constexpr Nanos kLongestBurst = 1'000'000;

// tc's `loss gemodel p r 1-h 1-k`, as probabilities in [0, 1]. h and k are the literature's
// (and the kernel's) probabilities that a packet gets through in the bad and in the good state,
// so tc's third and fourth arguments are 1 - h and 1 - k. The defaults are tc's, except r (tc:
// 1 - p, which a default member cannot express).
struct GilbertElliott {
  double p = 0;  // good -> bad
  double r = 1;  // bad -> good
  double h = 0;  // 1 - loss probability in the bad state
  double k = 1;  // 1 - loss probability in the good state
  bool operator==(const GilbertElliott&) const = default;
};

// tc's `loss state p13 p31 p32 p23 p14`: the 4-state Markov chain of the GI model (1: sent in
// a gap, 2: sent in a burst, 3: lost in a burst, 4: isolated loss). Defaults as tc's, except
// p31 (tc: 1 - p13).
struct FourStateLoss {
  double p13 = 0, p31 = 1, p32 = 0, p23 = 1, p14 = 0;
  bool operator==(const FourStateLoss&) const = default;
};

// A recorded series to replay: the value holds from its offset to the next point's offset (a
// step: a recording samples the link, and a slope between samples would be made up). Offsets
// count from the `at` of the set_options() that brought the trace (any set_options() restarts
// it), or for the constructor's options from the first enqueue(), as the constructor has no time.
struct TracePoint {
  Nanos offset = 0;
  std::int64_t value = 0;
  bool operator==(const TracePoint&) const = default;
};

// Mahimahi-style replay. An empty series leaves netem's own value in force. Offsets strictly
// increase from 0, values are >= 0, delays below an hour; a rate series must come up again (not
// all 0, and not ending in 0 without a period), since queued packets would otherwise stay forever.
struct TraceReplay {
  // Replaces netem.latency_ns for packets arriving in the step; jitter still adds on top. Without
  // a rate, a drop in delay can overtake earlier packets, as a netem latency change does.
  std::vector<TracePoint> delay{};
  // Bytes per second, replacing netem.rate_bytes_per_second (overhead and cells still apply). A
  // transmission spans steps: it ends where the bytes carried since its start reach its length.
  // 0 is a link that is down: packets wait in the queue (limits apply) until it is up again.
  std::vector<TracePoint> rate{};
  // 0: the last point holds forever; > 0: both series repeat with it (> their last offsets).
  Nanos period = 0;
  // Where offset 0 is, on the caller's clock. Unset: when these options take effect (the
  // set_options() time, or the first enqueue()), so every change starts the series again. Set:
  // every change keeps it, so that shapers given the same origin replay in step. An origin after
  // a packet's arrival counts as that arrival (a clock behind the one the origin came from).
  std::optional<Nanos> origin{};
  bool operator==(const TraceReplay&) const = default;
};

struct ShaperOptions {
  net::NetemOptions netem;
  // A byte budget for the queue (0: none), checked as netem checks netem.limit packets; both
  // apply. The bytes are Packet::bytes.
  std::uint64_t limit_bytes = 0;
  // At most one of them. When set, it replaces netem.loss and netem.loss_correlation (as a loss
  // model replaces random loss in netem); netem.ecn still applies.
  std::optional<GilbertElliott> gemodel;
  std::optional<FourStateLoss> four_state;
  std::optional<TraceReplay> trace;
  bool operator==(const ShaperOptions&) const = default;
};

// The distribution tables the options use (tc's .dist format, NETEM_DIST_SCALE 8192): jitter
// for netem.distribution when netem.jitter_ns > 0 and it is not Uniform, slot for the slot
// distribution form. Kept apart from the Shaper so that tests pass tables of their own.
struct Tables {
  std::vector<std::int16_t> jitter{};
  std::vector<std::int16_t> slot{};
  // net::load_distribution for the tables `options` needs (std::runtime_error when missing).
  static Tables load(const ShaperOptions& options);
  bool operator==(const Tables&) const = default;
};

struct Packet {
  std::vector<std::uint8_t> frame;  // the Ethernet frame, as it is to be sent
  Offload offload{};                // what the kernel is to finish when it is sent
  // What netem's rate, limits, slots and byte counters charge (qdisc_pkt_len): the frame, or for
  // a super-packet every segment's frame.
  std::uint64_t bytes = 0;
  std::uint32_t segments = 1;  // on the wire: more than 1 for a super-packet
  std::uint64_t id = 0;        // per Shaper, in order of enqueue; a duplicate gets its own
  Nanos arrival = 0;
  // When netem sends it: its time to send, or the opening of the slot it waited for. A late
  // dequeue() does not move it.
  Nanos departure = 0;
  bool duplicate = false;   // the copy made by duplication (the original has false)
  bool corrupted = false;   // one bit flipped
  bool reordered = false;   // sent at once, ahead of the delayed packets
  bool ecn_marked = false;  // CE set instead of a loss (also on the duplicate of a marked frame)
};

enum class Verdict {
  Sent,
  Lost,       // random loss or the loss model; not for ECN-marked packets
  LimitDrop,  // queue full (netem.limit packets or limit_bytes)
};

struct TraceRecord {
  std::uint64_t id = 0;
  Nanos arrival = 0;
  Nanos departure = -1;  // -1 when dropped
  std::uint32_t bytes = 0;
  Verdict verdict = Verdict::Sent;
  bool duplicate = false, corrupted = false, reordered = false, ecn_marked = false;
  std::uint32_t segments = 1;
  bool operator==(const TraceRecord&) const = default;
};

// "id,arrival_ns,departure_ns,bytes,verdict,duplicate,corrupted,reordered,ecn_marked,segments"
std::string trace_csv_header();
// One line without the newline; verdict "sent", "lost" or "limit"; flags 0 or 1.
std::string to_csv(const TraceRecord& record);

// Events, counted when decided: corrupted, reordered and ecn_marked include packets a later step
// dropped. packets_in + duplicated == sent + lost + limit_drops + queued + (released, not yet
// dequeued).
struct Counters {
  std::uint64_t packets_in = 0, bytes_in = 0;
  std::uint64_t sent = 0, bytes_sent = 0;
  std::uint64_t lost = 0, limit_drops = 0;
  std::uint64_t duplicated = 0, corrupted = 0, reordered = 0, ecn_marked = 0;
  bool operator==(const Counters&) const = default;
};

class Shaper {
 public:
  // Throws std::invalid_argument for options tc or netem would reject (fractions outside
  // [0, 1], gap without reorder, reorder without latency, both loss models, slot_max_ns <
  // slot_min_ns, a slot distribution that is Uniform or has no jitter), for a trace that breaks
  // TraceReplay's rules, or for a table the options need missing from `tables`.
  Shaper(ShaperOptions options, Tables tables, std::uint64_t seed);

  // A live change, as `tc qdisc change` at time `at` (at or after the last time seen; an earlier
  // `at` means that time): packets arriving at or after `at` get the new decisions, queued
  // packets keep their departure times, nothing is dropped. As netem's change, it restarts the
  // reorder gap count, the correlations and the loss model's chain, and a new slot.
  // Throws as the constructor.
  void set_options(ShaperOptions options, Tables tables, Nanos at);

  // A frame arriving at `now`: duplication, loss (or ECN mark), corruption, limit, reordering,
  // delay and rate, as netem_enqueue decides them. Drops are traced here. A super-packet is one
  // packet to every decision, as a GSO skb is to netem, and is charged as its segments; when it is
  // to be corrupted it is cut up first, as netem does, and its further segments are enqueued as
  // packets of their own (counted in packets_in). At a rate at which it would take more than
  // kLongestBurst (or at a rate series), it is cut into its segments on arrival, each a packet.
  void enqueue(std::vector<std::uint8_t> frame, Nanos now, Offload offload = {});

  // When dequeue() has something to return: the time netem's watchdog would fire. With slots,
  // dequeue() at that time may draw a later slot and return nothing (netem redraws a slot that
  // opened before the head packet was due); ask again afterwards.
  std::optional<Nanos> next_departure() const;

  // Every packet netem sends up to `now`, in send order, each traced as it is returned. The
  // decisions are made at the times netem would make them, not at `now`, so a late call changes
  // nothing but the lateness.
  std::vector<Packet> dequeue(Nanos now);

  void set_trace(std::function<void(const TraceRecord&)> sink);
  const Counters& counters() const;
  // What netem's limits count: the packets waiting in the queue (not those already released
  // and waiting for dequeue()).
  std::size_t queued_packets() const;
  std::uint64_t queued_bytes() const;

  Shaper(const Shaper&) = delete;
  Shaper& operator=(const Shaper&) = delete;
  Shaper(Shaper&&) noexcept;
  Shaper& operator=(Shaper&&) noexcept;
  ~Shaper();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace riasc::shaper
