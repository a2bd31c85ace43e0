#pragma once

// Admission webhooks, the calling side, as kube-apiserver has it: every create, update (also of
// the status subresource) and delete is sent as an admission.k8s.io/v1 AdmissionReview to the
// webhooks of the stored MutatingWebhookConfigurations (in order of configuration name, then
// webhook; their JSONPatch responses change the object) before the server's own validation, and to
// those of the ValidatingWebhookConfigurations after it, on the final object. A webhook matches a
// request by its rules, namespaceSelector and objectSelector exactly as in kube-apiserver; a
// denial, or a failed call under failurePolicy Fail, refuses the request.
//
// Decisions (docs/apiserver.md, "Admission webhooks"):
// - Webhooks are called over HTTPS at clientConfig.url only: the embedded server has no Service
//   network, so a clientConfig.service is stored but calling it fails as a call failure (the
//   failurePolicy decides).
// - The call blocks the thread that handles the request (one of the server's event loops) for up
//   to timeoutSeconds, as a write already holds its loop until the store's group commit.
// - matchPolicy is accepted and ignored: every served resource has one version here, so Exact and
//   Equivalent select the same requests. reinvocationPolicy IfNeeded is not honoured (each
//   mutating webhook is called once). Validating webhooks are called one after the other.

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "riasc/apiserver/object_service.hpp"
#include "riasc/apiserver/resource_registry.hpp"
#include "riasc/apiserver/store_snapshot.hpp"
#include "riasc/core/field_error.hpp"
#include "riasc/core/json.hpp"
#include "riasc/store/store.hpp"

namespace riasc::apiserver {

enum class AdmissionOperation { Create, Update, Delete };

// One request as the webhooks are told about it (AdmissionRequest without the objects).
struct AdmissionAttributes {
  const ResourceType* type = nullptr;
  std::string subresource;  // "status" or ""
  AdmissionOperation operation = AdmissionOperation::Create;
  std::string namespace_name;
  std::string name;
  const std::optional<UserInfo>* user = nullptr;  // absent: the server's own write
  bool dry_run = false;
  Json options;  // CreateOptions, UpdateOptions or DeleteOptions (meta.k8s.io/v1)
  // Where webhook warnings go (the answer's Warning headers); may be null.
  std::vector<std::string>* warnings = nullptr;
};

class WebhookAdmission {
 public:
  // Reads the configurations and namespaces from `store` (not through ObjectService, which calls
  // this class).
  WebhookAdmission(store::Store& store, const ResourceRegistry& registry);
  ~WebhookAdmission();
  WebhookAdmission(const WebhookAdmission&) = delete;
  WebhookAdmission& operator=(const WebhookAdmission&) = delete;

  // The matching mutating webhooks, in order; each one's patch is applied to `object` before the
  // next is called. `object` is null for DELETE, `old_object` for CREATE.
  std::optional<ApiError> mutate(const AdmissionAttributes& attributes, Json* object, const Json* old_object);
  // The matching validating webhooks, on the object about to be stored.
  std::optional<ApiError> validate(const AdmissionAttributes& attributes, const Json* object,
                                   const Json* old_object);

  // Drops the configurations read so far: ObjectService calls it after every write to either
  // configuration resource, and the next request reads them again. Requests in between use the
  // older set, as kube-apiserver's informer-fed one lags a write too.
  void configurations_changed();

  // The webhook configuration resources themselves are never sent to webhooks (kube-apiserver
  // exempts them so that a broken webhook cannot lock its own configuration).
  static bool exempt(const ResourceType& type);

 private:
  struct Snapshot;
  std::shared_ptr<const Snapshot> snapshot();
  [[nodiscard]] Snapshot read_configurations() const;
  // `patch_target` (the object itself, when mutating and there is one) takes the patches.
  std::optional<ApiError> run(bool mutating, const AdmissionAttributes& attributes, const Json* object,
                              const Json* old_object, Json* patch_target);

  store::Store& store_;
  const ResourceRegistry& registry_;
  StoreSnapshot<Snapshot> snapshot_;
};

// Checks a MutatingWebhookConfiguration or ValidatingWebhookConfiguration (v1) as kube-apiserver
// does, after filling in its defaults (failurePolicy Fail, matchPolicy Equivalent, empty
// selectors, timeoutSeconds 10, rule scope "*", service port 443, reinvocationPolicy Never).
FieldErrors validate_webhook_configuration(Json& configuration, bool mutating);

}  // namespace riasc::apiserver
