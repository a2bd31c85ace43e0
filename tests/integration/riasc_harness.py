"""What the Python integration tests share: a `riasc server` on a scratch data folder, the
client configuration it writes, and pass/fail counting that ends in `N passed, N failed`."""
import json
import os
import subprocess
import sys
import time

from kubernetes import config
from kubernetes.client.rest import ApiException


class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, name, condition, detail=""):
        if condition:
            self.passed += 1
        else:
            self.failed += 1
            print(f"FAILED: {name} {detail}")

    def finish(self):
        print(f"{self.passed} passed, {self.failed} failed")
        sys.exit(1 if self.failed else 0)


def start_server(riasc, data_dir, listen="127.0.0.1:0", extra_args=()):
    """Starts the server and waits for its kubeconfig (written once it serves), then loads it."""
    kubeconfig = os.path.join(data_dir, "kubeconfig")
    if os.path.exists(kubeconfig):
        os.remove(kubeconfig)
    server = subprocess.Popen([riasc, "server", "--data-dir", data_dir, "--listen", listen, *extra_args],
                              stderr=subprocess.DEVNULL)
    for _ in range(100):
        if os.path.exists(kubeconfig):
            break
        time.sleep(0.1)
    config.load_kube_config(config_file=kubeconfig)
    return server


def error_of(call):
    """(HTTP status, Status message) of a client call: (200, "") when it succeeds."""
    try:
        call()
    except ApiException as error:
        try:
            message = json.loads(error.body).get("message", "")
        except (TypeError, ValueError):
            message = ""
        return error.status, message
    return 200, ""
