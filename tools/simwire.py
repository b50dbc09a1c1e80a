"""Modbus RTU framing for the virtual meter's host side (tools/sim.py), by
the time bytes arrive, as a wire and a UART would frame them.

The bytes of the pseudo-terminal and of each RTU-over-TCP connection are
stamped here, in the process that reads them as they arrive, not in the
firmware child that reads them from a pipe later (a busy child saw a 3 ms
gap as none, and a byte-at-a-time master's bytes as gaps). The child gets
whole frames.

The model is the firmware's (firmware/modbus_rtu.py feed()): a chunk of k
bytes read at time t is taken as k back-to-back characters whose last stop
bit ended at t, so the silence before it is (t - previous) - k * t_char. A
reader that was late inside a request therefore finds more bytes waiting
and the silence it computes stays under one character time for a master
that kept wire pace; a real gap (the master stopped sending) stays a gap.
A frame ends when the line has been *seen* silent for t3.5 (spec 2.5.1.1):
the host calls expire() at t3.5 after the last bytes, having checked that
no byte is waiting. A chunk found late, whose computed silence is t3.5 or
more but which nobody saw silent, continues the frame: a host that wakes
late cannot tell a gap from its own delay, and it never splits a request
for being late. A frame over 256 bytes (the RTU ADU's maximum) is spoiled
and no more of it is kept: the buffer never grows past 256 bytes.

The 1.5-character rule (a silence > t1.5 inside a frame spoils it) is off
here by default, as firmware/modbus_rtu.py's CHECK_T15 is for a polled
FIFO: the host's stamps carry the scheduler's wake-up latency, and after a
request's last byte nothing more arrives to absorb it, so on a loaded
machine t1.5 (860 us at 19200) would spoil wire-paced requests. t3.5 (2005
us at 19200) is the line kept: a request with a 3 ms gap is split in two,
neither answered, when the host is awake within the gap to see it silent.
A host that wakes later than that joins the halves: the loaded machine,
not the master, made the line look continuous. The other way round, the
kernel itself hands pseudo-terminal bytes over late on a loaded machine
(a worker thread moves them: up to 8 ms measured with a load average of 5),
which is a real gap on the line the meter sees; at 9600 baud and above
such a delay can split a request a master sent at wire pace.
"""

ADU_MAX = 256
BITS_PER_CHAR = 11  # spec 2.5.1: every mode is 11 bits a character


def timing_us(baud):
    """(t_char, t1.5, t3.5) in microseconds, as firmware/modbus_rtu.py's
    timing_us (a test holds the two equal): fixed 750 / 1750 us above
    19200 baud."""
    tc = (BITS_PER_CHAR * 1_000_000 + baud - 1) // baud
    if baud > 19200:
        return tc, 750, 1750
    return tc, (BITS_PER_CHAR * 1_500_000 + baud - 1) // baud, (BITS_PER_CHAR * 3_500_000 + baud - 1) // baud


class WireFramer:
    """One RTU line's framing. feed() and expire() return finished frames
    as (bytes, good): good False for a frame spoiled by its length or (with
    check_t15) by a t1.5 gap; a spoiled frame's bytes are not kept."""

    def __init__(self, baud=19200, check_t15=False):
        self.check_t15 = check_t15
        self.buf = bytearray()
        self.active = False
        self.spoiled = False
        self.last_us = 0
        self.frames = 0  # frames handed on whole
        self.gaps = 0  # frames spoiled by a silence > t1.5 inside them
        self.oversized = 0  # frames over 256 bytes
        self.set_baud(baud)

    def set_baud(self, baud):
        self.baud = baud
        self.t_char, self.t15, self.t35 = timing_us(baud)

    def feed(self, data, now_us):
        done = []
        k = len(data)
        if not k:
            return done
        if self.active:
            silence = now_us - self.last_us - k * self.t_char
            if silence > self.t15 and self.check_t15 and not self.spoiled:
                self.spoiled = True
                self.gaps += 1
        if not self.active:
            self.active = True
            self.spoiled = False
            self.buf = bytearray()
        self.last_us = now_us
        if not self.spoiled:
            if len(self.buf) + k > ADU_MAX:
                self.spoiled = True
                self.oversized += 1
                self.buf = bytearray()
            else:
                self.buf += data
        return done

    def due_us(self):
        """When the frame in progress ends if nothing more comes (None: idle)."""
        return self.last_us + self.t35 if self.active else None

    def expire(self, now_us):
        """End the frame if the line, seen empty now, has been silent t3.5."""
        if self.active and now_us - self.last_us >= self.t35:
            return self._end()
        return None

    def _end(self):
        self.active = False
        frame, self.buf = bytes(self.buf), bytearray()
        if self.spoiled:
            return frame, False
        self.frames += 1
        return frame, True
