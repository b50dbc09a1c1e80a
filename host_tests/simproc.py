"""Start the virtual meter (tools/sim.py) for a test, as a user would, and
wait for what it prints."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_scenario(path, config, segments, frontend=None):
    sc = {"name": os.path.basename(str(path)), "config": config, "segments": segments}
    if frontend:
        sc["frontend"] = frontend
    with open(path, "w") as f:
        json.dump(sc, f)
    return str(path)


def wye(v=277.0, i=40.0, lag=25.84, f=60.0, duration=20, phases="ABC"):
    ang = {"A": 0.0, "B": -120.0, "C": 120.0}
    return {"duration_s": duration, "frequency_hz": f,
            "phases": {p: {"v_rms": v, "v_deg": ang[p], "i_rms": i, "i_deg": ang[p] - lag} for p in phases}}


class Sim:
    def __init__(self, scenario, *args, runtime=None, preexec_fn=None):
        self.tcp_port = free_port()
        self.rtu_tcp_port = free_port()
        cmd = [sys.executable, os.path.join(ROOT, "tools", "sim.py"), "--headless", "--scenario", scenario,
               "--modbus-tcp", str(self.tcp_port), "--rtu-tcp", str(self.rtu_tcp_port)] + list(args)
        if runtime:
            cmd += ["--runtime", runtime]
        # its own process group, so kill() can take the firmware child down with
        # it at once, like a power cut
        self.p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                                  start_new_session=True, preexec_fn=preexec_fn)
        self.lines = []
        first = self.p.stdout.readline().strip()
        assert first.startswith("modbus-rtu: "), first + self.p.stderr.read()
        self.rtu_path = first.split(": ", 1)[1]

    def wait_for(self, text, timeout=120):
        t0 = time.time()
        while time.time() - t0 < timeout:
            line = self.p.stdout.readline()
            if not line:
                raise AssertionError("simulator ended: %s" % self.p.stderr.read())
            self.lines.append(line.rstrip("\n"))
            if text in line:
                return line
        raise AssertionError("no %r within %s s" % (text, timeout))

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()

    def finish(self):
        """Stop (SIGTERM: the meter saves) and return what it printed after
        the lines read so far (its last line: the figures it survived)."""
        self.stop()
        return self.p.stdout.read()

    def kill(self):
        """Power cut: SIGKILL to the host side and the firmware together."""
        os.killpg(self.p.pid, signal.SIGKILL)
        self.p.wait()
