#include "riasc/net/ip_address.hpp"

#include <gtest/gtest.h>

namespace riasc::net {
namespace {

IpAddress ip(std::string_view text) {
  auto parsed = IpAddress::parse(text);
  if (!parsed) throw std::invalid_argument("test address " + std::string(text));
  return *parsed;
}

IpPrefix prefix(std::string_view text) {
  auto parsed = IpPrefix::parse(text);
  if (!parsed) throw std::invalid_argument("test prefix " + std::string(text));
  return *parsed;
}

TEST(IpAddressTest, ParsesV4IntoTheFirstFourBytes) {
  const auto address = ip("192.0.2.10");
  EXPECT_EQ(address.family, Family::V4);
  EXPECT_EQ(address.bytes[0], 192);
  EXPECT_EQ(address.bytes[1], 0);
  EXPECT_EQ(address.bytes[2], 2);
  EXPECT_EQ(address.bytes[3], 10);
  for (std::size_t i = 4; i < 16; ++i) EXPECT_EQ(address.bytes[i], 0) << i;
  EXPECT_EQ(address, IpAddress::v4(192, 0, 2, 10));
}

TEST(IpAddressTest, ParsesV6InNetworkOrder) {
  const auto address = ip("2001:db8::1:ff");
  EXPECT_EQ(address.family, Family::V6);
  EXPECT_EQ(address.bytes[0], 0x20);
  EXPECT_EQ(address.bytes[1], 0x01);
  EXPECT_EQ(address.bytes[2], 0x0d);
  EXPECT_EQ(address.bytes[3], 0xb8);
  EXPECT_EQ(address.bytes[13], 0x01);
  EXPECT_EQ(address.bytes[15], 0xff);
}

TEST(IpAddressTest, PrintsV4AndCanonicalV6) {
  EXPECT_EQ(ip("10.0.0.1").to_string(), "10.0.0.1");
  EXPECT_EQ(ip("0.0.0.0").to_string(), "0.0.0.0");
  EXPECT_EQ(ip("255.255.255.255").to_string(), "255.255.255.255");
  // RFC 5952: lowercase, no leading zeros, longest zero run compressed (first on a tie), a lone
  // zero group not compressed, IPv4-mapped addresses with a dotted quad.
  EXPECT_EQ(ip("FD00:0000:0000:0000:0000:0000:0000:0001").to_string(), "fd00::1");
  EXPECT_EQ(ip("2001:db8:0:0:1:0:0:1").to_string(), "2001:db8::1:0:0:1");
  EXPECT_EQ(ip("2001:db8:0:1:1:1:1:1").to_string(), "2001:db8:0:1:1:1:1:1");
  EXPECT_EQ(ip("2001:0:0:1:0:0:0:1").to_string(), "2001:0:0:1::1");
  EXPECT_EQ(ip("::").to_string(), "::");
  EXPECT_EQ(ip("::1").to_string(), "::1");
  EXPECT_EQ(ip("1::").to_string(), "1::");
  EXPECT_EQ(ip("::1:2").to_string(), "::1:2");  // glibc's inet_ntop would print ::0.1.0.2
  EXPECT_EQ(ip("::ffff:192.0.2.1").to_string(), "::ffff:192.0.2.1");
  EXPECT_EQ(ip("::ffff:c000:201").to_string(), "::ffff:192.0.2.1");
  EXPECT_EQ(ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff").to_string(),
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
}

TEST(IpAddressTest, RejectsWhatIsNotAnAddress) {
  for (const char* text : {"", "1.2.3", "1.2.3.4.5", "256.0.0.1", "01.2.3.4", "1.2.3.4 ", " 1.2.3.4",
                           "1.2.3.-4", "fd00::1::2", "fd00:::1", "12345::", "fe80::1%eth0", "[::1]", "g::1",
                           "1.2.3.4/32", "1:2:3:4:5:6:7:8:9", "localhost"}) {
    EXPECT_FALSE(IpAddress::parse(text).has_value()) << text;
  }
}

TEST(IpAddressTest, NextAndPrevCarryAcrossBytes) {
  EXPECT_EQ(ip("10.0.0.255").next(), ip("10.0.1.0"));
  EXPECT_EQ(ip("10.0.1.0").prev(), ip("10.0.0.255"));
  EXPECT_EQ(ip("10.255.255.255").next(), ip("11.0.0.0"));
  EXPECT_EQ(ip("fd00::ffff").next(), ip("fd00::1:0"));
  EXPECT_EQ(ip("fd00::1:0").prev(), ip("fd00::ffff"));
  EXPECT_EQ(ip("::").next(), ip("::1"));
}

TEST(IpAddressTest, NextAndPrevStopAtTheEndsOfTheFamily) {
  EXPECT_FALSE(ip("255.255.255.255").next().has_value());
  EXPECT_FALSE(ip("0.0.0.0").prev().has_value());
  EXPECT_FALSE(ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff").next().has_value());
  EXPECT_FALSE(ip("::").prev().has_value());
  // V4 steps in its four bytes only: the bytes beyond stay zero.
  EXPECT_EQ(ip("255.255.255.254").next(), ip("255.255.255.255"));
}

TEST(IpAddressTest, OrdersByFamilyThenBytes) {
  EXPECT_LT(ip("10.0.0.1"), ip("10.0.0.2"));
  EXPECT_LT(ip("9.255.255.255"), ip("10.0.0.0"));
  EXPECT_LT(ip("255.255.255.255"), ip("::"));  // every V4 before every V6
  EXPECT_LT(ip("fd00::1"), ip("fd00::1:0"));
}

TEST(IpPrefixTest, ParsesAndClearsHostBits) {
  EXPECT_EQ(prefix("10.0.0.0/8").to_string(), "10.0.0.0/8");
  EXPECT_EQ(prefix("10.1.2.3/8").to_string(), "10.0.0.0/8");
  EXPECT_EQ(prefix("192.0.2.130/25").to_string(), "192.0.2.128/25");
  EXPECT_EQ(prefix("192.0.2.130/31").to_string(), "192.0.2.130/31");
  EXPECT_EQ(prefix("fd00:1:2:3::5/48").to_string(), "fd00:1:2::/48");
  EXPECT_EQ(prefix("2001:db8::ff/121").to_string(), "2001:db8::80/121");
}

TEST(IpPrefixTest, BareAddressIsAHostPrefix) {
  EXPECT_EQ(prefix("10.1.2.3").to_string(), "10.1.2.3/32");
  EXPECT_EQ(prefix("fd00::1").to_string(), "fd00::1/128");
}

TEST(IpPrefixTest, ZeroLengthCoversTheFamily) {
  const auto all_v4 = prefix("1.2.3.4/0");
  EXPECT_EQ(all_v4.to_string(), "0.0.0.0/0");
  EXPECT_EQ(all_v4.first(), ip("0.0.0.0"));
  EXPECT_EQ(all_v4.last(), ip("255.255.255.255"));
  EXPECT_TRUE(all_v4.contains(ip("203.0.113.9")));
  EXPECT_FALSE(all_v4.contains(ip("::1")));  // not across families

  const auto all_v6 = prefix("::/0");
  EXPECT_EQ(all_v6.last(), ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
  EXPECT_TRUE(all_v6.contains(ip("fd00::1")));
  EXPECT_FALSE(all_v6.contains(ip("10.0.0.1")));
}

TEST(IpPrefixTest, HostPrefixesContainOnlyTheirAddress) {
  const auto host = prefix("10.0.0.7/32");
  EXPECT_EQ(host.first(), host.last());
  EXPECT_TRUE(host.contains(ip("10.0.0.7")));
  EXPECT_FALSE(host.contains(ip("10.0.0.6")));
  EXPECT_FALSE(host.contains(ip("10.0.0.8")));
  const auto host6 = prefix("fd00::7/128");
  EXPECT_TRUE(host6.contains(ip("fd00::7")));
  EXPECT_FALSE(host6.contains(ip("fd00::8")));
}

TEST(IpPrefixTest, FirstLastAndContainsAtTheEdges) {
  const auto net = prefix("192.0.2.64/26");
  EXPECT_EQ(net.first(), ip("192.0.2.64"));
  EXPECT_EQ(net.last(), ip("192.0.2.127"));
  EXPECT_TRUE(net.contains(ip("192.0.2.64")));
  EXPECT_TRUE(net.contains(ip("192.0.2.127")));
  EXPECT_FALSE(net.contains(ip("192.0.2.63")));
  EXPECT_FALSE(net.contains(ip("192.0.2.128")));
  const auto net6 = prefix("fd00:0:0:1::/64");
  EXPECT_EQ(net6.last(), ip("fd00:0:0:1:ffff:ffff:ffff:ffff"));
  EXPECT_FALSE(net6.contains(ip("fd00:0:0:2::")));
}

TEST(IpPrefixTest, RejectsBadLengthsAndAddresses) {
  for (const char* text :
       {"10.0.0.0/33", "fd00::/129", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/+8", "10.0.0.0/8/8", "10.0.0.0/ 8",
        "10.0.0.0/8 ", "10.0.0.0/1000", "10.0.0.0/a", "/8", "10.0.0/8", ""}) {
    EXPECT_FALSE(IpPrefix::parse(text).has_value()) << text;
  }
  EXPECT_FALSE(IpPrefix::of(ip("10.0.0.1"), 33).has_value());
  EXPECT_FALSE(IpPrefix::of(ip("10.0.0.1"), -1).has_value());
}

TEST(IpPrefixTest, OrdersByAddressThenLength) {
  EXPECT_LT(prefix("10.0.0.0/8"), prefix("10.0.0.0/16"));
  EXPECT_LT(prefix("10.0.0.0/16"), prefix("11.0.0.0/8"));
  EXPECT_EQ(prefix("10.9.9.9/8"), prefix("10.0.0.0/8"));
}

}  // namespace
}  // namespace riasc::net
