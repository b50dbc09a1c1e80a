# Energy pulse output: the N.O. contact that closes once per 'pulse energy'
# (register 144: 10, 100, 1000 or 10000 Wh) of imported real energy, for a
# closure time (register 145) the meter chooses, with the open time at least
# the closure time (datasheet 'Set Pulse', registers 135, 144, 145, 146).
#
# Which pulse energy and closure time to use (registers 135, 144, 145, the
# duration hunt and error bit 15) is the configuration's business
# (config.py); this module only schedules the contact: reconfigure() takes
# what the configuration decided.
#
# Pure logic: the pin is any object with .value(v); time comes in as
# time.ticks_ms() values. tick() allocates nothing and may run from a
# machine.Timer hard interrupt; everything else runs in the main loop.
#
# Bookkeeping (all integers, so nothing drifts):
#   _acc      import (in units, mWh by default) not yet worth a whole pulse
#             (0 <= _acc < _upp, the units per pulse)
#   _owed     pulses owed since start, modulo 2**29 (written by the main loop)
#   _started  pulses started since start, modulo 2**29 (written by tick only)
#   pending = (_owed - _started) mod 2**29  -- the backlog
# Each counter has one writer, so an interrupt between two bytecodes of the
# main loop can never lose or invent a pulse. Both stay below 2**30, i.e.
# MicroPython small ints: no allocation in tick().
#
# Invariant: pulses counted + pending + _acc / _upp == import energy added
# (in pulses), exactly. So count * Wh_per_pulse trails the import energy by
# less than one pulse plus the backlog, which tick() works off at the maximum
# rate 1000 / (2 * closure_ms) pulses per second.
import time

from micropython import const

# Register 144 choices and register 145 durations, slowest first.
PULSE_ENERGIES = (10, 100, 1000, 10000)  # Wh per pulse
DURATIONS = (500, 250, 100, 50, 25, 10)  # ms per closure

_MASK = const(0x1FFFFFFF)  # modulus of _owed/_started: 2**29 - 1
_PENDING_CAP = const(0x4000000)  # 2**26: backlog saturates here (overrun long set)
_U32 = const(0xFFFFFFFF)  # registers 39-42 / 313-316 roll over at 2**32

# Overrun (register 146 bit 14): the backlog exceeds what the contact can
# deliver at its maximum rate in OVERRUN_SECONDS. Energy arrives in
# once-a-second steps, so at exactly register 135's power the backlog peaks
# at about one second's worth; two seconds' worth only builds up when the
# real power stays above what the output can deliver. Latched until the
# energy accumulators are reset (register 129 = 30078), as the datasheet's
# remedy for bit 14 says.
OVERRUN_SECONDS = 2

_IDLE = const(0)
_CLOSED = const(1)
_OPEN = const(2)


def max_pulses_per_s(closure_ms):
    # open >= closed: one pulse per 2 x closure
    return 1000 / (2 * closure_ms)


class PulseOutput:
    def __init__(self, pin, wh_per_pulse=1000, closure_ms=500, closed_level=1,
                 disable_irq=None, enable_irq=None, units_per_wh=1000):
        # units_per_wh: the integer energy unit of add_units()/track_import():
        # 1000 = mWh (default), 3600000 = mWs (energy.py's counts)
        self._upw = units_per_wh
        self._pin = pin
        self._on = 1 if closed_level else 0
        self._off = 0 if closed_level else 1
        # critical section for the rare main-loop writes that touch both
        # counters (reconfigure, reset); machine.disable_irq/enable_irq on the
        # board, nothing on the host
        self._dis = disable_irq
        self._ena = enable_irq
        self._state = _IDLE
        self._deadline = 0
        self._owed = 0
        self._started = 0
        self._seen = 0  # _started already folded into _count
        self._count = 0  # register 39-40 (313-314): pulse counter 1, import
        self._count2 = 0  # register 41-42 (315-316): counter 2, export, virtual
        self._acc = 0
        self._acc2 = 0
        self._frac = 0.0  # below 1 mWh, from add_energy(float)
        self._frac2 = 0.0
        self._last_total = None
        self.overrun = False  # register 146 bit 14 (latched)
        self.wh_per_pulse = wh_per_pulse
        self.closure_ms = closure_ms
        self._upp = wh_per_pulse * units_per_wh
        self._ms = closure_ms
        self._limit = 0
        self._set_limit()
        pin.value(self._off)

    def _set_limit(self):
        rate = 1000 // (2 * self._ms)  # whole pulses per second at most
        if rate < 1:
            rate = 1
        self._limit = OVERRUN_SECONDS * rate

    # ---- the pin: timer interrupt or main loop, every <= 1 ms ideally ----
    def tick(self, now_ms):
        # Closure and open times are counted from the moment the pin really
        # changed, so a late call lengthens a phase, never shortens it.
        st = self._state
        if st == _CLOSED:
            if time.ticks_diff(now_ms, self._deadline) < 0:
                return
            self._pin.value(self._off)
            self._state = _OPEN
            self._deadline = time.ticks_add(now_ms, self._ms)
            return
        if st == _OPEN:
            if time.ticks_diff(now_ms, self._deadline) < 0:
                return
            self._state = _IDLE
        # a 'negative' backlog (only if a main-loop rebase raced this
        # interrupt without the critical section) starts nothing
        p = (self._owed - self._started) & _MASK
        if 0 < p <= _PENDING_CAP:
            self._pin.value(self._on)
            self._started = (self._started + 1) & _MASK
            self._state = _CLOSED
            self._deadline = time.ticks_add(now_ms, self._ms)

    @property
    def busy(self):
        return self._state != _IDLE

    def due_in(self, now_ms):
        """ms until tick() has something to do (0: now), or -1 when nothing
        is owed: the main loop sleeps until then, so a closure is not
        lengthened by the loop's turn period."""
        if self._state != _IDLE:
            d = time.ticks_diff(self._deadline, now_ms)
            return d if d > 0 else 0
        return 0 if self.pending else -1

    # ---- energy in (main loop) ----------------------------------------------
    @property
    def pending(self):
        p = (self._owed - self._started) & _MASK
        return p if p <= _PENDING_CAP else 0

    def add_mwh(self, mwh):
        # import real energy since the last call, in integer milli-Wh
        self.add_units(mwh * self._upw // 1000)

    def add_units(self, n):
        # import real energy since the last call, in integer units
        if n <= 0:
            return
        acc = self._acc + n
        k = acc // self._upp
        self._acc = acc - k * self._upp
        if k:
            self._owe(k)

    def _owe(self, k):
        p = self.pending
        if p + k > self._limit:
            self.overrun = True
        if p + k > _PENDING_CAP:
            k = _PENDING_CAP - p  # beyond 2**26 owed pulses the count is moot
        if k > 0:
            self._owed = (self._owed + k) & _MASK

    def add_energy(self, wh):
        # import in Wh (int or float); float remainders below 1 mWh are
        # carried, so a float source does not drift either
        if wh <= 0:
            return
        if isinstance(wh, int):
            self.add_units(wh * self._upw)
            return
        x = wh * self._upw + self._frac
        n = int(x)
        self._frac = x - n
        self.add_units(n)

    def track_import(self, total):
        # The simplest wiring: hand over the import accumulator itself (in
        # units, e.g. energy.py's mWs count with units_per_wh=3600000) once a
        # second; pulses follow its increase exactly. A decrease is an energy
        # reset (register 129 = 30078).
        last = self._last_total
        self._last_total = total
        if last is None:
            return
        if total < last:
            self.reset_energy()
            return
        self.add_units(total - last)

    def add_export_mwh(self, mwh):
        self.add_export_units(mwh * self._upw // 1000)

    def add_export_units(self, n):
        # Pulse counter 2 (registers 41-42, 315-316): the meter has one
        # contact, so export pulses are counted at the same weight without
        # driving a pin (no rate limit, no backlog).
        if n <= 0:
            return
        acc = self._acc2 + n
        k = acc // self._upp
        self._acc2 = acc - k * self._upp
        self._count2 = (self._count2 + k) & _U32

    def add_export_energy(self, wh):
        if wh <= 0:
            return
        if isinstance(wh, int):
            self.add_export_units(wh * self._upw)
            return
        x = wh * self._upw + self._frac2
        n = int(x)
        self._frac2 = x - n
        self.add_export_units(n)

    # ---- counters (registers 39-42, 313-316) ----------------------------------
    @property
    def count(self):
        s = self._started
        d = (s - self._seen) & _MASK
        self._seen = s
        self._count = (self._count + d) & _U32
        return self._count

    @property
    def count2(self):
        return self._count2

    def clear_counts(self):
        # register 129 = 16498
        self._seen = self._started  # what tick() started so far is cleared too
        self._count = 0
        self._count2 = 0

    def restore(self, count1, count2, pending=0, acc=0, acc2=0):
        # from the NV store at start-up
        self._count = count1 & _U32
        self._count2 = count2 & _U32
        self._acc = acc % self._upp
        self._acc2 = acc2 % self._upp
        self._seen = self._started
        self._owed = self._started
        if pending > 0:
            self._owe(pending)

    def snapshot(self):
        # what to save: (count1, count2, pending, part-pulse import and export
        # in units)
        return (self.count, self._count2, self.pending, self._acc, self._acc2)

    # ---- configuration -----------------------------------------------------
    def _critical(self):
        return self._dis() if self._dis is not None else None

    def _end_critical(self, state):
        if self._ena is not None:
            self._ena(state)

    def reset_energy(self):
        # register 129 = 30078: the accumulators restart at 0; the backlog and
        # the part-pulse go with them, and the overrun latch clears
        s = self._critical()
        self._owed = self._started
        self._end_critical(s)
        self._acc = 0
        self._frac = 0.0
        self._acc2 = 0
        self._frac2 = 0.0
        self.overrun = False

    def reconfigure(self, wh_per_pulse, closure_ms):
        # New weight and/or duration. The energy owed (backlog + part-pulse)
        # is carried over at the new weight, so nothing is lost or invented;
        # a pulse in progress finishes with the time it started with.
        if wh_per_pulse not in PULSE_ENERGIES:
            raise ValueError("pulse energy must be 10, 100, 1000 or 10000 Wh")
        if closure_ms not in DURATIONS:
            raise ValueError("closure must be 500, 250, 100, 50, 25 or 10 ms")
        new = wh_per_pulse * self._upw
        s = self._critical()
        p = (self._owed - self._started) & _MASK
        self._owed = self._started
        self._end_critical(s)
        owed = p * self._upp + self._acc
        self._upp = new
        self._acc = 0
        k = self._acc2 // new  # counter 2's part-pulse, at the new weight
        self._acc2 -= k * new
        self._count2 = (self._count2 + k) & _U32
        self.wh_per_pulse = wh_per_pulse
        self.closure_ms = closure_ms
        self._ms = closure_ms
        self._set_limit()
        self.add_units(owed)

    def deinit(self):
        self._pin.value(self._off)
        self._state = _IDLE

