#pragma once

// RBAC authorization as kube-apiserver has it (--authorization-mode=RBAC): requests are allowed
// by the stored Roles, ClusterRoles, RoleBindings and ClusterRoleBindings (rbac_rules.hpp), and
// system:masters by kube's privileged-groups authorizer in front of RBAC. Also what belongs to
// RBAC around it: the bootstrap policy (cluster-admin, admin, edit, view, system:discovery,
// system:basic-user, system:public-info-viewer, system:monitoring and their bindings),
// ClusterRole aggregation, escalation prevention on writes of roles and bindings, and the
// SelfSubjectAccessReview and SelfSubjectRulesReview answers.
//
// Decisions (docs/apiserver.md, "Authorization"):
// - Roles and bindings are parsed into one Policy when first needed and kept until ObjectService
//   writes one of them (StoreSnapshot), so a check costs a pointer copy and a scan in memory.
// - Aggregation runs in the server on every ClusterRole write (ObjectService::on_written), not
//   in a controller: the aggregated roles are current when the write that changed them returns.

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "riasc/apiserver/object_service.hpp"
#include "riasc/apiserver/rbac_rules.hpp"
#include "riasc/apiserver/resource_registry.hpp"
#include "riasc/apiserver/store_snapshot.hpp"
#include "riasc/store/store.hpp"

namespace riasc::apiserver {

class RbacAuthorizer {
 public:
  // Reads roles and bindings from `store` directly; writes (bootstrap, aggregation) go through
  // `objects`. Registers itself with `objects` for invalidation, aggregation and the escalation
  // check; both must outlive it.
  RbacAuthorizer(store::Store& store, ResourceRegistry& registry, ObjectService& objects);

  [[nodiscard]] rbac::Decision authorize(const rbac::Attributes& attributes);

  // Creates the bootstrap roles and bindings that are missing and adds missing rules and
  // subjects to those annotated rbac.authorization.kubernetes.io/autoupdate=true (kube's
  // auto-reconcile), then aggregates.
  void reconcile_bootstrap_policy();

  // Fills the rules of every ClusterRole with an aggregationRule from the ClusterRoles its
  // selectors match, until nothing changes (aggregated roles may be aggregated in turn).
  void aggregate();

  // kube's escalation check for a user's write of a Role, ClusterRole, RoleBinding or
  // ClusterRoleBinding: 403 unless the user holds what it grants, or may escalate or bind.
  std::optional<ApiError> check_escalation(const ResourceType& type, std::string_view namespace_name,
                                           const Json& object, const UserInfo& user);

  // The review with its status filled in (SelfSubjectAccessReview, SelfSubjectRulesReview).
  Outcome<Json> access_review(Json review, const UserInfo& user);
  Json rules_review(Json review, const UserInfo& user);

  static bool is_rbac(const ResourceType& type);

 private:
  std::shared_ptr<const rbac::Policy> policy();
  [[nodiscard]] rbac::Policy read_policy() const;
  void write_bootstrap_object(const ResourceType& type, Json wanted);

  store::Store& store_;
  ResourceRegistry& registry_;
  ObjectService& objects_;
  StoreSnapshot<rbac::Policy> policy_;
  std::mutex aggregation_mutex_;
};

// The bootstrap ClusterRoles and ClusterRoleBindings (rbac_bootstrap.cpp), as objects.
std::vector<Json> bootstrap_policy();

}  // namespace riasc::apiserver
