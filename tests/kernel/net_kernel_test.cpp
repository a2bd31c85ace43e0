// riasc_net against the running kernel, each test in network namespaces of its own (label
// `kernel`, needs root). Where this host's kernel lacks a feature (sch_netem, sch_prio, cls_fw,
// cls_matchall, ifb on the CI machine) the test checks that the error says so: that is the path
// the network-emulation agent takes to report a missing module. The behaviour of those features
// is tested in a VM (net_vm_test.cpp, label `vm`).

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <linux/if_ether.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "netns_fixture.hpp"
#include "riasc/core/json.hpp"
#include "riasc/net/netns.hpp"
#include "riasc/net/nftables.hpp"
#include "riasc/net/rtnetlink.hpp"

namespace riasc::net {
namespace {

using test::ScratchNetns;

IpPrefix host_prefix(const char* address, int length) {
  return IpPrefix{*IpAddress::parse(address), length};  // host bits kept, as addresses are added
}

std::optional<Link> find_link(const std::vector<Link>& links, const std::string& name) {
  const auto it =
      std::find_if(links.begin(), links.end(), [&](const Link& link) { return link.name == name; });
  return it == links.end() ? std::nullopt : std::optional<Link>(*it);
}

std::uint64_t current_inode() { return netns_inode(current_netns_path()); }

// --- namespaces

TEST(NetnsTest, InNetnsRunsInsideAndRestores) {
  RIASC_REQUIRE_NETNS();
  const auto home = current_inode();
  ScratchNetns ns;
  EXPECT_NE(netns_inode(ns.path()), home);
  EXPECT_EQ(ns.run([] { return current_inode(); }), netns_inode(ns.path()));
  EXPECT_EQ(current_inode(), home);
}

TEST(NetnsTest, RestoresOnException) {
  RIASC_REQUIRE_NETNS();
  const auto home = current_inode();
  ScratchNetns ns;
  EXPECT_THROW(ns.run([]() -> int { throw std::runtime_error("inside"); }), std::runtime_error);
  EXPECT_EQ(current_inode(), home);
}

TEST(NetnsTest, NestsAndReturnsValues) {
  RIASC_REQUIRE_NETNS();
  ScratchNetns outer, inner;
  const auto seen = outer.run([&] {
    const auto in_outer = current_inode();
    const auto in_inner = inner.run([] { return current_inode(); });
    return std::make_pair(in_outer, in_inner);
  });
  EXPECT_EQ(seen.first, netns_inode(outer.path()));
  EXPECT_EQ(seen.second, netns_inode(inner.path()));
}

TEST(NetnsTest, BadPathsThrowNamingThePath) {
  try {
    in_netns("/nonexistent/ns/net", [] { return 0; });
    FAIL() << "entered a namespace that does not exist";
  } catch (const std::system_error& error) {
    EXPECT_EQ(error.code().value(), ENOENT);
    EXPECT_NE(std::string(error.what()).find("/nonexistent/ns/net"), std::string::npos) << error.what();
  }
  EXPECT_THROW(netns_inode("/nonexistent/ns/net"), std::system_error);
  if (::geteuid() == 0) {  // a file that is not a namespace: setns refuses
    EXPECT_THROW(in_netns("/proc/self/stat", [] { return 0; }), std::system_error);
  }
}

TEST(NetnsTest, FindsTheNamespaceOfAnotherProcessByAddress) {
  RIASC_REQUIRE_NETNS();
  // A child process unshares a namespace and puts 198.51.100.77 (TEST-NET-2) on its loopback.
  int ready[2], release[2];
  ASSERT_EQ(::pipe(ready), 0);
  ASSERT_EQ(::pipe(release), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(ready[0]);
    ::close(release[1]);  // else the read below never sees the end of the pipe
    char status = 'E';
    try {
      if (::unshare(CLONE_NEWNET) == 0) {
        Rtnetlink rtnl;
        rtnl.add_address(rtnl.link("lo")->index, host_prefix("198.51.100.77", 32));
        status = 'R';
      }
    } catch (...) {
    }
    (void)!::write(ready[1], &status, 1);
    char byte;
    (void)!::read(release[0], &byte, 1);  // until the parent closes its end
    ::_exit(0);
  }
  ::close(ready[1]);
  ::close(release[0]);
  char status = 0;
  ASSERT_EQ(::read(ready[0], &status, 1), 1);
  EXPECT_EQ(status, 'R');

  const auto found = find_netns_with_address(*IpAddress::parse("198.51.100.77"));
  const auto absent = find_netns_with_address(*IpAddress::parse("198.51.100.78"));

  ::close(release[1]);
  ::close(ready[0]);
  int wait_status = 0;
  ::waitpid(child, &wait_status, 0);

  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(*found, "/proc/" + std::to_string(child) + "/ns/net");
  EXPECT_FALSE(absent.has_value()) << *absent;
}

// --- links, addresses, routes

TEST(RtnetlinkTest, VethPairComesAndGoes) {
  RIASC_REQUIRE_NETNS();
  ScratchNetns ns;
  ns.run([] {
    Rtnetlink rtnl;
    const auto [first, second] = rtnl.create_veth("va", "vb");
    auto links = rtnl.links();
    ASSERT_TRUE(find_link(links, "va"));
    ASSERT_TRUE(find_link(links, "vb"));
    EXPECT_EQ(find_link(links, "va")->index, first);
    EXPECT_EQ(find_link(links, "vb")->index, second);
    EXPECT_EQ(find_link(links, "va")->kind, "veth");
    EXPECT_FALSE(find_link(links, "va")->up);
    EXPECT_EQ(find_link(links, "lo")->kind, "");
    EXPECT_TRUE(find_link(links, "lo")->up);

    rtnl.set_link_up(first);
    EXPECT_TRUE(rtnl.link("va")->up);
    EXPECT_FALSE(rtnl.link("vb")->up);
    EXPECT_EQ(rtnl.link(second)->name, "vb");
    EXPECT_FALSE(rtnl.link("nothing-here").has_value());
    EXPECT_FALSE(rtnl.link(99999).has_value());

    try {
      rtnl.create_veth("va", "vc");
      ADD_FAILURE() << "created va twice";
    } catch (const NetlinkError& error) {
      EXPECT_EQ(error.error_code(), EEXIST);
      EXPECT_EQ(std::string(error.what()).rfind("creating veth pair va / vc: File exists", 0), 0u)
          << error.what();
      EXPECT_EQ(error.missing_module(), "");
    }

    rtnl.delete_link(first);  // takes its peer along
    links = rtnl.links();
    EXPECT_FALSE(find_link(links, "va"));
    EXPECT_FALSE(find_link(links, "vb"));
    try {
      rtnl.delete_link(first);
      ADD_FAILURE() << "deleted a link twice";
    } catch (const NetlinkError& error) {
      EXPECT_EQ(error.error_code(), ENODEV);
      EXPECT_EQ(
          std::string(error.what()).rfind(fmt::format("deleting link ifindex {}: No such device", first), 0),
          0u)
          << error.what();
    }
  });
}

TEST(RtnetlinkTest, SocketStaysInTheNamespaceItWasMadeIn) {
  RIASC_REQUIRE_NETNS();
  ScratchNetns ns;
  auto rtnl = ns.run([] { return Rtnetlink(); });
  // Used from outside: acts inside.
  rtnl.create_veth("riasc-kt0", "riasc-kt1");
  EXPECT_TRUE(ns.run([] { return Rtnetlink().link("riasc-kt0").has_value(); }));
  Rtnetlink here;
  const bool leaked = here.link("riasc-kt0").has_value();
  EXPECT_FALSE(leaked);
  if (leaked) here.delete_link(here.link("riasc-kt0")->index);
}

TEST(RtnetlinkTest, AddressesKeepHostBits) {
  RIASC_REQUIRE_NETNS();
  ScratchNetns ns;
  ns.run([] {
    Rtnetlink rtnl;
    const auto [va, vb] = rtnl.create_veth("va", "vb");
    rtnl.add_address(va, host_prefix("192.0.2.1", 24));
    rtnl.add_address(va, host_prefix("2001:db8::1", 64));
    rtnl.add_address(vb, host_prefix("192.0.2.2", 24));
    std::vector<std::string> seen;
    for (const auto& address : rtnl.addresses()) {
      if (address.index == va || address.index == vb) {
        seen.push_back(fmt::format("{} {}", address.index == va ? "va" : "vb", address.prefix.to_string()));
      }
    }
    std::sort(seen.begin(), seen.end());
    // the kernel also gives va an fe80:: address once it is up; it is down here
    EXPECT_EQ(seen, (std::vector<std::string>{"va 192.0.2.1/24", "va 2001:db8::1/64", "vb 192.0.2.2/24"}));

    try {
      rtnl.add_address(va, host_prefix("192.0.2.1", 24));
      ADD_FAILURE() << "added an address twice";
    } catch (const NetlinkError& error) {
      EXPECT_EQ(error.error_code(), EEXIST);
      EXPECT_EQ(std::string(error.what()).rfind("adding address 192.0.2.1/24 to va: File exists", 0), 0u)
          << error.what();
    }
  });
}

TEST(RtnetlinkTest, DefaultRouteInterfacePrefersIpv4) {
  RIASC_REQUIRE_NETNS();
  ScratchNetns ns;
  ns.run([] {
    Rtnetlink rtnl;
    EXPECT_EQ(rtnl.default_route_interface(), std::nullopt);
    const auto [va, vb] = rtnl.create_veth("va", "vb");
    rtnl.set_link_up(va);
    rtnl.set_link_up(vb);
    rtnl.add_address(vb, host_prefix("2001:db8::1", 64));
    rtnl.add_route(*IpPrefix::parse("::/0"), vb, IpAddress::parse("2001:db8::fe"));
    EXPECT_EQ(rtnl.default_route_interface(), vb);  // only IPv6 has one

    rtnl.add_address(va, host_prefix("192.0.2.1", 24));
    rtnl.add_route(*IpPrefix::parse("203.0.113.0/24"), va);  // not a default route
    EXPECT_EQ(rtnl.default_route_interface(), vb);
    rtnl.add_route(*IpPrefix::parse("0.0.0.0/0"), va, IpAddress::parse("192.0.2.254"));
    EXPECT_EQ(rtnl.default_route_interface(), va);
  });
}

TEST(RtnetlinkTest, MovesALinkToAnotherNamespace) {
  RIASC_REQUIRE_NETNS();
  ScratchNetns a, b;
  a.run([&] {
    Rtnetlink rtnl;
    const auto [va, vb] = rtnl.create_veth("va", "vb");
    (void)va;
    rtnl.move_link(vb, b.path());
    EXPECT_FALSE(rtnl.link("vb").has_value());
  });
  EXPECT_TRUE(b.run([] { return Rtnetlink().link("vb").has_value(); }));
}

TEST(RtnetlinkTest, IfbOrTheModuleItNeeds) {
  RIASC_REQUIRE_NETNS();
  ScratchNetns ns;
  ns.run([] {
    Rtnetlink rtnl;
    try {
      const int ifb = rtnl.create_ifb("ifb-test");
      const auto link = rtnl.link("ifb-test");
      ASSERT_TRUE(link.has_value());
      EXPECT_EQ(link->index, ifb);
      EXPECT_EQ(link->kind, "ifb");
      EXPECT_TRUE(link->up);
      rtnl.delete_link(ifb);
      EXPECT_FALSE(rtnl.link("ifb-test").has_value());
    } catch (const NetlinkError& error) {  // this host: no ifb
      EXPECT_EQ(error.missing_module(), "ifb") << error.what();
      EXPECT_EQ(error.error_code(), EOPNOTSUPP);
      EXPECT_EQ(std::string(error.what()).rfind("creating link ifb-test (ifb): Operation not supported", 0),
                0u)
          << error.what();
    }
  });
}

// --- qdiscs and filters

TEST(TcTest, ClsactAddListDelete) {
  RIASC_REQUIRE_NETNS();
  ScratchNetns ns;
  ns.run([] {
    Rtnetlink rtnl;
    const int va = rtnl.create_veth("va", "vb").first;
    rtnl.add_clsact(va);
    const auto qdiscs = rtnl.qdiscs(va);
    const auto clsact =
        std::find_if(qdiscs.begin(), qdiscs.end(), [](const Qdisc& q) { return q.kind == "clsact"; });
    ASSERT_NE(clsact, qdiscs.end());
    EXPECT_EQ(clsact->handle, kTcClsactHandle);
    EXPECT_EQ(clsact->parent, kTcClsact);
    EXPECT_EQ(clsact->ifindex, va);
    EXPECT_THROW(rtnl.add_clsact(va), NetlinkError);  // add is exclusive

    rtnl.delete_qdisc(va, kTcClsactHandle, kTcClsact);
    for (const auto& qdisc : rtnl.qdiscs(va)) EXPECT_NE(qdisc.kind, "clsact");
    try {
      rtnl.delete_qdisc(va, kTcClsactHandle, kTcClsact);
      ADD_FAILURE() << "deleted clsact twice";
    } catch (const NetlinkError& error) {
      EXPECT_EQ(std::string(error.what()).rfind("deleting qdisc ffff: on va (parent ffff:fff1): ", 0), 0u)
          << error.what();
      EXPECT_EQ(error.missing_module(), "");
    }
  });
}

TEST(TcTest, ErrorsNameOperationObjectAndKernelReason) {
  RIASC_REQUIRE_NETNS();
  ScratchNetns ns;
  ns.run([] {
    Rtnetlink rtnl;
    const int va = rtnl.create_veth("va", "vb").first;
    try {  // the parent qdisc 7: does not exist: ENOENT, but not for want of a module
      rtnl.replace_qdisc(va, tc_handle(8, 0), tc_handle(7, 1), PfifoOptions{});
      ADD_FAILURE() << "grafted onto a parent that does not exist";
    } catch (const NetlinkError& error) {
      EXPECT_EQ(error.error_code(), ENOENT);
      EXPECT_EQ(error.missing_module(), "");
      EXPECT_FALSE(error.extack().empty());
      EXPECT_EQ(std::string(error.what()),
                "replacing qdisc pfifo 8: on va (parent 7:1): No such file or directory (kernel: " +
                    error.extack() + ")");
    }
  });
}

TEST(TcTest, PfifoReplacesTheRootAndLists) {
  RIASC_REQUIRE_NETNS();
  ScratchNetns ns;
  ns.run([] {
    Rtnetlink rtnl;
    const int va = rtnl.create_veth("va", "vb").first;
    rtnl.replace_qdisc(va, tc_handle(0x10, 0), kTcRoot, PfifoOptions{.limit = 321});
    const auto qdiscs = rtnl.qdiscs(va);
    ASSERT_EQ(qdiscs.size(), 1u);
    EXPECT_EQ(qdiscs[0].kind, "pfifo");
    EXPECT_EQ(qdiscs[0].handle, tc_handle(0x10, 0));
    EXPECT_EQ(qdiscs[0].parent, kTcRoot);
    EXPECT_EQ(qdiscs[0].options, encode_pfifo(PfifoOptions{.limit = 321}));
    rtnl.delete_qdisc(va, tc_handle(0x10, 0), kTcRoot);
    for (const auto& qdisc : rtnl.qdiscs(va)) EXPECT_NE(qdisc.kind, "pfifo");
  });
}

// On this host's kernel these kinds are missing; on one that has them, they work.
TEST(TcTest, NetemOrTheModuleItNeeds) {
  RIASC_REQUIRE_NETNS();
  ScratchNetns ns;
  ns.run([] {
    Rtnetlink rtnl;
    const int va = rtnl.create_veth("va", "vb").first;
    NetemOptions options;
    options.latency_ns = 5'000'000;
    try {
      rtnl.replace_qdisc(va, tc_handle(0x5250, 0), kTcRoot, options);
      const auto qdiscs = rtnl.qdiscs(va);
      ASSERT_EQ(qdiscs.size(), 1u);
      EXPECT_EQ(qdiscs[0].kind, "netem");
      EXPECT_EQ(decode_netem(qdiscs[0].options), options);
    } catch (const NetlinkError& error) {
      EXPECT_EQ(error.missing_module(), "sch_netem") << error.what();
      EXPECT_EQ(error.error_code(), ENOENT);
      EXPECT_EQ(std::string(error.what())
                    .rfind("replacing qdisc netem 5250: on va (parent root): No such file or directory", 0),
                0u)
          << error.what();
    }
  });
}

TEST(TcTest, PrioOrTheModuleItNeeds) {
  RIASC_REQUIRE_NETNS();
  ScratchNetns ns;
  ns.run([] {
    Rtnetlink rtnl;
    const int va = rtnl.create_veth("va", "vb").first;
    try {
      rtnl.add_qdisc(va, tc_handle(1, 0), kTcRoot, PrioOptions{.bands = 16, .priomap = {}});
      const auto qdiscs = rtnl.qdiscs(va);
      ASSERT_EQ(qdiscs.size(), 1u);
      EXPECT_EQ(qdiscs[0].kind, "prio");
    } catch (const NetlinkError& error) {
      EXPECT_EQ(error.missing_module(), "sch_prio") << error.what();
      EXPECT_EQ(std::string(error.what()).rfind("adding qdisc prio 1: on va (parent root): ", 0), 0u)
          << error.what();
    }
  });
}

TEST(TcTest, FwOrTheModuleItNeeds) {
  RIASC_REQUIRE_NETNS();
  ScratchNetns ns;
  ns.run([] {
    Rtnetlink rtnl;
    const int va = rtnl.create_veth("va", "vb").first;
    rtnl.add_clsact(va);  // a parent every kernel with sch_ingress has
    const FwFilter filter{
        .parent = kTcIngressHook, .priority = 3, .mark = 7, .mask = 0xff, .classid = tc_handle(1, 2)};
    try {
      rtnl.add_filter(va, filter);
      const auto filters = rtnl.filters(va, kTcIngressHook);
      const auto fw =
          std::find_if(filters.begin(), filters.end(), [](const Filter& f) { return f.handle == 7; });
      ASSERT_NE(fw, filters.end());
      EXPECT_EQ(fw->kind, "fw");
      EXPECT_EQ(fw->priority, 3);
      EXPECT_EQ(fw->protocol, ETH_P_ALL);
      rtnl.delete_filter(va, kTcIngressHook, 3, 0);
      EXPECT_TRUE(rtnl.filters(va, kTcIngressHook).empty());
    } catch (const NetlinkError& error) {
      EXPECT_EQ(error.missing_module(), "cls_fw") << error.what();
      EXPECT_EQ(std::string(error.what())
                    .rfind("adding filter fw mark 0x7/0xff -> 1:2 prio 3 on va (parent ffff:fff2): ", 0),
                0u)
          << error.what();
    }
  });
}

TEST(TcTest, RedirectAllOrTheModuleItNeeds) {
  RIASC_REQUIRE_NETNS();
  ScratchNetns ns;
  ns.run([] {
    Rtnetlink rtnl;
    const auto [va, vb] = rtnl.create_veth("va", "vb");
    rtnl.add_clsact(va);
    try {
      rtnl.add_filter(va, RedirectAllFilter{.priority = 2, .target_ifindex = vb});
      const auto filters = rtnl.filters(va, kTcIngressHook);
      ASSERT_FALSE(filters.empty());
      for (const auto& filter : filters) {
        EXPECT_EQ(filter.kind, "matchall");
        EXPECT_EQ(filter.priority, 2);
        EXPECT_EQ(filter.protocol, ETH_P_ALL);
        EXPECT_EQ(filter.parent, kTcIngressHook);
      }
      rtnl.delete_filter(va, kTcIngressHook, 2, 0);
      EXPECT_TRUE(rtnl.filters(va, kTcIngressHook).empty());
    } catch (const NetlinkError& error) {
      EXPECT_TRUE(error.missing_module() == "cls_matchall" || error.missing_module() == "act_mirred")
          << error.what();
      EXPECT_EQ(std::string(error.what())
                    .rfind("adding filter matchall prio 2 on va (parent ffff:fff2) redirecting to vb: ", 0),
                0u)
          << error.what();
    }
  });
}

// --- nftables

bool has_table(Nftables& nft, const std::string& name) {
  const auto listing = Json::parse(nft.list_json("tables"));
  for (const auto& item : listing.at("nftables")) {
    if (item.contains("table") && item["table"].at("name") == name) return true;
  }
  return false;
}

bool has_table_in(const ScratchNetns& ns, const std::string& name) {
  return ns.run([&] {
    Nftables nft;
    return has_table(nft, name);
  });
}

TEST(NftablesTest, ActsInTheNamespaceItWasCreatedIn) {
  RIASC_REQUIRE_NETNS();
  ScratchNetns a, b;
  const auto in_a = a.run([] { return std::make_unique<Nftables>(); });
  in_a->run("add table inet riasc_kernel_test");  // from this thread, which is not in a
  EXPECT_TRUE(has_table_in(a, "riasc_kernel_test"));
  EXPECT_FALSE(has_table_in(b, "riasc_kernel_test"));
  Nftables here;
  EXPECT_FALSE(has_table(here, "riasc_kernel_test"));
  EXPECT_TRUE(has_table(*in_a, "riasc_kernel_test"));
}

TEST(NftablesTest, ListsRulesAsJson) {
  RIASC_REQUIRE_NETNS();
  ScratchNetns ns;
  ns.run([] {
    Nftables nft;
    nft.run(R"(add table ip riasc
add chain ip riasc out { type filter hook output priority 0; policy accept; }
add rule ip riasc out icmp type echo-request meta mark set 0x2a)");
    const auto listing = Json::parse(nft.list_json("table ip riasc"));
    std::vector<std::string> kinds;
    Json mark_value;
    for (const auto& item : listing.at("nftables")) {
      for (const auto& [kind, value] : item.items()) {
        kinds.push_back(kind);
        if (kind == "rule") {
          for (const auto& expression : value.at("expr")) {
            if (expression.contains("mangle")) mark_value = expression["mangle"].at("value");
          }
        }
      }
    }
    EXPECT_EQ(kinds, (std::vector<std::string>{"metainfo", "table", "chain", "rule"}));
    EXPECT_EQ(mark_value, 42);
  });
}

TEST(NftablesTest, BatchesAreAtomicAndErrorsCarryNftsText) {
  RIASC_REQUIRE_NETNS();
  ScratchNetns ns;
  ns.run([] {
    Nftables nft;
    try {
      nft.run("add table inet first\nadd chain inet absent_table c");
      ADD_FAILURE() << "a chain in a missing table was accepted";
    } catch (const NetlinkError& error) {
      const std::string message = error.what();
      EXPECT_EQ(message.rfind("nft add table inet first ...: Error: ", 0), 0u) << message;
      EXPECT_NE(message.find("No such file or directory"), std::string::npos) << message;
    }
    EXPECT_FALSE(has_table(nft, "first"));  // nothing of the failed batch was applied

    try {
      nft.run("add tabel inet x");
      ADD_FAILURE() << "a syntax error was accepted";
    } catch (const NetlinkError& error) {
      EXPECT_NE(std::string(error.what()).find("syntax error"), std::string::npos) << error.what();
      EXPECT_NE(error.error_code(), 0);
    }
    nft.run("add table inet after_errors");  // the context is still usable
    EXPECT_TRUE(has_table(nft, "after_errors"));
  });
}

}  // namespace
}  // namespace riasc::net
