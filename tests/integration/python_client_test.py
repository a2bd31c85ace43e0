#!/usr/bin/python3
"""Debian's python3-kubernetes against a fresh `riasc server`: CustomObjectsApi, CoreV1Api and
ApiextensionsV1Api calls as a lab's Python scripts make them.
Usage: python_client_test.py RIASC_BINARY"""
import signal
import subprocess
import sys
import tempfile

from kubernetes import client, watch

from riasc_harness import Checks, error_of, start_server

riasc = sys.argv[1]
work = tempfile.mkdtemp(prefix="riasc-python-")
checks = Checks()
check = checks.check

def status_of(call):
    return error_of(call)[0]


server = start_server(riasc, f"{work}/data")
try:
    core = client.CoreV1Api()
    custom = client.CustomObjectsApi()
    extensions = client.ApiextensionsV1Api()

    # Namespaces
    core.create_namespace({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "lab"}})
    check("read_namespace", core.read_namespace("lab").status.phase == "Active")
    check("list_namespace", {"default", "lab"} <= {n.metadata.name for n in core.list_namespace().items})

    # A CRD through the typed API, then its custom objects
    crd = extensions.read_custom_resource_definition("trafficprofiles.k8s-netem.riasc.eu")
    check("read CRD as typed model", crd.spec.names.kind == "TrafficProfile")
    check("CRD established", any(c.type == "Established" and c.status == "True" for c in crd.status.conditions))
    widget_crd = {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
                 "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
                 "versions": [{"name": "v1", "served": True, "storage": True,
                               "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                                   "spec": {"type": "object", "properties": {
                                       "size": {"type": "integer", "default": 1}}}}}}}]}}
    created_crd = extensions.create_custom_resource_definition(widget_crd)
    check("create_custom_resource_definition", created_crd.metadata.name == "widgets.example.com")

    widget = {"apiVersion": "example.com/v1", "kind": "Widget",
              "metadata": {"name": "w1", "labels": {"app": "py"}}, "spec": {"extra": "pruned"}}
    created = custom.create_namespaced_custom_object("example.com", "v1", "lab", "widgets", widget)
    check("create_namespaced_custom_object defaults and prunes", created["spec"] == {"size": 1}, created["spec"])
    got = custom.get_namespaced_custom_object("example.com", "v1", "lab", "widgets", "w1")
    check("get_namespaced_custom_object", got["metadata"]["uid"] == created["metadata"]["uid"])
    check("get missing is 404", status_of(lambda: custom.get_namespaced_custom_object(
        "example.com", "v1", "lab", "widgets", "nope")) == 404)
    listed = custom.list_namespaced_custom_object("example.com", "v1", "lab", "widgets", label_selector="app=py")
    check("list with label_selector", listed["kind"] == "WidgetList" and len(listed["items"]) == 1)
    check("list other label", not custom.list_namespaced_custom_object(
        "example.com", "v1", "lab", "widgets", label_selector="app=other")["items"])
    patched = custom.patch_namespaced_custom_object("example.com", "v1", "lab", "widgets", "w1", {"spec": {"size": 5}})
    check("patch (merge)", patched["spec"]["size"] == 5 and patched["metadata"]["generation"] == 2)
    stale = dict(created)
    check("replace with a stale resourceVersion is 409", status_of(lambda: custom.replace_namespaced_custom_object(
        "example.com", "v1", "lab", "widgets", "w1", stale)) == 409)
    profile = {"apiVersion": "k8s-netem.riasc.eu/v1", "kind": "TrafficProfile", "metadata": {"name": "p"},
               "spec": {"podSelector": {}, "parameters": {"netem": {"delay": "20ms"}}}}
    custom.create_cluster_custom_object("k8s-netem.riasc.eu", "v1", "trafficprofiles", profile)
    check("list_cluster_custom_object", [i["metadata"]["name"] for i in custom.list_cluster_custom_object(
        "k8s-netem.riasc.eu", "v1", "trafficprofiles")["items"]] == ["p"])
    check("schema violation is 422", status_of(lambda: custom.patch_cluster_custom_object(
        "k8s-netem.riasc.eu", "v1", "trafficprofiles", "p",
        {"spec": {"parameters": {"netem": {"loss_ratio": 3}}}})) == 422)

    events = [(e["type"], e["object"]["metadata"]["name"]) for e in watch.Watch().stream(
        custom.list_namespaced_custom_object, "example.com", "v1", "lab", "widgets", timeout_seconds=2)]
    check("watch starts with ADDED for what exists", events == [("ADDED", "w1")], events)

    custom.delete_namespaced_custom_object("example.com", "v1", "lab", "widgets", "w1")
    check("delete_namespaced_custom_object", status_of(lambda: custom.get_namespaced_custom_object(
        "example.com", "v1", "lab", "widgets", "w1")) == 404)

    # Pods
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "ctrl", "labels": {"app": "py_ctrl"}},
           "spec": {"containers": [{"name": "controller", "image": "erigrid/py_ctrl"}]}}
    core.create_namespaced_pod("lab", pod)
    check("list_namespaced_pod", [p.metadata.name for p in core.list_namespaced_pod("lab").items] == ["ctrl"])
    check("list_pod_for_all_namespaces", len(core.list_pod_for_all_namespaces().items) == 1)
    core.delete_namespaced_pod("ctrl", "lab")
    check("delete_namespaced_pod", not core.list_namespaced_pod("lab").items)
    core.delete_namespace("lab")
    check("delete_namespace", status_of(lambda: core.read_namespace("lab")) == 404)
except Exception as error:  # an unexpected exception is a failure, with its message
    check(f"unexpected {type(error).__name__}: {error}", False)
finally:
    server.send_signal(signal.SIGTERM)
    check("server stops on SIGTERM", server.wait(timeout=10) == 0)
    subprocess.run(["rm", "-rf", work])

checks.finish()
