# A simulated RS-485 line for the RS-485 tests, on a simulated clock: the
# characters a master puts on the wire (11 bits each, optional extra
# silences), the UART that receives them and transmits the slave's replies
# at wire speed, and a fake of boards/drivers/rs485_pio.WireWatcher that
# reports the silences of the same characters as the PIO program does.
# Runs under CPython and MicroPython (tools/mp_test.py).

from modbus_rtu import BITS_PER_CHAR, timing_us

_END = 0x10000


class SimClock:
    """time.ticks_us/ticks_diff on simulated microseconds."""

    def __init__(self, us=0):
        self.us = us

    def ticks_us(self):
        return self.us & 0x3FFFFFFF

    @staticmethod
    def ticks_diff(a, b):
        d = (a - b) & 0x3FFFFFFF
        return d - 0x40000000 if d & 0x20000000 else d

    def advance(self, us):
        self.us += us


class Pin:
    """DE: every level set, and with a clock when (edges: (level, time))."""

    def __init__(self, clock=None):
        self.v = 0
        self.clock = clock
        self.history = []
        self.edges = []
        self.record = True

    def value(self, v=None):
        if v is None:
            return self.v
        v = 1 if v else 0
        if self.record:
            if self.clock is not None and v != self.v:
                self.edges.append((v, self.clock.us))
            self.history.append(v)
        self.v = v


class Line:
    """The wire. chars[i] = (byte, start_us, end_us); `echo` puts the
    slave's own transmission on the line too (a transceiver whose receiver
    stays on)."""

    def __init__(self, clock, baud, echo=False):
        self.clock = clock
        self.baud = baud
        self.echo = echo
        self.bit_us = 1_000_000 / baud
        self.chars = []
        self.free_us = 0  # the line is idle from here

    def char_us(self):
        return BITS_PER_CHAR * self.bit_us

    def put(self, frame, start_us=None, gap_at=-1, gap_us=0):
        """A master's frame, characters back to back from start_us (default:
        now), with gap_us of extra silence before byte gap_at. Times are
        whole microseconds (integers: the tests run under heap_lock())."""
        t = self.clock.us if start_us is None else start_us
        for i in range(len(frame)):
            if i == gap_at:
                t += gap_us
            self.chars.append((frame[i], round(t), round(t + self.char_us())))
            t += self.char_us()
        self.free_us = round(t)
        return self.free_us  # the last stop bit's end


class WireUart:
    """The UART: receives the line's characters (at the end of each), keeps
    them in its ring (rxbuf bytes), transmits writes at wire speed, txdone()
    once the last stop bit is out. drop (a set of character indexes): bytes
    the UART loses (a break, an overrun) though the wire carried them."""

    def __init__(self, line, de, rxbuf=512, txdone_late_us=0, stuck=False):
        self.line = line
        self.de = de
        self.writes = []  # (bytes, time, DE level)
        self.record = True
        self.txdone_late_us = txdone_late_us
        self.stuck = stuck
        self._rxi = 0  # next line character to receive
        self._tx_end = 0
        self.drop = ()
        self._ring = bytearray(rxbuf)
        self._head = 0
        self._tail = 0

    def _receive(self):
        chars = self.line.chars
        now = self.line.clock.us
        while self._rxi < len(chars) and chars[self._rxi][2] <= now:
            if self._rxi not in self.drop:
                self._ring[self._head % len(self._ring)] = chars[self._rxi][0]
                self._head += 1
            self._rxi += 1

    def any(self):
        self._receive()
        return self._head - self._tail

    def readinto(self, buf, n=-1):
        self._receive()
        if n < 0:
            n = len(buf)
        k = min(n, self._head - self._tail)
        ring = self._ring
        for i in range(k):
            buf[i] = ring[(self._tail + i) % len(ring)]
        self._tail += k
        return k if k else None

    def write(self, buf):
        line = self.line
        now = line.clock.us
        if self.record:
            self.writes.append((bytes(buf), now, self.de.value()))
        self._tx_end = now + (len(buf) * BITS_PER_CHAR * 1_000_000 + line.baud - 1) // line.baud
        if line.echo:
            line.put(buf, now)
        return len(buf)

    def txdone(self):
        return not self.stuck and self.line.clock.us >= self._tx_end + self.txdone_late_us


class NoTxdoneUart(WireUart):
    txdone = None  # a UART without txdone() (getattr(uart, "txdone", None))


class FakeWatcher:
    """Reports the line's silences as the PIO program does: END when a
    silence reaches t3.5, kind 0 when a character starts after more than
    t1.5 and less than t3.5, each with the count of characters since reset
    (mod 2^16). lose: event numbers to drop (a full FIFO)."""

    def __init__(self, line):
        self.line = line
        self.bauds = []
        self.resets = 0
        self.lose = ()
        self._n = 0  # events produced so far (for lose)
        self.set_baud(line.baud)

    def set_baud(self, baud):
        self.bauds.append(baud)
        _, self.t15, self.t35 = timing_us(baud)
        self.reset()

    def reset(self):
        self.resets += 1
        # characters that started before now are not this watcher's
        chars = self.line.chars
        now = self.line.clock.us
        i = 0
        while i < len(chars) and chars[i][1] < now:
            i += 1
        self._base = i
        self._i = i  # next character to consider
        self._ended = True  # no frame open
        self._peek = -1  # an event pending() computed, not yet taken

    def pending(self):
        # the PIO FIFO's level: an event is waiting (computed now, kept)
        if self._peek < 0:
            self._peek = self._next_event()
        return self._peek >= 0

    def event(self):
        e = self._peek
        if e >= 0:
            self._peek = -1
            return e
        return self._next_event()

    def _next_event(self):
        chars = self.line.chars
        now = self.line.clock.us
        while True:
            i = self._i
            if i >= len(chars):
                if not self._ended and i > self._base and chars[i - 1][2] + self.t35 <= now:
                    self._ended = True
                    e = self._emit(_END | ((i - self._base) & 0xFFFF))
                    if e >= 0:
                        return e
                    continue
                return -1
            start = chars[i][1]
            if start > now:
                if not self._ended and i > self._base and chars[i - 1][2] + self.t35 <= now:
                    self._ended = True
                    e = self._emit(_END | ((i - self._base) & 0xFFFF))
                    if e >= 0:
                        return e
                    continue
                return -1
            # character i has started: what silence came before it?
            self._i = i + 1
            if i == self._base or self._ended:
                self._ended = False
                continue
            gap = start - chars[i - 1][2]
            if gap >= self.t35:
                self._i = i  # the END comes first, then this character
                self._ended = True
                e = self._emit(_END | ((i - self._base) & 0xFFFF))
                if e >= 0:
                    return e
            elif gap > self.t15:
                e = self._emit((i - self._base) & 0xFFFF)
                if e >= 0:
                    return e

    def _emit(self, e):
        k = self._n
        self._n += 1
        return -1 if k in self.lose else e


class FakeDeTimer:
    """boards/drivers/rs485_pio.DeTimer on the simulated clock: DE (a Pin)
    up at start(), down wire us after go(); done() once it is down."""

    def __init__(self, clock, pin):
        self.clock = clock
        self.pin = pin
        self.aborts = 0
        self.hold = False  # a state machine that never finishes (stuck)
        self._wire = 0
        self._down_at = -1

    def start(self, wire_us):
        self._wire = wire_us
        self._down_at = -1
        self.pin.value(1)

    def go(self):
        self._down_at = self.clock.us + self._wire

    def done(self):
        if self.hold or self._down_at < 0 or self.clock.us < self._down_at:
            return False
        pin = self.pin
        if pin.v:
            # the state machine let go at _down_at, whenever the loop asks
            pin.v = 0
            if pin.record:
                pin.edges.append((0, self._down_at))
                pin.history.append(0)
        return True

    def abort(self):
        self.aborts += 1
        self._down_at = -1
        self.pin.value(0)
