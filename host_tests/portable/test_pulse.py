# Energy pulse output (datasheet 'Set Pulse', registers 135, 144, 145, 146
# bits 14-15, pulse counters 39-42 / 313-316, reset 129). Runs under CPython
# (pytest) and the MicroPython unix port (tools/mp_test.py).
import time
from array import array

import micropython

import pulse
from config import pulse_ms_for, theoretical_max_power
from pulse import PulseOutput


class RecPin:
    # Records every level change with the time the test set in .now, into
    # preallocated arrays: value() allocates nothing (heap_lock test).
    def __init__(self, size=4096):
        self.level = 0
        self.now = 0
        self.t = array("i", [0] * size)
        self.v = array("b", [0] * size)
        self.n = 0

    def value(self, v=None):
        if v is None:
            return self.level
        if v != self.level and self.n < len(self.t):
            self.t[self.n] = self.now
            self.v[self.n] = v
            self.n += 1
        self.level = v

    def closures(self):
        # [(closed_at, opened_at)]
        out = []
        start = None
        for k in range(self.n):
            if self.v[k] == 1:
                start = self.t[k]
            elif start is not None:
                out.append((start, self.t[k]))
                start = None
        return out


def run(out, pin, t0, ms, step=1):
    # tick every `step` ms for `ms` ms from ticks value t0; returns the end
    t = t0
    for _ in range(ms // step):
        t = time.ticks_add(t, step)
        pin.now = t
        out.tick(t)
    return t


def check_timing(pin, closure_ms):
    # closed >= t and open >= t between closures (register 145)
    c = pin.closures()
    for k in range(len(c)):
        closed = time.ticks_diff(c[k][1], c[k][0])
        assert closed >= closure_ms, (k, closed)
        if k:
            opened = time.ticks_diff(c[k][0], c[k - 1][1])
            assert opened >= closure_ms, (k, opened)
    return c


def test_register_135_default_and_duration_choice():
    # the numbers the pulse output runs at come from config.py (one place):
    # addendum: default type 40, 600 V, 100 A -> 103.9 kW ('104 kW')
    p = theoretical_max_power(40, 100, 600)
    assert 103920 < p < 103925
    # 1,800,000 x Wh / ms >= W, slowest of 500..10 ms (register 145)
    assert pulse_ms_for(1000, p) == 500
    assert pulse_ms_for(100, p) == 500
    assert pulse_ms_for(10, p) == 100  # 10 Wh: ms <= 173
    # 32000 A CTs at 600 V, type 40: 33.3 MW
    big = theoretical_max_power(40, 32000, 600)
    assert pulse_ms_for(10, big) == 0
    assert pulse_ms_for(100, big) == 0  # would need 5.4 ms
    assert pulse_ms_for(1000, big) == 50
    assert pulse_ms_for(10000, big) == 500
    # types 10, 11, 12: no sqrt(3)
    assert theoretical_max_power(10, 100, 277) == 27700.0
    assert theoretical_max_power(12, 200, 240) == 48000.0
    # exactly at the limit keeps up: 10 Wh at 10 ms = 1.8 MW
    assert pulse_ms_for(10, 1800000) == 10
    assert pulse_ms_for(10, 1800001) == 0
    assert pulse.max_pulses_per_s(10) == 50


def test_pulses_at_maximum_rate():
    # 10 ms closure: 50 pulses/s; 60 pulses owed, no overrun (limit 100)
    pin = RecPin()
    out = PulseOutput(pin, 10, 10)
    out.add_mwh(60 * 10000)
    assert out.pending == 60
    assert not out.overrun
    run(out, pin, 0, 1000)
    c = check_timing(pin, 10)
    assert len(c) == 50
    for k in range(len(c)):
        assert c[k][0] == 1 + 20 * k  # back to back: closed 10, open 10
        assert c[k][1] - c[k][0] == 10
    assert out.count == 50
    assert out.pending == 10
    run(out, pin, 1000, 1000)
    assert out.count == 60 and out.pending == 0
    assert not out.overrun


def test_late_ticks_never_shorten_closure_or_open():
    # tick every 7 ms (late for a 10 ms output): phases stretch, none shrink
    pin = RecPin()
    out = PulseOutput(pin, 10, 10)
    out.add_mwh(30 * 10000)
    run(out, pin, 0, 7 * 200, 7)
    c = check_timing(pin, 10)
    assert len(c) == 30 and out.count == 30 and out.pending == 0
    # one very late call (a 300 ms flash erase stall) loses nothing
    pin2 = RecPin()
    out2 = PulseOutput(pin2, 100, 25)
    out2.add_mwh(5 * 100000)
    t = run(out2, pin2, 0, 10)
    t = time.ticks_add(t, 300)
    pin2.now = t
    out2.tick(t)
    run(out2, pin2, t, 1000)
    check_timing(pin2, 25)
    assert out2.count == 5 and out2.pending == 0


def test_backlog_worked_off_at_max_rate():
    # 1000 Wh, 500 ms: 1 pulse/s max; a 1-pulse-per-second load keeps the
    # backlog at <= 1, and 2 pulses owed are worked off 1 s apart
    pin = RecPin()
    out = PulseOutput(pin, 1000, 500)
    t = 0
    for _ in range(30):
        out.add_mwh(1000000)  # 3.6 MW for one second = register 135 limit
        assert out.pending <= 2
        t = run(out, pin, t, 1000)
    assert not out.overrun
    assert out.count == 30
    check_timing(pin, 500)
    c = pin.closures()
    for k in range(1, len(c)):
        assert c[k][0] - c[k - 1][0] == 1000


def test_overrun_bit_14():
    # register 146 bit 14: real power above what the contact can deliver.
    # 1000 Wh at 500 ms keeps up with 3.6 MW; feed 4.5 MW.
    pin = RecPin()
    out = PulseOutput(pin, 1000, 500)
    t = 0
    seconds = 0
    while not out.overrun and seconds < 60:
        out.add_mwh(1250000)  # 1.25 pulses per second
        t = run(out, pin, t, 1000, 5)
        seconds += 1
    assert out.overrun
    assert 2 <= out.pending < 5  # one went out since the add that set it
    assert 5 <= seconds <= 12
    # latched while the power drops back ...
    out.add_mwh(0)
    t = run(out, pin, t, 5000, 5)
    assert out.overrun
    assert out.pending == 0  # ... the backlog is still worked off, no pulse lost
    # ... until the energy accumulators are reset (register 129 = 30078)
    out.reset_energy()
    assert not out.overrun
    # 50 ms output: 10 pulses/s, overrun once the backlog is over 20
    out2 = PulseOutput(RecPin(), 10, 50)
    out2.add_mwh(20 * 10000)
    assert not out2.overrun
    out2.add_mwh(10000)
    assert out2.overrun


def test_every_pulse_counted_no_drift_long_random_run():
    # Random power (0 .. 1.2 x the output's limit), random tick jitter, float
    # energy input: count x Wh stays within one pulse + backlog of the energy,
    # and after draining within one pulse; no pulse is shortened.
    seed = 12345

    def rnd(n):
        nonlocal seed
        seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
        return (seed >> 8) % n

    pin = RecPin(8192)
    out = PulseOutput(pin, 10, 25)  # 20 pulses/s, 720 kW
    total_mwh = 0
    t = 0
    for _sec in range(300):
        w = rnd(700000)  # below the limit: no overrun
        out.add_mwh(w * 1000 // 3600)
        total_mwh += w * 1000 // 3600
        used = 0
        while used < 1000:
            step = 1 + rnd(3)
            t = time.ticks_add(t, step)
            used += step
            pin.now = t
            out.tick(t)
        n = out.count
        assert n * 10000 <= total_mwh
        assert total_mwh < (n + out.pending + 1) * 10000
    assert not out.overrun
    run(out, pin, t, 20000)
    assert out.pending == 0
    assert out.count * 10000 <= total_mwh < (out.count + 1) * 10000
    check_timing(pin, 25)


def test_float_energy_does_not_drift():
    out = PulseOutput(RecPin(), 10, 10)
    for _ in range(3600):
        out.add_energy(0.1)  # 0.1 Wh each: 360 Wh = 36 pulses
    assert out.pending in (35, 36)  # float 0.1 is inexact by ~1e-9
    out.add_energy(0.001)
    assert out.pending == 36
    out.add_energy(7)  # int Wh
    assert out.pending == 36
    out.add_energy(3)
    assert out.pending == 37


def test_reconfigure_carries_owed_energy():
    pin = RecPin()
    out = PulseOutput(pin, 100, 50)
    out.add_mwh(5 * 100000 + 42000)  # 5 pulses + 42 Wh
    assert out.pending == 5
    out.reconfigure(10, 10)  # 542 Wh at 10 Wh = 54 pulses + 2 Wh
    assert out.pending == 54
    out.add_mwh(8000)
    assert out.pending == 55
    out.reconfigure(1000, 500)  # 550 Wh: 0 pulses, 550 Wh carried
    assert out.pending == 0
    out.add_mwh(450000)
    assert out.pending == 1
    try:
        out.reconfigure(20, 10)
        raise AssertionError("20 Wh accepted")
    except ValueError:
        pass


def test_pulse_in_progress_finishes_with_its_time():
    pin = RecPin()
    out = PulseOutput(pin, 10, 500)
    out.add_mwh(2 * 10000)
    run(out, pin, 0, 100)
    assert out.busy and pin.level == 1
    out.reconfigure(10, 10)
    run(out, pin, 100, 2000)
    c = pin.closures()
    assert c[0][1] - c[0][0] == 500  # the first ran its 500 ms
    assert c[1][1] - c[1][0] == 10
    assert out.count == 2


def test_counters_registers_39_to_42():
    pin = RecPin()
    out = PulseOutput(pin, 100, 10)
    out.add_mwh(3 * 100000)
    out.add_export_mwh(250000)  # counter 2: export, virtual, same weight
    out.add_export_energy(50.0)
    run(out, pin, 0, 200)
    assert out.count == 3 and out.count2 == 3
    assert pin.closures()[-1][0] < 200
    # 129 = 16498 clears the counts
    out.clear_counts()
    assert out.count == 0 and out.count2 == 0
    # 32-bit roll-over (ULong 39-40)
    out.restore(0xFFFFFFFF, 0xFFFFFFFF)
    out.add_mwh(100000)
    out.add_export_mwh(100000)
    run(out, pin, 200, 100)
    assert out.count == 0 and out.count2 == 0
    # snapshot / restore round trip, with a backlog and part-pulses
    out.add_mwh(2 * 100000 + 7)
    out.add_export_mwh(99)
    snap = out.snapshot()
    assert snap == (0, 0, 2, 7, 99)
    out2 = PulseOutput(RecPin(), 100, 10)
    out2.restore(*snap)
    assert out2.snapshot() == snap


def test_track_import_accumulator():
    out = PulseOutput(RecPin(), 10, 10)
    out.track_import(123456789)  # first value only sets the base
    assert out.pending == 0
    out.track_import(123456789 + 25000)
    assert out.pending == 2
    out.track_import(123456789 + 30000)
    assert out.pending == 3
    out.track_import(0)  # energy reset: backlog dropped
    assert out.pending == 0
    out.track_import(10000)
    assert out.pending == 1


def test_ticks_wrap_around():
    # ticks_ms wraps (2**30 on MicroPython); the deadlines use ticks_add/diff
    pin = RecPin()
    out = PulseOutput(pin, 10, 10)
    out.add_mwh(10 * 10000)
    t0 = time.ticks_add(0, -15)
    run(out, pin, t0, 500)
    assert out.count == 10 and out.pending == 0
    check_timing(pin, 10)


def test_tick_allocates_nothing():
    pin = RecPin()
    out = PulseOutput(pin, 10, 10)
    out.add_mwh(5 * 10000)
    t = 0
    micropython.heap_lock()
    try:
        for _ in range(300):
            t = time.ticks_add(t, 1)
            out.tick(t)
    finally:
        micropython.heap_unlock()
    assert out.count == 5


def test_active_low_contact():
    pin = RecPin()
    pin.level = 1
    out = PulseOutput(pin, 10, 10, closed_level=0)
    assert pin.level == 1  # open at start
    out.add_mwh(10000)
    out.tick(1)
    assert pin.level == 0
    out.deinit()
    assert pin.level == 1


def test_energy_py_units_mws():
    # energy.py keeps milli-watt-seconds (3,600,000 per Wh): track it directly
    out = PulseOutput(RecPin(), 10, 10, units_per_wh=3600000)
    base = 2 ** 40  # a long-running meter's count, beyond small ints
    out.track_import(base)
    out.track_import(base + 36000000 * 3 - 1)  # 30 Wh less 1 mWs
    assert out.pending == 2
    out.track_import(base + 36000000 * 3)
    assert out.pending == 3
    out.add_mwh(10000)  # 10 Wh in mWh still works
    out.add_energy(10)
    out.add_energy(9.9999)
    assert out.pending == 5
    out.add_energy(0.0001)
    assert out.pending == 6
    out.add_export_units(36000000)
    assert out.count2 == 1


def test_due_in_tells_the_loop_when_to_wake():
    # the main loop sleeps between turns until the contact's next edge
    pin = RecPin()
    p = PulseOutput(pin, 10, 100)
    assert p.due_in(0) == -1  # nothing owed: no reason to wake
    p.add_mwh(10_000)  # one pulse owed
    assert p.due_in(0) == 0
    p.tick(1000)
    assert pin.level == 1 and p.due_in(1000) == 100 and p.due_in(1060) == 40
    p.tick(1100)
    assert pin.level == 0 and p.due_in(1150) == 50  # the open time
    p.tick(1200)
    assert p.due_in(1200) == -1
