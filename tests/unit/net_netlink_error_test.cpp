#include "riasc/net/netlink_error.hpp"

#include <gtest/gtest.h>

#include <cerrno>

#include "riasc/net/rtnetlink.hpp"

namespace riasc::net {
namespace {

TEST(NetlinkErrorTest, NamesOperationErrnoAndTheKernelsReason) {
  const NetlinkError error("adding qdisc netem 5250: on eth0 (parent 5249:2)", ENOENT,
                           "Specified qdisc kind is unknown.", "sch_netem");
  EXPECT_STREQ(
      error.what(),
      "adding qdisc netem 5250: on eth0 (parent 5249:2): No such file or directory (kernel: Specified qdisc "
      "kind is unknown.)");
  EXPECT_EQ(error.operation(), "adding qdisc netem 5250: on eth0 (parent 5249:2)");
  EXPECT_EQ(error.error_code(), ENOENT);
  EXPECT_EQ(error.extack(), "Specified qdisc kind is unknown.");
  EXPECT_EQ(error.missing_module(), "sch_netem");
  const std::runtime_error& base = error;  // callers may catch it as a runtime_error
  EXPECT_EQ(std::string(base.what()).rfind("adding qdisc", 0), 0u);
}

TEST(NetlinkErrorTest, WithoutExtackThereIsNoKernelPart) {
  const NetlinkError error("deleting link veth0", ENODEV, {});
  EXPECT_STREQ(error.what(), "deleting link veth0: No such device");
  EXPECT_EQ(error.missing_module(), "");
}

TEST(NetlinkErrorTest, ToolMessagesReplaceStrerror) {
  const auto error = NetlinkError::with_message("nft add table inet x", EINVAL, "Error: syntax error");
  EXPECT_STREQ(error.what(), "nft add table inet x: Error: syntax error");
  EXPECT_EQ(error.error_code(), EINVAL);
}

TEST(TcHandleTest, PrintsAsTcDoes) {
  EXPECT_EQ(format_tc_handle(tc_handle(0x5250, 0)), "5250:");
  EXPECT_EQ(format_tc_handle(tc_handle(1, 3)), "1:3");
  EXPECT_EQ(format_tc_handle(tc_handle(0xabcd, 0x10)), "abcd:10");
  EXPECT_EQ(format_tc_handle(kTcRoot), "root");
  EXPECT_EQ(format_tc_handle(kTcClsact), "ffff:fff1");
  EXPECT_EQ(format_tc_handle(kTcIngressHook), "ffff:fff2");
  EXPECT_EQ(format_tc_handle(0), "0:");
}

}  // namespace
}  // namespace riasc::net
