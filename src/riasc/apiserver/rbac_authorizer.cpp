#include "riasc/apiserver/rbac_authorizer.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>
#include <stdexcept>

#include "riasc/core/go_quote.hpp"
#include "riasc/core/label_selector.hpp"
#include "riasc/kubeapi/status.hpp"

namespace riasc::apiserver {

using kubeapi::GroupResource;

namespace {

constexpr const char* kAutoupdate = "rbac.authorization.kubernetes.io/autoupdate";

// Set while this thread aggregates: the ClusterRole writes of aggregation come back through the
// write observer, and the outer loop already goes on until nothing changes.
thread_local bool aggregating = false;

std::vector<rbac::PolicyRule> rules_of(const Json& role) {
  std::vector<rbac::PolicyRule> out;
  const Json rules = role.value("rules", Json::array());
  if (!rules.is_array()) return out;
  for (const auto& rule : rules) out.push_back(rbac::PolicyRule::from_json(rule));
  return out;
}

Json rules_json(const std::vector<rbac::PolicyRule>& rules) {
  Json out = Json::array();
  for (const auto& rule : rules) out.push_back(rule.to_json());
  return out;
}

// Go's %q of a []string, as kube prints a user's groups.
std::string quoted_list(const std::vector<std::string>& values) {
  std::vector<std::string> quoted;
  for (const auto& value : values) quoted.push_back(go_quote(value));
  return fmt::format("[{}]", fmt::join(quoted, " "));
}

std::vector<rbac::PolicyRule> full_authority() {
  return {{{"*"}, {"*"}, {"*"}, {}, {}}, {{"*"}, {}, {}, {}, {"*"}}};
}

}  // namespace

bool RbacAuthorizer::is_rbac(const ResourceType& type) {
  return type.group == rbac::kGroup &&
         (type.resource == "roles" || type.resource == "clusterroles" || type.resource == "rolebindings" ||
          type.resource == "clusterrolebindings");
}

RbacAuthorizer::RbacAuthorizer(store::Store& store, ResourceRegistry& registry, ObjectService& objects)
    : store_(store), registry_(registry), objects_(objects) {
  objects_.on_written([this](const ResourceType& type) {
    if (!is_rbac(type)) return;
    policy_.invalidate();
    if (type.resource == "clusterroles") aggregate();
  });
  objects_.set_write_check(
      [this](const ResourceType& type, std::string_view namespace_name, const Json& object,
             const UserInfo& user) { return check_escalation(type, namespace_name, object, user); });
}

std::shared_ptr<const rbac::Policy> RbacAuthorizer::policy() {
  return policy_.get([this] { return read_policy(); });
}

rbac::Policy RbacAuthorizer::read_policy() const {
  rbac::Policy policy;
  for (const char* resource : {"clusterroles", "roles", "clusterrolebindings", "rolebindings"}) {
    auto type = registry_.find(rbac::kGroup, "v1", resource);
    if (!type) continue;
    for (const auto& record : store_.list(type->key_prefix()).records) {
      Json object = Json::parse(*record.value, nullptr, false);
      if (object.is_object()) policy.add(object);
    }
  }
  return policy;
}

rbac::Decision RbacAuthorizer::authorize(const rbac::Attributes& attributes) {
  if (rbac::privileged(attributes.groups)) return rbac::authorize({}, attributes);
  return rbac::authorize(*policy(), attributes);
}

// --- escalation ----------------------------------------------------------------------------------

std::optional<ApiError> RbacAuthorizer::check_escalation(const ResourceType& type,
                                                         std::string_view namespace_name, const Json& object,
                                                         const UserInfo& user) {
  if (!is_rbac(type) || rbac::privileged(user.groups)) return std::nullopt;  // kube's EscalationAllowed
  const std::string name = string_member(object.value("metadata", Json::object()), "name");
  const std::string ns(namespace_name);
  const GroupResource resource{rbac::kGroup, type.resource};
  auto allowed = [&](const std::string& verb, const std::string& on, const std::string& on_name) {
    rbac::Attributes attributes;
    attributes.user = user.username;
    attributes.groups = user.groups;
    attributes.verb = verb;
    attributes.group = rbac::kGroup;
    attributes.resource = on;
    attributes.namespace_name = ns;
    attributes.name = on_name;
    return authorize(attributes).allowed;
  };
  const auto policy_now = policy();
  const auto held = rbac::rules_for(*policy_now, user.username, user.groups, ns);
  auto refuse = [&](const std::string& why) {
    return ApiError{kubeapi::status_forbidden(resource, name, why)};
  };
  auto confirm = [&](const std::vector<rbac::PolicyRule>& granted) -> std::optional<ApiError> {
    const auto missing = rbac::uncovered(held, granted);
    if (missing.empty()) return std::nullopt;
    std::set<std::string> described;
    for (const auto& rule : missing) described.insert(rule.compact_string());
    return refuse(
        fmt::format("user {} (groups={}) is attempting to grant RBAC permissions not currently held:\n{}",
                    go_quote(user.username), quoted_list(user.groups), fmt::join(described, "\n")));
  };
  if (type.resource == "roles" || type.resource == "clusterroles") {
    if (allowed("escalate", type.resource, name)) return std::nullopt;
    if (auto refused = confirm(rules_of(object))) return refused;
    // An aggregationRule can gather anything: kube asks for full authority to set one.
    if (type.resource == "clusterroles" && object.contains("aggregationRule") &&
        !object["aggregationRule"].is_null() && !rbac::uncovered(held, full_authority()).empty()) {
      return refuse("must have cluster-admin privileges to use the aggregationRule");
    }
    return std::nullopt;
  }
  const rbac::Binding binding = rbac::Binding::from_json(object);
  const std::string role_resource = binding.role_kind == "ClusterRole" ? "clusterroles" : "roles";
  if (allowed("bind", role_resource, binding.role_name)) return std::nullopt;
  auto granted = rbac::role_rules(*policy_now, binding.role_kind, binding.role_name, ns);
  if (!granted) return ApiError{kubeapi::status_not_found({rbac::kGroup, role_resource}, binding.role_name)};
  return confirm(*granted);
}

// --- reviews ---------------------------------------------------------------------------------------

Outcome<Json> RbacAuthorizer::access_review(Json review, const UserInfo& user) {
  const Json spec = review.value("spec", Json::object());
  const Json resource = spec.value("resourceAttributes", Json());
  const Json non_resource = spec.value("nonResourceAttributes", Json());
  if (resource.is_object() == non_resource.is_object()) {
    return ApiError{kubeapi::status_invalid(
        {"authorization.k8s.io", "SelfSubjectAccessReview"}, "",
        {{FieldError::Type::Invalid, FieldPath().child("spec"), spec,
          "exactly one of nonResourceAttributes or resourceAttributes must be specified"}})};
  }
  rbac::Attributes attributes;
  attributes.user = user.username;
  attributes.groups = user.groups;
  if (resource.is_object()) {
    attributes.verb = string_member(resource, "verb");
    attributes.group = string_member(resource, "group");
    attributes.resource = string_member(resource, "resource");
    attributes.subresource = string_member(resource, "subresource");
    attributes.namespace_name = string_member(resource, "namespace");
    attributes.name = string_member(resource, "name");
  } else {
    attributes.resource_request = false;
    attributes.verb = string_member(non_resource, "verb");
    attributes.path = string_member(non_resource, "path");
  }
  const rbac::Decision decision = authorize(attributes);
  Json status = {{"allowed", decision.allowed}};
  if (!decision.reason.empty()) status["reason"] = decision.reason;
  review["status"] = std::move(status);
  if (!review["metadata"].is_object()) review["metadata"] = Json::object();
  review["metadata"]["creationTimestamp"] = nullptr;
  return review;
}

Json RbacAuthorizer::rules_review(Json review, const UserInfo& user) {
  const std::string ns = string_member(review.value("spec", Json::object()), "namespace");
  std::vector<rbac::PolicyRule> rules;
  if (rbac::privileged(user.groups)) rules = full_authority();
  rbac::append_unique(rules, rbac::rules_for(*policy(), user.username, user.groups, ns));
  Json resource_rules = Json::array();
  Json non_resource_rules = Json::array();
  for (const auto& rule : rules) {
    if (!rule.resources.empty()) {
      rbac::PolicyRule part = rule;
      part.non_resource_urls.clear();
      Json json = part.to_json();
      if (!json.contains("apiGroups")) json["apiGroups"] = Json::array();
      resource_rules.push_back(std::move(json));
    }
    if (!rule.non_resource_urls.empty())
      non_resource_rules.push_back({{"verbs", rule.verbs}, {"nonResourceURLs", rule.non_resource_urls}});
  }
  review["status"] = {{"resourceRules", std::move(resource_rules)},
                      {"nonResourceRules", std::move(non_resource_rules)},
                      {"incomplete", false}};
  if (!review["metadata"].is_object()) review["metadata"] = Json::object();
  review["metadata"]["creationTimestamp"] = nullptr;
  return review;
}

// --- bootstrap and aggregation ---------------------------------------------------------------------

void RbacAuthorizer::write_bootstrap_object(const ResourceType& type, Json wanted) {
  const std::string name = string_member(wanted["metadata"], "name");
  auto current = objects_.get(type, {}, name);
  if (std::holds_alternative<ApiError>(current)) {
    auto created = objects_.create(type, {}, std::move(wanted));
    if (auto* error = std::get_if<ApiError>(&created))
      throw std::runtime_error(
          fmt::format("cannot create the bootstrap {} {}: {}", type.kind, name, error->message()));
    return;
  }
  Json object = std::get<Json>(std::move(current));
  const Json annotations = object["metadata"].value("annotations", Json::object());
  if (!annotations.is_object() || annotations.value(kAutoupdate, "") != "true") return;  // the admin's now
  // kube's reconciliation adds what is missing and keeps what the admin added.
  bool changed = false;
  if (type.resource == "clusterroles") {
    if (wanted.contains("aggregationRule") &&
        object.value("aggregationRule", Json()) != wanted["aggregationRule"]) {
      object["aggregationRule"] = wanted["aggregationRule"];
      changed = true;
    }
    auto rules = rules_of(object);
    const auto wanted_rules = rules_of(wanted);
    if (!wanted.contains("aggregationRule") && !rbac::uncovered(rules, wanted_rules).empty()) {
      rbac::append_unique(rules, wanted_rules);
      object["rules"] = rules_json(rules);
      changed = true;
    }
  } else {
    Json subjects = object.value("subjects", Json::array());
    if (!subjects.is_array()) subjects = Json::array();
    for (const auto& subject : wanted["subjects"]) {
      if (std::find(subjects.begin(), subjects.end(), subject) == subjects.end()) {
        subjects.push_back(subject);
        changed = true;
      }
    }
    object["subjects"] = std::move(subjects);
  }
  if (changed) (void)objects_.update(type, {}, name, std::move(object));
}

void RbacAuthorizer::reconcile_bootstrap_policy() {
  auto roles = registry_.find(rbac::kGroup, "v1", "clusterroles");
  auto bindings = registry_.find(rbac::kGroup, "v1", "clusterrolebindings");
  if (!roles || !bindings) return;
  for (auto& object : bootstrap_policy()) {
    const bool role = object.value("kind", "") == "ClusterRole";  // before the object is moved
    write_bootstrap_object(role ? *roles : *bindings, std::move(object));
  }
  aggregate();
}

void RbacAuthorizer::aggregate() {
  if (aggregating) return;
  auto type = registry_.find(rbac::kGroup, "v1", "clusterroles");
  if (!type) return;
  std::lock_guard lock(aggregation_mutex_);
  struct Flag {
    Flag() { aggregating = true; }
    ~Flag() { aggregating = false; }
    Flag(const Flag&) = delete;
    Flag& operator=(const Flag&) = delete;
  } flag;
  // Each pass sees the previous pass's writes; chains (view → edit → admin) settle in a few.
  for (int pass = 0; pass < 10; ++pass) {
    auto listed = objects_.list(*type, {});
    if (!std::holds_alternative<Json>(listed)) break;
    const Json roles = std::get<Json>(std::move(listed))["items"];
    bool changed = false;
    for (const auto& role : roles) {
      const Json rule = role.value("aggregationRule", Json());
      if (!rule.is_object()) continue;
      std::vector<LabelSelector> selectors;
      for (const auto& selector : rule.value("clusterRoleSelectors", Json::array())) {
        FieldErrors ignored;
        selectors.push_back(LabelSelector::from_json(selector, {}, ignored));
      }
      const std::string name = string_member(role["metadata"], "name");
      std::vector<rbac::PolicyRule> rules;
      for (const auto& other : roles) {
        if (string_member(other["metadata"], "name") == name) continue;
        if (std::any_of(selectors.begin(), selectors.end(),
                        [&](const LabelSelector& selector) { return selector.matches_object(other); }))
          rbac::append_unique(rules, rules_of(other));
      }
      if (rules == rules_of(role)) continue;
      Json updated = role;
      updated["rules"] = rules_json(rules);
      // A concurrent write (409) is seen by the next pass.
      (void)objects_.update(*type, {}, name, std::move(updated));
      changed = true;
    }
    if (!changed) break;
  }
}

}  // namespace riasc::apiserver
