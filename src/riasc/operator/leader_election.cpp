#include "riasc/operator/leader_election.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <random>
#include <stdexcept>
#include <thread>

#include "riasc/operator/essence.hpp"

namespace riasc::op {

namespace {

using Clock = std::chrono::steady_clock;
using detail::SystemClock;
using std::chrono::milliseconds;

const client::GroupVersionResource kLeases{"coordination.k8s.io", "v1", "leases"};

std::string default_identity() {
  std::array<char, 256> host{};
  if (::gethostname(host.data(), host.size() - 1) != 0) host[0] = '\0';
  std::random_device random;
  return fmt::format("{}_{:08x}{:08x}", host.data(), random(), random());
}

}  // namespace

class LeaderElector::Impl {
 public:
  Impl(client::Client& client, LeaderElectionOptions options)
      : options_(std::move(options)),
        leases_(client.resource(kLeases, options_.lease_namespace)),
        log_("lease " + options_.lease_namespace + "/" + options_.lease_name, options_.log) {
    if (options_.lease_name.empty()) throw std::invalid_argument("leader election needs a lease name");
    if (!(options_.lease_duration > options_.renew_deadline &&
          options_.renew_deadline > options_.retry_period && options_.retry_period > milliseconds(0)))
      throw std::invalid_argument("leader election needs lease_duration > renew_deadline > retry_period > 0");
    if (options_.identity.empty()) options_.identity = default_identity();
  }

  void start() {
    std::lock_guard lock(mutex_);
    if (thread_.joinable() || stopping_) throw std::logic_error("LeaderElector::start() called twice");
    thread_ = std::thread([this] { run(); });
  }

  void stop(bool give_back) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
      stopping_ = true;
      release_ = give_back;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  // Sleeps; false when stop() was called meanwhile.
  bool wait(milliseconds delay) {
    std::unique_lock lock(mutex_);
    return !wake_.wait_for(lock, delay, [this] { return stopping_; });
  }

  // client-go's jitter on acquisition, so that candidates started together do not collide forever.
  milliseconds jittered(milliseconds delay) {
    std::uniform_real_distribution<double> factor(1.0, 1.2);
    return milliseconds(static_cast<milliseconds::rep>(static_cast<double>(delay.count()) * factor(random_)));
  }

  void set_leader(bool leader) {
    leader_ = leader;
    if (options_.metrics) options_.metrics->leader_status.with({options_.lease_name}).set(leader ? 1.0 : 0.0);
  }

  void run() {
    while (true) {
      const bool acquired = try_acquire_or_renew();
      if (acquired) break;
      if (!wait(jittered(options_.retry_period))) {
        finished_ = true;
        return;
      }
    }
    set_leader(true);
    log_.info("{} is the leader", options_.identity);
    std::thread starter;
    if (options_.on_started_leading)
      starter = std::thread([this] { guarded("on_started_leading", options_.on_started_leading); });

    bool stopped = false;
    auto renewed = Clock::now();
    while (true) {
      if (!wait(options_.retry_period)) {
        stopped = true;
        break;
      }
      const bool ok = try_acquire_or_renew();
      if (ok) {
        renewed = Clock::now();
      } else if (Clock::now() - renewed >= options_.renew_deadline) {
        log_.warning("{} lost the lease: not renewed within {} ms", options_.identity,
                     options_.renew_deadline.count());
        break;
      }
    }
    set_leader(false);
    if (starter.joinable()) starter.join();
    if (options_.on_stopped_leading) guarded("on_stopped_leading", options_.on_stopped_leading);
    bool give_back = false;
    {
      std::lock_guard lock(mutex_);
      give_back = stopped && release_;
    }
    if (give_back) release();
    finished_ = true;
  }

  void guarded(const char* what, const std::function<void()>& callback) {
    try {
      callback();
    } catch (const std::exception& error) {
      log_.error("{} failed: {}", what, error.what());
    }
  }

  Json record(SystemClock::time_point now, const std::string& holder, std::int64_t transitions,
              const std::string& acquired) const {
    const auto duration = std::chrono::ceil<std::chrono::seconds>(options_.lease_duration).count();
    return {{"holderIdentity", holder},
            {"leaseDurationSeconds", holder.empty() ? 1 : duration},
            {"acquireTime", acquired},
            {"renewTime", detail::format_micro_time(now)},
            {"leaseTransitions", transitions}};
  }

  // client-go's tryAcquireOrRenew: true when this candidate holds the Lease afterwards.
  bool try_acquire_or_renew() {
    try {
      return acquire_or_renew();
    } catch (const client::Conflict&) {
      return false;  // another candidate wrote first
    } catch (const client::AlreadyExists&) {
      return false;
    } catch (const std::exception& error) {
      log_.warning("cannot read or write the lease: {}", error.what());
      return false;
    }
  }

  bool acquire_or_renew() {
    const auto now = SystemClock::now();
    const std::string now_text = detail::format_micro_time(now);
    Json lease;
    try {
      lease = leases_.get(options_.lease_name);
    } catch (const client::NotFound&) {
      Json fresh = {{"apiVersion", "coordination.k8s.io/v1"},
                    {"kind", "Lease"},
                    {"metadata", {{"name", options_.lease_name}, {"namespace", options_.lease_namespace}}},
                    {"spec", record(now, options_.identity, 0, now_text)}};
      observe(leases_.create(fresh));
      return true;
    }
    observe(lease);
    const Json spec = lease.value("spec", Json::object());
    const std::string holder = string_member(spec, "holderIdentity");
    const auto duration = std::chrono::seconds(spec.value("leaseDurationSeconds", 0));
    // Expiry by our clock since the record last changed, not by renewTime: clocks may differ.
    if (!holder.empty() && holder != options_.identity && observed_time_ + duration > Clock::now())
      return false;
    const std::int64_t transitions = spec.value("leaseTransitions", std::int64_t{0});
    Json next = lease;
    next["spec"] = holder == options_.identity
                       ? record(now, holder, transitions, string_member(spec, "acquireTime", now_text))
                       : record(now, options_.identity, transitions + 1, now_text);
    observe(leases_.update(next));
    return true;
  }

  void observe(const Json& lease) {
    const Json spec = lease.value("spec", Json::object());
    observed_ = lease;
    if (spec != observed_spec_) {
      observed_spec_ = spec;
      observed_time_ = Clock::now();
      const std::string holder = string_member(spec, "holderIdentity");
      if (!holder.empty() && holder != leader_seen_) {
        leader_seen_ = holder;
        if (options_.on_new_leader) options_.on_new_leader(holder);
      }
    }
  }

  // client-go's release: holderIdentity cleared, the transitions kept.
  void release() {
    Json lease = observed_;
    const Json spec = lease.value("spec", Json::object());
    if (string_member(spec, "holderIdentity") != options_.identity) return;
    const auto now = SystemClock::now();
    lease["spec"] =
        record(now, "", spec.value("leaseTransitions", std::int64_t{0}), detail::format_micro_time(now));
    try {
      (void)leases_.update(lease);
      log_.info("{} released the lease", options_.identity);
    } catch (const std::exception& error) {
      log_.warning("{} could not release the lease: {}", options_.identity, error.what());
    }
  }

  LeaderElectionOptions options_;
  client::Resource leases_;
  Logger log_;
  std::mt19937 random_{std::random_device{}()};
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool release_ = true;
  std::thread thread_;
  std::atomic<bool> leader_{false};
  std::atomic<bool> finished_{false};
  // Only the elector's thread touches these.
  Json observed_;       // the Lease last read or written
  Json observed_spec_;  // its record, to see when it changes
  Clock::time_point observed_time_{};
  std::string leader_seen_;
};

LeaderElector::LeaderElector(client::Client& client, LeaderElectionOptions options)
    : impl_(std::make_unique<Impl>(client, std::move(options))) {}
LeaderElector::~LeaderElector() { stop(); }
void LeaderElector::start() { impl_->start(); }
void LeaderElector::stop() { impl_->stop(true); }
void LeaderElector::abandon() { impl_->stop(false); }
bool LeaderElector::is_leader() const { return impl_->leader_; }
bool LeaderElector::finished() const { return impl_->finished_; }
const std::string& LeaderElector::identity() const { return impl_->options_.identity; }

}  // namespace riasc::op
