#!/usr/bin/python3
"""Object lifecycle through Debian's python3-kubernetes against a fresh `riasc server`: garbage
collection of dependents (background, foreground, orphan), deletecollection, dry runs, field
validation, field selectors, watch bookmarks, pods/log, per-client stream limits (429), and 410 Gone once compaction has passed a watch's
or a continue token's resourceVersion.
Usage: lifecycle_test.py RIASC_BINARY"""
import json
import os
import signal
import sys
import tempfile
import threading
import time

from kubernetes import client

from riasc_harness import Checks, error_of, start_server

riasc = sys.argv[1]
work = tempfile.mkdtemp(prefix="riasc-lifecycle-")
checks = Checks()
check = checks.check


def eventually(condition, seconds=10):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def watch_lines(core, **arguments):
    """The raw watch stream: each line as a (type, object) pair."""
    response = core.list_namespaced_config_map("lab", watch=True, _preload_content=False, **arguments)
    events = []
    for line in response.stream(decode_content=True):
        for piece in line.decode().splitlines():
            if piece.strip():
                event = json.loads(piece)
                events.append((event["type"], event["object"]))
    return events


server = start_server(riasc, f"{work}/data",
                      extra_args=["--compaction-interval", "1s", "--max-streams-per-client", "2"])
try:
    core = client.CoreV1Api()
    core.create_namespace({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "lab"}})

    def config_map(name, owners=(), block=False, finalizers=None):
        references = [{"apiVersion": "v1", "kind": "ConfigMap", "name": o.metadata.name, "uid": o.metadata.uid,
                       "blockOwnerDeletion": block} for o in owners]
        metadata = {"name": name, "ownerReferences": references}
        if finalizers:
            metadata["finalizers"] = finalizers
        return core.create_namespaced_config_map("lab", {"apiVersion": "v1", "kind": "ConfigMap",
                                                         "metadata": metadata})

    def exists(name):
        return error_of(lambda: core.read_namespaced_config_map(name, "lab"))[0] == 200

    # Garbage collection
    owner = config_map("owner")
    child = config_map("child", [owner])
    config_map("grandchild", [child])
    core.delete_namespaced_config_map("owner", "lab")
    check("background: dependents and theirs follow the owner",
          eventually(lambda: not exists("child") and not exists("grandchild")))

    owner = config_map("owner2")
    config_map("held", [owner], block=True, finalizers=["riasc.eu/hold"])
    core.delete_namespaced_config_map("owner2", "lab", propagation_policy="Foreground")
    time.sleep(0.5)
    check("foreground: the owner waits for a blocking dependent",
          exists("owner2") and core.read_namespaced_config_map("owner2", "lab").metadata.finalizers == [
              "foregroundDeletion"])
    core.patch_namespaced_config_map("held", "lab", {"metadata": {"finalizers": None}})
    check("foreground: the owner goes once the dependent is gone",
          eventually(lambda: not exists("owner2") and not exists("held")))

    owner = config_map("owner3")
    config_map("orphan", [owner])
    core.delete_namespaced_config_map("owner3", "lab", body=client.V1DeleteOptions(propagation_policy="Orphan"))
    check("orphan: the dependent stays without the reference",
          eventually(lambda: not exists("owner3") and exists("orphan") and
                     not core.read_namespaced_config_map("orphan", "lab").metadata.owner_references))

    # deletecollection with a label selector
    for name, tier in [("a", "web"), ("b", "web"), ("c", "db")]:
        core.create_namespaced_config_map("lab", {"metadata": {"name": name, "labels": {"tier": tier}}})
    core.delete_collection_namespaced_config_map("lab", label_selector="tier=web")
    check("delete_collection with a label selector",
          sorted(c.metadata.name for c in core.list_namespaced_config_map("lab", label_selector="tier").items) == ["c"])

    # Dry run
    core.create_namespaced_config_map("lab", {"metadata": {"name": "dry"}}, dry_run="All")
    check("create with dryRun=All stores nothing", not exists("dry"))
    core.delete_namespaced_config_map("c", "lab", dry_run="All")
    check("delete with dryRun=All deletes nothing", exists("c"))
    check("an unknown dryRun value is 400", error_of(lambda: core.delete_namespaced_config_map(
        "c", "lab", dry_run="Some"))[0] == 400)

    # Field selectors: supported fields work, others are refused as kube-apiserver words it
    check("field selector metadata.name", [c.metadata.name for c in core.list_namespaced_config_map(
        "lab", field_selector="metadata.name=c").items] == ["c"])
    code, message = error_of(lambda: core.list_namespaced_config_map("lab", field_selector="data.x=1"))
    check("unsupported field label is 400", code == 400 and message == "field label not supported: data.x",
          message)

    # Watch bookmarks: the watch ends with one carrying the current resourceVersion
    latest = core.list_namespaced_config_map("lab").metadata.resource_version
    events = watch_lines(core, resource_version=latest, allow_watch_bookmarks=True, timeout_seconds=2)
    check("watch ends with a BOOKMARK at the current revision",
          events and events[-1][0] == "BOOKMARK" and
          int(events[-1][1]["metadata"]["resourceVersion"]) >= int(latest), events)

    # Compaction: a watch from before the compacted revision gets 410 Gone as an ERROR event
    first = core.list_namespaced_config_map("lab", limit=1)
    for i in range(3):
        core.create_namespaced_config_map("lab", {"metadata": {"name": f"later{i}"}})
    time.sleep(2.5)  # two compaction intervals
    events = watch_lines(core, resource_version=first.metadata.resource_version, timeout_seconds=2)
    check("watch from a compacted revision: ERROR 410 Expired",
          len(events) == 1 and events[0][0] == "ERROR" and events[0][1]["code"] == 410 and
          events[0][1]["reason"] == "Expired", events)
    code, message = error_of(lambda: core.list_namespaced_config_map("lab", limit=1,
                                                                     _continue=first.metadata._continue))
    check("continue token from a compacted revision: 410", code == 410 and "too old" in message, message)

    # Per-client limits: two open watches are this client's share; a third gets 429 until one ends
    # (urllib3 waits out Retry-After and tries again by itself: this client must not, to see the 429.)
    held = [core.list_namespaced_config_map("lab", watch=True, timeout_seconds=3, _preload_content=False)
            for _ in range(2)]
    impatient_configuration = client.Configuration.get_default_copy()
    impatient_configuration.retries = False
    impatient = client.CoreV1Api(client.ApiClient(impatient_configuration))
    code, message = error_of(lambda: impatient.list_namespaced_config_map("lab", watch=True, timeout_seconds=1))
    check("a watch over the client's stream limit: 429", code == 429 and "too many open streams" in message,
          (code, message))
    check("the client's other requests are still served", exists("c"))
    for response in held:
        b"".join(response.stream(decode_content=True))
        response.release_conn()
    events = watch_lines(core, timeout_seconds=1)
    check("once its watches have ended the client may watch again", len(events) > 0, events)

    # pods/log: files the node runtime writes under DATA_DIR/logs, served to kubectl logs [-f]
    core.create_namespaced_pod("lab", {"metadata": {"name": "sim"},
                                       "spec": {"containers": [{"name": "main", "image": "sim"}]}})
    code, message = error_of(lambda: core.read_namespaced_pod_log("sim", "lab"))
    check("log of a container that has not started: 400", code == 400 and "is waiting to start" in message, message)
    code, message = error_of(lambda: core.read_namespaced_pod_log("sim", "lab", container="other"))
    check("log of a container the pod lacks: 400", message == "container other is not valid for pod sim", message)
    log_dir = f"{work}/data/logs/lab/sim"
    os.makedirs(log_dir)
    with open(f"{log_dir}/main.log", "w") as log:
        log.write("one\ntwo\nthree\n")
    check("read_namespaced_pod_log", core.read_namespaced_pod_log("sim", "lab") == "one\ntwo\nthree\n")
    check("tail_lines", core.read_namespaced_pod_log("sim", "lab", tail_lines=2) == "two\nthree\n")
    check("limit_bytes", core.read_namespaced_pod_log("sim", "lab", limit_bytes=3) == "one")
    stream = core.read_namespaced_pod_log("sim", "lab", follow=True, tail_lines=1, _preload_content=False)

    def append_then_delete():
        time.sleep(0.5)
        with open(f"{log_dir}/main.log", "a") as log:
            log.write("four\n")
        time.sleep(0.5)
        core.delete_namespaced_pod("sim", "lab")
    writer = threading.Thread(target=append_then_delete)
    writer.start()
    followed = b"".join(stream.stream(decode_content=True)).decode()
    writer.join()
    check("follow sends what is appended and ends when the pod goes", followed == "three\nfour\n", repr(followed))
except Exception as error:  # report, don't hide: an unexpected exception is a failure
    check(f"unexpected {type(error).__name__}: {error}", False)
finally:
    server.send_signal(signal.SIGTERM)
    check("server stops on SIGTERM", server.wait(timeout=10) == 0)
checks.finish()
