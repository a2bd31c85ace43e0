// netem's TCA_OPTIONS payload against bytes written out by hand from the kernel's uapi layouts
// (/usr/include/linux/pkt_sched.h) and iproute2 6.1's tc/q_netem.c: what `tc qdisc add dev X root
// netem <options>` sends. Each expectation is built field by field here, not with the structs the
// encoder uses, so a wrong field order or width in the encoder shows up.

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "riasc/net/tc_options.hpp"

namespace riasc::net {
namespace {

using Bytes = std::vector<std::uint8_t>;

// Little-endian fields (the host order of x86-64 and arm64, which netlink uses).
void le(Bytes& out, std::uint64_t value, int size) {
  for (int i = 0; i < size; ++i) out.push_back(static_cast<std::uint8_t>(value >> (8 * i)));
}
Bytes u32s(std::initializer_list<std::uint32_t> values) {
  Bytes out;
  for (auto value : values) le(out, value, 4);
  return out;
}
Bytes concat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& part : parts) out.insert(out.end(), part.begin(), part.end());
  return out;
}
// struct nlattr { u16 nla_len; u16 nla_type; } + payload, padded with zeros to 4 bytes.
Bytes attr(std::uint16_t type, const Bytes& payload) {
  Bytes out;
  le(out, 4 + payload.size(), 2);
  le(out, type, 2);
  out.insert(out.end(), payload.begin(), payload.end());
  while (out.size() % 4 != 0) out.push_back(0);
  return out;
}
// struct tc_netem_qopt { u32 latency, limit, loss, gap, duplicate, jitter; } (ticks of 64 ns)
Bytes qopt(std::uint32_t latency, std::uint32_t limit, std::uint32_t loss, std::uint32_t gap,
           std::uint32_t duplicate, std::uint32_t jitter) {
  return u32s({latency, limit, loss, gap, duplicate, jitter});
}
// struct tc_netem_slot { s64 min_delay, max_delay; s32 max_packets, max_bytes; s64 dist_delay, dist_jitter; }
Bytes slot(std::int64_t min_delay, std::int64_t max_delay, std::int32_t packets, std::int32_t bytes,
           std::int64_t dist_delay, std::int64_t dist_jitter) {
  Bytes out;
  le(out, static_cast<std::uint64_t>(min_delay), 8);
  le(out, static_cast<std::uint64_t>(max_delay), 8);
  le(out, static_cast<std::uint32_t>(packets), 4);
  le(out, static_cast<std::uint32_t>(bytes), 4);
  le(out, static_cast<std::uint64_t>(dist_delay), 8);
  le(out, static_cast<std::uint64_t>(dist_jitter), 8);
  return out;
}
Bytes s16s(std::initializer_list<std::int16_t> values) {
  Bytes out;
  for (auto value : values) le(out, static_cast<std::uint16_t>(value), 2);
  return out;
}
Bytes u64(std::uint64_t value) {
  Bytes out;
  le(out, value, 8);
  return out;
}

// TCA_NETEM_* from pkt_sched.h, spelled out.
enum : std::uint16_t {
  kCorr = 1,
  kDelayDist = 2,
  kReorder = 3,
  kCorrupt = 4,
  kRate = 6,
  kEcn = 7,
  kRate64 = 8,
  kLatency64 = 10,
  kJitter64 = 11,
  kSlot = 12,
  kSlotDist = 13,
};

constexpr std::uint64_t kMs = 1'000'000;

// A directory of distribution tables, named in RIASC_TC_DIST_DIR while the object lives.
class DistributionDir {
 public:
  DistributionDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "riasc-dist-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp");
    path_ = pattern;
    ::setenv("RIASC_TC_DIST_DIR", path_.c_str(), 1);
  }
  ~DistributionDir() {
    ::unsetenv("RIASC_TC_DIST_DIR");
    std::filesystem::remove_all(path_);
  }
  DistributionDir(const DistributionDir&) = delete;
  DistributionDir& operator=(const DistributionDir&) = delete;

  std::string write(const std::string& name, const std::string& text) const {
    const auto file = path_ / (name + ".dist");
    std::ofstream(file) << text;
    return file.string();
  }

 private:
  std::filesystem::path path_;
};

TEST(NetemEncodeTest, DelayJitterCorrelationDistributionLossRateEcnAsTc) {
  // tc qdisc add dev eth0 root netem delay 200ms 50ms 25% distribution normal loss 20%
  //   rate 10mbit 20 48 5 ecn
  DistributionDir dir;
  dir.write("normal", "# a short table\n 1 -2 3\n\n-32768 32767\n");
  NetemOptions options;
  options.latency_ns = 200 * kMs;
  options.jitter_ns = 50 * kMs;
  options.delay_correlation = 0.25;
  options.distribution = NetemOptions::Distribution::Normal;
  options.loss = 0.2;
  options.rate_bytes_per_second = 10'000'000 / 8;  // 10mbit
  options.packet_overhead = 20;
  options.cell_size = 48;
  options.cell_overhead = 5;
  options.ecn = true;

  const Bytes expected = concat({
      // latency 200 ms = 3125000 ticks, jitter 50 ms = 781250 ticks (tc: usec * 15.625);
      // loss rint(0.2 * 0xffffffff) = 858993459.
      qopt(3125000, 1000, 858993459, 0, 0, 781250),
      // tc_netem_corr { delay_corr = rint(0.25 * 0xffffffff) = 1073741824, loss_corr, dup_corr }
      attr(kCorr, u32s({1073741824, 0, 0})),
      attr(kEcn, u32s({1})),
      // tc_netem_rate { u32 rate (bytes/s); s32 packet_overhead; u32 cell_size; s32 cell_overhead }
      attr(kRate, u32s({1250000, 20, 48, 5})),
      // the table as s16 values, 10 bytes padded to 12
      attr(kDelayDist, s16s({1, -2, 3, -32768, 32767})),
  });
  EXPECT_EQ(encode_netem(options), expected);
}

TEST(NetemEncodeTest, ReorderDuplicateCorruptLimitSlotAsTc) {
  // tc qdisc add dev eth0 root netem delay 10ms reorder 25% 50% gap 5 duplicate 1%
  //   corrupt 0.1% 10% limit 500 slot 1ms 2ms packets 5 bytes 1500
  NetemOptions options;
  options.latency_ns = 10 * kMs;
  options.reorder = 0.25;
  options.reorder_correlation = 0.5;
  options.gap = 5;
  options.duplicate = 0.01;
  options.corrupt = 0.001;
  options.corrupt_correlation = 0.1;
  options.limit = 500;
  options.slot_min_ns = 1 * kMs;
  options.slot_max_ns = 2 * kMs;
  options.slot_max_packets = 5;
  options.slot_max_bytes = 1500;

  const Bytes expected = concat({
      // duplicate rint(0.01 * 0xffffffff) = 42949673
      qopt(156250, 500, 0, 5, 42949673, 0),
      // tc counts the reorder and corrupt correlations as "CORR present" and sends the (all-zero)
      // tc_netem_corr along
      attr(kCorr, u32s({0, 0, 0})),
      // tc_netem_reorder { probability, correlation = rint(0.5 * 0xffffffff) = 2147483648 }
      attr(kReorder, u32s({1073741824, 2147483648})),
      // tc_netem_corrupt { rint(0.001 * 0xffffffff) = 4294967, rint(0.1 * 0xffffffff) = 429496730 }
      attr(kCorrupt, u32s({4294967, 429496730})),
      attr(kSlot, slot(1'000'000, 2'000'000, 5, 1500, 0, 0)),
  });
  EXPECT_EQ(encode_netem(options), expected);
}

TEST(NetemEncodeTest, RateBeyond32BitsGoesInRate64) {
  // tc qdisc add dev eth0 root netem rate 40gbit: 5e9 bytes/s does not fit tc_netem_rate.rate
  NetemOptions options;
  options.rate_bytes_per_second = 5'000'000'000;
  const Bytes expected = concat({
      qopt(0, 1000, 0, 0, 0, 0),
      attr(kRate64, u64(5'000'000'000)),
      attr(kRate, u32s({0xffffffff, 0, 0, 0})),
  });
  EXPECT_EQ(encode_netem(options), expected);
}

TEST(NetemEncodeTest, SlotDistributionSendsItsTable) {
  // tc qdisc add dev eth0 root netem slot distribution pareto 10ms 2ms packets 3
  DistributionDir dir;
  dir.write("pareto", "7 8 9 10\n");
  NetemOptions options;
  options.slot_delay_ns = 10 * kMs;
  options.slot_jitter_ns = 2 * kMs;
  options.slot_distribution = NetemOptions::Distribution::Pareto;
  options.slot_max_packets = 3;
  const Bytes expected = concat({
      qopt(0, 1000, 0, 0, 0, 0),
      attr(kSlot, slot(0, 0, 3, 0, 10'000'000, 2'000'000)),
      attr(kSlotDist, s16s({7, 8, 9, 10})),
  });
  EXPECT_EQ(encode_netem(options), expected);
}

TEST(NetemEncodeTest, DistributionNeedsJitter) {
  // No jitter, nothing to distribute: no table is read or sent (the directory has none).
  DistributionDir dir;
  NetemOptions options;
  options.latency_ns = 5 * kMs;
  options.distribution = NetemOptions::Distribution::Normal;
  EXPECT_EQ(encode_netem(options), qopt(78125, 1000, 0, 0, 0, 0));
}

TEST(NetemEncodeTest, CompleteFormStatesEveryParameter) {
  // What Rtnetlink sends: the 64-bit times, then every attribute, zeros included, so that a
  // change in place resets what the new options leave at 0.
  NetemOptions options;
  options.latency_ns = 50 * kMs + 7;  // not a whole number of ticks: only LATENCY64 carries the 7 ns
  const Bytes expected = concat({
      qopt(781250, 1000, 0, 0, 0, 0),
      attr(kLatency64, u64(50'000'007)),
      attr(kJitter64, u64(0)),
      attr(kCorr, u32s({0, 0, 0})),
      attr(kReorder, u32s({0, 0})),
      attr(kEcn, u32s({0})),
      attr(kCorrupt, u32s({0, 0})),
      attr(kSlot, slot(0, 0, 0, 0, 0, 0)),
      attr(kRate, u32s({0, 0, 0, 0})),
  });
  EXPECT_EQ(encode_netem(options, NetemEncoding::Complete), expected);
}

TEST(NetemEncodeTest, ReorderWithoutGapIsSentWithGapOne) {
  NetemOptions options;
  options.latency_ns = 10 * kMs;
  options.reorder = 0.5;
  const auto bytes = encode_netem(options);
  EXPECT_EQ(Bytes(bytes.begin(), bytes.begin() + 24), qopt(156250, 1000, 0, 1, 0, 0));
}

TEST(NetemEncodeTest, RejectsWhatTcRejects) {
  const auto rejects = [](NetemOptions options, const std::string& what) {
    try {
      encode_netem(options);
      ADD_FAILURE() << "accepted: " << what;
    } catch (const std::invalid_argument& error) {
      EXPECT_NE(std::string(error.what()).find(what), std::string::npos) << error.what();
    }
  };
  NetemOptions options;
  options.loss = 1.5;
  rejects(options, "loss 1.5 is not a fraction in [0, 1]");
  options = {};
  options.delay_correlation = -0.1;
  rejects(options, "delay correlation");
  options = {};
  options.corrupt = std::numeric_limits<double>::quiet_NaN();
  rejects(options, "corrupt");
  options = {};
  options.gap = 3;
  rejects(options, "gap needs a reorder probability");
  options = {};
  options.reorder = 0.1;
  rejects(options, "reorder needs a latency");
  options = {};
  options.slot_min_ns = 2 * kMs;
  options.slot_max_ns = 1 * kMs;
  rejects(options, "slot_max_ns is below slot_min_ns");
  options = {};
  options.slot_delay_ns = 2 * kMs;
  options.slot_jitter_ns = 1 * kMs;
  options.slot_distribution = NetemOptions::Distribution::Uniform;
  rejects(options, "slot distribution uniform has no table");
  options.slot_distribution = NetemOptions::Distribution::Normal;
  options.slot_jitter_ns = 0;
  rejects(options, "slot distribution needs a jitter");
}

TEST(NetemEncodeTest, ProbabilitiesScaleAsTcDoes) {
  NetemOptions options;
  for (const auto& [fraction, scaled] : std::vector<std::pair<double, std::uint32_t>>{
           {0.0, 0}, {1.0, 0xffffffff}, {0.5, 2147483648}, {0.000001, 4295}, {0.999999999, 4294967291}}) {
    options.loss = fraction;
    const auto bytes = encode_netem(options);
    EXPECT_EQ(Bytes(bytes.begin() + 8, bytes.begin() + 12), u32s({scaled})) << fraction;
  }
}

// --- decoding

NetemOptions rich_options() {
  NetemOptions options;
  options.latency_ns = 200 * kMs;
  options.jitter_ns = 50 * kMs;
  options.delay_correlation = 0.25;
  options.loss = 0.2;
  options.loss_correlation = 0.123456789;
  options.duplicate = 0.01;
  options.duplicate_correlation = 0.5;
  options.reorder = 0.3;
  options.reorder_correlation = 0.7;
  options.gap = 4;
  options.corrupt = 0.001;
  options.corrupt_correlation = 0.999999999;
  options.limit = 12345;
  options.rate_bytes_per_second = 1'250'000;
  options.packet_overhead = -14;
  options.cell_size = 53;
  options.cell_overhead = -3;
  options.slot_min_ns = 1 * kMs;
  options.slot_max_ns = 3 * kMs;
  options.slot_max_packets = 10;
  options.slot_max_bytes = 64000;
  options.ecn = true;
  return options;
}

TEST(NetemDecodeTest, RoundTripsTheTcForm) {
  const auto options = rich_options();
  EXPECT_EQ(decode_netem(encode_netem(options)), options);
  NetemOptions plain;
  EXPECT_EQ(decode_netem(encode_netem(plain)), plain);
  NetemOptions fast;
  fast.rate_bytes_per_second = 12'500'000'000;  // 100gbit, via RATE64
  EXPECT_EQ(decode_netem(encode_netem(fast)), fast);
}

TEST(NetemDecodeTest, RoundTripsTheCompleteFormToTheNanosecond) {
  auto options = rich_options();
  options.latency_ns = 123'456'789;  // ticks alone would lose the last 6 bits
  options.jitter_ns = 1'001;
  options.slot_min_ns = 0;
  options.slot_max_ns = 0;
  options.slot_max_packets = 0;  // they belong to slotting, which is off here
  options.slot_max_bytes = 0;
  EXPECT_EQ(decode_netem(encode_netem(options, NetemEncoding::Complete)), options);
  // the Tc form rounds to whole ticks of 64 ns
  const auto rounded = decode_netem(encode_netem(options));
  EXPECT_EQ(rounded.latency_ns, 123'456'789 / 64 * 64);
  EXPECT_EQ(rounded.jitter_ns, 960u);
}

TEST(NetemDecodeTest, SlotDistributionFormRoundTripsButTablesAreNotDecoded) {
  DistributionDir dir;
  dir.write("paretonormal", "1 2 3 4\n");
  dir.write("normal", "5 6\n");
  NetemOptions options;
  options.latency_ns = 10 * kMs;
  options.jitter_ns = 2 * kMs;
  options.distribution = NetemOptions::Distribution::ParetoNormal;
  options.slot_delay_ns = 5 * kMs;
  options.slot_jitter_ns = 1 * kMs;
  options.slot_distribution = NetemOptions::Distribution::Normal;
  const auto decoded = decode_netem(encode_netem(options));
  EXPECT_EQ(decoded.distribution, NetemOptions::Distribution::Uniform);  // the table's kind is unknown
  auto expected = options;
  expected.distribution = NetemOptions::Distribution::Uniform;
  EXPECT_EQ(decoded, expected);
}

TEST(NetemDecodeTest, SlotMaxZeroMeansMin) {
  NetemOptions options;
  options.slot_min_ns = 4 * kMs;
  const auto decoded = decode_netem(encode_netem(options));
  EXPECT_EQ(decoded.slot_min_ns, 4 * kMs);
  EXPECT_EQ(decoded.slot_max_ns, 4 * kMs);
}

TEST(NetemDecodeTest, ReadsAKernelDump) {
  // What sch_netem's netem_dump() returns for `delay 100ms loss 1%`: the qopt with ticks, the
  // 64-bit times, and CORR, REORDER, CORRUPT and RATE always (ECN and SLOT only when set), plus
  // attributes this decoder does not know (here a loss model nest), which it skips.
  const Bytes dump = concat({
      qopt(1562500, 1000, 42949673, 0, 0, 0), attr(kLatency64, u64(100'000'000)), attr(kJitter64, u64(0)),
      attr(kCorr, u32s({0, 0, 0})), attr(kReorder, u32s({0, 0})), attr(kCorrupt, u32s({0, 0})),
      attr(kRate, u32s({0, 0, 0, 0})),
      attr(5, attr(1, u32s({1, 2, 3, 4, 5}))),  // TCA_NETEM_LOSS with a NETEM_LOSS_GI model
  });
  NetemOptions expected;
  expected.latency_ns = 100 * kMs;
  expected.loss = 0.01;
  EXPECT_EQ(decode_netem(dump), expected);
}

TEST(NetemDecodeTest, RejectsMalformedPayloads) {
  EXPECT_THROW(decode_netem(Bytes(23, 0)), std::invalid_argument);
  auto truncated = concat({qopt(0, 1000, 0, 0, 0, 0), attr(kCorr, u32s({0, 0, 0}))});
  truncated.resize(truncated.size() - 4);  // the attribute's length runs past the end
  EXPECT_THROW(decode_netem(truncated), std::invalid_argument);
  const auto short_attribute = concat({qopt(0, 1000, 0, 0, 0, 0), attr(kCorr, u32s({0}))});
  EXPECT_THROW(decode_netem(short_attribute), std::invalid_argument);
}

// --- distribution tables

TEST(DistributionTest, ReadsTcsFormat) {
  DistributionDir dir;
  dir.write("normal", "# comment line\n# another\n  -1 2\t3\n\n4\n-32768 32767   \n");
  EXPECT_EQ(load_distribution(NetemOptions::Distribution::Normal),
            (std::vector<std::int16_t>{-1, 2, 3, 4, -32768, 32767}));
  EXPECT_TRUE(load_distribution(NetemOptions::Distribution::Uniform).empty());
}

TEST(DistributionTest, BadValueNamesFileAndLine) {
  DistributionDir dir;
  const auto path = dir.write("pareto", "# header\n1 2 3\n4 5x 6\n");
  try {
    load_distribution(NetemOptions::Distribution::Pareto);
    FAIL() << "accepted a bad table";
  } catch (const std::runtime_error& error) {
    EXPECT_EQ(std::string(error.what()), path + ":3: \"5x\" is not an integer in -32768..32767");
  }
  dir.write("pareto", "1\n2\n32768\n");
  try {
    load_distribution(NetemOptions::Distribution::Pareto);
    FAIL() << "accepted a value beyond s16";
  } catch (const std::runtime_error& error) {
    EXPECT_EQ(std::string(error.what()), path + ":3: \"32768\" is not an integer in -32768..32767");
  }
}

TEST(DistributionTest, EmptyOrOversizedTablesAreErrors) {
  DistributionDir dir;
  const auto path = dir.write("normal", "# nothing but comments\n\n");
  try {
    load_distribution(NetemOptions::Distribution::Normal);
    FAIL() << "accepted an empty table";
  } catch (const std::runtime_error& error) {
    EXPECT_EQ(std::string(error.what()), path + ": the distribution table has no values");
  }
  std::string big;
  for (int i = 0; i < 16385; ++i) big += "1\n";
  dir.write("normal", big);
  try {
    load_distribution(NetemOptions::Distribution::Normal);
    FAIL() << "accepted more than the kernel takes";
  } catch (const std::runtime_error& error) {
    EXPECT_EQ(std::string(error.what()), path + ":16385: more than 16384 values (the kernel's limit)");
  }
}

TEST(DistributionTest, MissingTableNamesFileAndDirectory) {
  DistributionDir dir;
  try {
    load_distribution(NetemOptions::Distribution::ParetoNormal);
    FAIL() << "found a table that is not there";
  } catch (const std::runtime_error& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("paretonormal.dist not found in "), std::string::npos) << message;
    EXPECT_NE(message.find(std::getenv("RIASC_TC_DIST_DIR")), std::string::npos) << message;
  }
}

TEST(DistributionTest, ReadsIproute2sOwnTables) {
  // Without RIASC_TC_DIST_DIR: the tables iproute2 installs (4096 values each).
  ::unsetenv("RIASC_TC_DIST_DIR");
  for (const auto distribution : {NetemOptions::Distribution::Normal, NetemOptions::Distribution::Pareto,
                                  NetemOptions::Distribution::ParetoNormal}) {
    std::vector<std::int16_t> table;
    try {
      table = load_distribution(distribution);
    } catch (const std::runtime_error& error) {
      GTEST_SKIP() << "iproute2's tables are not installed here: " << error.what();
    }
    EXPECT_EQ(table.size(), 4096u) << distribution_name(distribution);
  }
}

TEST(PrioEncodeTest, StructTcPrioQopt) {
  // struct tc_prio_qopt { int bands; u8 priomap[16]; }: tc qdisc add ... prio bands 16 priomap 0 ... 0
  PrioOptions options;
  options.bands = 16;
  Bytes expected = u32s({16});
  expected.resize(20, 0);
  EXPECT_EQ(encode_prio(options), expected);
  options.bands = 3;
  options.priomap = {1, 2, 2, 2, 1, 2, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1};  // tc's default map
  expected = concat({u32s({3}), Bytes{1, 2, 2, 2, 1, 2, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1}});
  EXPECT_EQ(encode_prio(options), expected);
  EXPECT_EQ(encode_pfifo(PfifoOptions{.limit = 77}), u32s({77}));
}

}  // namespace
}  // namespace riasc::net
