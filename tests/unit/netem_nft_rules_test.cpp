// The nftables text of the kernel backend, against golden output: what marks which packets,
// and which changes are element updates rather than a new table.

#include <gtest/gtest.h>

#include "riasc/netem/nft_rules.hpp"

namespace riasc::netem {
namespace {

AddressRanges ranges(std::initializer_list<const char*> prefixes) {
  AddressRanges out;
  for (const char* prefix : prefixes) out.add(*net::IpPrefix::parse(prefix));
  return out;
}

Band egress_band() {
  Band band;
  band.profile = "slides";
  band.classifiers.push_back({ranges({"1.1.1.1/32", "10.42.0.7/32"}), {}, {}, {}, false});
  band.classifiers.push_back({ranges({"192.168.0.44/32"}), {{17, 12000, 12000}}, {}, {}, false});
  return band;
}

TEST(NetemNftRulesTest, MarksEachRuleOnTheDeviceEgressHook) {
  Band band = egress_band();
  Band icmp;
  icmp.profile = "icmp-only";
  icmp.classifiers.push_back({std::nullopt, {}, {0x0800, 0x86dd}, {1, 58}, false});
  icmp.classifiers.push_back({std::nullopt, {{6, 1, 65535}}, {}, {}, true});  // nothing yet: no rule
  nft::DeviceRules device{"eth0", Direction::Egress, "", {{&band, 1, ""}, {&icmp, 2, ""}}, false};
  EXPECT_EQ(
      nft::replace_table({device}, 3),
      "add table netdev riasc\n"
      "delete table netdev riasc\n"
      "add table netdev riasc\n"
      "add chain netdev riasc egress_eth0 { type filter hook egress device \"eth0\" priority 0; policy "
      "accept; }\n"
      "add set netdev riasc egress_eth0_s1r0v4_g3 { type ipv4_addr; flags interval; }\n"
      "add element netdev riasc egress_eth0_s1r0v4_g3 { 1.1.1.1, 10.42.0.7 }\n"
      "add set netdev riasc egress_eth0_s1r0v6_g3 { type ipv6_addr; flags interval; }\n"
      "add rule netdev riasc egress_eth0 ip daddr @egress_eth0_s1r0v4_g3 meta mark set 0x52490001 accept "
      "comment \"slides/egress\"\n"
      "add rule netdev riasc egress_eth0 ip6 daddr @egress_eth0_s1r0v6_g3 meta mark set 0x52490001 accept "
      "comment \"slides/egress\"\n"
      "add set netdev riasc egress_eth0_s1r1p_g3 { type inet_proto . inet_service; flags interval; }\n"
      "add element netdev riasc egress_eth0_s1r1p_g3 { 17 . 12000 }\n"
      "add set netdev riasc egress_eth0_s1r1v4_g3 { type ipv4_addr; flags interval; }\n"
      "add element netdev riasc egress_eth0_s1r1v4_g3 { 192.168.0.44 }\n"
      "add set netdev riasc egress_eth0_s1r1v6_g3 { type ipv6_addr; flags interval; }\n"
      "add rule netdev riasc egress_eth0 ip daddr @egress_eth0_s1r1v4_g3 meta l4proto . th dport "
      "@egress_eth0_s1r1p_g3 meta mark set 0x52490001 accept comment \"slides/egress\"\n"
      "add rule netdev riasc egress_eth0 ip6 daddr @egress_eth0_s1r1v6_g3 meta l4proto . th dport "
      "@egress_eth0_s1r1p_g3 meta mark set 0x52490001 accept comment \"slides/egress\"\n"
      "add rule netdev riasc egress_eth0 meta protocol { 0x0800, 0x86dd } meta l4proto { 1, 58 } "
      "meta mark set 0x52490002 accept comment \"icmp-only/egress\"\n");
}

TEST(NetemNftRulesTest, IngressMatchesSourcesAndForwardsToTheIfb) {
  Band band = egress_band();
  band.direction = Direction::Ingress;
  band.classifiers.resize(1);
  nft::DeviceRules device{"eth0", Direction::Ingress, "ifb-eth0", {{&band, 4, ""}}, false};
  const std::string text = nft::replace_table({device}, 1);
  EXPECT_NE(
      text.find("add chain netdev riasc ingress_eth0 { type filter hook ingress device \"eth0\" priority 0;"),
      std::string::npos)
      << text;
  EXPECT_NE(text.find("ip saddr @ingress_eth0_s4r0v4_g1 meta mark set 0x52490004 fwd to \"ifb-eth0\" comment "
                      "\"slides/ingress\""),
            std::string::npos)
      << text;
}

// The userspace backend: the same selection, forwarded unmarked to each band's TAP, except what
// the engine sends on.
TEST(NetemNftRulesTest, DivertedEgressForwardsEachBandToItsTap) {
  Band band = egress_band();
  band.classifiers.resize(1);
  Band other;
  other.profile = "icmp-only";
  other.classifiers.push_back({std::nullopt, {}, {}, {1}, false});
  nft::DeviceRules device{
      "eth0", Direction::Egress, "", {{&band, 1, "rse1-eth0"}, {&other, 2, "rse2-eth0"}}, true};
  EXPECT_EQ(
      nft::replace_table({device}, 2),
      "add table netdev riasc\n"
      "delete table netdev riasc\n"
      "add table netdev riasc\n"
      "add chain netdev riasc egress_eth0 { type filter hook egress device \"eth0\" priority 0; policy "
      "accept; }\n"
      "add rule netdev riasc egress_eth0 meta mark 0x52490100 accept comment \"sent on by the engine\"\n"
      "add set netdev riasc egress_eth0_s1r0v4_g2 { type ipv4_addr; flags interval; }\n"
      "add element netdev riasc egress_eth0_s1r0v4_g2 { 1.1.1.1, 10.42.0.7 }\n"
      "add set netdev riasc egress_eth0_s1r0v6_g2 { type ipv6_addr; flags interval; }\n"
      "add rule netdev riasc egress_eth0 ip daddr @egress_eth0_s1r0v4_g2 fwd to \"rse1-eth0\" comment "
      "\"slides/egress\"\n"
      "add rule netdev riasc egress_eth0 ip6 daddr @egress_eth0_s1r0v6_g2 fwd to \"rse1-eth0\" comment "
      "\"slides/egress\"\n"
      "add rule netdev riasc egress_eth0 meta l4proto { 1 } fwd to \"rse2-eth0\" comment "
      "\"icmp-only/egress\"\n");
}

// Ingress is diverted where the pod's packets leave the device facing it, in a table of that
// device's own: the egress hook, matching sources.
TEST(NetemNftRulesTest, DivertedIngressSitsOnTheFacingDevicesEgressHook) {
  Band band = egress_band();
  band.direction = Direction::Ingress;
  band.classifiers.resize(1);
  nft::DeviceRules device{"v-ctrl", Direction::Ingress, "", {{&band, 3, "rsi3-v-ctrl"}}, true};
  const std::string text = nft::replace_table({device}, 1, "riasc_in_v_ctrl");
  EXPECT_EQ(text.rfind("add table netdev riasc_in_v_ctrl\ndelete table netdev riasc_in_v_ctrl\n", 0), 0U)
      << text;
  EXPECT_NE(text.find("add chain netdev riasc_in_v_ctrl ingress_v_ctrl { type filter hook egress device "
                      "\"v-ctrl\" priority 0;"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("ip saddr @ingress_v_ctrl_s3r0v4_g1 fwd to \"rsi3-v-ctrl\" comment \"slides/ingress\""),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("mark set"), std::string::npos) << text;
  EXPECT_EQ(nft::delete_table("riasc_in_v_ctrl"),
            "add table netdev riasc_in_v_ctrl\ndelete table netdev riasc_in_v_ctrl\n");
}

TEST(NetemNftRulesTest, PeerChangesAreElementUpdatesInOneTransaction) {
  Band before = egress_band();
  Band after = before;
  after.classifiers[0].peers->add(*net::IpAddress::parse("10.42.0.8"));  // merges with .7
  after.classifiers[0].peers->add(*net::IpAddress::parse("fd00::8"));
  after.classifiers[1].peers = AddressRanges{};
  nft::DeviceRules old_rules{"eth0", Direction::Egress, "", {{&before, 1, ""}}, false};
  nft::DeviceRules new_rules{"eth0", Direction::Egress, "", {{&after, 1, ""}}, false};
  EXPECT_EQ(nft::structure_of(old_rules), nft::structure_of(new_rules));
  EXPECT_EQ(nft::update_elements(nft::sets_of(old_rules, 2), nft::sets_of(new_rules, 2)),
            "delete element netdev riasc egress_eth0_s1r0v4_g2 { 10.42.0.7 }\n"
            "delete element netdev riasc egress_eth0_s1r1v4_g2 { 192.168.0.44 }\n"
            "add element netdev riasc egress_eth0_s1r0v4_g2 { 10.42.0.7-10.42.0.8 }\n"
            "add element netdev riasc egress_eth0_s1r0v6_g2 { fd00::8 }\n");
  EXPECT_EQ(nft::update_elements(nft::sets_of(new_rules, 2), nft::sets_of(new_rules, 2)), "");

  Band ports_changed = before;
  ports_changed.classifiers[1].ports = {{6, 443, 443}};
  nft::DeviceRules other{"eth0", Direction::Egress, "", {{&ports_changed, 1, ""}}, false};
  EXPECT_EQ(nft::structure_of(old_rules), nft::structure_of(other));  // ports are a set too
  ports_changed.classifiers[1].ports.clear();
  EXPECT_NE(nft::structure_of(old_rules), nft::structure_of(other));  // a clause went: new rules
}

}  // namespace
}  // namespace riasc::netem
