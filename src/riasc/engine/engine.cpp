#include "riasc/engine/engine.hpp"

#include <fmt/format.h>
#include <linux/if_packet.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "riasc/engine/devices.hpp"
#include "riasc/engine/protocol.hpp"

namespace riasc::engine {
namespace {

using shaper::Nanos;

Nanos nanos(const timespec& time) { return Nanos{time.tv_sec} * 1'000'000'000 + time.tv_nsec; }

Nanos now_on(clockid_t clock) {
  timespec now{};
  ::clock_gettime(clock, &now);
  return nanos(now);
}

Nanos monotonic_now() { return now_on(CLOCK_MONOTONIC); }

void log_line(const std::string& level, const std::string& message) {
  fmt::print(stderr, "{{\"level\":\"{}\",\"logger\":\"engine\",\"msg\":{}}}\n", level, Json(message).dump());
}

// How late frames leave (sent − due), in Prometheus histogram form: the figure that shows whether
// the engine keeps its microseconds.
struct Lateness {
  static constexpr std::array<Nanos, 12> kBounds{1'000,   2'000,   5'000,   10'000,    20'000,    50'000,
                                                 100'000, 200'000, 500'000, 1'000'000, 2'000'000, 5'000'000};
  std::array<std::uint64_t, kBounds.size() + 1> counts{};
  Nanos sum = 0;
  void add(Nanos late) {
    late = std::max<Nanos>(late, 0);
    sum += late;
    std::size_t i = 0;
    while (i < kBounds.size() && late > kBounds[i]) ++i;
    ++counts[i];
  }
  [[nodiscard]] Json to_json() const {
    Json buckets = Json::array();
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < kBounds.size(); ++i) {
      cumulative += counts[i];
      buckets.push_back({static_cast<double>(kBounds[i]) / 1e9, cumulative});
    }
    cumulative += counts.back();
    return {{"buckets", std::move(buckets)}, {"count", cumulative}, {"sum", static_cast<double>(sum) / 1e9}};
  }
};

// recvmmsg of up to kFrames frames from a packet socket, with their kernel times and packet
// types: one system call for a burst rather than one per frame.
class ReceiveBatch {
 public:
  static constexpr std::size_t kFrames = 32;
  // A GSO frame can be 64 KiB; frames come whole or not at all.
  static constexpr std::size_t kFrameBytes = 65536 + 256;

  // The headers point into the object, which therefore stays where it was made.
  ReceiveBatch() : buffer_(kFrames * kFrameBytes) {
    for (std::size_t i = 0; i < kFrames; ++i) {
      Slot& slot = slots_[i];
      slot.iov = {buffer_.data() + i * kFrameBytes, kFrameBytes};
      msghdr& header = headers_[i].msg_hdr;
      header.msg_name = &slot.from;
      header.msg_iov = &slot.iov;
      header.msg_iovlen = 1;
      header.msg_control = slot.control.data();
    }
  }
  ReceiveBatch(const ReceiveBatch&) = delete;
  ReceiveBatch& operator=(const ReceiveBatch&) = delete;

  // Frames read (0 when none is waiting, -1 on errors other than EAGAIN).
  int receive(int fd) {
    for (std::size_t i = 0; i < kFrames; ++i) {  // the kernel shortens these to what it wrote
      headers_[i].msg_hdr.msg_namelen = sizeof(sockaddr_ll);
      headers_[i].msg_hdr.msg_controllen = slots_[i].control.size();
    }
    const int got = ::recvmmsg(fd, headers_.data(), kFrames, MSG_DONTWAIT, nullptr);
    if (got < 0) return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
    return got;
  }

  [[nodiscard]] std::span<const std::uint8_t> frame(int i) const {
    const auto& header = headers_[static_cast<std::size_t>(i)];
    // A truncated frame would be sent on cut short: taken as nothing.
    if ((header.msg_hdr.msg_flags & MSG_TRUNC) != 0) return {};
    return {static_cast<const std::uint8_t*>(header.msg_hdr.msg_iov->iov_base), header.msg_len};
  }
  [[nodiscard]] int kind(int i) const { return slots_[static_cast<std::size_t>(i)].from.sll_pkttype; }
  // CLOCK_REALTIME.
  [[nodiscard]] std::optional<Nanos> kernel_time(int i) {
    msghdr& header = headers_[static_cast<std::size_t>(i)].msg_hdr;
    for (cmsghdr* c = CMSG_FIRSTHDR(&header); c != nullptr; c = CMSG_NXTHDR(&header, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
        timespec stamp{};
        std::memcpy(&stamp, CMSG_DATA(c), sizeof stamp);
        return nanos(stamp);
      }
    }
    return std::nullopt;
  }

 private:
  struct Slot {
    iovec iov{};
    sockaddr_ll from{};
    alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(timespec)) + 64> control{};
  };
  std::vector<std::uint8_t> buffer_;
  std::array<Slot, kFrames> slots_{};
  std::array<mmsghdr, kFrames> headers_{};
};

struct Attachment {
  std::string id;
  UniqueFd tap;  // held for its MAC; frames come through the receiver
  UniqueFd receiver;
  UniqueFd sender;
  MacAddress own_mac{};
  std::unique_ptr<shaper::Shaper> shaper;
  std::FILE* trace = nullptr;
  std::uint64_t own_frames = 0;  // the TAP's own traffic, dropped
  std::uint64_t send_errors = 0;
  Lateness lateness;

  Attachment() = default;
  Attachment(const Attachment&) = delete;
  Attachment& operator=(const Attachment&) = delete;
  ~Attachment() {
    if (trace != nullptr) std::fclose(trace);
  }
};

class Engine {
 public:
  Engine(UniqueFd control, const EngineOptions& options)
      : control_(std::move(control)), spin_ns_(std::chrono::nanoseconds(options.spin).count()) {}

  int run() {
    // The default 50 µs of slack would be added to every wake-up before a departure.
    ::prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    epoll_.reset(::epoll_create1(EPOLL_CLOEXEC));
    if (!epoll_) {
      log_line("error", fmt::format("epoll_create1: {}", std::strerror(errno)));
      return 1;
    }
    watch(control_.get(), nullptr);
    std::array<epoll_event, 64> events{};
    for (;;) {
      // Right after the reads: a frame's kernel time earlier than a time its shaper was advanced to
      // counts as that time, which then errs by no more than the few instructions in between.
      const Nanos now = monotonic_now();
      release(now);
      timespec timeout{};
      timespec* wait = nullptr;
      if (auto deadline = earliest()) {
        const Nanos sleep = std::max<Nanos>(0, *deadline - now - spin_ns_);
        timeout.tv_sec = sleep / 1'000'000'000;
        timeout.tv_nsec = sleep % 1'000'000'000;
        wait = &timeout;
      }
      const int ready =
          ::epoll_pwait2(epoll_.get(), events.data(), static_cast<int>(events.size()), wait, nullptr);
      if (ready < 0) {
        if (errno == EINTR) continue;
        log_line("error", fmt::format("epoll_pwait2: {}", std::strerror(errno)));
        return 1;
      }
      for (int i = 0; i < ready; ++i) {
        auto* attachment = static_cast<Attachment*>(events[static_cast<std::size_t>(i)].data.ptr);
        if (attachment == nullptr) {
          if (!serve_control()) return 0;
        } else {
          read_frames(*attachment);
        }
      }
    }
  }

 private:
  void watch(int fd, Attachment* attachment) {
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.ptr = attachment;
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &event) < 0)
      throw std::system_error(errno, std::generic_category(), "adding a descriptor to epoll");
  }

  std::optional<Nanos> earliest() const {
    std::optional<Nanos> out;
    for (const auto& [id, a] : attachments_) {
      if (auto next = a->shaper->next_departure(); next && (!out || *next < *out)) out = next;
    }
    return out;
  }

  void release(Nanos now) {
    for (auto& [id, a] : attachments_) {
      for (const shaper::Packet& packet : a->shaper->dequeue(now)) {
        // Before the send: on a veth the receiving side's stack runs inside it.
        a->lateness.add(monotonic_now() - packet.departure);
        if (::send(a->sender.get(), packet.frame.data(), packet.frame.size(), MSG_DONTWAIT) < 0)
          ++a->send_errors;
      }
    }
  }

  void read_frames(Attachment& a) {
    // Bounded, so one busy TAP cannot starve the others or the departures.
    for (int batch = 0; batch < 8; ++batch) {
      const int got = receive_.receive(a.receiver.get());
      if (got <= 0) return;
      // The kernel stamps in CLOCK_REALTIME; the shaper's time is CLOCK_MONOTONIC. Their offset
      // is taken now, so a step of the wall clock moves at most the frames of this batch.
      const Nanos now = monotonic_now();
      const Nanos offset = now_on(CLOCK_REALTIME) - now;
      for (int i = 0; i < got; ++i) {
        const std::span<const std::uint8_t> frame = receive_.frame(i);
        if (receive_.kind(i) != PACKET_OUTGOING) continue;
        if (frame.size() >= 12 && std::memcmp(frame.data() + 6, a.own_mac.data(), a.own_mac.size()) == 0) {
          ++a.own_frames;
          continue;
        }
        const std::optional<Nanos> stamped = receive_.kernel_time(i);
        const Nanos arrival = stamped ? std::min(*stamped - offset, now) : now;
        a.shaper->enqueue(std::vector<std::uint8_t>(frame.begin(), frame.end()), arrival);
      }
      if (static_cast<std::size_t>(got) < ReceiveBatch::kFrames) return;
    }
  }

  // False when the agent has gone.
  bool serve_control() {
    std::optional<Message> message;
    try {
      message = receive_message(control_.get());
    } catch (const std::exception& error) {
      log_line("error", error.what());
      return errno != ECONNRESET;
    }
    if (!message) return false;
    Json answer;
    try {
      answer = handle(*message);
      answer["ok"] = true;
    } catch (const std::exception& error) {
      answer = {{"error", error.what()}};
    }
    try {
      send_message(control_.get(), answer);
    } catch (const std::exception& error) {
      log_line("error", error.what());
      return false;
    }
    return true;
  }

  Json handle(Message& message) {
    const Json& body = message.body;
    const std::string op = body.value("op", "");
    const std::string id = body.value("id", "");
    if (op == "attach") return attach(id, body, message.fds);
    if (op == "change") {
      Attachment& a = find(id);
      const shaper::ShaperOptions options = shaper_options_from_json(body.value("options", Json::object()));
      a.shaper->set_options(options, shaper::Tables::load(options), body.value("at", monotonic_now()));
      return Json::object();
    }
    if (op == "detach") {
      auto it = attachments_.find(id);
      if (it != attachments_.end()) {
        ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, it->second->receiver.get(), nullptr);
        attachments_.erase(it);
      }
      return Json::object();
    }
    if (op == "stats") return stats();
    throw std::invalid_argument(fmt::format("unknown op \"{}\"", op));
  }

  Json attach(const std::string& id, const Json& body, std::vector<UniqueFd>& fds) {
    if (id.empty()) throw std::invalid_argument("attach: no id");
    if (fds.size() != 3)
      throw std::invalid_argument("attach: needs the TAP, its receiving socket and the sending socket");
    const shaper::ShaperOptions options = shaper_options_from_json(body.value("options", Json::object()));
    auto a = std::make_unique<Attachment>();
    a->id = id;
    a->tap = std::move(fds[0]);
    a->receiver = std::move(fds[1]);
    a->sender = std::move(fds[2]);
    a->own_mac = tap_mac(a->tap.get());
    a->shaper =
        std::make_unique<shaper::Shaper>(options, shaper::Tables::load(options), body.value("seed", 1ULL));
    if (auto trace = body.find("trace"); trace != body.end() && trace->is_string()) {
      a->trace = std::fopen(trace->get<std::string>().c_str(), "ae");
      if (a->trace == nullptr)
        throw std::system_error(errno, std::generic_category(), "opening trace " + trace->get<std::string>());
      if (std::ftell(a->trace) == 0) std::fputs((shaper::trace_csv_header() + "\n").c_str(), a->trace);
      std::FILE* file = a->trace;
      a->shaper->set_trace([file](const shaper::TraceRecord& record) {
        std::fputs((shaper::to_csv(record) + "\n").c_str(), file);
      });
    }
    // A repeated attach (the agent's replay after a restart of either side) replaces the old one.
    if (auto old = attachments_.find(id); old != attachments_.end()) {
      ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, old->second->receiver.get(), nullptr);
      attachments_.erase(old);
    }
    watch(a->receiver.get(), a.get());
    attachments_[id] = std::move(a);
    return Json::object();
  }

  Attachment& find(const std::string& id) {
    auto it = attachments_.find(id);
    if (it == attachments_.end()) throw std::invalid_argument(fmt::format("no attachment \"{}\"", id));
    return *it->second;
  }

  Json stats() {
    Json out = Json::object();
    for (const auto& [id, a] : attachments_) {
      if (a->trace != nullptr) std::fflush(a->trace);
      const shaper::Counters& c = a->shaper->counters();
      out[id] = {{"packets_in", c.packets_in},
                 {"bytes_in", c.bytes_in},
                 {"sent", c.sent},
                 {"bytes_sent", c.bytes_sent},
                 {"lost", c.lost},
                 {"limit_drops", c.limit_drops},
                 {"duplicated", c.duplicated},
                 {"corrupted", c.corrupted},
                 {"reordered", c.reordered},
                 {"ecn_marked", c.ecn_marked},
                 {"queued", a->shaper->queued_packets()},
                 {"own_frames", a->own_frames},
                 {"send_errors", a->send_errors},
                 {"lateness_seconds", a->lateness.to_json()}};
    }
    return {{"attachments", std::move(out)}};
  }

  UniqueFd control_;
  const Nanos spin_ns_;
  UniqueFd epoll_;
  std::map<std::string, std::unique_ptr<Attachment>> attachments_;
  ReceiveBatch receive_;
};

}  // namespace

int run_engine(UniqueFd control, const EngineOptions& options) {
  try {
    return Engine(std::move(control), options).run();
  } catch (const std::exception& error) {
    log_line("error", error.what());
    return 1;
  }
}

}  // namespace riasc::engine
