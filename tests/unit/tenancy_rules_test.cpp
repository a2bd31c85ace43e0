// The Project operator's pure rules: RoleBinding names, reading a Project's spec, node selectors.

#include <gtest/gtest.h>

#include <set>

#include "riasc/tenancy/rules.hpp"

namespace riasc::tenancy {
namespace {

TEST(TenancyRules, BindingNamesKeepValidUserNames) {
  EXPECT_EQ(binding_name("steffen-vogel"), "admin-steffen-vogel");
  EXPECT_EQ(binding_name("jane.doe"), "admin-jane.doe");
}

TEST(TenancyRules, BindingNamesSanitiseOddUserNamesWithAHash) {
  const std::string email = binding_name("jane.doe@example.org");
  EXPECT_TRUE(email.starts_with("admin-jane-doe-example-org-")) << email;
  EXPECT_EQ(email.size(), std::string("admin-jane-doe-example-org-").size() + 8);
  EXPECT_TRUE(binding_name("oidc:max").starts_with("admin-oidc-max-"));
  // Case and punctuation that sanitise alike still give distinct names.
  const std::set<std::string> names{binding_name("Jane"),   binding_name("jane"),   binding_name("JANE"),
                                    binding_name("jane@x"), binding_name("jane:x"), binding_name("jane+x")};
  EXPECT_EQ(names.size(), 6U);
  EXPECT_EQ(binding_name("Jane"), binding_name("Jane"));  // stable
  // The longest user name the CRD allows still gives a valid name.
  const std::string long_user = "A" + std::string(246, 'b');
  EXPECT_LE(binding_name(long_user).size(), 253U);
  EXPECT_LE(binding_name(std::string(247, 'a')).size(), 253U);
  for (const std::string& name : names)
    for (char c : name)
      EXPECT_TRUE((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.') << name;
}

TEST(TenancyRules, ReadsTheSpec) {
  const ProjectSpec spec = read_project_spec(
      Json::parse(R"({"users":["a","b@c"],"nodes":["n1"],"nodeSelector":{"lab":"x"},"limits":{"pods":3}})"));
  EXPECT_EQ(spec.users, (std::vector<std::string>{"a", "b@c"}));
  EXPECT_EQ(spec.nodes, (std::vector<std::string>{"n1"}));
  EXPECT_EQ(spec.node_selector, Json({{"lab", "x"}}));
  EXPECT_EQ(spec.pod_limit, 3);
  EXPECT_FALSE(read_project_spec(Json::object()).pod_limit.has_value());
}

TEST(TenancyRules, BadSpecsNameTheField) {
  auto message = [](const char* spec) {
    try {
      (void)read_project_spec(Json::parse(spec));
    } catch (const std::invalid_argument& error) {
      return std::string(error.what());
    }
    return std::string("accepted");
  };
  EXPECT_EQ(message(R"({"users":"a"})"), "spec.users: must be a list of strings");
  EXPECT_EQ(message(R"({"nodes":["a",""]})"), "spec.nodes[1]: must be a non-empty string");
  EXPECT_EQ(message(R"({"users":["a","a"]})"), "spec.users[1]: duplicate value \"a\"");
  EXPECT_EQ(message(R"({"nodeSelector":{"k":1}})"), "spec.nodeSelector.k: must be a string");
  EXPECT_EQ(message(R"({"limits":{"pods":-1}})"), "spec.limits.pods: must be an integer >= 0, not -1");
}

TEST(TenancyRules, ProjectSelectorAddsTheNodeLabelOnlyWithNodes) {
  ProjectSpec spec;
  spec.node_selector = {{"lab", "x"}};
  EXPECT_EQ(project_node_selector("p", spec), Json({{"lab", "x"}}));
  spec.nodes = {"n1"};
  EXPECT_EQ(project_node_selector("p", spec), Json({{"lab", "x"}, {"project.riasc.eu/p", ""}}));
}

TEST(TenancyRules, ConflictsNameKeyAndValues) {
  const Json required = {{"lab", "x"}, {"project.riasc.eu/p", ""}};
  EXPECT_TRUE(selector_conflicts(Json({{"lab", "x"}, {"other", "y"}}), required).empty());
  const auto conflicts = selector_conflicts(Json({{"lab", "y"}}), required);
  ASSERT_EQ(conflicts.size(), 1U);
  EXPECT_EQ(conflicts[0], R"(nodeSelector lab is "y" in the pod, the project requires "x")");
}

TEST(TenancyRules, FinishedAndDeletedPodsDoNotCount) {
  EXPECT_TRUE(counts_against_limit(Json::parse(R"({"status":{"phase":"Running"}})")));
  EXPECT_TRUE(counts_against_limit(Json::object()));
  EXPECT_FALSE(counts_against_limit(Json::parse(R"({"status":{"phase":"Succeeded"}})")));
  EXPECT_FALSE(counts_against_limit(Json::parse(R"({"status":{"phase":"Failed"}})")));
  EXPECT_FALSE(
      counts_against_limit(Json::parse(R"({"metadata":{"deletionTimestamp":"2026-01-01T00:00:00Z"}})")));
}

}  // namespace
}  // namespace riasc::tenancy
