"""A real Mosquitto broker for the network tests (Debian package
`mosquitto`, installed by `make net-deps`), on a free loopback port."""

import os
import shutil
import socket
import subprocess
import time

import pytest


def mosquitto_binary():
    return shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto",) if os.path.exists(p)), None)


def chromium_binary():
    return shutil.which("chromium") or shutil.which("chromium-browser")


def require(binary, package):
    if binary is None:
        pytest.skip("%s is not installed: `make net-deps` installs Debian's %s (needs root and apt-get)"
                    % (package, package))
    return binary


def wait_port(port, timeout=5.0, what="port"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("%s %d not accepting within %.0f s" % (what, port, timeout))


class Broker:
    def __init__(self, directory, port):
        self.exe = require(mosquitto_binary(), "mosquitto")
        self.port = port
        self.conf = os.path.join(str(directory), "mosquitto.conf")
        with open(self.conf, "w") as f:
            f.write("listener %d 127.0.0.1\nallow_anonymous true\npersistence false\n" % port)
        self.log = os.path.join(str(directory), "mosquitto.log")
        self.p = None
        self.start()

    def start(self):
        self.p = subprocess.Popen([self.exe, "-c", self.conf], stdout=open(self.log, "ab"),
                                  stderr=subprocess.STDOUT)
        wait_port(self.port, what="mosquitto")

    def stop(self):
        if self.p is not None and self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.p = None
