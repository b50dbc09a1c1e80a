# The RP2040's own ADC as a single-phase front-end (boards/pico_onboard.py):
# one voltage input on ADC0 (GP26) and one current input on ADC1 (GP27),
# both biased at mid-rail (1.65 V) by the board's input network. Frames are
# the firmware's six channels Va,Vb,Vc,Ia,Ib,Ic with Vb = Vc = Ib = Ic = 0,
# for system type 10 (single phase, L-N).
#
# NOT REVENUE-GRADE, stated plainly. The RP2040 ADC is a 12-bit SAR with an
# ENOB of about 8.7 bits (RP2040 datasheet, ADC section), large DNL spikes at
# codes 512, 1536, 2560 and 3584 (erratum RP2040-E11), and its reference is
# the 3.3 V supply unless the board adds one. Expect errors of the order of
# 1 % in V, I and P, worse at low current: it is a development board for the
# firmware, not a meter.
#
# Acquisition without the CPU (RP2040 datasheet 4.9 ADC, 2.5 DMA;
# docs/acquisition.md): the ADC free-runs (CS.START_MANY) from its 48 MHz
# clock, one conversion every DIV = 48 MHz / (2 fs) clocks, round-robin
# (CS.RROBIN) over the voltage and current inputs, voltage first: V, I, V,
# I, ... into its FIFO (FCS.EN, DREQ_EN, THRESH 1). A DMA channel ("rx",
# TREQ DREQ_ADC) moves each 12-bit result (a halfword) into a ring of
# 2 * depth samples and, at its end, CHAIN_TOs "ctl", which writes the
# ring's address into rx's AL2_WRITE_ADDR_TRIG (the count reloads, rx
# starts again). ctl reads that address from a 64-entry table inside a
# 256-byte read ring, so its READ_ADDR counts rounds: rounds and rx's
# TRANS_COUNT give the exact number of samples written (modulo 64 rings).
# No interrupt, no Python per sample, no timer jitter: the pacing is the
# ADC's own clock. V and I are 1/(2 fs) apart; each frame's voltage is the
# mean of the two voltage samples around its current sample (linear
# interpolation to the current's instant: a gain of cos(2 pi f / (2 fs)),
# 0.998 at 50 Hz and 0.997 at 60 Hz with fs = 2500, which calibration
# corrects, and no phase error). So frame k needs samples 2k, 2k+1, 2k+2.
#
# read_block(buf, nframes) decodes whole frames from the ring (viper) into
# the firmware's six channels Va..Ic with Vb = Vc = Ib = Ic = 0 (the same
# interface as the ADS131M06 driver and boards/sim.py's read()). Depth 256
# frames = 102.4 ms at 2500/s; memory 256 * 2 * 2 = 1024 bytes of samples.
# Frames overwritten before they were read are counted in `overruns` and
# `lost` (the runtime bills `lost`); FAULT_OVERRUN clears after 1 s of
# reads without one. Flash writes stop XIP and interrupts, not the ADC or
# the DMA: a save loses no sample.
# The ADC registers are reached through the `mem32` the board hands in
# (machine.mem32): MicroPython's machine.ADC has no FIFO or DMA interface;
# the board still makes a machine.ADC per input, which sets its pin up as
# an analog input.
from array import array

import micropython
from micropython import const

from compat import ptr16, ptr32  # noqa: F401  (viper casts)

from .framering import FrameRing  # the ring's shared words 0-6 and its reader side

BITS = const(12)
_S_HEAD = const(0)  # samples the DMA wrote, modulo 2 * _S_WINDOW (0-6 as framering.py)
_S_TAIL = const(1)  # frames taken, modulo _S_WINDOW
_S_WSLOT = const(2)  # (unused: the DMA's write address is the write slot)
_S_RSLOT = const(3)  # next frame slot to read
_S_DEPTH = const(4)
_S_OVERRUN = const(5)  # frames overwritten before they were read
_S_LOST = const(6)  # every frame not handed over (= overruns here)
_S_BIAS = const(7)  # mid-rail code (12 bits)
_S_STUCK = const(8)  # bit 0: Va stuck, bit 3: Ia stuck
_S_LIMIT = const(9)
_S_LAST = const(10)  # last Va, last Ia
_S_RUN = const(12)  # their run lengths
_S_WINDOW = const(14)  # frame counters' modulus: depth * _ROUNDS
_S_CLEAN = const(15)  # frames taken since the last overrun (saturates)
_S_CLIPPED = const(16)  # samples at the rail (code 0 or 4095), modulo 2**30
_S_CLIPMASK = const(17)  # bit 0: Va had one, bit 3: Ia, since take_clip_mask()
_S_LEN = const(18)
_MASK30 = const(0x3FFFFFFF)

FAULT_STUCK = const(1)
FAULT_NO_DATA = const(2)
FAULT_OVERRUN = const(16)

# ---- ADC registers (RP2040 datasheet 4.9.6) ----
ADC_BASE = const(0x4004C000)
_CS = const(0x00)
_FCS = const(0x08)
ADC_FIFO = const(0x4004C00C)
_DIV = const(0x10)
_CS_EN = const(0x1)
_CS_START_MANY = const(0x8)
_CS_READY = const(0x100)
_CS_AINSEL = const(12)  # shift
_CS_RROBIN = const(16)  # shift
_FCS_EN = const(0x1)
_FCS_DREQ_EN = const(0x8)
_FCS_EMPTY = const(0x100)
_FCS_THRESH_1 = const(1 << 24)
ADC_CLOCK_HZ = const(48_000_000)
DREQ_ADC = const(36)

# ---- the DMA ring (as drivers/ads131m06.py) ----
_ROUNDS = const(64)
_TABLE_RING = const(8)
_TREQ_PERMANENT = const(0x3F)
_DMA_BASE = const(0x50000000)
_CH_STRIDE = const(0x40)
_AL2_WRITE_ADDR_TRIG = const(0x2C)
GUARD = const(16)


@micropython.viper
def _take(ring: ptr16, n: int, out: ptr32, st: ptr32):
    # n frames from slot st[_S_RSLOT]: Va = mean of the voltage samples
    # around the current sample, less the bias; Ia less the bias
    nsamp = st[_S_DEPTH] * 2
    s = st[_S_RSLOT] * 2
    bias = st[_S_BIAS]
    limit = st[_S_LIMIT]
    o = 0
    for _f in range(n):
        v0 = ring[s] & 0xFFF
        i = ring[s + 1] & 0xFFF
        s += 2
        if s >= nsamp:
            s = 0
        v1 = ring[s] & 0xFFF
        # at the rail (0 or 4095): each voltage sample is v1 of one frame
        if ((i + 1) & 0xFFF) <= 1:
            st[_S_CLIPPED] = (st[_S_CLIPPED] + 1) & 0x3FFFFFFF
            st[_S_CLIPMASK] = st[_S_CLIPMASK] | 8
        if ((v1 + 1) & 0xFFF) <= 1:
            st[_S_CLIPPED] = (st[_S_CLIPPED] + 1) & 0x3FFFFFFF
            st[_S_CLIPMASK] = st[_S_CLIPMASK] | 1
        va = ((v0 + v1) >> 1) - bias
        ia = i - bias
        out[o] = va
        out[o + 1] = 0
        out[o + 2] = 0
        out[o + 3] = ia
        out[o + 4] = 0
        out[o + 5] = 0
        for k in range(2):
            v = va if k == 0 else ia
            u = v & 0xFFFF  # 16 bits: ptr32 loads zero-extend on 64-bit hosts
            if u == st[_S_LAST + k]:
                run = st[_S_RUN + k] + 1
                st[_S_RUN + k] = run
                if run >= limit:
                    st[_S_STUCK] = st[_S_STUCK] | (1 << (3 * k))
            else:
                st[_S_LAST + k] = u
                st[_S_RUN + k] = 0
                st[_S_STUCK] = st[_S_STUCK] & (0x3F ^ (1 << (3 * k)))
        o += 6
    st[_S_RSLOT] = s >> 1
    st[_S_TAIL] = (st[_S_TAIL] + n) % st[_S_WINDOW]


class RP2040ADC(FrameRing):
    CLIP_WORD = _S_CLIPPED  # FrameRing.clipped, take_clip_mask (the mask follows)
    CHANNELS = ("Va", "Vb", "Vc", "Ia", "Ib", "Ic")  # Va = ADC0, Ia = ADC1
    OVERRUN_CLEAR_S = 1  # FAULT_OVERRUN until this long without one

    def __init__(self, adc_v, adc_i, dma, mem32, fs=2500, depth=256, stuck_frames=0,
                 bias=2048, channels=(0, 1), guard=GUARD):
        """adc_v, adc_i: machine.ADC objects (their pins set up as analog
        inputs) on ADC channels `channels` (voltage first: the round robin
        runs upwards); dma: two rp2.DMA channels (rx, ctl); mem32:
        machine.mem32 (the ADC's FIFO, round robin and divider have no
        MicroPython API)."""
        if not 2000 <= fs <= 8000:
            raise ValueError("frame rate must be 2000..8000 /s")
        if not channels[0] < channels[1]:
            raise ValueError("the voltage must be the lower ADC channel (converted first)")
        self.fs = fs
        self.depth = depth
        self.adc_v = adc_v
        self.adc_i = adc_i
        self.ring = array("H", bytes(4 * depth))  # 2 samples a frame
        self._table_buf = array("I", bytes(8 * _ROUNDS))  # one 256-byte aligned half used
        self.st = array("i", bytes(4 * _S_LEN))
        st = self.st
        st[_S_DEPTH] = depth
        st[_S_WINDOW] = depth * _ROUNDS
        st[_S_BIAS] = bias
        st[_S_CLEAN] = _MASK30
        st[_S_LIMIT] = stuck_frames or max(2, fs // 10)
        self.dma_rx, self.ctl = dma
        for ch in dma:  # a soft reset leaves claimed-then-freed channels running
            ch.active(0)
        self._mem = mem32
        self._channels = channels
        self._div = (ADC_CLOCK_HZ // (2 * fs) - 1) << 8  # DIV.INT: 1 + INT clocks a conversion
        self._nsamp = 2 * depth
        self._keep = depth - min(guard, depth // 4) - 1  # the next frame's voltage too
        self._table = 0
        self._running = False
        self.alive_ms = None
        self._heads_seen = 0

    def init(self):
        return 0  # nothing to configure before start()

    def _adc_idle(self):
        mem, cs = self._mem, ADC_BASE + _CS
        mem[cs] = _CS_EN  # START_MANY off: the conversion under way finishes
        for _ in range(1000):
            if mem[cs] & _CS_READY:
                break
        mem[ADC_BASE + _FCS] = 0
        for _ in range(8):  # the FIFO is 4 deep
            if mem[ADC_BASE + _FCS] & _FCS_EMPTY:
                break
            mem[ADC_FIFO]

    def start(self):
        st = self.st
        for k in (_S_HEAD, _S_TAIL, _S_RSLOT):
            st[k] = 0
        self.alive_ms = None
        self._heads_seen = 0
        self._adc_idle()
        mem = self._mem
        mem[ADC_BASE + _DIV] = self._div
        mem[ADC_BASE + _FCS] = _FCS_EN | _FCS_DREQ_EN | _FCS_THRESH_1
        rx, ctl = self.dma_rx, self.ctl
        rx.config(read=ADC_FIFO, write=self.ring, count=self._nsamp, ctrl=rx.pack_ctrl(
            size=1, inc_read=False, inc_write=True, treq_sel=DREQ_ADC, chain_to=ctl.channel),
            trigger=False)
        ring_addr = rx.write
        ctl.config(read=self._table_buf, trigger=False)
        t = ctl.read
        skip = ((256 - (t & 255)) & 255) >> 2
        tb = self._table_buf
        for k in range(_ROUNDS):
            tb[skip + k] = ring_addr
        self._table = t + 4 * skip
        ctl.config(read=self._table, write=_DMA_BASE + _CH_STRIDE * rx.channel + _AL2_WRITE_ADDR_TRIG,
                   count=1, ctrl=ctl.pack_ctrl(size=2, inc_read=True, inc_write=False,
                                               ring_size=_TABLE_RING, ring_sel=False,
                                               treq_sel=_TREQ_PERMANENT), trigger=False)
        rx.active(1)
        v, i = self._channels
        self._running = True
        mem[ADC_BASE + _CS] = (_CS_EN | (v << _CS_AINSEL) | (((1 << v) | (1 << i)) << _CS_RROBIN)
                               | _CS_START_MANY)

    def stop(self):
        if self._running:
            self._running = False
            self._adc_idle()
            self.ctl.active(0)
            self.dma_rx.active(0)
            self.ctl.active(0)

    def _poll(self):
        # samples written, modulo 2 * _S_WINDOW; the same two reads as
        # drivers/ads131m06.py
        st = self.st
        if not self._running:
            return st[_S_HEAD]
        ctl, rx = self.ctl, self.dma_rx
        for _ in range(4):
            r = ctl.read
            c = rx.count
            if c and ctl.read == r:
                head = (((r - self._table) >> 2) & (_ROUNDS - 1)) * self._nsamp + self._nsamp - c
                st[_S_HEAD] = head
                return head
        return st[_S_HEAD]

    def _avail(self, tail):
        # frames from `tail` whose three samples (V, I, next V) are written:
        # frame k needs sample 2k + 2, so d samples past 2 * tail hold
        # (d - 1) // 2 of them
        d = (self._poll() - 2 * tail) % (2 * self.st[_S_WINDOW])
        return (d - 1) >> 1 if d else 0

    def available(self):
        return self._avail(self.st[_S_TAIL])

    def read_block(self, buf, nframes):
        st = self.st
        window = st[_S_WINDOW]
        tail = st[_S_TAIL]
        avail = self._avail(tail)
        overrun = 0
        if avail > self._keep:  # the oldest samples are (being) overwritten
            overrun = avail - self._keep
            tail = (tail + overrun) % window
            st[_S_TAIL] = tail
            st[_S_RSLOT] = tail % st[_S_DEPTH]
            avail = self._keep
        n = avail if avail < nframes else nframes
        room = len(buf) // 6
        if n > room:
            n = room
        if n > 0:
            _take(self.ring, n, buf, st)
            if (self._poll() - 2 * tail) % (2 * window) > self._nsamp:  # lapped while decoding
                overrun += n
                n = 0
        if overrun:
            st[_S_OVERRUN] += overrun
            st[_S_LOST] += overrun
            st[_S_CLEAN] = 0
        elif st[_S_CLEAN] < _MASK30:
            st[_S_CLEAN] += n
        return n

    @property
    def stuck_mask(self):
        return self.st[_S_STUCK]

    crc_errors = 0  # no CRC on an on-chip ADC

    def fault(self, now_ms=None):
        st = self.st
        f = 0
        if st[_S_STUCK]:
            f |= FAULT_STUCK
        if st[_S_OVERRUN] and st[_S_CLEAN] < self.OVERRUN_CLEAR_S * self.fs:
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
