#include "riasc/engine/protocol.hpp"

#include <fmt/format.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>

namespace riasc::engine {
namespace {

constexpr std::size_t kMaxMessage = 1 << 20;
constexpr std::size_t kMaxFds = 8;

using Distribution = net::NetemOptions::Distribution;

Distribution distribution_from(const std::string& name, const char* field) {
  for (Distribution d :
       {Distribution::Uniform, Distribution::Normal, Distribution::Pareto, Distribution::ParetoNormal})
    if (net::distribution_name(d) == name) return d;
  throw std::invalid_argument(fmt::format("{}: unknown distribution \"{}\"", field, name));
}

// Each field once, for both directions of the codec.
template <class Visit>
void visit_netem(net::NetemOptions& o, Visit&& visit) {
  visit("latency_ns", o.latency_ns);
  visit("jitter_ns", o.jitter_ns);
  visit("delay_correlation", o.delay_correlation);
  visit("loss", o.loss);
  visit("loss_correlation", o.loss_correlation);
  visit("duplicate", o.duplicate);
  visit("duplicate_correlation", o.duplicate_correlation);
  visit("reorder", o.reorder);
  visit("reorder_correlation", o.reorder_correlation);
  visit("gap", o.gap);
  visit("corrupt", o.corrupt);
  visit("corrupt_correlation", o.corrupt_correlation);
  visit("limit", o.limit);
  visit("rate_bytes_per_second", o.rate_bytes_per_second);
  visit("packet_overhead", o.packet_overhead);
  visit("cell_size", o.cell_size);
  visit("cell_overhead", o.cell_overhead);
  visit("slot_min_ns", o.slot_min_ns);
  visit("slot_max_ns", o.slot_max_ns);
  visit("slot_delay_ns", o.slot_delay_ns);
  visit("slot_jitter_ns", o.slot_jitter_ns);
  visit("slot_max_packets", o.slot_max_packets);
  visit("slot_max_bytes", o.slot_max_bytes);
  visit("ecn", o.ecn);
}

template <class T>
void read_field(const Json& json, const char* name, T& value) {
  auto it = json.find(name);
  if (it == json.end()) return;
  try {
    value = it->get<T>();
  } catch (const Json::exception&) {
    throw std::invalid_argument(fmt::format("options.{}: wrong type", name));
  }
}

// A trace series travels as [[offset_ns, value], ...]: up to 10000 points each fit a message.
Json series_to_json(const std::vector<shaper::TracePoint>& points) {
  Json out = Json::array();
  for (const shaper::TracePoint& point : points) out.push_back(Json::array({point.offset, point.value}));
  return out;
}

std::vector<shaper::TracePoint> series_from_json(const Json& trace, const char* name) {
  std::vector<shaper::TracePoint> out;
  auto it = trace.find(name);
  if (it == trace.end()) return out;
  if (!it->is_array()) throw std::invalid_argument(fmt::format("options.trace.{}: wrong type", name));
  for (std::size_t i = 0; i < it->size(); ++i) {
    const Json& point = (*it)[i];
    if (!point.is_array() || point.size() != 2 || !point[0].is_number_integer() ||
        !point[1].is_number_integer())
      throw std::invalid_argument(fmt::format("options.trace.{}[{}]: must be [offset_ns, value]", name, i));
    out.push_back({point[0].get<shaper::Nanos>(), point[1].get<std::int64_t>()});
  }
  return out;
}

}  // namespace

void send_message(int socket, const Json& body, std::span<const int> fds) {
  const std::string text = body.dump();
  if (text.size() > kMaxMessage) throw std::length_error("engine message too long");
  if (fds.size() > kMaxFds) throw std::length_error("too many descriptors in one engine message");
  iovec data{const_cast<char*>(text.data()), text.size()};
  msghdr message{};
  message.msg_iov = &data;
  message.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)]{};
  if (!fds.empty()) {
    message.msg_control = control;
    message.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(header), fds.data(), sizeof(int) * fds.size());
  }
  while (::sendmsg(socket, &message, MSG_NOSIGNAL) < 0) {
    if (errno != EINTR)
      throw std::system_error(errno, std::generic_category(), "sending to the engine socket");
  }
}

std::optional<Message> receive_message(int socket) {
  std::string buffer(kMaxMessage, '\0');
  iovec data{buffer.data(), buffer.size()};
  msghdr message{};
  message.msg_iov = &data;
  message.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)]{};
  message.msg_control = control;
  message.msg_controllen = sizeof control;
  ssize_t got = 0;
  while ((got = ::recvmsg(socket, &message, MSG_CMSG_CLOEXEC)) < 0) {
    if (errno != EINTR) throw std::system_error(errno, std::generic_category(), "reading the engine socket");
  }
  Message out;
  for (cmsghdr* header = CMSG_FIRSTHDR(&message); header != nullptr; header = CMSG_NXTHDR(&message, header)) {
    if (header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS) continue;
    const std::size_t count = (header->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (std::size_t i = 0; i < count; ++i) {
      int fd = -1;
      std::memcpy(&fd, CMSG_DATA(header) + i * sizeof(int), sizeof fd);
      out.fds.emplace_back(fd);
    }
  }
  if (got == 0 && out.fds.empty()) return std::nullopt;
  buffer.resize(static_cast<std::size_t>(got));
  out.body = Json::parse(buffer, nullptr, false);
  if (!out.body.is_object()) throw std::invalid_argument("engine message is not a JSON object");
  return out;
}

Json to_json(const shaper::ShaperOptions& options) {
  Json out = Json::object();
  net::NetemOptions netem = options.netem;
  visit_netem(netem, [&](const char* name, const auto& value) { out[name] = value; });
  out["distribution"] = net::distribution_name(netem.distribution);
  out["slot_distribution"] = net::distribution_name(netem.slot_distribution);
  out["limit_bytes"] = options.limit_bytes;
  if (options.gemodel) {
    const auto& ge = *options.gemodel;
    out["gemodel"] = {{"p", ge.p}, {"r", ge.r}, {"h", ge.h}, {"k", ge.k}};
  }
  if (options.four_state) {
    const auto& s = *options.four_state;
    out["four_state"] = {{"p13", s.p13}, {"p31", s.p31}, {"p32", s.p32}, {"p23", s.p23}, {"p14", s.p14}};
  }
  if (options.trace) {
    const auto& t = *options.trace;
    out["trace"] = {{"delay_ns", series_to_json(t.delay)},
                    {"rate_bytes_per_second", series_to_json(t.rate)},
                    {"period_ns", t.period}};
    if (t.origin) out["trace"]["origin_ns"] = *t.origin;
  }
  return out;
}

shaper::ShaperOptions shaper_options_from_json(const Json& json) {
  if (!json.is_object()) throw std::invalid_argument("options: must be an object");
  shaper::ShaperOptions out;
  visit_netem(out.netem, [&](const char* name, auto& value) { read_field(json, name, value); });
  if (auto it = json.find("distribution"); it != json.end() && it->is_string())
    out.netem.distribution = distribution_from(it->get<std::string>(), "options.distribution");
  if (auto it = json.find("slot_distribution"); it != json.end() && it->is_string())
    out.netem.slot_distribution = distribution_from(it->get<std::string>(), "options.slot_distribution");
  read_field(json, "limit_bytes", out.limit_bytes);
  if (auto it = json.find("gemodel"); it != json.end() && it->is_object()) {
    shaper::GilbertElliott ge{};
    read_field(*it, "p", ge.p);
    read_field(*it, "r", ge.r);
    read_field(*it, "h", ge.h);
    read_field(*it, "k", ge.k);
    out.gemodel = ge;
  }
  if (auto it = json.find("four_state"); it != json.end() && it->is_object()) {
    shaper::FourStateLoss s{};
    read_field(*it, "p13", s.p13);
    read_field(*it, "p31", s.p31);
    read_field(*it, "p32", s.p32);
    read_field(*it, "p23", s.p23);
    read_field(*it, "p14", s.p14);
    out.four_state = s;
  }
  if (auto it = json.find("trace"); it != json.end() && !it->is_null()) {
    if (!it->is_object()) throw std::invalid_argument("options.trace: wrong type");
    shaper::TraceReplay trace;
    trace.delay = series_from_json(*it, "delay_ns");
    trace.rate = series_from_json(*it, "rate_bytes_per_second");
    if (auto period = it->find("period_ns"); period != it->end()) {
      if (!period->is_number_integer()) throw std::invalid_argument("options.trace.period_ns: wrong type");
      trace.period = period->get<shaper::Nanos>();
    }
    if (auto origin = it->find("origin_ns"); origin != it->end() && !origin->is_null()) {
      if (!origin->is_number_integer()) throw std::invalid_argument("options.trace.origin_ns: wrong type");
      trace.origin = origin->get<shaper::Nanos>();
    }
    out.trace = std::move(trace);
  }
  return out;
}

}  // namespace riasc::engine
