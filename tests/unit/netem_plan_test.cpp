// The shaping plan without a kernel: TrafficProfiles as the API server stores them (the
// examples, checked and defaulted against the CRD) → bands, against golden plans.

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "riasc/core/yaml_document.hpp"
#include "riasc/kinds/builtin_crds.hpp"
#include "riasc/netem/plan.hpp"
#include "riasc/netem/traffic_profile.hpp"
#include "riasc/schema/crd.hpp"

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

}  // namespace
}  // namespace riasc::netem
