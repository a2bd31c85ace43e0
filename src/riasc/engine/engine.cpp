#include "riasc/engine/engine.hpp"

#include <fmt/format.h>
#include <linux/if_packet.h>
#include <malloc.h>
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

#include "riasc/engine/adaptive_spin.hpp"
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
  static constexpr auto kBounds = kLatenessBoundsNs;
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

// recvmmsg of up to kFrames frames from a packet socket, with their kernel times, packet types
// and vnet headers: one system call for a burst rather than one per frame.
class ReceiveBatch {
 public:
  static constexpr std::size_t kFrames = 32;
  // A super-packet can be 64 KiB; frames come whole or not at all.
  static constexpr std::size_t kFrameBytes = kVnetHeaderBytes + 65536 + 256;

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

  // Empty for a frame that came truncated (it would be sent on cut short).
  [[nodiscard]] std::span<const std::uint8_t> frame(int i) const {
    const auto& header = headers_[static_cast<std::size_t>(i)];
    if ((header.msg_hdr.msg_flags & MSG_TRUNC) != 0 || header.msg_len < kVnetHeaderBytes) return {};
    return {start(header) + kVnetHeaderBytes, header.msg_len - kVnetHeaderBytes};
  }
  // What the kernel left unfinished in frame(i), which must not be empty.
  [[nodiscard]] std::optional<shaper::Offload> offload(int i) const {
    return read_vnet_header(start(headers_[static_cast<std::size_t>(i)]));
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
  static const std::uint8_t* start(const mmsghdr& header) {
    return static_cast<const std::uint8_t*>(header.msg_hdr.msg_iov->iov_base);
  }

  std::vector<std::uint8_t> buffer_;
  std::array<Slot, kFrames> slots_{};
  std::array<mmsghdr, kFrames> headers_{};
};

// sendmmsg of the packets due on one attachment, each after its vnet header: one system call
// for the packets that leave together (a rate's back-to-back departures, a burst's delay).
class SendBatch {
 public:
  static constexpr std::size_t kFrames = 64;

  // Packets sent, and those the socket refused (each counted once; the rest of a refused call's
  // packets are tried again in the next).
  struct Result {
    std::uint64_t sent = 0, failed = 0;
  };

  Result send(int fd, std::span<const shaper::Packet> packets) {
    Result result;
    while (!packets.empty()) {
      const std::size_t count = std::min(packets.size(), kFrames);
      for (std::size_t i = 0; i < count; ++i) {
        const shaper::Packet& packet = packets[i];
        vnet_[i] = vnet_header(packet.offload);
        iov_[i][0] = {vnet_[i].data(), vnet_[i].size()};
        // sendmmsg takes iovecs of non-const bytes but only reads them.
        iov_[i][1] = {const_cast<std::uint8_t*>(packet.frame.data()), packet.frame.size()};
        headers_[i] = {};
        headers_[i].msg_hdr.msg_iov = iov_[i].data();
        headers_[i].msg_hdr.msg_iovlen = iov_[i].size();
      }
      const int done = ::sendmmsg(fd, headers_.data(), static_cast<unsigned>(count), MSG_DONTWAIT);
      // The first packet refused: counted, skipped, and the call goes on after it.
      const std::size_t passed = done < 0 ? 0 : static_cast<std::size_t>(done);
      result.sent += passed;
      std::size_t consumed = passed;
      if (passed < count) {
        ++result.failed;
        ++consumed;
      }
      packets = packets.subspan(consumed);
    }
    return result;
  }

 private:
  std::array<VnetHeader, kFrames> vnet_{};
  std::array<std::array<iovec, 2>, kFrames> iov_{};
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
  std::uint64_t super_packets = 0;  // TCP super-packets (GSO) received whole
  std::uint64_t unreadable = 0;     // truncated, or a kind of super-packet the shaper cannot cut
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
      : control_(std::move(control)),
        spin_(options.spin ? std::optional<Nanos>(std::chrono::nanoseconds(*options.spin).count())
                           : std::nullopt) {}

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
      flush_traces(now);
      timespec timeout{};
      timespec* wait = nullptr;
      Nanos sleep = 0;
      if (auto deadline = earliest()) {
        sleep = std::max<Nanos>(0, *deadline - now - spin_.spin());
        timeout.tv_sec = sleep / 1'000'000'000;
        timeout.tv_nsec = sleep % 1'000'000'000;
        wait = &timeout;
      }
      const int ready =
          ::epoll_pwait2(epoll_.get(), events.data(), static_cast<int>(events.size()), wait, nullptr);
      if (ready == 0 && sleep > 0) spin_.woke(now + sleep, monotonic_now());
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
      const std::vector<shaper::Packet> due = a->shaper->dequeue(now);
      if (due.empty()) continue;
      // Before the send: on a veth the receiving side's stack runs inside it.
      const Nanos sending = monotonic_now();
      for (const shaper::Packet& packet : due) a->lateness.add(sending - packet.departure);
      a->send_errors += send_.send(a->sender.get(), due).failed;
    }
  }

  // Once a second, so `riasc traces` sees what happened up to a second ago.
  void flush_traces(Nanos now) {
    if (now - flushed_ < 1'000'000'000) return;
    flushed_ = now;
    for (const auto& [id, a] : attachments_) {
      if (a->trace != nullptr) std::fflush(a->trace);
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
        if (receive_.kind(i) != PACKET_OUTGOING) continue;
        const std::span<const std::uint8_t> frame = receive_.frame(i);
        const std::optional<shaper::Offload> offload = frame.empty() ? std::nullopt : receive_.offload(i);
        if (!offload) {
          ++a.unreadable;
          continue;
        }
        if (frame.size() >= 12 && std::memcmp(frame.data() + 6, a.own_mac.data(), a.own_mac.size()) == 0) {
          ++a.own_frames;
          continue;
        }
        const std::optional<Nanos> stamped = receive_.kernel_time(i);
        const Nanos arrival = stamped ? std::min(*stamped - offset, now) : now;
        if (offload->gso != shaper::Gso::None) ++a.super_packets;
        a.shaper->enqueue(std::vector<std::uint8_t>(frame.begin(), frame.end()), arrival, *offload);
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
                 {"super_packets", a->super_packets},
                 {"unreadable", a->unreadable},
                 {"lateness_seconds", a->lateness.to_json()}};
    }
    return {{"attachments", std::move(out)},
            {"spin_seconds", static_cast<double>(spin_.spin()) / 1e9},
            {"spin_cap_seconds", static_cast<double>(spin_.cap()) / 1e9}};
  }

  UniqueFd control_;
  AdaptiveSpin spin_;
  Nanos flushed_ = 0;
  UniqueFd epoll_;
  std::map<std::string, std::unique_ptr<Attachment>> attachments_;
  ReceiveBatch receive_;
  SendBatch send_;
};

}  // namespace

int run_engine(UniqueFd control, const EngineOptions& options) {
  // Every frame is a heap block that lives for its delay. glibc would hand a freed super-packet's
  // 64 KiB back to the kernel at once (trim) and fault the pages in again for the next one, which
  // cost more than the copy itself; the engine keeps what it had.
  ::mallopt(M_TRIM_THRESHOLD, 256 << 20);
  ::mallopt(M_MMAP_THRESHOLD, 4 << 20);
  try {
    return Engine(std::move(control), options).run();
  } catch (const std::exception& error) {
    log_line("error", error.what());
    return 1;
  }
}

}  // namespace riasc::engine
