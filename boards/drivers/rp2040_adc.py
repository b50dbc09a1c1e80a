# The RP2040's own ADC as a single-phase front-end (boards/pico_onboard.py):
# one voltage input on ADC0 (GP26) and one current input on ADC1 (GP27),
# both biased at mid-rail (1.65 V) by the board's input network. Frames are
# the firmware's six channels Va,Vb,Vc,Ia,Ib,Ic with Vb = Vc = Ib = Ic = 0,
# for system type 10 (single phase, L-N).
#
# NOT REVENUE-GRADE, stated plainly. The RP2040 ADC is a 12-bit SAR with an
# ENOB of about 8.7 bits (RP2040 datasheet, ADC section), large DNL spikes at
# codes 512, 1536, 2560 and 3584 (erratum RP2040-E11), its reference is the
# 3.3 V supply unless the board adds one, and here it is paced by a software
# timer whose interrupt latency adds a few microseconds of jitter to every
# sample. Expect errors of the order of 1 % in V, I and P, worse at low
# current: it is a development board for the firmware, not a meter.
#
# Pacing: a machine.Timer at twice the frame rate (the board hands it in);
# its hard-IRQ callback converts one input per tick, round-robin V, I, V, I:
# each conversion starts at a tick, so V and I are 1/(2 fs) apart. To put
# them back on one instant each frame's voltage is the mean of the two
# voltage samples around its current sample (linear interpolation to the
# current's instant). Cost of that: a gain of cos(2 pi f / (2 fs)) on the
# voltage, 0.998 at 50 Hz and 0.997 at 60 Hz with fs = 2500 -- inside what
# calibration corrects (CAL_GAINS), and no phase error at all.
# (The hardware alternative, not done here: the ADC's own round-robin mode
# (CS.RROBIN) free-running from its 48 MHz clock (DIV) with the FIFO read by
# DMA into a ring, which removes both the jitter and the IRQ cost.)
#
# The IRQ writes decoded frames into a preallocated ring of array('i');
# read_block(buf, nframes) copies whole frames out for the DSP (the same
# interface as the ADS131M06 driver and boards/sim.py's read()). Depth 256
# frames = 102.4 ms at 2500/s; memory 256 * 6 * 4 = 6144 bytes. The same
# limit as the ADS131M06's IRQ path: while MicroPython erases or programs
# the flash no interrupt runs, so no sample is taken; gaps are counted in
# `lost` from the callback's timestamps.
import time
from array import array

import micropython
from micropython import const

from compat import ptr32  # noqa: F401  (viper cast)

from .framering import FrameRing  # the ring's shared words 0-6 and its reader side

BITS = const(12)
_S_HEAD = const(0)  # frames put, modulo 2**30 (IRQ only); 0-6 as framering.py
_S_TAIL = const(1)  # frames taken (reader only)
_S_WSLOT = const(2)
_S_RSLOT = const(3)
_S_DEPTH = const(4)
_S_OVERRUN = const(5)
_S_LOST = const(6)
_S_BIAS = const(7)  # mid-rail code, in 13-bit units (the sum of two samples)
_S_STUCK = const(8)  # bit 0: Va stuck, bit 3: Ia stuck
_S_LIMIT = const(9)
_S_LAST = const(10)  # last Va, last Ia
_S_RUN = const(12)  # their run lengths
_S_LEN = const(14)
_MASK30 = const(0x3FFFFFFF)

FAULT_STUCK = const(1)
FAULT_NO_DATA = const(2)
FAULT_OVERRUN = const(16)


@micropython.viper
def _put(ring: ptr32, st: ptr32, v0: int, v1: int, i: int):
    # v0, v1, i: read_u16() values (12-bit code << 4). Va = mean of v0, v1.
    head = st[_S_HEAD]
    depth = st[_S_DEPTH]
    if ((head - st[_S_TAIL]) & _MASK30) >= depth:
        st[_S_OVERRUN] = st[_S_OVERRUN] + 1
        return
    slot = st[_S_WSLOT]
    p = slot * 6
    ring[p] = ((v0 + v1) >> 5) - st[_S_BIAS]
    ring[p + 3] = (i >> 4) - st[_S_BIAS]
    slot += 1
    if slot >= depth:
        slot = 0
    st[_S_WSLOT] = slot
    st[_S_HEAD] = (head + 1) & _MASK30


@micropython.viper
def _take(ring: ptr32, n: int, out: ptr32, st: ptr32):
    depth = st[_S_DEPTH]
    slot = st[_S_RSLOT]
    limit = st[_S_LIMIT]
    o = 0
    for _f in range(n):
        p = slot * 6
        slot += 1
        if slot >= depth:
            slot = 0
        for k in range(2):
            ch = 3 * k
            v = ring[p + ch]
            out[o + ch] = v
            u = v & 0xFFFF  # 16 bits: ptr32 loads zero-extend on 64-bit hosts
            if u == st[_S_LAST + k]:
                run = st[_S_RUN + k] + 1
                st[_S_RUN + k] = run
                if run >= limit:
                    st[_S_STUCK] = st[_S_STUCK] | (1 << ch)
            else:
                st[_S_LAST + k] = u
                st[_S_RUN + k] = 0
                st[_S_STUCK] = st[_S_STUCK] & (0x3F ^ (1 << ch))
        out[o + 1] = 0
        out[o + 2] = 0
        out[o + 4] = 0
        out[o + 5] = 0
        o += 6
    st[_S_RSLOT] = slot
    st[_S_TAIL] = (st[_S_TAIL] + n) & _MASK30


class RP2040ADC(FrameRing):
    CHANNELS = ("Va", "Vb", "Vc", "Ia", "Ib", "Ic")  # Va = ADC0, Ia = ADC1

    def __init__(self, adc_v, adc_i, timer, fs=2500, depth=256, stuck_frames=0,
                 bias=2048, ticks_us=None):
        if not 2000 <= fs <= 8000:
            raise ValueError("frame rate must be 2000..8000 /s")
        self.fs = fs
        self.depth = depth
        self.ring = array("i", bytes(4 * 6 * depth))
        self.st = array("i", bytes(4 * _S_LEN))
        st = self.st
        st[_S_DEPTH] = depth
        st[_S_BIAS] = bias
        st[_S_LIMIT] = stuck_frames or max(2, fs // 10)
        self.tick_us = 1_000_000 // (2 * fs)  # timer period: two conversions a frame
        self._gap_us = 3 * self.tick_us
        # IRQ path: bound once here
        self._rv = adc_v.read_u16
        self._ri = adc_i.read_u16
        self._ticks = ticks_us or time.ticks_us
        self._ticks_diff = time.ticks_diff
        self._tick_ref = self._tick
        self._phase = 0  # 0: next tick converts V, 1: next converts I
        self._v_prev = -1  # no voltage sample yet
        self._i = 0
        self._last_t = 0
        self.timer = timer
        self._running = False
        self.alive_ms = None
        self._heads_seen = 0

    def init(self):
        return 0  # nothing to configure: the ADC needs no set-up

    def start(self):
        st = self.st
        st[_S_HEAD] = st[_S_TAIL] = st[_S_WSLOT] = st[_S_RSLOT] = 0
        self._phase = 0
        self._v_prev = -1
        self._last_t = self._ticks()
        self.alive_ms = None
        self._heads_seen = 0
        self._running = True
        timer = self.timer
        timer.init(freq=2 * self.fs, mode=timer.PERIODIC, callback=self._tick_ref, hard=True)

    def stop(self):
        if self._running:
            self.timer.deinit()
            self._running = False

    def _tick(self, _t):
        # hard IRQ, no allocation: small ints and preallocated arrays only
        now = self._ticks()
        dt = self._ticks_diff(now, self._last_t)
        self._last_t = now
        if dt > self._gap_us:  # ticks missed (IRQs off): frames lost
            self.st[_S_LOST] += (dt // self.tick_us) >> 1
            self._phase = 0  # start again on a voltage sample
            self._v_prev = -1
        if self._phase:
            self._i = self._ri()
            self._phase = 0
        else:
            v = self._rv()
            if self._v_prev >= 0:
                _put(self.ring, self.st, self._v_prev, v, self._i)
            self._v_prev = v
            self._phase = 1

    def read_block(self, buf, nframes):
        n = self._take_count(buf, nframes)
        if n <= 0:
            return 0
        _take(self.ring, n, buf, self.st)
        return n

    @property
    def stuck_mask(self):
        return self.st[_S_STUCK]

    crc_errors = 0  # no CRC on an on-chip ADC

    def check_alive(self, now_ms, no_data_ms=50):
        head = self.st[_S_HEAD]
        if head != self._heads_seen or self.alive_ms is None or not self._running:
            self._heads_seen = head
            self.alive_ms = now_ms
            return True
        return time.ticks_diff(now_ms, self.alive_ms) < no_data_ms

    def fault(self, now_ms=None):
        f = 0
        if self.st[_S_STUCK]:
            f |= FAULT_STUCK
        if self.st[_S_OVERRUN]:
            f |= FAULT_OVERRUN
        if now_ms is not None and not self.check_alive(now_ms):
            f |= FAULT_NO_DATA
        return f

    def deinit(self):
        self.stop()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.deinit()
