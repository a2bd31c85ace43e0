#include "riasc/net/tc_options.hpp"

#include <fmt/format.h>
#include <linux/pkt_sched.h>

#include <sys/stat.h>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <optional>
#include <stdexcept>

#include "riasc/net/attributes.hpp"

namespace riasc::net {

namespace {

constexpr double kU32Max = std::numeric_limits<std::uint32_t>::max();
constexpr std::size_t kMaxDistributionEntries = 16384;  // the kernel's NETEM_DIST_MAX

double unnetem_fraction(std::uint32_t value) { return std::round(value / kU32Max * 1e9) / 1e9; }

// psched ticks, as tc computes them from /proc/net/psched on every kernel since 2.6.31
// (1 tick = 64 ns); saturated, as the kernel saturates its dumps. LATENCY64/JITTER64 carry more.
std::uint32_t ticks(std::uint64_t ns) {
  return static_cast<std::uint32_t>(
      std::min<std::uint64_t>(ns / 64, std::numeric_limits<std::uint32_t>::max()));
}

std::int64_t signed_ns(std::uint64_t ns, const char* name) {
  if (ns > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
    throw std::invalid_argument(fmt::format("netem {} {} ns is out of range", name, ns));
  }
  return static_cast<std::int64_t>(ns);
}

void put_table(detail::AttrWriter& out, std::uint16_t type, const std::vector<std::int16_t>& table) {
  out.put(type, table.data(), table.size() * sizeof(std::int16_t));
}

std::string distribution_dirs_text(const std::vector<std::string>& dirs) {
  std::string text;
  for (const auto& dir : dirs) text += (text.empty() ? "" : ", ") + dir;
  return text;
}

std::vector<std::string> distribution_dirs() {
  if (const char* dir = std::getenv("RIASC_TC_DIST_DIR"); dir != nullptr && *dir != '\0') return {dir};
  std::vector<std::string> dirs;
  const std::string multiarch = RIASC_LIBRARY_ARCHITECTURE;
  if (!multiarch.empty()) dirs.push_back("/usr/lib/" + multiarch + "/tc");  // Debian, Ubuntu
  dirs.insert(dirs.end(), {"/usr/lib/tc", "/usr/lib64/tc", "/usr/local/lib/tc"});
  return dirs;
}

std::vector<std::int16_t> parse_distribution_file(const std::string& path) {
  std::ifstream file(path);
  if (!file) throw std::runtime_error(fmt::format("cannot read netem distribution table {}", path));
  std::vector<std::int16_t> table;
  std::string line;
  for (int number = 1; std::getline(file, line); ++number) {
    if (!line.empty() && line.front() == '#') continue;
    std::size_t at = 0;
    while (true) {
      at = line.find_first_not_of(" \t\r", at);
      if (at == std::string::npos) break;
      const std::size_t end = std::min(line.find_first_of(" \t\r", at), line.size());
      const std::string_view word(line.data() + at, end - at);
      int value = 0;
      const auto [stop, error] = std::from_chars(word.data(), word.data() + word.size(), value);
      if (error != std::errc{} || stop != word.data() + word.size() || value < -32768 || value > 32767) {
        throw std::runtime_error(
            fmt::format("{}:{}: \"{}\" is not an integer in -32768..32767", path, number, word));
      }
      if (table.size() == kMaxDistributionEntries) {
        throw std::runtime_error(fmt::format("{}:{}: more than {} values (the kernel's limit)", path, number,
                                             kMaxDistributionEntries));
      }
      table.push_back(static_cast<std::int16_t>(value));
      at = end;
    }
  }
  if (file.bad()) throw std::runtime_error(fmt::format("cannot read netem distribution table {}", path));
  if (table.empty()) throw std::runtime_error(fmt::format("{}: the distribution table has no values", path));
  return table;
}

}  // namespace

std::string distribution_name(NetemOptions::Distribution distribution) {
  switch (distribution) {
    case NetemOptions::Distribution::Uniform:
      return "uniform";
    case NetemOptions::Distribution::Normal:
      return "normal";
    case NetemOptions::Distribution::Pareto:
      return "pareto";
    case NetemOptions::Distribution::ParetoNormal:
      return "paretonormal";
  }
  return "uniform";
}

std::vector<std::int16_t> load_distribution(NetemOptions::Distribution distribution) {
  if (distribution == NetemOptions::Distribution::Uniform) return {};
  const std::string file = distribution_name(distribution) + ".dist";
  const auto dirs = distribution_dirs();
  for (const auto& dir : dirs) {
    const std::string path = dir + "/" + file;
    struct stat status {};
    if (::stat(path.c_str(), &status) == 0) return parse_distribution_file(path);
  }
  throw std::runtime_error(
      fmt::format("netem distribution table {} not found in {} (install iproute2, or set "
                  "RIASC_TC_DIST_DIR to a directory holding it)",
                  file, distribution_dirs_text(dirs)));
}

// tc's set_percent(): rint(fraction * UINT32_MAX).
std::uint32_t netem_fraction(double fraction, const char* name) {
  if (!(fraction >= 0 && fraction <= 1)) {
    throw std::invalid_argument(fmt::format("netem {} {} is not a fraction in [0, 1]", name, fraction));
  }
  return static_cast<std::uint32_t>(std::rint(fraction * kU32Max));
}

void check_netem(const NetemOptions& options) {
  for (const auto& [fraction, name] :
       {std::pair{options.loss, "loss"}, std::pair{options.duplicate, "duplicate"},
        std::pair{options.delay_correlation, "delay correlation"},
        std::pair{options.loss_correlation, "loss correlation"},
        std::pair{options.duplicate_correlation, "duplicate correlation"},
        std::pair{options.reorder, "reorder"}, std::pair{options.reorder_correlation, "reorder correlation"},
        std::pair{options.corrupt, "corrupt"},
        std::pair{options.corrupt_correlation, "corrupt correlation"}}) {
    (void)netem_fraction(fraction, name);
  }
  if (options.gap > 0 && options.reorder == 0) {
    throw std::invalid_argument("netem gap needs a reorder probability");
  }
  if (options.reorder > 0 && options.latency_ns == 0) {
    throw std::invalid_argument(
        "netem reorder needs a latency (reordering sends packets ahead of delayed ones)");
  }
  (void)signed_ns(options.latency_ns, "latency");
  (void)signed_ns(options.jitter_ns, "jitter");
  if (options.slot_delay_ns > 0) {
    if (options.slot_distribution == NetemOptions::Distribution::Uniform) {
      throw std::invalid_argument(
          "netem slot distribution uniform has no table: use slot_min_ns/slot_max_ns");
    }
    if (options.slot_jitter_ns == 0)
      throw std::invalid_argument("netem slot distribution needs a jitter > 0");
    (void)signed_ns(options.slot_delay_ns, "slot delay");
    (void)signed_ns(options.slot_jitter_ns, "slot jitter");
  } else if (options.slot_min_ns > 0) {
    if (options.slot_max_ns != 0 && options.slot_max_ns < options.slot_min_ns) {
      throw std::invalid_argument("netem slot_max_ns is below slot_min_ns");
    }
    (void)signed_ns(options.slot_min_ns, "slot min delay");
    (void)signed_ns(options.slot_max_ns, "slot max delay");
  }
}

std::vector<std::uint8_t> encode_netem(const NetemOptions& options, NetemEncoding encoding) {
  const bool complete = encoding == NetemEncoding::Complete;
  check_netem(options);

  tc_netem_qopt qopt{};
  qopt.latency = ticks(options.latency_ns);
  qopt.limit = options.limit;
  qopt.loss = netem_fraction(options.loss, "loss");
  qopt.gap = options.reorder > 0 && options.gap == 0 ? 1 : options.gap;
  qopt.duplicate = netem_fraction(options.duplicate, "duplicate");
  qopt.jitter = ticks(options.jitter_ns);

  tc_netem_corr corr{};
  corr.delay_corr = netem_fraction(options.delay_correlation, "delay correlation");
  corr.loss_corr = netem_fraction(options.loss_correlation, "loss correlation");
  corr.dup_corr = netem_fraction(options.duplicate_correlation, "duplicate correlation");

  tc_netem_reorder reorder{};
  reorder.probability = netem_fraction(options.reorder, "reorder");
  reorder.correlation = netem_fraction(options.reorder_correlation, "reorder correlation");

  tc_netem_corrupt corrupt{};
  corrupt.probability = netem_fraction(options.corrupt, "corrupt");
  corrupt.correlation = netem_fraction(options.corrupt_correlation, "corrupt correlation");

  tc_netem_slot slot{};
  bool use_slot = false;
  std::vector<std::int16_t> slot_table;
  if (options.slot_delay_ns > 0) {
    slot.dist_delay = signed_ns(options.slot_delay_ns, "slot delay");
    slot.dist_jitter = signed_ns(options.slot_jitter_ns, "slot jitter");
    slot_table = load_distribution(options.slot_distribution);
    use_slot = true;
  } else if (options.slot_min_ns > 0) {
    slot.min_delay = signed_ns(options.slot_min_ns, "slot min delay");
    slot.max_delay =
        signed_ns(options.slot_max_ns == 0 ? options.slot_min_ns : options.slot_max_ns, "slot max delay");
    use_slot = true;
  }
  if (use_slot) {
    slot.max_packets = options.slot_max_packets;
    slot.max_bytes = options.slot_max_bytes;
  }

  const bool use_rate = options.rate_bytes_per_second > 0 || options.packet_overhead != 0 ||
                        options.cell_size != 0 || options.cell_overhead != 0;
  tc_netem_rate rate{};
  const bool rate64 = options.rate_bytes_per_second > std::numeric_limits<std::uint32_t>::max();
  rate.rate = rate64 ? ~0U : static_cast<std::uint32_t>(options.rate_bytes_per_second);
  rate.packet_overhead = options.packet_overhead;
  rate.cell_size = options.cell_size;
  rate.cell_overhead = options.cell_overhead;

  std::vector<std::int16_t> delay_table;
  if (options.jitter_ns > 0 && options.distribution != NetemOptions::Distribution::Uniform) {
    delay_table = load_distribution(options.distribution);
  }

  // The order is q_netem.c's, so that the Tc form is byte-identical to what tc sends.
  detail::AttrWriter out;
  out.append(qopt);
  if (complete) {
    out.put(TCA_NETEM_LATENCY64, signed_ns(options.latency_ns, "latency"));
    out.put(TCA_NETEM_JITTER64, signed_ns(options.jitter_ns, "jitter"));
  }
  if (complete || corr.delay_corr != 0 || corr.loss_corr != 0 || corr.dup_corr != 0 ||
      reorder.correlation != 0 || corrupt.correlation != 0) {
    out.put(TCA_NETEM_CORR, corr);
  }
  if (complete || reorder.probability != 0 || reorder.correlation != 0) out.put(TCA_NETEM_REORDER, reorder);
  if (complete || options.ecn) out.put(TCA_NETEM_ECN, std::uint32_t{options.ecn ? 1U : 0U});
  if (complete || corrupt.probability != 0 || corrupt.correlation != 0) out.put(TCA_NETEM_CORRUPT, corrupt);
  if (complete || use_slot) out.put(TCA_NETEM_SLOT, slot);
  if (rate64) out.put(TCA_NETEM_RATE64, options.rate_bytes_per_second);
  if (complete || use_rate) out.put(TCA_NETEM_RATE, rate);
  if (!delay_table.empty()) put_table(out, TCA_NETEM_DELAY_DIST, delay_table);
  if (!slot_table.empty()) put_table(out, TCA_NETEM_SLOT_DIST, slot_table);
  return std::move(out.bytes());
}

NetemOptions decode_netem(std::span<const std::uint8_t> payload) {
  if (payload.size() < sizeof(tc_netem_qopt)) {
    throw std::invalid_argument(
        fmt::format("netem options of {} bytes are shorter than struct tc_netem_qopt ({})", payload.size(),
                    sizeof(tc_netem_qopt)));
  }
  tc_netem_qopt qopt{};
  std::memcpy(&qopt, payload.data(), sizeof qopt);
  NetemOptions options;
  options.latency_ns = std::uint64_t{qopt.latency} * 64;
  options.jitter_ns = std::uint64_t{qopt.jitter} * 64;
  options.limit = qopt.limit;
  options.loss = unnetem_fraction(qopt.loss);
  options.gap = qopt.gap;
  options.duplicate = unnetem_fraction(qopt.duplicate);

  std::optional<std::uint64_t> rate64;
  bool malformed = false;
  const auto need = [&](const auto& value) {
    if (!value) malformed = true;
    return value.has_value();
  };
  const bool well_formed =
      detail::for_each_attr(payload.subspan(detail::align4(sizeof qopt)), [&](const detail::Attr& attr) {
        switch (attr.type) {
          case TCA_NETEM_LATENCY64:
            if (const auto value = attr.as<std::int64_t>(); need(value))
              options.latency_ns = static_cast<std::uint64_t>(*value);
            break;
          case TCA_NETEM_JITTER64:
            if (const auto value = attr.as<std::int64_t>(); need(value))
              options.jitter_ns = static_cast<std::uint64_t>(*value);
            break;
          case TCA_NETEM_CORR:
            if (const auto value = attr.as<tc_netem_corr>(); need(value)) {
              options.delay_correlation = unnetem_fraction(value->delay_corr);
              options.loss_correlation = unnetem_fraction(value->loss_corr);
              options.duplicate_correlation = unnetem_fraction(value->dup_corr);
            }
            break;
          case TCA_NETEM_REORDER:
            if (const auto value = attr.as<tc_netem_reorder>(); need(value)) {
              options.reorder = unnetem_fraction(value->probability);
              options.reorder_correlation = unnetem_fraction(value->correlation);
            }
            break;
          case TCA_NETEM_CORRUPT:
            if (const auto value = attr.as<tc_netem_corrupt>(); need(value)) {
              options.corrupt = unnetem_fraction(value->probability);
              options.corrupt_correlation = unnetem_fraction(value->correlation);
            }
            break;
          case TCA_NETEM_ECN:
            if (const auto value = attr.as<std::uint32_t>(); need(value)) options.ecn = *value != 0;
            break;
          case TCA_NETEM_RATE:
            if (const auto value = attr.as<tc_netem_rate>(); need(value)) {
              options.rate_bytes_per_second = value->rate;
              options.packet_overhead = value->packet_overhead;
              options.cell_size = value->cell_size;
              options.cell_overhead = value->cell_overhead;
            }
            break;
          case TCA_NETEM_RATE64:
            if (const auto value = attr.as<std::uint64_t>(); need(value)) rate64 = *value;
            break;
          case TCA_NETEM_SLOT:
            if (const auto value = attr.as<tc_netem_slot>(); need(value)) {
              if (value->min_delay != 0 || value->max_delay != 0) {
                options.slot_min_ns = static_cast<std::uint64_t>(value->min_delay);
                options.slot_max_ns = static_cast<std::uint64_t>(value->max_delay);
              } else {
                options.slot_delay_ns = static_cast<std::uint64_t>(value->dist_delay);
                options.slot_jitter_ns = static_cast<std::uint64_t>(value->dist_jitter);
              }
              options.slot_max_packets = value->max_packets;
              options.slot_max_bytes = value->max_bytes;
            }
            break;
          default:  // DELAY_DIST, SLOT_DIST (not decoded), LOSS models, PAD, newer attributes
            break;
        }
      });
  if (!well_formed || malformed) throw std::invalid_argument("malformed netem options");
  // The kernel applies RATE, then RATE64 as max(rate, rate64).
  if (rate64) options.rate_bytes_per_second = std::max(options.rate_bytes_per_second, *rate64);
  return options;
}

std::vector<std::uint8_t> encode_prio(const PrioOptions& options) {
  tc_prio_qopt qopt{};
  qopt.bands = options.bands;
  static_assert(sizeof qopt.priomap == sizeof options.priomap);
  std::memcpy(qopt.priomap, options.priomap.data(), sizeof qopt.priomap);
  detail::AttrWriter out;
  out.append(qopt);
  return std::move(out.bytes());
}

std::vector<std::uint8_t> encode_pfifo(const PfifoOptions& options) {
  tc_fifo_qopt qopt{};
  qopt.limit = options.limit;
  detail::AttrWriter out;
  out.append(qopt);
  return std::move(out.bytes());
}

}  // namespace riasc::net
