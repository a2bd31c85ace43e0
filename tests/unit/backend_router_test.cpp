// BackendRouter: which backend shapes a pod, moving pods between backends, conflicts, and timed
// changes for a backend that cannot schedule them.

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "riasc/netem/backend_router.hpp"

namespace riasc::netem {
namespace {

using Clock = std::chrono::system_clock;

// Records what it is asked to do; every band it gets is applied.
class Recorder : public Backend {
 public:
  struct Call {
    std::string key;
    std::vector<std::string> profiles;
    Clock::time_point at;
  };
  Recorder(std::string name, bool schedules) : name_(std::move(name)), schedules_(schedules) {}

  ApplyOutcome apply(const PodTarget& target, const std::vector<Band>& bands) override {
    Call call{target.key, {}, Clock::now()};
    ApplyOutcome outcome;
    for (const Band& band : bands) {
      call.profiles.push_back(band.profile);
      outcome.bands.push_back({band.profile, band.direction, "eth0", true, "", ""});
    }
    calls.push_back(std::move(call));
    return outcome;
  }
  void forget(const std::string& key) override { forgotten.push_back(key); }
  [[nodiscard]] std::string name() const override { return name_; }
  [[nodiscard]] bool schedules_changes() const override { return schedules_; }

  std::vector<Call> calls;
  std::vector<std::string> forgotten;

 private:
  std::string name_;
  bool schedules_;
};

Band band(const std::string& profile, BackendChoice backend = BackendChoice::Auto, bool trace = false) {
  Band out;
  out.profile = profile;
  out.backend = backend;
  if (trace) out.trace = shaper::TraceReplay{.delay = {{0, 1'000'000}}};
  return out;
}

class BackendRouterTest : public testing::Test {
 protected:
  BackendRouterTest() {
    auto node = std::make_unique<Recorder>("kernel", false);
    kernel_ = node.get();
    router_ = std::make_unique<BackendRouter>(
        std::move(node),
        [this] {
          ++made_;
          auto other = std::make_unique<Recorder>("userspace", true);
          userspace_ = other.get();
          return other;
        },
        [this](const std::string& backend, const std::string& netns_path) {
          // With how many calls each backend had then: the leftovers go after the new rules.
          removed_.push_back(fmt::format("{} {} after {}+{}", backend, netns_path, kernel_->calls.size(),
                                         userspace_ != nullptr ? userspace_->calls.size() : 0));
        });
  }

  ApplyOutcome apply(const std::vector<Band>& bands, std::optional<Clock::time_point> due = std::nullopt) {
    return router_->apply({"lab/ctrl", "/run/netns/ctrl", due}, bands);
  }

  Recorder* kernel_ = nullptr;
  Recorder* userspace_ = nullptr;
  int made_ = 0;
  std::vector<std::string> removed_;
  std::unique_ptr<BackendRouter> router_;
};

TEST_F(BackendRouterTest, PodsStayOnTheNodesBackendUnlessAProfileAsks) {
  const ApplyOutcome outcome = apply({band("plain")});
  ASSERT_EQ(outcome.bands.size(), 1U);
  EXPECT_EQ(outcome.bands[0].backend, "kernel");
  EXPECT_EQ(kernel_->calls.size(), 1U);
  EXPECT_EQ(made_, 0) << "the other backend is made only when a pod needs it";
  EXPECT_EQ(router_->name(), "kernel");
}

TEST_F(BackendRouterTest, APodMovesWhenItsProfilesAskAndTheBackendItLeavesClearsIt) {
  apply({band("plain")});
  const ApplyOutcome moved = apply({band("plain"), band("forced", BackendChoice::Userspace)});
  ASSERT_EQ(made_, 1);
  ASSERT_EQ(kernel_->calls.size(), 2U);
  EXPECT_TRUE(kernel_->calls[1].profiles.empty()) << "the kernel backend takes out what it installed";
  EXPECT_THAT(kernel_->forgotten, testing::ElementsAre("lab/ctrl"));
  ASSERT_EQ(userspace_->calls.size(), 1U);
  EXPECT_THAT(userspace_->calls[0].profiles, testing::ElementsAre("plain", "forced"));
  for (const BandOutcome& b : moved.bands) EXPECT_EQ(b.backend, "userspace");

  // Back again when the profile goes; forget() reaches the backend that holds the pod.
  apply({band("plain")});
  EXPECT_TRUE(userspace_->calls.back().profiles.empty());
  EXPECT_THAT(userspace_->forgotten, testing::ElementsAre("lab/ctrl"));
  router_->forget("lab/ctrl");
  EXPECT_THAT(kernel_->forgotten, testing::ElementsAre("lab/ctrl", "lab/ctrl"));
  EXPECT_EQ(made_, 1);
}

TEST_F(BackendRouterTest, APodMetFirstLosesWhatACrashedAgentsOtherBackendLeftInIt) {
  apply({band("plain")});
  EXPECT_THAT(removed_, testing::ElementsAre("userspace /run/netns/ctrl after 1+0"));
  apply({band("plain"), band("forced", BackendChoice::Userspace)});
  apply({band("plain")});
  EXPECT_EQ(removed_.size(), 1U) << "a pod this process moved is cleared by the backend it leaves";

  router_->forget("lab/ctrl");  // the pod went; a new one of the same name starts afresh
  apply({band("forced", BackendChoice::Userspace)});
  EXPECT_THAT(removed_, testing::ElementsAre("userspace /run/netns/ctrl after 1+0",
                                             "kernel /run/netns/ctrl after 3+3"));
  router_->forget("lab/ctrl");
  apply({});  // an unshaped pod is cleared of both backends' parts too
  EXPECT_EQ(removed_.back(), "userspace /run/netns/ctrl after 4+3");
}

TEST_F(BackendRouterTest, ATraceGoesToTheEngineUnderAutoButAnExplicitChoiceWins) {
  EXPECT_EQ(apply({band("recorded", BackendChoice::Auto, true)}).bands[0].backend, "userspace");
  const ApplyOutcome forced =
      apply({band("recorded", BackendChoice::Auto, true), band("netem", BackendChoice::Kernel)});
  ASSERT_EQ(forced.bands.size(), 2U);
  EXPECT_EQ(forced.bands[0].backend, "kernel");  // the kernel backend then refuses the trace itself
  EXPECT_THAT(kernel_->calls.back().profiles, testing::ElementsAre("recorded", "netem"));
}

TEST_F(BackendRouterTest, ConflictingChoicesLeaveThePodOnTheNodesBackend) {
  const ApplyOutcome outcome =
      apply({band("a", BackendChoice::Userspace), band("b", BackendChoice::Kernel), band("c")});
  ASSERT_EQ(outcome.bands.size(), 3U);
  EXPECT_THAT(kernel_->calls.back().profiles, testing::ElementsAre("b", "c"));
  const BandOutcome& refused = outcome.bands.back();
  EXPECT_EQ(refused.profile, "a");
  EXPECT_FALSE(refused.applied);
  EXPECT_EQ(refused.reason, "BackendConflict");
  EXPECT_THAT(refused.message, testing::HasSubstr("profile a asks for the userspace backend"));
  EXPECT_EQ(made_, 0);
}

TEST_F(BackendRouterTest, ABackendThatCannotScheduleIsCalledAtTheDueTime) {
  EXPECT_TRUE(router_->schedules_changes());
  const Clock::time_point due = Clock::now() + std::chrono::milliseconds(60);
  apply({band("flexe")}, due);
  EXPECT_GE(kernel_->calls.back().at, due);
  apply({band("flexe", BackendChoice::Userspace)}, Clock::now() + std::chrono::seconds(60));
  EXPECT_LT(userspace_->calls.back().at, Clock::now() + std::chrono::seconds(1)) << "handed over ahead";
}

}  // namespace
}  // namespace riasc::netem
