// The shaping plan without a kernel: TrafficProfiles as the API server stores them (the
// examples, checked and defaulted against the CRD) → bands, against golden plans.

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "riasc/core/yaml_document.hpp"
#include "riasc/engine/protocol.hpp"
#include "riasc/kinds/builtin_crds.hpp"
#include "riasc/netem/kernel_backend.hpp"
#include "riasc/netem/plan.hpp"
#include "riasc/netem/traffic_profile.hpp"
#include "riasc/netem/userspace_backend.hpp"
#include "riasc/schema/crd.hpp"
#include "riasc/shaper/shaper.hpp"

namespace riasc::netem {
namespace {

using namespace std::chrono_literals;

// An object as the API server would store it: checked against the CRD, defaults applied.
Json stored(const std::string& yaml) {
  Json object = parse_yaml_stream(yaml).at(0).value;
  static const schema::CrdRegistry registry = kinds::builtin_registry();
  const auto* crd = registry.find(object.value("apiVersion", ""), object.value("kind", ""));
  EXPECT_NE(crd, nullptr);
  schema::ObjectCheck check = schema::check_custom_object(*crd, object);
  EXPECT_TRUE(check.errors.empty()) << (check.errors.empty() ? "" : check.errors[0].to_string());
  return check.object;
}

Json example(const std::string& name) {
  std::ifstream file(std::string(RIASC_SOURCE_DIR) + "/examples/" + name);
  std::stringstream text;
  text << file.rdbuf();
  return stored(text.str());
}

TrafficProfile profile_of(const Json& object) {
  ParsedTrafficProfile parsed = parse_traffic_profile(object);
  EXPECT_TRUE(parsed.errors.empty()) << (parsed.errors.empty() ? "" : parsed.errors[0].to_string());
  return parsed.profile;
}

PodInfo pod(std::string ns, std::string name, Json labels, std::vector<std::string> ips,
            std::vector<ContainerPort> ports = {}) {
  PodInfo info;
  info.namespace_name = std::move(ns);
  info.name = std::move(name);
  info.node = "node-a";
  info.labels = std::move(labels);
  for (const std::string& ip : ips) info.ips.push_back(*net::IpAddress::parse(ip));
  info.ports = std::move(ports);
  return info;
}

TEST(NetemProfileTest, TheSlidesProfileReadsInKernelUnits) {
  TrafficProfile profile = profile_of(example("trafficprofile-delay-jitter.yaml"));
  EXPECT_EQ(profile.netem.latency_ns, 200'000'000u);
  EXPECT_EQ(profile.netem.jitter_ns, 50'000'000u);
  EXPECT_EQ(profile.netem.distribution, net::NetemOptions::Distribution::Normal);
  EXPECT_DOUBLE_EQ(profile.netem.loss, 1.0);
  EXPECT_EQ(profile.netem.limit, 1000u);  // 0 keeps the kernel default
  ASSERT_EQ(profile.egress.size(), 2u);
  EXPECT_TRUE(profile.ingress.empty());
}

TEST(NetemProfileTest, TheBuiltinExampleKeepsEveryParameter) {
  TrafficProfile profile = profile_of(example("trafficprofile-builtin.yaml"));
  const net::NetemOptions& o = profile.netem;
  EXPECT_EQ(o.latency_ns, 200'000'000u);
  EXPECT_EQ(o.jitter_ns, 20'000'000u);
  EXPECT_DOUBLE_EQ(o.delay_correlation, 0.25);
  EXPECT_DOUBLE_EQ(o.loss, 0.2);
  EXPECT_DOUBLE_EQ(o.loss_correlation, 0.25);
  EXPECT_DOUBLE_EQ(o.duplicate, 0.01);
  EXPECT_DOUBLE_EQ(o.reorder, 0.05);
  EXPECT_EQ(o.gap, 1u);  // random reordering, as tc sends it
  EXPECT_DOUBLE_EQ(o.reorder_correlation, 0.5);
  EXPECT_DOUBLE_EQ(o.corrupt, 0.001);
  EXPECT_EQ(o.rate_bytes_per_second, 1'250'000u);  // 10mbit
  EXPECT_EQ(o.limit, 5000u);
  ASSERT_EQ(profile.egress.size(), 4u);
  EXPECT_EQ(profile.egress[0].ether_types, (std::vector<std::uint16_t>{0x0800, 0x0806, 0x86dd, 0x88b8}));
  EXPECT_EQ(profile.egress[1].inet_protos, (std::vector<std::uint8_t>{1, 58}));
  ASSERT_EQ(profile.ingress.size(), 1u);
}

TEST(NetemProfileTest, ErrorsNameTheFieldAndWhatIsAllowed) {
  Json object = example("trafficprofile-delay-jitter.yaml");
  object["spec"]["parameters"]["netem"]["delay"] = "2h";  // matches the pattern, too long for netem
  object["spec"]["parameters"]["netem"]["rate"] = "fast";
  object["spec"]["egress"][1]["to"][0]["ipBlock"]["except"] = Json::array({"10.0.0.0/8"});
  ParsedTrafficProfile parsed = parse_traffic_profile(object);
  ASSERT_EQ(parsed.errors.size(), 3u);
  EXPECT_EQ(parsed.errors[0].path.to_string(), "spec.parameters.netem.delay");
  EXPECT_NE(parsed.errors[0].detail.find("0 to 4294.967295"), std::string::npos);
  EXPECT_EQ(parsed.errors[1].path.to_string(), "spec.parameters.netem.rate");
  EXPECT_EQ(parsed.errors[2].path.to_string(), "spec.egress[1].to[0].ipBlock.except[0]");
  EXPECT_NE(parsed.errors[2].detail.find("inside cidr 192.168.0.44/32"), std::string::npos);
}

TEST(NetemProfileTest, UnitsOfRatesProtocolsAndEtherTypes) {
  EXPECT_EQ(parse_rate_bytes_per_second(Json(1000)), 125000u);  // kbit/s
  EXPECT_EQ(parse_rate_bytes_per_second(Json("1.5gbit")), 187'500'000u);
  EXPECT_EQ(parse_rate_bytes_per_second(Json("100kbps")), 100'000u);  // bytes, as tc
  EXPECT_EQ(parse_rate_bytes_per_second(Json("10 mbit")), std::nullopt);
  EXPECT_EQ(parse_rate_bytes_per_second(Json("mbit")), std::nullopt);
  EXPECT_EQ(parse_inet_proto(Json("ipv6-icmp")), 58);
  EXPECT_EQ(parse_inet_proto(Json("0x11")), 17);
  EXPECT_EQ(parse_inet_proto(Json(256)), std::nullopt);
  EXPECT_EQ(parse_inet_proto(Json("smtp")), std::nullopt);
  EXPECT_EQ(parse_ether_type(Json("0x88B8")), 0x88b8);
  EXPECT_EQ(parse_ether_type(Json("8021ad")), 0x88a8);
  EXPECT_EQ(parse_ether_type(Json(70000)), std::nullopt);
}

TEST(NetemProfileTest, NoRulesMeansAllEgressOnlyIngressMeansNoEgress) {
  Json object = example("trafficprofile-delay-jitter.yaml");
  object["spec"].erase("egress");
  TrafficProfile all = profile_of(object);
  ASSERT_EQ(all.egress.size(), 1u);
  EXPECT_FALSE(all.egress[0].peers);
  object["spec"]["ingress"] = Json::array({Json::object()});
  TrafficProfile ingress_only = profile_of(object);
  EXPECT_TRUE(ingress_only.egress.empty());
  EXPECT_EQ(ingress_only.ingress.size(), 1u);
}

TEST(NetemAddressRangesTest, MergesSplitsAndKeepsFamiliesApart) {
  AddressRanges ranges;
  ranges.add(*net::IpPrefix::parse("10.0.0.0/8"));
  ranges.remove(*net::IpPrefix::parse("10.42.0.0/16"));
  ranges.add(*net::IpAddress::parse("10.42.0.7"));
  ranges.add(*net::IpAddress::parse("10.42.0.8"));
  ranges.add(*net::IpPrefix::parse("fd00::/64"));
  ranges.remove(*net::IpPrefix::parse("fd00::/128"));
  ranges.remove(*net::IpPrefix::parse("192.168.0.0/16"));  // outside: nothing happens
  ASSERT_EQ(ranges.ranges().size(), 4u);
  EXPECT_EQ(ranges.ranges()[0].last.to_string(), "10.41.255.255");
  EXPECT_EQ(ranges.ranges()[1].first.to_string(), "10.42.0.7");
  EXPECT_EQ(ranges.ranges()[1].last.to_string(), "10.42.0.8");
  EXPECT_EQ(ranges.ranges()[2].first.to_string(), "10.43.0.0");
  EXPECT_EQ(ranges.ranges()[3].first.to_string(), "fd00::1");
  EXPECT_EQ(ranges.ranges()[3].last.to_string(), "fd00::ffff:ffff:ffff:ffff");
  EXPECT_TRUE(ranges.contains(*net::IpAddress::parse("10.42.0.8")));
  EXPECT_FALSE(ranges.contains(*net::IpAddress::parse("10.42.0.9")));
  AddressRanges everything;
  everything.add(*net::IpPrefix::parse("0.0.0.0/0"));
  everything.remove(*net::IpPrefix::parse("0.0.0.0/32"));
  everything.remove(*net::IpPrefix::parse("255.255.255.255/32"));
  ASSERT_EQ(everything.ranges().size(), 1u);
  EXPECT_EQ(everything.ranges()[0].first.to_string(), "0.0.0.1");
  EXPECT_EQ(everything.ranges()[0].last.to_string(), "255.255.255.254");
}

TEST(NetemPlanTest, TheSlidesProfileShapesExactlyItsPeers) {
  TrafficProfile profile = profile_of(example("trafficprofile-delay-jitter.yaml"));
  ClusterView cluster;
  cluster.pods.push_back(pod("lab", "ctrl", {{"application", "py_ctrl"}}, {"10.42.0.5"}));
  cluster.pods.push_back(pod("lab", "sim-1", {{"component", "example"}}, {"10.42.0.8", "fd00::8"}));
  cluster.pods.push_back(pod("other", "sim-2", {{"component", "example"}}, {"10.42.0.7"}));
  cluster.pods.push_back(pod("lab", "db", {{"component", "database"}}, {"10.42.0.9"}));
  PodInfo gone = pod("lab", "old", {{"component", "example"}}, {"10.42.0.10"});
  gone.running = false;
  cluster.pods.push_back(gone);
  const Json golden = Json::parse(R"([
    {"profile": "profile-delay-jitter", "direction": "egress",
     "netem": {"latency_ns": 200000000, "jitter_ns": 50000000, "distribution": "normal",
               "loss": 1.0, "limit": 1000},
     "rules": [
       {"peers": ["1.1.1.1", "10.42.0.7-10.42.0.8", "fd00::8"]},
       {"peers": ["192.168.0.44"], "ports": ["17/12000"]}]}])");
  EXPECT_EQ(to_json(plan_pod(cluster.pods[0], {&profile}, cluster)), golden)
      << to_json(plan_pod(cluster.pods[0], {&profile}, cluster)).dump(2);
  EXPECT_TRUE(plan_pod(cluster.pods[1], {&profile}, cluster).empty());
}

TEST(NetemPlanTest, TheBuiltinExampleResolvesEveryClause) {
  TrafficProfile profile = profile_of(example("trafficprofile-builtin.yaml"));
  ClusterView cluster;
  cluster.pods.push_back(pod("lab", "shaped", {{"traffic-profile", "builtin"}}, {"10.42.0.5"}));
  cluster.pods.push_back(pod("sim-hes-off", "db", {{"app", "database"}}, {"10.42.1.3"}));
  cluster.pods.push_back(pod("lab", "db", {{"app", "database"}}, {"10.42.1.4"}));  // other namespace
  cluster.namespaces.push_back({"sim-hes-off", Json::object()});
  const Json plan = to_json(plan_pod(cluster.pods[0], {&profile}, cluster));
  ASSERT_EQ(plan.size(), 2u) << plan.dump(2);
  const Json& egress = plan[0]["rules"];
  EXPECT_EQ(egress[0], Json::parse(R"({"etherTypes": ["0x0800", "0x0806", "0x86dd", "0x88b8"]})"));
  EXPECT_EQ(egress[1], Json::parse(R"({"inetProtos": [1, 58]})"));
  EXPECT_EQ(egress[2], Json::parse(R"({"peers": ["1.1.1.1"], "ports": ["6/443", "17/53"]})"));
  EXPECT_EQ(egress[3], Json::parse(R"({"peers": ["10.42.1.3"]})"));
  EXPECT_EQ(plan[1]["direction"], "ingress");
  EXPECT_EQ(
      plan[1]["rules"][0],
      Json::parse(
          R"({"peers": ["10.0.0.0-10.41.255.255", "10.43.0.0-10.255.255.255"], "ports": ["17/5000"]})"));
}

TEST(NetemPlanTest, ProfilesComposeInNameOrderEachWithItsOwnBand) {
  TrafficProfile b = profile_of(example("trafficprofile-delay-jitter.yaml"));
  TrafficProfile a = b;
  a.name = "a-first";
  a.netem.latency_ns = 10'000'000;
  ClusterView cluster;
  cluster.pods.push_back(pod("lab", "ctrl", {{"application", "py_ctrl"}}, {"10.42.0.5"}));
  std::vector<Band> bands = plan_pod(cluster.pods[0], {&b, &a}, cluster);
  ASSERT_EQ(bands.size(), 2u);
  EXPECT_EQ(bands[0].profile, "a-first");
  EXPECT_EQ(bands[0].options.latency_ns, 10'000'000u);
  EXPECT_EQ(bands[1].profile, "profile-delay-jitter");
  EXPECT_EQ(bands[1].options.latency_ns, 200'000'000u);
}

TEST(NetemPlanTest, NamedPortsResolveAgainstTheReceivingPods) {
  Json object = example("trafficprofile-delay-jitter.yaml");
  object["spec"]["egress"] =
      Json::parse(R"([{"to": [{"podSelector": {"matchLabels": {"component": "example"}}}],
                                               "ports": [{"port": "http"}]}])");
  object["spec"]["ingress"] = Json::parse(R"([{"ports": [{"port": "metrics", "protocol": "UDP"}]}])");
  TrafficProfile profile = profile_of(object);
  ClusterView cluster;
  cluster.pods.push_back(
      pod("lab", "ctrl", {{"application", "py_ctrl"}}, {"10.42.0.5"}, {{"metrics", 17, 9100}}));
  cluster.pods.push_back(pod("lab", "sim", {{"component", "example"}}, {"10.42.0.8"}, {{"http", 6, 8080}}));
  cluster.pods.push_back(pod("lab", "web", {{"component", "web"}}, {"10.42.0.9"}, {{"http", 6, 80}}));
  std::vector<Band> bands = plan_pod(cluster.pods[0], {&profile}, cluster);
  ASSERT_EQ(bands.size(), 2u);
  EXPECT_EQ(bands[0].classifiers[0].ports, (std::vector<PortRange>{{6, 8080, 8080}}));
  EXPECT_EQ(bands[1].classifiers[0].ports, (std::vector<PortRange>{{17, 9100, 9100}}));
  cluster.pods[1].ports.clear();
  bands = plan_pod(cluster.pods[0], {&profile}, cluster);
  EXPECT_TRUE(bands[0].classifiers[0].matches_nothing);
}

TEST(NetemFlexeTest, ParametersAccumulateAndTheSequenceRepeats) {
  TrafficProfile profile = profile_of(example("trafficprofile-flexe.yaml"));
  ASSERT_EQ(profile.type, TrafficProfile::Type::Flexe);
  const FlexeSequence& flexe = profile.flexe;
  ASSERT_EQ(flexe.steps.size(), 5u);
  EXPECT_TRUE(flexe.repeat);
  EXPECT_EQ(flexe.steps[2].name, "gprs");
  EXPECT_EQ(flexe.steps[2].duration, 30s);  // inherited from 3g
  EXPECT_EQ(flexe.steps[2].start, 60s);
  EXPECT_EQ(flexe.steps[2].egress.latency_ns, 350'000'000u);
  EXPECT_EQ(flexe.steps[2].egress.jitter_ns, 100'000'000u);
  EXPECT_DOUBLE_EQ(flexe.steps[2].egress.loss, 0.005);
  EXPECT_EQ(flexe.steps[3].egress.rate_bytes_per_second, 625'000u);     // bandwidthUp 5000 kbit/s
  EXPECT_EQ(flexe.steps[3].ingress.rate_bytes_per_second, 1'875'000u);  // bandwidthDown 15000
  EXPECT_EQ(flexe.period(), 150s);
  EXPECT_EQ(flexe.at(0s).step, 0u);
  EXPECT_EQ(flexe.at(31s).step, 1u);
  EXPECT_EQ(flexe.at(31s).next_switch, 60s);
  EXPECT_EQ(flexe.at(151s).step, 0u);
  EXPECT_EQ(flexe.at(151s).next_switch, 180s);
}

TEST(NetemFlexeTest, WithoutRepeatTheLastStepLastsForever) {
  Json object = example("trafficprofile-flexe.yaml");
  object["spec"]["parameters"]["segments"][0]["repeat"] = false;
  // A first profile without a run time merges into the next one.
  object["spec"]["parameters"]["profiles"][0]["parameters"]["runTime"] = 0;
  TrafficProfile profile = profile_of(object);
  const FlexeSequence& flexe = profile.flexe;
  ASSERT_EQ(flexe.steps.size(), 4u);
  EXPECT_EQ(flexe.steps[0].name, "3g");
  EXPECT_EQ(flexe.period(), 0s);
  EXPECT_EQ(flexe.at(89s).step, 2u);
  EXPECT_EQ(flexe.at(89s).next_switch, 90s);
  EXPECT_EQ(flexe.at(1h).step, 3u);
  EXPECT_EQ(flexe.at(1h).next_switch, std::nullopt);
}

// ---- trace-driven delay and bandwidth (parameters.netem.trace) ----

constexpr std::int64_t kMs = 1'000'000;
constexpr std::int64_t kS = 1'000'000'000;

// The example with its trace replaced by `trace` (YAML flow), as the API server would store it.
Json with_trace(const std::string& trace) {
  Json object = example("trafficprofile-trace.yaml");
  object["spec"]["parameters"]["netem"]["trace"] = parse_yaml_stream(trace).at(0).value;
  return object;
}

// "path: Invalid value: ...: detail" of each error.
std::vector<std::string> errors_of(const Json& object) {
  std::vector<std::string> out;
  for (const FieldError& error : parse_traffic_profile(object).errors) out.push_back(error.to_string());
  return out;
}

TEST(NetemTraceTest, TheExampleReadsIntoNanosecondsAndBytesPerSecond) {
  TrafficProfile profile = profile_of(example("trafficprofile-trace.yaml"));
  ASSERT_TRUE(profile.trace);
  const shaper::TraceReplay& trace = *profile.trace;
  ASSERT_EQ(trace.delay.size(), 8u);
  EXPECT_EQ(trace.delay[0], (shaper::TracePoint{0, 35 * kMs}));
  EXPECT_EQ(trace.delay[3], (shaper::TracePoint{25 * kS, 120 * kMs}));
  EXPECT_EQ(trace.delay[7], (shaper::TracePoint{52 * kS, 60 * kMs}));
  ASSERT_EQ(trace.rate.size(), 8u);
  EXPECT_EQ(trace.rate[0], (shaper::TracePoint{0, 2'250'000}));      // 18mbit
  EXPECT_EQ(trace.rate[2], (shaper::TracePoint{18 * kS, 437'500}));  // 3.5mbit
  EXPECT_EQ(trace.rate[3], (shaper::TracePoint{25 * kS, 0}));        // down
  EXPECT_EQ(trace.period, 60 * kS);
  // The series replace delay and rate; jitter and the rest stay.
  EXPECT_EQ(profile.netem.latency_ns, 0u);
  EXPECT_EQ(profile.netem.rate_bytes_per_second, 0u);
  EXPECT_EQ(profile.netem.jitter_ns, 4'000'000u);
  EXPECT_EQ(profile.netem.limit, 4000u);

  // What the engine gets for the example's band, through the agent-engine protocol, is what was
  // read, and the shaper accepts it.
  ClusterView cluster;
  cluster.pods.push_back(pod("lab", "rtu", {{"link", "cellular"}}, {"10.42.0.5"}));
  const std::vector<Band> bands = plan_pod(cluster.pods[0], {&profile}, cluster);
  ASSERT_EQ(bands.size(), 1u);
  const shaper::ShaperOptions options =
      engine::shaper_options_from_json(Json::parse(engine::to_json(shaper_options(bands[0], 0)).dump()));
  EXPECT_EQ(options.netem, profile.netem);
  EXPECT_EQ(options.trace, profile.trace);
  EXPECT_NO_THROW(shaper::Shaper(options, shaper::Tables{.jitter = {0}}, 1));
}

TEST(NetemTraceTest, TheSeriesStartAtTheProfilesCreationOnTheEnginesClock) {
  Json object = with_trace("{delay: [{at: 0, value: 20ms}]}");
  EXPECT_FALSE(profile_of(object).trace->origin) << "no creationTimestamp: the engine's own start";
  object["metadata"]["creationTimestamp"] = "2026-12-05T10:00:00Z";
  const TrafficProfile profile = profile_of(object);
  ASSERT_TRUE(profile.trace->origin);
  EXPECT_EQ(*profile.trace->origin, 1'796'464'800'000'000'000);  // date -d 2026-12-05T10:00:00Z +%s
  ClusterView cluster;
  cluster.pods.push_back(pod("lab", "rtu", {{"link", "cellular"}}, {"10.42.0.5"}));
  const std::vector<Band> bands = plan_pod(cluster.pods[0], {&profile}, cluster);
  ASSERT_EQ(bands.size(), 1u);
  // Moved to CLOCK_MONOTONIC: realtime − (realtime − monotonic).
  EXPECT_EQ(shaper_options(bands[0], 1'796'000'000'000'000'000).trace->origin, 464'800'000'000'000);
}

TEST(NetemTraceTest, NumbersAndDurationsMixAsForDelayAndRate) {
  TrafficProfile profile = profile_of(with_trace(R"({
      delay: [{at: 0, value: 0.02}, {at: 1.5, value: "1m"}, {at: "1m30s", value: "250us"}],
      rate: [{at: "0ms", value: 1000}, {at: "100ms", value: "100kbps"}, {at: 0.2, value: "1gbit"}]})"));
  ASSERT_TRUE(profile.trace);
  EXPECT_EQ(profile.trace->delay,
            (std::vector<shaper::TracePoint>{{0, 20 * kMs}, {1'500 * kMs, 60 * kS}, {90 * kS, 250'000}}));
  EXPECT_EQ(profile.trace->rate,
            (std::vector<shaper::TracePoint>{{0, 125'000}, {100 * kMs, 100'000}, {200 * kMs, 125'000'000}}));
  EXPECT_EQ(profile.trace->period, 0);  // the schema's default: the last points hold

  // One series alone; the other constant stays in force.
  Json object = with_trace("{rate: [{at: 0, value: 10mbit}]}");
  object["spec"]["parameters"]["netem"]["delay"] = "30ms";
  TrafficProfile rate_only = profile_of(object);
  EXPECT_TRUE(rate_only.trace->delay.empty());
  EXPECT_EQ(rate_only.netem.latency_ns, 30'000'000u);
  EXPECT_EQ(rate_only.netem.rate_bytes_per_second, 0u);
}

TEST(NetemTraceTest, ASeriesReplacesItsConstantAndKeepsWhatDependsOnIt) {
  Json object = with_trace("{delay: [{at: 0, value: 10ms}, {at: 1, value: 0}]}");
  Json& netem = object["spec"]["parameters"]["netem"];
  netem["delay"] = "100ms";  // replaced by the series: equal behaviour compares equal
  netem["reorder_ratio"] = 0.1;
  TrafficProfile profile = profile_of(object);
  EXPECT_EQ(profile.netem.latency_ns, 0u);
  EXPECT_DOUBLE_EQ(profile.netem.reorder, 0.1);  // the series has a delay to reorder against
  EXPECT_EQ(profile.netem.gap, 1u);
  // A delay series that is 0 throughout has none (netem refuses reordering without a delay).
  netem["trace"]["delay"] = Json::parse(R"([{"at": 0, "value": 0}])");
  EXPECT_DOUBLE_EQ(profile_of(object).netem.reorder, 0.0);

  // A rate series keeps the overheads that a missing rate drops.
  netem["trace"] = Json::parse(R"({"rate": [{"at": 0, "value": "1mbit"}], "period": 0})");
  netem["rate"] = "5mbit";
  netem["rate_packetoverhead"] = 24;
  netem["rate_cellsize"] = 48;
  netem["rate_celloverhead"] = 5;
  profile = profile_of(object);
  EXPECT_EQ(profile.netem.rate_bytes_per_second, 0u);
  EXPECT_EQ(profile.netem.packet_overhead, 24);
  EXPECT_EQ(profile.netem.cell_size, 48u);
  EXPECT_EQ(profile.netem.cell_overhead, 5);
}

TEST(NetemTraceTest, EveryBrokenTraceNamesTheFieldAndWhatIsAllowed) {
  const std::string at = "spec.parameters.netem.trace";
  const std::vector<std::pair<std::string, std::string>> cases{
      {"{delay: [{at: 1s, value: 10ms}]}",
       at + ".delay[0].at: Invalid value: \"1s\": must be 0: a series starts where the trace starts"},
      {"{rate: [{at: 0, value: 1mbit}, {at: 2s, value: 2mbit}, {at: 2000ms, value: 3mbit}]}",
       at + ".rate[2].at: Invalid value: \"2000ms\": must be later than the previous point's at (\"2s\"): "
            "points are in increasing order of at"},
      {"{delay: [{at: 0, value: 10ms}, {at: 5, value: 20ms}], rate: [{at: 0, value: 1mbit}, {at: 8s, value: "
       "2mbit}], period: 8s}",
       at + ".period: Invalid value: \"8s\": must be 0 (the last points hold) or greater than the last at of "
            "trace.rate (\"8s\")"},
      {"{rate: [{at: 0, value: 0}, {at: 1, value: 0}], period: 2}",
       at +
           ".rate: Invalid value: [{\"at\":0,\"value\":0},{\"at\":1,\"value\":0}]: is 0 throughout: the link "
           "would never be up"},
      {"{rate: [{at: 0, value: 1mbit}, {at: 1, value: 0}]}",
       at + ".rate[1].value: Invalid value: 0: ends the series with the link down, and without a period it "
            "would never come up again: end with a rate > 0 or set a period"},
      {"{delay: [{at: 0, value: 1h}]}",
       at + ".delay[0].value: Invalid value: \"1h\": must be seconds from 0 to below 3600 (one hour), as a "
            "number or a duration such as \"20ms\""},
      {"{delay: [{at: 0, value: 10ms}, {at: 200h, value: 20ms}]}",
       at + ".delay[1].at: Invalid value: \"200h\": must be seconds from 0 to 604800 (one week), as a number "
            "or a duration such as \"1.5s\""},
      {"{delay: [{at: 0, value: 10ms}], period: 169h}",
       at + ".period: Invalid value: \"169h\": must be seconds from 0 to 604800 (one week), as a number or a "
            "duration such as \"60s\"; 0 does not repeat"},
      {"{rate: [{at: 0, value: fast}]}",
       at +
           ".rate[0].value: Invalid value: \"fast\": must be kbit/s as a number or a rate such as \"10mbit\" "
           "(bit, kbit, mbit, gbit, tbit, bps, kbps, mbps, gbps, tbps); 0 is a link that is down"},
      {"{delay: [{at: 0}]}", at + ".delay[0]: Invalid value: {\"at\":0}: must be a point {at, value}"},
      {"{delay: 10ms}", at + ".delay: Invalid value: \"10ms\": must be a list of points {at, value}"},
      {"{period: 60s}", at + ".delay: Required value: a trace needs a delay or a rate series (or both)"},
      {"10ms",
       at + ": Invalid value: \"10ms\": must be an object with a delay or a rate series, and a period"},
  };
  for (const auto& [trace, message] : cases) {
    EXPECT_EQ(errors_of(with_trace(trace)), std::vector<std::string>{message}) << trace;
    EXPECT_FALSE(parse_traffic_profile(with_trace(trace)).profile.trace) << trace;
  }
  // Accepted at the edges: a link down at the end of a repeating series, a period just past the
  // last point, a delay just under an hour.
  EXPECT_EQ(errors_of(with_trace("{delay: [{at: 0, value: 3599.999}], rate: [{at: 0, value: 1}, "
                                 "{at: 1, value: 0}], period: 1.000000001}")),
            std::vector<std::string>{});
}

TEST(NetemTraceTest, TheSchemaRefusesAnEmptyTraceAndAnHourOfDelay) {
  static const schema::CrdRegistry registry = kinds::builtin_registry();
  Json object = parse_yaml_stream(R"(
apiVersion: k8s-netem.riasc.eu/v1
kind: TrafficProfile
metadata: {name: t}
spec:
  podSelector: {}
  parameters: {netem: {trace: {delay: [{at: 0, value: 3600}]}}}
)")
                    .at(0)
                    .value;
  const auto* crd = registry.find("k8s-netem.riasc.eu/v1", "TrafficProfile");
  ASSERT_NE(crd, nullptr);
  EXPECT_FALSE(schema::check_custom_object(*crd, object).errors.empty());  // < 3600 s
  object["spec"]["parameters"]["netem"]["trace"] = Json::object();
  EXPECT_FALSE(schema::check_custom_object(*crd, object).errors.empty());  // a delay or a rate series
  object["spec"]["parameters"]["netem"]["trace"] = Json::parse(R"({"rate": []})");
  EXPECT_FALSE(schema::check_custom_object(*crd, object).errors.empty());  // at least one point
  object["spec"]["parameters"]["netem"]["trace"] = Json::parse(R"({"rate": [{"at": 0}]})");
  EXPECT_FALSE(schema::check_custom_object(*crd, object).errors.empty());  // value is required
  object["spec"]["parameters"]["netem"]["trace"] = Json::parse(R"({"rate": [{"at": 0, "value": 1}]})");
  const schema::ObjectCheck check = schema::check_custom_object(*crd, object);
  EXPECT_TRUE(check.errors.empty());
  EXPECT_EQ(check.object["spec"]["parameters"]["netem"]["trace"]["period"], 0);  // defaulted
}

TEST(NetemTraceTest, ThePlanCarriesTheTraceToEveryBandOfTheProfile) {
  Json object = example("trafficprofile-trace.yaml");
  object["spec"]["ingress"] = Json::parse(R"([{}])");
  TrafficProfile profile = profile_of(object);
  ClusterView cluster;
  cluster.pods.push_back(pod("lab", "rtu", {{"link", "cellular"}}, {"10.42.0.5"}));
  const std::vector<Band> bands = plan_pod(cluster.pods[0], {&profile}, cluster);
  ASSERT_EQ(bands.size(), 2u);
  EXPECT_EQ(bands[0].trace, profile.trace);
  EXPECT_EQ(bands[1].trace, profile.trace);
  const Json golden = Json::parse(R"({
      "jitter_ns": 4000000, "distribution": "normal", "loss": 0.002, "limit": 4000,
      "trace": {
        "delay_ns": [[0, 35000000], [12000000000, 48000000], [18000000000, 70000000],
                     [25000000000, 120000000], [27000000000, 55000000], [35000000000, 40000000],
                     [45000000000, 85000000], [52000000000, 60000000]],
        "rate_bytes_per_second": [[0, 2250000], [12000000000, 1125000], [18000000000, 437500],
                                  [25000000000, 0], [27000000000, 750000], [35000000000, 1750000],
                                  [45000000000, 250000], [52000000000, 875000]],
        "period_ns": 60000000000}})");
  const Json plan = to_json(bands);
  EXPECT_EQ(plan[0]["netem"], golden) << plan[0]["netem"].dump(2);
  EXPECT_EQ(plan[1]["netem"], golden);

  // A band's trace is one of its parameters: a changed point is a changed band, and reaches the
  // engine's options.
  TrafficProfile edited = profile;
  edited.trace->rate[3].value = 125'000;
  const std::vector<Band> after = plan_pod(cluster.pods[0], {&edited}, cluster);
  EXPECT_NE(after, bands);
  EXPECT_EQ(after[0].options, bands[0].options);
  const shaper::ShaperOptions options = shaper_options(after[0], 0);
  EXPECT_EQ(options.netem, after[0].options);
  EXPECT_EQ(options.trace, edited.trace);
  EXPECT_NE(shaper_options(bands[0], 0), options);

  // Without a trace nothing changes: no trace in the band, none in the golden form, none for the
  // engine.
  TrafficProfile plain = profile_of(example("trafficprofile-delay-jitter.yaml"));
  cluster.pods[0].labels = {{"application", "py_ctrl"}};
  const std::vector<Band> plain_bands = plan_pod(cluster.pods[0], {&plain}, cluster);
  ASSERT_EQ(plain_bands.size(), 1u);
  EXPECT_FALSE(plain_bands[0].trace);
  EXPECT_FALSE(to_json(plain_bands)[0]["netem"].contains("trace"));
  EXPECT_FALSE(shaper_options(plain_bands[0], 0).trace);
}

TEST(NetemTraceTest, FlexeProfilesHaveNoTrace) {
  // parameters.netem is Builtin's: a Flexe profile ignores it, trace included.
  Json object = example("trafficprofile-flexe.yaml");
  object["spec"]["parameters"]["netem"] = Json::parse(R"({"trace": {"delay": [{"at": 0, "value": 0.01}]}})");
  TrafficProfile profile = profile_of(object);
  EXPECT_FALSE(profile.trace);
  profile.trace = shaper::TraceReplay{.delay = {{0, 10 * kMs}}};  // and the plan would not carry one
  profile.pod_selector = LabelSelector::everything();
  ClusterView cluster;
  cluster.pods.push_back(pod("lab", "x", Json::object(), {"10.42.0.5"}));
  const std::vector<Band> bands = plan_pod(cluster.pods[0], {&profile}, cluster);
  ASSERT_FALSE(bands.empty());
  for (const Band& band : bands) EXPECT_FALSE(band.trace) << to_string(band.direction);
}

TEST(NetemTraceTest, TheKernelBackendRefusesABandWithATrace) {
  Band band;
  band.profile = "profile-lte-drive";
  band.direction = Direction::Ingress;
  EXPECT_EQ(KernelBackend::refusal(band), std::nullopt);
  band.trace = shaper::TraceReplay{.delay = {{0, 35 * kMs}}};
  const std::optional<BandOutcome> refused = KernelBackend::refusal(band);
  ASSERT_TRUE(refused);
  EXPECT_FALSE(refused->applied);
  EXPECT_EQ(refused->profile, "profile-lte-drive");
  EXPECT_EQ(refused->direction, Direction::Ingress);
  EXPECT_EQ(refused->reason, "NeedsUserspaceBackend");
  EXPECT_EQ(refused->message,
            "TrafficProfile profile-lte-drive replays a trace (parameters.netem.trace), which kernel netem "
            "cannot do, so its ingress traffic is not shaped on this node: run the node's agent with "
            "--backend userspace, or with --backend auto on a kernel without sch_netem");
}

}  // namespace
}  // namespace riasc::netem
