// Index handlers against the real embedded API server: filled from the first list before any
// handler runs, kept current on changes and deletions, readable from handlers and the operator.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "operator_test_support.hpp"

namespace riasc::operator_test {
namespace {

using client_test::eventually;

class OperatorIndexTest : public OperatorTest {};

// The names filed under `key`, sorted by object.
std::vector<std::string> names(const op::Index& index, const std::string& key) {
  std::vector<std::string> found;
  for (const Json& value : index.get(key)) found.push_back(value.get<std::string>());
  return found;
}

TEST_F(OperatorIndexTest, FilledBeforeHandlersRunAndKeptCurrent) {
  for (const char* name : {"a", "b", "c"}) create_widget(name, {{"owner", "alice"}});
  create_widget("d", {{"owner", "bob"}});
  create_widget("unowned");

  Calls calls;
  op::Operator operator_(client_, options());
  operator_.index(kWidgets, "by-owner", [](op::Context& ctx) -> Json {
    if (!ctx.spec().contains("owner")) return nullptr;
    return {{ctx.spec()["owner"].get<std::string>(), ctx.name()}};
  });
  operator_.on_create(kWidgets, [&](op::Context& ctx) {
    // Every handler sees the whole index, also the first ones after a start.
    calls.add(fmt::format("{} sees {}", ctx.name(), ctx.index("by-owner").get("alice").size()));
  });
  operator_.start();
  ASSERT_TRUE(eventually([&] { return calls.all().size() >= 5; }));
  for (const std::string& call : calls.all()) EXPECT_TRUE(call.ends_with(" sees 3")) << call;
  EXPECT_GE(calls.count("a sees 3"), 1);
  EXPECT_GE(calls.count("unowned sees 3"), 1);

  const op::Index& index = operator_.get_index("by-owner");
  EXPECT_EQ(names(index, "alice"), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(index.keys(), (std::vector<std::string>{"alice", "bob"}));

  patch_spec("b", {{"owner", "bob"}});
  EXPECT_TRUE(eventually([&] { return names(index, "bob") == std::vector<std::string>{"b", "d"}; }));
  EXPECT_EQ(names(index, "alice"), (std::vector<std::string>{"a", "c"}));

  widgets().remove("d");
  widgets().remove("b");
  EXPECT_TRUE(eventually([&] { return !index.contains("bob"); }));
  EXPECT_EQ(index.size(), 1u);
}

TEST_F(OperatorIndexTest, FailingIndexFunctionLeavesTheObjectOutAndUnknownNamesThrow) {
  create_widget("good", {{"zone", "a"}});
  create_widget("bad", {{"zone", 7}});
  op::Operator operator_(client_, options());
  operator_.index(kWidgets, "by-zone", [](op::Context& ctx) -> Json {
    return {{ctx.spec().at("zone").get<std::string>(), true}};  // throws for a number
  });
  operator_.start();
  const op::Index& index = operator_.get_index("by-zone");
  EXPECT_EQ(index.keys(), (std::vector<std::string>{"a"}));
  EXPECT_TRUE(eventually([&] {
    std::lock_guard lock(log_mutex_);
    return std::any_of(log_.begin(), log_.end(), [](const std::string& line) {
      return line.find("index function failed") != std::string::npos;
    });
  }));

  patch_spec("bad", {{"zone", "b"}});  // fixed: indexed now
  EXPECT_TRUE(eventually([&] { return index.contains("b"); }));

  EXPECT_THROW((void)operator_.get_index("by-size"), std::out_of_range);
  op::Operator twice(client_, options());
  twice.index(kWidgets, "x", [](op::Context&) { return Json(); });
  EXPECT_THROW(twice.index(kWidgets, "x", [](op::Context&) { return Json(); }), std::invalid_argument);
}

}  // namespace
}  // namespace riasc::operator_test
