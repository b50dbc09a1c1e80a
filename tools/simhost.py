"""The virtual meter's host side (started by tools/sim.py): it owns the
pseudo-terminal (Modbus RTU), the TCP listeners (RTU framing over TCP, and
Modbus TCP; 127.0.0.1 only) and the terminal. It frames RTU by the time
bytes arrive (tools/simwire.py) and relays whole frames and Modbus TCP
bytes to the firmware child (tools/sim_firmware.py) as lines on its
stdin/stdout:

    to the child      o JSON           the options (the first line; never argv:
                                       MicroPython aborts on an argument > 256 chars)
                      u HEX            an RTU frame from the pseudo-terminal
                      x CID HEX        an RTU frame from RTU-over-TCP connection CID
                      m CID HEX        bytes from Modbus TCP connection CID
                      c CID            connection CID closed
                      k KEY            a button
                      q                stop (the child saves its state first)
    from the child    u HEX / x CID HEX / m CID HEX   bytes to send back
                      b BAUD PARITY    the meter's line settings (7102-7103)
                      s JSON / l JSON  the live view: status rows, LCD lines
                      i TEXT           a line to print (e.g. 'scenario complete')
                      e                the child is exiting

Nothing a client sends makes anything grow: the queue to the child is
bounded (Modbus TCP reading pauses while it is full; RTU frames are dropped
and counted, as a UART overrun would drop them), an RTU frame never exceeds
256 bytes, a connection whose client does not read its replies is closed,
connections are limited in number and closed when idle, and running out of
file descriptors refuses a connection instead of failing.
"""

import errno
import json
import os
import select
import selectors
import signal
import socket
import struct
import subprocess
import sys
import time
import tty

import simwire

# terminal escape sequences of the arrow keys -> the meter's four buttons
ARROWS = {b"\x1b[A": "up", b"\x1b[B": "down", b"\x1b[C": "right", b"\x1b[D": "left"}

CHILD_QUEUE_MAX = 256 * 1024  # bytes of lines waiting for the child
CONN_OUT_MAX = 64 * 1024  # replies a client has not read: over this it is closed
READ_CHUNK = 2048  # bytes read from a client at a time (one line to the child)
ACCEPTS_PER_TURN = 256


class OptionError(Exception):
    """A bad option or a resource the options name: one line for the user."""


def lock_state(path):
    """One virtual meter per state directory: an flock on DIR/.lock, held by
    this process and the firmware child (it inherits the descriptor), so a
    second meter cannot start until both are gone."""
    import fcntl

    os.makedirs(path, exist_ok=True)
    lock = os.path.join(path, ".lock")
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = os.read(fd, 32).decode("ascii", "replace").strip() or "?"
        os.close(fd)
        raise OptionError("--state %s is in use by another virtual meter (pid %s); one meter per directory"
                          % (path, holder)) from None
    os.ftruncate(fd, 0)
    os.write(fd, b"%d\n" % os.getpid())
    return fd


def now_us():
    return time.monotonic_ns() // 1000


class Conn:
    """A TCP client: its socket, kind ('x' RTU over TCP, 'm' Modbus TCP),
    its framer (RTU), replies it has not taken yet, when it last sent."""

    def __init__(self, sock, kind, baud, t):
        self.sock = sock
        self.kind = kind
        self.framer = simwire.WireFramer(baud) if kind == "x" else None
        self.out = bytearray()
        self.seen = t
        self.reading = True


class Stats:
    def __init__(self):
        self.accepted = 0
        self.most = 0  # most connections at once
        self.refused_limit = 0  # over --max-connections
        self.refused_fds = 0  # no file descriptor left
        self.idle_closed = 0
        self.slow_closed = 0  # did not read their replies
        self.bytes_in = 0
        self.frames_dropped = 0  # RTU frames dropped with the child's queue full
        self.pty_out_dropped = 0  # reply bytes no master read from the pseudo-terminal
        self.tcp_pauses = 0

    def summary(self, rtu):
        return ("sim: %d bytes in; TCP %d connections (%d at most at once), %d refused over the limit, "
                "%d refused for lack of file descriptors, %d closed idle, %d closed for not reading; "
                "RTU frames %d (ended by t3.5 of silence), %d over 256 bytes, %d dropped (meter busy); "
                "Modbus TCP paused %d times; %d reply bytes unread on the pseudo-terminal"
                % (self.bytes_in, self.accepted, self.most, self.refused_limit, self.refused_fds,
                   self.idle_closed, self.slow_closed, rtu[0], rtu[2], self.frames_dropped,
                   self.tcp_pauses, self.pty_out_dropped))


class Host:
    """a: the checked options (state, rtu_link, ports, headless, limits);
    cmd, child_opts, env, cwd: how to start the firmware child and its
    first line."""

    def __init__(self, a, cmd, child_opts, env, cwd):
        self.a = a
        self.cmd = cmd
        self.child_opts = child_opts
        self.env = env
        self.cwd = cwd
        self.sel = selectors.DefaultSelector()
        self.conns = {}  # cid -> Conn
        self.listeners = []
        self.next_cid = 1
        self.live = not a.headless and sys.stdout.isatty()
        self.status = None
        self.lcd = ["", ""]
        self.buf = b""
        self.child = None
        self.rtu_path = None
        self.master = None
        self.slave = None
        self.lock_fd = None
        self.q = bytearray()  # lines for the child, bounded by CHILD_QUEUE_MAX
        self.q_registered = False
        self.paused = False
        self.baud = 19200
        self.framer = simwire.WireFramer(self.baud)
        self.framer_totals = [0, 0, 0]  # frames, gaps, oversized of closed RTU-over-TCP links
        self.tty_speed0 = None
        self.warned_baud = None
        self.spare_fd = None
        self.stats = Stats()

    # ---- set-up --------------------------------------------------------
    def start(self):
        a = self.a
        if a.state:
            self.lock_fd = lock_state(a.state)
        listeners = [self._listen(port, kind, label)
                     for port, kind, label in ((a.rtu_tcp, "x", "rtu-tcp"), (a.modbus_tcp, "m", "modbus-tcp"))
                     if port is not None]
        self.master, slave = os.openpty()
        tty.setraw(slave)
        tty.setraw(self.master)
        self.slave = slave  # kept open so the link survives clients closing it
        self.tty_speed0 = self._tty_speed()
        self.rtu_path = os.ttyname(slave)
        os.set_blocking(self.master, False)
        self.sel.register(self.master, selectors.EVENT_READ, ("pty", None))
        print("modbus-rtu: %s" % self.rtu_path, flush=True)
        if a.rtu_link:
            if os.path.islink(a.rtu_link):
                os.unlink(a.rtu_link)
            os.symlink(self.rtu_path, a.rtu_link)
            print("modbus-rtu-link: %s" % a.rtu_link, flush=True)
        for srv, kind, label, port in listeners:
            self.sel.register(srv, selectors.EVENT_READ, ("listen", kind))
            self.listeners.append(srv)
            print("%s: 127.0.0.1:%d" % (label, port), flush=True)
        # a descriptor kept in reserve: with none left, accept() fails and the
        # pending connection would keep the listener readable for ever; this
        # one is given up to take the connection and close it
        self.spare_fd = os.open(os.devnull, os.O_RDONLY)
        keep = (self.lock_fd,) if self.lock_fd is not None else ()
        self.child = subprocess.Popen(self.cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=self.env,
                                      cwd=self.cwd, pass_fds=keep)
        os.set_blocking(self.child.stdout.fileno(), False)
        os.set_blocking(self.child.stdin.fileno(), False)
        self.sel.register(self.child.stdout, selectors.EVENT_READ, ("child", None))
        self.to_child("o " + json.dumps(self.child_opts), control=True)

    def _listen(self, port, kind, label):
        srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            srv.bind(("127.0.0.1", port))
        except OSError as e:
            srv.close()
            msg = "--%s %d: cannot listen on 127.0.0.1:%d: %s" % (label, port, port, e.strerror)
            raise OptionError(msg) from None
        # the kernel's full backlog: a storm of connects waits in the kernel,
        # not in SYN retries (listen(8) made 22 of 200 connects wait 1 s)
        srv.listen(socket.SOMAXCONN)
        srv.setblocking(False)
        return srv, kind, label, port

    # ---- to the child: a bounded queue, written as the pipe takes it -----
    def to_child(self, line, control=False):
        """Queue a line; False (and nothing queued) when the queue is full.
        Control lines (options, close, keys, stop) are small and always go."""
        data = line.encode() + b"\n"
        if not control and len(self.q) + len(data) > CHILD_QUEUE_MAX:
            return False
        self.q += data
        self.flush_child()
        return True

    def flush_child(self):
        fd = self.child.stdin.fileno()
        while self.q:
            try:
                n = os.write(fd, self.q[:65536])
            except BlockingIOError:
                break
            except OSError:  # the child is gone; its exit is handled by the loop
                self.q.clear()
                break
            del self.q[:n]
        want = bool(self.q)
        if want != self.q_registered:
            if want:
                self.sel.register(fd, selectors.EVENT_WRITE, ("child-in", None))
            else:
                self.sel.unregister(fd)
            self.q_registered = want
        self._pace_tcp()

    def _pace_tcp(self):
        # Modbus TCP is a byte stream: dropping bytes would garble it, so its
        # reading pauses while the child's queue is over half full (the
        # client's own TCP window then holds it back) and resumes below a
        # quarter
        if not self.paused and len(self.q) > CHILD_QUEUE_MAX // 2:
            self.paused = True
            self.stats.tcp_pauses += 1
            for c in self.conns.values():
                if c.kind == "m":
                    self._watch(c, read=False)
        elif self.paused and len(self.q) < CHILD_QUEUE_MAX // 4:
            self.paused = False
            t = time.monotonic()
            for c in self.conns.values():
                if c.kind == "m":
                    c.seen = max(c.seen, t)  # a paused client was not idle
                    self._watch(c, read=True)

    def _watch(self, c, read=None):
        if read is not None:
            c.reading = read
        ev = (selectors.EVENT_READ if c.reading else 0) | (selectors.EVENT_WRITE if c.out else 0)
        key = self.sel.get_map().get(c.sock)
        if key is not None and ev:
            self.sel.modify(c.sock, ev, key.data)
        elif key is not None:
            self.sel.unregister(c.sock)
        elif ev:
            self.sel.register(c.sock, ev, ("conn", self._cid_of(c)))

    def _cid_of(self, c):
        for cid, x in self.conns.items():
            if x is c:
                return cid
        return None

    def stop_child(self, within_s=30):
        """Tell the child to save and exit: what no client waits for any more
        is dropped from the queue, all but the rest of a line the pipe has
        half taken, then 'q'. Its output is read meanwhile (it may be
        blocked writing replies): a child gone quiet is killed after
        within_s."""
        i = self.q.find(b"\n")
        del self.q[i + 1:]
        self.q += b"q\n"
        fd_in = self.child.stdin.fileno()
        fd_out = self.child.stdout.fileno()
        give_up = time.monotonic() + within_s
        while self.child.poll() is None and time.monotonic() < give_up:
            r, w, _ = select.select([fd_out], [fd_in] if self.q else [], [], 0.1)
            if w:
                try:
                    del self.q[:os.write(fd_in, self.q)]
                except BlockingIOError:
                    pass
                except OSError:
                    self.q.clear()
            if r:
                data = os.read(fd_out, 65536)
                if not data:
                    break
                self.buf += data
                self.child_said(final=True)
        try:
            self.child.wait(timeout=max(0.1, give_up - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.child.kill()
            self.child.wait()

    def child_said(self, final=False):
        # the complete lines in buf; once stopping (final), replies to
        # clients that are gone are dropped
        while b"\n" in self.buf:
            line, self.buf = self.buf.split(b"\n", 1)
            if final and line[:1] in b"uxm":
                continue
            if not self.child_line(line.decode("utf-8", "replace")) and not final:
                return False
        if final and self.buf and self.buf[:1] not in b"uxm":
            self.child_line(self.buf.decode("utf-8", "replace"))
            self.buf = b""
        return True

    # ---- from the child ----------------------------------------------------
    def from_child(self):
        try:
            data = os.read(self.child.stdout.fileno(), 65536)
        except BlockingIOError:
            return True
        if not data:
            return False
        self.buf += data
        return self.child_said()

    def child_line(self, line):
        tag, _, rest = line.partition(" ")
        if tag == "u":
            self.to_pty(bytes.fromhex(rest))
        elif tag in ("x", "m"):
            cid, _, hexdata = rest.partition(" ")
            self.to_conn(int(cid), bytes.fromhex(hexdata))
        elif tag == "b":
            baud, _, parity = rest.partition(" ")
            self.set_baud(int(baud), parity)
        elif tag == "s":
            self.status = json.loads(rest)
            if self.live:
                self.draw()
        elif tag == "l":
            self.lcd = json.loads(rest)
            if self.live:
                self.draw()
        elif tag == "i":
            self.say(rest)
        elif tag == "e":
            return False
        else:
            print(line, file=sys.stderr, flush=True)
        return True

    def say(self, text):
        if self.live:
            sys.stdout.write("\r\n")  # below the live view
        print(text, flush=True)

    def to_pty(self, data):
        try:
            n = os.write(self.master, data)
        except (BlockingIOError, OSError):
            n = 0
        # nobody reads the pseudo-terminal: on a wire the reply would be gone too
        self.stats.pty_out_dropped += len(data) - n

    def to_conn(self, cid, data):
        c = self.conns.get(cid)
        if c is None:
            return
        if not c.out:
            try:
                n = c.sock.send(data)
            except BlockingIOError:
                n = 0
            except OSError:
                self.close_conn(cid)
                return
            data = data[n:]
        if data:
            if len(c.out) + len(data) > CONN_OUT_MAX:
                self.stats.slow_closed += 1
                self.close_conn(cid)
                return
            c.out += data
            self._watch(c)

    def set_baud(self, baud, parity):
        self.baud = baud
        self.framer.set_baud(baud)
        for c in self.conns.values():
            if c.framer:
                c.framer.set_baud(baud)

    # ---- the pseudo-terminal -------------------------------------------
    def _tty_speed(self):
        import termios

        try:
            return termios.tcgetattr(self.slave)[5]  # ospeed, as the master's client set it
        except termios.error:
            return None

    def check_master_baud(self):
        """A master at another baud than register 7102 would read noise on a
        wire; the pseudo-terminal carries it anyway, so say so (once)."""
        speed = self._tty_speed()
        if speed is None or speed == self.tty_speed0:
            return  # the client never set a speed: nothing to compare
        import termios

        baud = next((int(n[1:]) for n in dir(termios) if n[:1] == "B" and n[1:].isdigit()
                     and getattr(termios, n) == speed), None)
        pair = (baud, self.baud)
        if baud is not None and baud != self.baud and pair != self.warned_baud:
            self.warned_baud = pair
            self.say("sim: warning: the master on %s is set to %d baud; the meter (register 7102) is at %d:"
                     " on a wire it would not be understood" % (self.rtu_path, baud, self.baud))

    def read_pty(self):
        try:
            data = os.read(self.master, 4096)
        except (BlockingIOError, OSError):
            return
        if not data:
            return
        # stamped once read: never before any of these bytes arrived (a stamp
        # taken before a preempted read would make the next gap look longer)
        t = now_us()
        self.stats.bytes_in += len(data)
        self.check_master_baud()
        for frame in self.framer.feed(data, t):
            self.rtu_frame("u", frame)

    def rtu_frame(self, prefix, frame):
        data, good = frame
        if good and not self.to_child(prefix + " " + data.hex()):
            self.stats.frames_dropped += 1

    # ---- TCP -------------------------------------------------------------
    def accept(self, srv, kind):
        for _ in range(ACCEPTS_PER_TURN):
            try:
                sock, _ = srv.accept()
            except BlockingIOError:
                return
            except OSError as e:
                if e.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    # (the kernel says so before it looks for a connection)
                    if self._refuse_without_fd(srv):
                        continue
                    return
                if e.errno in (errno.ECONNABORTED, errno.EPROTO, errno.EINTR):
                    continue
                raise
            if len(self.conns) >= self.a.max_connections:
                self.stats.refused_limit += 1
                sock.close()
                continue
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            cid = self.next_cid
            self.next_cid += 1
            c = self.conns[cid] = Conn(sock, kind, self.baud, time.monotonic())
            if kind == "m" and self.paused:
                c.reading = False
            self.stats.accepted += 1
            self.stats.most = max(self.stats.most, len(self.conns))
            if c.reading:
                self.sel.register(sock, selectors.EVENT_READ, ("conn", cid))

    def _refuse_without_fd(self, srv):
        """With no descriptor left, take the next pending connection with
        the spare one and close it; False when none was pending."""
        if self.spare_fd is None:
            return False
        os.close(self.spare_fd)
        self.spare_fd = None
        refused = False
        try:
            sock, _ = srv.accept()
            sock.close()
            refused = True
            self.stats.refused_fds += 1
        except OSError:
            pass
        try:
            self.spare_fd = os.open(os.devnull, os.O_RDONLY)
        except OSError:
            pass
        return refused

    def conn_event(self, cid, mask):
        c = self.conns.get(cid)
        if c is None:
            return
        if mask & selectors.EVENT_WRITE and c.out:
            try:
                n = c.sock.send(c.out)
            except BlockingIOError:
                n = 0
            except OSError:
                self.close_conn(cid)
                return
            del c.out[:n]
            self._watch(c)
        if not (mask & selectors.EVENT_READ) or not c.reading:
            return
        try:
            data = c.sock.recv(READ_CHUNK)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.close_conn(cid)
            return
        t = now_us()  # stamped once read, as read_pty()
        self.stats.bytes_in += len(data)
        c.seen = time.monotonic()
        if c.kind == "m":
            self.to_child("m %d %s" % (cid, data.hex()), control=True)  # paced by _pace_tcp
        else:
            for frame in c.framer.feed(data, t):
                self.rtu_frame("x %d" % cid, frame)

    def close_conn(self, cid):
        c = self.conns.pop(cid, None)
        if c is None:
            return
        if c.sock in self.sel.get_map():
            self.sel.unregister(c.sock)
        c.sock.close()
        if c.framer:
            f = c.framer
            self.framer_totals = [self.framer_totals[0] + f.frames, self.framer_totals[1] + f.gaps,
                                  self.framer_totals[2] + f.oversized]
        self.to_child("c %d" % cid, control=True)

    def close_idle(self, t):
        limit = self.a.idle_timeout
        for cid in [cid for cid, c in self.conns.items() if c.reading and t - c.seen > limit]:
            self.stats.idle_closed += 1
            self.close_conn(cid)

    # ---- RTU frames end by silence: the timer --------------------------------
    def framers(self):
        yield "u", self.framer
        for cid, c in self.conns.items():
            if c.framer:
                yield "x %d" % cid, c.framer

    def expire_frames(self, t):
        # a frame ends only where the line is seen empty t3.5 after its last
        # bytes (tools/simwire.py): bytes already waiting continue it
        for prefix, f in list(self.framers()):
            due = f.due_us()
            if due is None or t < due or self._waiting(prefix):
                continue
            frame = f.expire(t)
            if frame is not None:
                self.rtu_frame(prefix, frame)

    def _waiting(self, prefix):
        import fcntl
        import termios

        if prefix == "u":
            fd = self.master
        else:
            c = self.conns.get(int(prefix[2:]))
            if c is None:
                return False
            fd = c.sock.fileno()
        try:
            return struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0] > 0
        except OSError:
            return False

    def select_timeout(self, t):
        due = [f.due_us() for _, f in self.framers()]
        due = [d for d in due if d is not None]
        if not due:
            return 0.2
        return min(0.2, max(0.0, (min(due) - t) / 1e6))

    def rtu_totals(self):
        tot = list(self.framer_totals)
        for _, f in self.framers():
            tot = [tot[0] + f.frames, tot[1] + f.gaps, tot[2] + f.oversized]
        return tot

    # ---- the live view ---------------------------------------------------
    def draw(self):
        s = self.status or {}
        lines = ["virtual meter  t=%.0f s  modbus-rtu %s" % (s.get("t", 0), self.rtu_path),
                 "+----------------+",
                 "|%-16s|" % self.lcd[0],
                 "|%-16s|   arrow keys: the four buttons, Ctrl-C: save and stop" % self.lcd[1],
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
                self.to_child("k " + name, control=True)
        return True

    # ---- the loop ----------------------------------------------------------
    def run(self):
        # Ctrl-C (SIGINT) and SIGTERM both stop through shutdown(): the child
        # is told to save and exit (the child, in the same process group,
        # also gets a terminal's SIGINT and saves on it, sim_firmware.py)
        stop = []
        signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
        signal.signal(signal.SIGINT, lambda *_: stop.append(1))
        self.start()
        saved_tty = None
        if self.live:
            import termios

            saved_tty = termios.tcgetattr(sys.stdin.fileno())
            tty.setcbreak(sys.stdin.fileno())
            self.sel.register(sys.stdin, selectors.EVENT_READ, ("keys", None))
        try:
            return self._loop(stop)
        finally:
            if saved_tty is not None:
                import termios

                termios.tcsetattr(sys.stdin.fileno(), termios.TCSADRAIN, saved_tty)

    def _loop(self, stop):
        alive = True
        while alive and not stop:
            events = self.sel.select(timeout=self.select_timeout(now_us()))
            for key, mask in events:
                what, arg = key.data
                if what == "pty":
                    self.read_pty()
                elif what == "listen":
                    self.accept(key.fileobj, arg)
                elif what == "conn":
                    self.conn_event(arg, mask)
                elif what == "child":
                    if not self.from_child():
                        alive = False
                elif what == "child-in":
                    self.flush_child()
                elif what == "keys":
                    if not self.keyboard():
                        alive = False
            # silence is judged after the reads of this turn, and only on a
            # line seen empty
            self.expire_frames(now_us())
            self.close_idle(time.monotonic())
            if self.child.poll() is not None:
                alive = False
        rc = self.shutdown()
        # stopped on request (Ctrl-C, SIGTERM): a normal end, whatever the
        # firmware child got from the same signal
        return 0 if stop else rc

    def shutdown(self):
        for cid in list(self.conns):
            self.close_conn(cid)
        for srv in self.listeners:
            srv.close()
        if self.child.poll() is None:
            self.stop_child()
        # whatever the child said last (its final lines) is still in the pipe
        os.set_blocking(self.child.stdout.fileno(), True)
        self.buf += self.child.stdout.read()
        self.child_said(final=True)
        if self.a.rtu_link and os.path.islink(self.a.rtu_link):
            os.unlink(self.a.rtu_link)
        self.say(self.stats.summary(self.rtu_totals()))
        rc = self.child.returncode or 0
        return rc if rc >= 0 else 128 - rc
