"""One simulated clock for every time source of a runtime test (issue 11,
item 5): time.ticks_ms/us/diff/add and sleep/sleep_ms/sleep_us, the ADC's
conversions, the UART's wire (bytes arrive and leave at the baud rate),
the master's requests and the work the firmware itself does (a cost model:
charge()). A call that blocks the loop therefore keeps the clock moving
while the loop is not reading the ADC ring, and shows up as lost frames,
as it would on the chip.

    clock.at(t_us, fn)            fn() when the clock reaches t_us
    clock.every(period_us, fn)    fn() every period_us from now + period_us
    clock.charge(obj, name, us)   obj.name(...) takes `us` (a number, or a
                                  function of the call's result) of core time

The RS-485 wire on it: host_tests/portable/rs485_wire.py (Line, WireUart,
FakeWatcher read `clock.us`).
"""
import heapq

_PERIOD = 1 << 30


class SimClock:
    # Reading the clock costs core time too (a ticks_us() call is a few
    # hundred cycles on the RP2040); charging it makes a busy-wait on the
    # clock advance it, so a spinning loop ends and is seen.
    READ_US = 2

    def __init__(self):
        self.us = 0
        self._q = []
        self._seq = 0
        self.busy_us = 0  # core time charged by charge() and clock reads

    # ---- MicroPython's time ----------------------------------------------
    def ticks_us(self):
        self.busy_us += self.READ_US
        self.advance_us(self.READ_US)
        return self.us & (_PERIOD - 1)

    def ticks_ms(self):
        self.busy_us += self.READ_US
        self.advance_us(self.READ_US)
        return (self.us // 1000) & (_PERIOD - 1)

    @staticmethod
    def ticks_add(t, d):
        return (t + d) & (_PERIOD - 1)

    @staticmethod
    def ticks_diff(a, b):
        d = (a - b) & (_PERIOD - 1)
        return d - _PERIOD if d >= _PERIOD // 2 else d

    def sleep_us(self, us):
        if us > 0:
            self.advance_us(us)

    def sleep_ms(self, ms):
        if ms > 0:
            self.advance_us(1000 * ms)

    def sleep(self, s):
        self.advance_us(int(s * 1_000_000))

    # ---- events -------------------------------------------------------------
    def at(self, t_us, fn):
        self._seq += 1
        heapq.heappush(self._q, (t_us, self._seq, fn))

    def every(self, period_us, fn):
        def tick():
            fn()
            self.at(self.us + period_us, tick)

        self.at(self.us + period_us, tick)

    def advance_us(self, dt):
        end = self.us + dt
        q = self._q
        while q and q[0][0] <= end:
            t, _seq, fn = heapq.heappop(q)
            if t > self.us:
                self.us = t
            fn()
        self.us = end

    # ---- the cost model -------------------------------------------------------
    def charge(self, obj, name, cost_us):
        """obj.name(...) now takes cost_us of simulated core time (a number,
        or a function of the call's result), on top of what it does to the
        clock itself; the ADC keeps converting meanwhile."""
        f = getattr(obj, name)

        def timed(*a, **kw):
            r = f(*a, **kw)
            c = cost_us(r) if callable(cost_us) else cost_us
            self.busy_us += c
            self.advance_us(c)
            return r

        setattr(obj, name, timed)
