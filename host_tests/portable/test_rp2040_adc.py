# RP2040 on-chip ADC front-end (boards/drivers/rp2040_adc.py): round-robin
# V/I pacing, voltage interpolated to the current's instant, zeros for the
# absent phases, stuck codes, overflow, a non-allocating timer callback.
from array import array

import micropython

from drivers.rp2040_adc import FAULT_STUCK, RP2040ADC


class Adc:
    def __init__(self, codes):
        self.codes = codes  # 12-bit codes, played in a loop
        self.k = 0

    def read_u16(self):
        c = self.codes[self.k]
        self.k = (self.k + 1) % len(self.codes)
        return (c << 4) | (c >> 8)  # what MicroPython's rp2 read_u16 returns


class Timer:
    PERIODIC = 1

    def init(self, freq=0, mode=0, callback=None, hard=False):
        self.freq = freq
        self.callback = callback
        self.hard = hard

    def deinit(self):
        self.callback = None


class Ticks:
    def __init__(self):
        self.t = 0

    def __call__(self):
        return self.t


def make(v, i, depth=16, stuck=0):
    t = Ticks()
    tim = Timer()
    drv = RP2040ADC(Adc(v), Adc(i), tim, fs=2500, depth=depth, stuck_frames=stuck, ticks_us=t)
    drv.start()
    return drv, tim, t


def run(tim, t, n):
    for _ in range(n):
        t.t += 200
        tim.callback(tim)


def test_pacing_and_frames():
    drv, tim, t = make([2048, 2148, 2248, 2348], [2000, 2100])
    assert tim.freq == 5000 and tim.hard  # two conversions a frame at 2500/s
    run(tim, t, 9)  # V0 I0 V1 I1 V2 I2 V3 I3 V4 -> 4 frames
    buf = array("i", bytes(4 * 6 * 8))
    assert drv.read_block(buf, 8) == 4
    # Va = mean of the voltage samples around each current sample, less bias
    assert list(buf[0:6]) == [50, 0, 0, -48, 0, 0]
    assert list(buf[6:12]) == [150, 0, 0, 52, 0, 0]
    assert list(buf[12:18]) == [250, 0, 0, -48, 0, 0]
    assert list(buf[18:24]) == [150, 0, 0, 52, 0, 0]  # (2348 + 2048) / 2 - 2048
    assert drv.lost == 0 and drv.overruns == 0


def test_stuck_and_overflow_and_gap():
    drv, tim, t = make([2048, 2049, 2051], [1000], depth=8, stuck=5)
    run(tim, t, 2 * 10 + 1)
    assert drv.available() == 8 and drv.overruns == 2
    buf = array("i", bytes(4 * 6 * 8))
    assert drv.read_block(buf, 8) == 8
    assert drv.stuck_mask == 1 << 3  # Ia frozen at one code, Va moving
    assert drv.fault() & FAULT_STUCK
    t.t += 200 * 20  # interrupts off for 20 ticks: about 10 frames
    tim.callback(tim)
    assert 9 <= drv.lost <= 11


def test_tick_allocates_nothing():
    drv, tim, t = make([2048, 2100, 1990], [2000, 2100], depth=64)
    cb = tim.callback
    buf = array("i", bytes(4 * 6 * 64))
    micropython.heap_lock()
    try:
        for _ in range(100):
            t.t += 200
            cb(tim)
        n = drv.read_block(buf, 64)
    finally:
        micropython.heap_unlock()
    assert n == 49
