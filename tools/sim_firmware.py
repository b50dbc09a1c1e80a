# The virtual meter's firmware side: the `sim` board's main loop. Runs under
# the real `micropython` binary (default) or CPython, started by tools/sim.py,
# which relays the Modbus links over this process's stdin/stdout (protocol in
# tools/sim.py). Everything the meter does is the firmware's own code; this
# file only plays the board: a synthesized front-end, a clock, a UART and
# TCP sockets made of lines on a pipe, and a state directory for flash.
#
# Time: simulated time is the number of frames fed to the DSP divided by fs.
# With --speed N it follows the wall clock times N; with --speed max it runs
# as fast as the CPU allows, a simulated second at a time, answering Modbus
# between seconds. When the scenario ends, simulated time stops and the meter
# keeps answering with its state frozen.
import sys

_here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
# firmware/ and boards/ ahead of tools/ (the script's own directory, which
# the interpreter put first): `import sim` must be the board, not tools/sim.py
sys.path[:] = [_here + "/../firmware", _here + "/../boards"] + \
    [p for p in sys.path if p not in ("", ".", _here)] + [_here]

import select  # noqa: E402
import time  # noqa: E402

import scenario  # noqa: E402

IS_MP = sys.implementation.name == "micropython"
if not IS_MP:
    import os


def ticks_us():
    if IS_MP:
        return time.ticks_us()
    return int(time.monotonic() * 1000000)


def ticks_diff(a, b):
    if IS_MP:
        return time.ticks_diff(a, b)
    return a - b


def out(line):
    sys.stdout.write(line + "\n")
    if not IS_MP:
        sys.stdout.flush()


LINES_PER_TURN = 32  # lines taken from the host a loop turn: the input is bounded
LINE_MAX = 8192  # longest line the host sends (a 2048-byte Modbus TCP read, hex)


class LineInput:
    """Lines from the host, without blocking the simulation, at most
    LINES_PER_TURN a turn: what the host sends faster waits in the pipe (and
    in the host's bounded queue), never here."""

    def __init__(self):
        self.poll = select.poll()
        self.poll.register(sys.stdin, select.POLLIN)
        self.buf = b""
        self.closed = False

    def lines(self, timeout_ms):
        got = []
        if not IS_MP:
            while b"\n" in self.buf and len(got) < LINES_PER_TURN:
                line, self.buf = self.buf.split(b"\n", 1)
                got.append(line.decode())
            if got:
                timeout_ms = 0
        while len(got) < LINES_PER_TURN and self.poll.poll(timeout_ms):
            timeout_ms = 0
            if IS_MP:
                line = sys.stdin.readline()  # unbuffered: poll stays exact
                if not line:
                    self.closed = True
                    break
                got.append(line.rstrip("\n"))
            else:
                data = os.read(0, LINE_MAX)
                if not data:
                    self.closed = True
                    break
                self.buf += data
                while b"\n" in self.buf and len(got) < LINES_PER_TURN:
                    line, self.buf = self.buf.split(b"\n", 1)
                    got.append(line.decode())
                if len(self.buf) > 2 * LINE_MAX:  # no line is this long: not the host
                    raise ValueError("a line from the host over %d bytes" % LINE_MAX)
        return got


def read_options():
    """The options, the host's first line ('o JSON'): not argv, where
    MicroPython aborts on an argument over 256 characters."""
    import json

    if IS_MP:
        line = sys.stdin.readline()
    else:  # byte by byte: a buffered readline would keep what follows from os.read
        b = b""
        while not b.endswith(b"\n"):
            c = os.read(0, 1)
            if not c:
                break
            b += c
        line = b.decode()
    if not line.startswith("o "):
        raise ValueError("the first line from the host must be the options, got %r" % line[:40])
    return json.loads(line[2:])


class SimNetwork:
    """The network services (--mqtt, --http): the firmware's own net.Network
    on the host's sockets (127.0.0.1), polled between the simulation's
    steps with real time, as the board's loop polls it; it keeps the
    longest poll (what the network costs the loop)."""

    def __init__(self, opts, app):
        from net import Network

        s = {"modbus_tcp_port": 0, "http_port": int(opts.get("http") or 0),
             "page": _here + "/../firmware/net_page.html"}
        if opts.get("mqtt"):
            host, _, port = opts["mqtt"].rpartition(":")
            s.update(mqtt_host=host, mqtt_port=int(port), mqtt_prefix=opts.get("mqtt_prefix"),
                     mqtt_period_s=int(opts.get("mqtt_period") or 10))
        self.net = Network(app, s, host="127.0.0.1")
        # a whole state message a poll here (~0.3 ms on the host); the board
        # reads one register a poll (~1 ms each on the RP2040)
        from net_view import SENSORS, StateBuild

        StateBuild.STEP = len(SENSORS)
        self.polls = 0
        self.max_us = 0
        self.over_1ms = 0

    def poll(self):
        started = self.net._started  # the first poll imports the services: not counted
        t = ticks_us()
        self.net.poll(time.ticks_ms() if IS_MP else t // 1000)
        d = ticks_diff(ticks_us(), t)
        self.polls += 1
        if not started:
            h = self.net.http
            if h is not None:
                out("i http: http://127.0.0.1:%d/" % h.port)
            elif self.net.last_error is not None:
                out("i net: %r" % (self.net.last_error,))
        elif d > self.max_us:
            self.max_us = d
        if started and d > 1000:
            self.over_1ms += 1

    def stop(self):
        n = self.net
        out("i net: %d polls, longest %d us, %d over 1 ms, %d MQTT states, %d errors%s" % (
            self.polls, self.max_us, self.over_1ms, n.mqtt.states if n.mqtt else 0, n.errors,
            "" if n.last_error is None else " (last: %r)" % (n.last_error,)))
        n.close()


def main():
    opts = read_options()
    try:
        sc = scenario.load(opts["scenario"])
    except scenario.ScenarioError as e:
        out("i bad scenario: %s" % e)
        out("e")
        sys.exit(2)
    from simboard import SimBoard

    board = SimBoard(sc, opts["state"], opts["keys"].split(), opts["lcd_log"], opts["frontend_errors"])
    try:
        run(board, opts)
    except KeyboardInterrupt:
        # Ctrl-C in the terminal reaches this process too: save as on 'q'
        save_whole(board)
        out("e")


def save_whole(board):
    # A terminal's Ctrl-C reaches the host and this process at once; the
    # host then sends 'q', so the KeyboardInterrupt may land while the 'q'
    # save is being written: save again, whole, then.
    try:
        board.stop()
    except KeyboardInterrupt:
        board.stop()


def run(board, opts):
    speed = None if opts["speed"] == "max" else float(opts["speed"])
    net = SimNetwork(opts, board.app) if (opts.get("mqtt") or opts.get("http")) else None
    inp = LineInput()
    fs = board.fs
    t0 = ticks_us()
    fed_at_t0 = 0
    ended = False
    last_status = -1
    last_status_us = ticks_us()
    while True:
        for line in inp.lines(0 if (speed is None and not ended) else 2):
            if line == "q":
                if net:
                    net.stop()
                save_whole(board)
                out("e")
                return
            board.host_line(line)
        if inp.closed:
            save_whole(board)
            return
        board.poll()
        if net:
            net.poll()
        if not ended:
            if speed is None:
                due = board.fed + fs  # a simulated second per turn
            else:
                elapsed = ticks_diff(ticks_us(), t0)
                due = fed_at_t0 + int(elapsed * speed * fs / 1000000)
            if due > board.fed:
                if not board.feed(min(due - board.fed, fs)):
                    ended = True
                    out("i scenario complete")
                    board.scenario_complete()
                    if opts["exit_at_end"]:
                        if net:
                            net.stop()
                        board.stop()
                        out("e")
                        return
            sec = board.fed // fs
            now = ticks_us()
            # a status line per simulated second, at most 5 a second of wall time
            if sec != last_status and (ended or ticks_diff(now, last_status_us) > 200000):
                last_status = sec
                last_status_us = now
                out("s " + board.status_json())


main()
