#pragma once

// Kubernetes' garbage collector for the embedded server: dependents (objects whose
// metadata.ownerReferences name an owner by uid) follow their owners.
//   Background: an owner is gone, so every dependent whose owners are all gone is deleted;
//               references to owners that are gone are dropped from dependents that keep one.
//   Foreground: the owner waits (finalizer foregroundDeletion) while its dependents are deleted,
//               in foreground too, so chains unwind from the leaves; then the finalizer goes.
//   Orphan:     the owner waits (finalizer orphan) while the references to it are removed.
// It runs on its own thread, fed by a store watch (no polling), and keeps an index from owner
// uid to dependents, so one deletion costs the size of its dependents, not of the store.

#include <memory>

#include "riasc/apiserver/object_service.hpp"
#include "riasc/store/store.hpp"

namespace riasc::apiserver {

class GarbageCollector {
 public:
  GarbageCollector(store::Store& store, ObjectService& objects);
  ~GarbageCollector();  // stop()
  GarbageCollector(const GarbageCollector&) = delete;
  GarbageCollector& operator=(const GarbageCollector&) = delete;

  // Indexes the stored objects, handles what happened while no collector ran, then follows.
  void start();
  void stop();

  // Blocks until every write up to the store's current revision has been handled (for tests and
  // benchmarks), or `timeout` passes; false on timeout.
  bool wait_idle(std::chrono::milliseconds timeout);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace riasc::apiserver
