// The agent-engine protocol: every shaper option survives the trip, and descriptors arrive as
// working descriptors of the same files.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include "riasc/engine/protocol.hpp"

namespace riasc::engine {
namespace {

shaper::ShaperOptions every_option_set() {
  shaper::ShaperOptions options;
  net::NetemOptions& n = options.netem;
  n.latency_ns = 50'000'000;
  n.jitter_ns = 5'000'000;
  n.delay_correlation = 0.25;
  n.distribution = net::NetemOptions::Distribution::Pareto;
  n.loss = 0.1;
  n.loss_correlation = 0.3;
  n.duplicate = 0.01;
  n.duplicate_correlation = 0.02;
  n.reorder = 0.05;
  n.reorder_correlation = 0.06;
  n.gap = 5;
  n.corrupt = 0.001;
  n.corrupt_correlation = 0.002;
  n.limit = 77;
  n.rate_bytes_per_second = 1'250'000;
  n.packet_overhead = -4;
  n.cell_size = 53;
  n.cell_overhead = 5;
  n.slot_min_ns = 1000;
  n.slot_max_ns = 2000;
  n.slot_delay_ns = 3000;
  n.slot_jitter_ns = 4000;
  n.slot_distribution = net::NetemOptions::Distribution::ParetoNormal;
  n.slot_max_packets = 9;
  n.slot_max_bytes = 9000;
  n.ecn = true;
  options.limit_bytes = 123456;
  options.gemodel = shaper::GilbertElliott{0.01, 0.3, 0.2, 0.99};
  options.trace = shaper::TraceReplay{
      .delay = {{0, 35'000'000}, {12'000'000'000, 48'000'000}, {604'800'000'000'000, 3'599'999'999'999}},
      .rate = {{0, 2'250'000}, {25'000'000'000, 0}, {27'000'000'000, 9'223'372'036'854'775'807}},
      .period = 604'800'000'000'001};
  return options;
}

TEST(EngineProtocolTest, OptionsSurviveTheTrip) {
  const shaper::ShaperOptions options = every_option_set();
  EXPECT_EQ(shaper_options_from_json(Json::parse(to_json(options).dump())), options);
  shaper::ShaperOptions four_state;
  four_state.four_state = shaper::FourStateLoss{0.1, 0.2, 0.3, 0.4, 0.5};
  EXPECT_EQ(shaper_options_from_json(to_json(four_state)), four_state);
  EXPECT_EQ(shaper_options_from_json(Json::object()), shaper::ShaperOptions{});
}

TEST(EngineProtocolTest, ATraceTravelsInNanosecondsAndBytesPerSecond) {
  shaper::ShaperOptions options;
  options.trace = shaper::TraceReplay{.delay = {{0, 20'000'000}, {1'500'000'000, 5'000'000}},
                                      .rate = {{0, 1'250'000}, {10'000'000'000, 0}},
                                      .period = 60'000'000'000};
  const Json json = to_json(options);
  EXPECT_EQ(json["trace"], Json::parse(R"({"delay_ns": [[0, 20000000], [1500000000, 5000000]],
                                           "rate_bytes_per_second": [[0, 1250000], [10000000000, 0]],
                                           "period_ns": 60000000000})"));
  EXPECT_EQ(shaper_options_from_json(Json::parse(json.dump())), options);
  // One series alone, the other empty; no trace at all stays none (not an empty one).
  options.trace->delay.clear();
  options.trace->period = 0;
  EXPECT_EQ(shaper_options_from_json(Json::parse(to_json(options).dump())), options);
  // An origin (may be before the engine's clock began: negative) travels as origin_ns.
  options.trace->origin = -3'000'000'000;
  EXPECT_EQ(to_json(options)["trace"]["origin_ns"], -3'000'000'000);
  EXPECT_EQ(shaper_options_from_json(Json::parse(to_json(options).dump())), options);
  options.trace->origin.reset();
  EXPECT_FALSE(to_json(shaper::ShaperOptions{}).contains("trace"));
  EXPECT_FALSE(shaper_options_from_json(to_json(shaper::ShaperOptions{})).trace);
  // The longest series the CRD allows (10000 points each) fits one message with room to spare.
  shaper::TraceReplay longest;
  for (std::int64_t i = 0; i < 10'000; ++i) {
    longest.delay.push_back({604'799'000'000'000 + i, 3'599'999'999'999});
    longest.rate.push_back({604'799'000'000'000 + i, 9'999'999'999'999});
  }
  options.trace = longest;
  EXPECT_LT(to_json(options).dump().size(), 800'000u);
}

TEST(EngineProtocolTest, BadOptionsNameTheField) {
  try {
    (void)shaper_options_from_json({{"latency_ns", "soon"}});
    FAIL() << "accepted a string delay";
  } catch (const std::invalid_argument& error) {
    EXPECT_STREQ(error.what(), "options.latency_ns: wrong type");
  }
  EXPECT_THROW((void)shaper_options_from_json({{"distribution", "lognormal"}}), std::invalid_argument);
  const auto message = [](const char* trace) {
    try {
      (void)shaper_options_from_json({{"trace", Json::parse(trace)}});
    } catch (const std::invalid_argument& error) {
      return std::string(error.what());
    }
    return std::string();
  };
  EXPECT_EQ(message("[1]"), "options.trace: wrong type");
  EXPECT_EQ(message(R"({"delay_ns": {"0": 1}})"), "options.trace.delay_ns: wrong type");
  EXPECT_EQ(message(R"({"rate_bytes_per_second": [[0, 1], [5, 2.5]]})"),
            "options.trace.rate_bytes_per_second[1]: must be [offset_ns, value]");
  EXPECT_EQ(message(R"({"delay_ns": [[0, 1, 2]]})"), "options.trace.delay_ns[0]: must be [offset_ns, value]");
  EXPECT_EQ(message(R"({"delay_ns": [[0, 1]], "period_ns": "1m"})"), "options.trace.period_ns: wrong type");
}

TEST(EngineProtocolTest, DescriptorsTravelWithTheMessage) {
  int pair[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair), 0);
  UniqueFd agent(pair[0]);
  UniqueFd engine(pair[1]);
  int pipe_fds[2];
  ASSERT_EQ(::pipe2(pipe_fds, O_CLOEXEC), 0);
  UniqueFd read_end(pipe_fds[0]);
  UniqueFd write_end(pipe_fds[1]);

  const int sent[] = {write_end.get(), read_end.get()};
  send_message(agent.get(), {{"op", "attach"}, {"id", "lab/ctrl|slides/egress"}}, sent);
  write_end.reset();  // only the passed copy remains open for writing
  std::optional<Message> got = receive_message(engine.get());
  ASSERT_TRUE(got);
  EXPECT_EQ(got->body["id"], "lab/ctrl|slides/egress");
  ASSERT_EQ(got->fds.size(), 2U);
  ASSERT_EQ(::write(got->fds[0].get(), "x", 1), 1);
  char byte = 0;
  ASSERT_EQ(::read(read_end.get(), &byte, 1), 1);
  EXPECT_EQ(byte, 'x');
  EXPECT_NE(::fcntl(got->fds[1].get(), F_GETFD) & FD_CLOEXEC, 0);  // not leaked into children

  send_message(agent.get(), {{"op", "stats"}});
  got = receive_message(engine.get());
  ASSERT_TRUE(got);
  EXPECT_TRUE(got->fds.empty());
  agent.reset();
  EXPECT_FALSE(receive_message(engine.get()));
}

TEST(EngineProtocolTest, AMessageThatIsNotAnObjectIsRefused) {
  int pair[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair), 0);
  UniqueFd agent(pair[0]);
  UniqueFd engine(pair[1]);
  ASSERT_EQ(::send(agent.get(), "[1,2]", 5, 0), 5);
  EXPECT_THROW((void)receive_message(engine.get()), std::invalid_argument);
}

}  // namespace
}  // namespace riasc::engine
