#!/usr/bin/python3
"""SIGKILL in the middle of a stream of writes loses no acknowledged write, and a restarted server
continues resourceVersions and serves watches from there. Usage: crash_test.py RIASC_BINARY"""
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

from kubernetes import client, watch

from riasc_harness import Checks, start_server

riasc = sys.argv[1]
work = tempfile.mkdtemp(prefix="riasc-crash-")
checks = Checks()
check = checks.check


def start(port):
    server = start_server(riasc, f"{work}/data", f"127.0.0.1:{port}")
    return server, client.CoreV1Api()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


port = free_port()
server, core = start(port)
acknowledged = {}  # name -> resourceVersion, recorded only after the server answered
stop = threading.Event()


def writer():
    i = 0
    while not stop.is_set():
        name = f"cm-{i}"
        try:
            created = core.create_namespaced_config_map(
                "default", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"i": str(i)}})
        except Exception:
            return  # the server is gone
        acknowledged[name] = int(created.metadata.resource_version)
        i += 1


thread = threading.Thread(target=writer)
thread.start()
while len(acknowledged) < 200:
    time.sleep(0.01)
server.send_signal(signal.SIGKILL)
server.wait()
stop.set()
thread.join()
last = max(acknowledged.values())
check("writes were acknowledged before the kill", len(acknowledged) >= 200, len(acknowledged))

server, core = start(port)
try:
    stored = {cm.metadata.name: int(cm.metadata.resource_version)
              for cm in core.list_namespaced_config_map("default").items}
    lost = [name for name in acknowledged if name not in stored]
    check("no acknowledged write is lost", not lost, f"{len(lost)} lost, e.g. {lost[:5]}")
    check("acknowledged versions unchanged", all(stored[n] == v for n, v in acknowledged.items() if n in stored))
    after = core.create_namespaced_config_map(
        "default", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "after-restart"}})
    check("resourceVersions continue", int(after.metadata.resource_version) > last,
          f"{after.metadata.resource_version} <= {last}")
    events = [(e["type"], e["object"].metadata.name) for e in watch.Watch().stream(
        core.list_namespaced_config_map, "default", resource_version=str(last), timeout_seconds=2)]
    check("a watch from before the restart sees what came after", ("ADDED", "after-restart") in events, events)
finally:
    server.send_signal(signal.SIGTERM)
    server.wait(timeout=10)
    subprocess.run(["rm", "-rf", work])

checks.finish()
