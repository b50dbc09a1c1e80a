# TI ADS131M06: six simultaneous 24-bit delta-sigma ADCs on SPI (datasheet
# SBAS1xx, 'ADS131M06 6-Channel, Simultaneously-Sampling, 24-Bit ADC').
# The board hands in the SPI bus (mode 1: polarity 0, phase 1, MSB first),
# the chip-select pin, the DRDY pin and optionally the SYNC/RESET pin; this
# module never builds them and never imports machine.
#
# Channel mapping (the firmware's frame order, frontend.CHANNELS):
#   AIN0P/N = Va   AIN1P/N = Vb   AIN2P/N = Vc
#   AIN3P/N = Ia   AIN4P/N = Ib   AIN5P/N = Ic
# so the six data words of an SPI frame are already in frame order.
#
# Data rate: fDATA = fMOD / OSR with fMOD = fCLKIN / 2 (datasheet 8.4.1).
# 2520 samples/s exactly cannot be made: fCLKIN comes from an RP2040 PWM
# (sys clock / an integer), the OSR is a power of two (128..16384), and
# 2520 * 2 * OSR * n is never a frequency the RP2040's PLL (12 MHz crystal)
# can produce. The board runs the RP2040 at 128 MHz (PLL: VCO 1536 MHz / 6 /
# 2) and divides by 25: fCLKIN = 5.12 MHz, high-resolution mode, OSR 1024
#   -> fMOD = 2.56 MHz, fDATA = 2500 samples/s EXACTLY (an int for FrontEnd).
# At the default 125 MHz the nearest are /24 -> 2543.1/s and /25 -> 2441.4/s,
# neither an integer, so the DSP's 'second' would be off by 50 ppm or more.
# (With an 8.192 MHz crystal oscillator on CLKIN instead: OSR 1024 -> 4000/s,
# OSR 2048 -> 2000/s, both exact and both inside FrontEnd's 2000..8000.)
#
# Current inputs and the 1/3 V CT: the PGA only has gains 1, 2, 4 .. 128
# (GAIN1/GAIN2 registers), so 'input gain x3' for a 1/3 V CT is PGA x2 plus
# an exact x3/2 in the frame decode (integer, clamped to the 24-bit rail).
# The board's current-input divider maps a 1 V CT at the +20 % over-range
# point (1.697 V peak) to the 1.2 V reference at PGA 1; a 1/3 V CT then
# reaches 2/3 of full scale at PGA 2, and x3/2 puts it on the same codes a
# 1 V CT gives: FrontEnd's full scale is right for both.
#
# Frames: 24-bit words (MODE.WLENGTH = 01), so one frame is 8 words =
# 24 bytes: response word (STATUS after a NULL command), six channel words
# (two's complement, MSB first), CRC word. The output CRC (CRC-16-CCITT,
# polynomial 0x1021, seed 0xFFFF, MODE.CRC_TYPE = 0) covers every byte
# before it, so the CRC run over all 24 bytes (CRC word and its pad byte
# included) is 0 for a good frame. MODE.RX_CRC_EN = 1 makes the ADC check
# the CRC we send after each command (a flipped MOSI bit can then not turn a
# NULL into a WREG or RESET); every frame we send carries one.
#
# Acquisition (how no sample is lost while the rest of the firmware runs):
#   DRDY falls (MODE.DRDY_FMT = 0: level, active low) -> hard IRQ handler
#   _irq(): CS low, spi.write_readinto(constant NULL+CRC frame, rx), CS high,
#   then one viper call copies the 24 raw bytes into the next slot of a
#   preallocated ring and advances the write count. No allocation: the
#   bound methods are made in __init__, the buffers are preallocated, the
#   counters live in an array('i').
#   The main loop (or core 1) calls read_block(buf, nframes): it takes whole
#   frames out of the ring, checks each CRC, sign-extends the codes into
#   buf (array('i'), 6 codes a frame), and returns how many frames it wrote
#   (a frame that fails its CRC is counted and not used). While it decodes
#   one block the IRQ keeps filling other slots: the ring is the double
#   buffer.
#   Depth: 256 frames = 102.4 ms at 2500/s, enough to ride out a stall of
#   the main loop of ~100 ms (garbage collection, an LCD write, a storage
#   save's Python work). Memory: 256 * 24 = 6144 bytes of raw frames, plus
#   24 + 24 bytes of SPI buffers, a 512-byte CRC table and ~140 bytes of
#   counters; the caller's block buffer is its own (e.g. 250 frames * 24
#   bytes = 6000 bytes for 100 ms blocks).
#   Limit, stated: MicroPython's rp2 port disables interrupts while the flash
#   is erased or programmed (XIP is off), so no DRDY IRQ runs during a
#   littlefs sector erase (typ. 45 ms, max 400 ms) and the ADC's results of
#   that time are overwritten in the chip, not queued. The IRQ path detects
#   this from the DRDY timestamps and counts the frames in `lost` (never a
#   silent gap), but it cannot keep them. Keeping them needs acquisition
#   that runs without the CPU (PIO reading the SPI on DRDY, DMA into this
#   same raw ring: docs/storage.md's plan); read_block's decode is written
#   for that ring layout too. Not implemented here yet.
#
# Checks: CRC errors (counted, frame dropped), the STATUS word of each frame
# (RESET bit set = the chip reset itself, e.g. a brown-out: its
# configuration is gone -> fault; CRC_ERR = it rejected one of our frames),
# stuck codes (one channel returning the same code for `stuck_frames`
# frames in a row, 100 ms by default: a 24-bit converter's noise never does
# that, even on a shorted input, a dead front-end or a broken SPI line does;
# synthetic test frames need at least an LSB of noise, or a narrower
# `stuck_channels` mask), ring overruns and
# DRDY gaps. fault() gathers them as bits for the alarm/runtime layer.

import time
from array import array

import micropython
from micropython import const

from compat import ptr8, ptr16, ptr32  # noqa: F401  (viper casts)

from .framering import FrameRing  # the ring's shared words 0-6 and its reader side

# ---- SPI commands (datasheet 8.5.1.10, Table 8-11), 16 bits + 8 pad ----
_CMD_NULL = const(0x0000)
_CMD_RESET = const(0x0011)
_CMD_STANDBY = const(0x0022)
_CMD_WAKEUP = const(0x0033)
_CMD_RREG = const(0xA000)  # 101a aaaa annn nnnn
_CMD_WREG = const(0x6000)  # 011a aaaa annn nnnn
_RESET_ACK = const(0xFF26)  # response to RESET: FF2x, x = channel count
_WREG_ACK = const(0x4000)  # 010a aaaa ammm mmmm

# ---- registers (datasheet 8.6, Table 8-16) ----
_REG_ID = const(0x00)  # RESERVED[15:12]=0010 CHANCNT[11:8]=6 REVID[7:0]
_REG_STATUS = const(0x01)
_REG_MODE = const(0x02)
_REG_CLOCK = const(0x03)
_REG_GAIN1 = const(0x04)  # PGAGAIN3[14:12] PGAGAIN2[10:8] PGAGAIN1[6:4] PGAGAIN0[2:0]
_REG_GAIN2 = const(0x05)  # PGAGAIN5[6:4] PGAGAIN4[2:0]
_ID_MASK = const(0xFF00)
_ID_ADS131M06 = const(0x2600)

# STATUS (0x01) bits
_ST_LOCK = const(0x8000)
_ST_F_RESYNC = const(0x4000)
_ST_CRC_ERR = const(0x1000)  # input CRC error: the ADC ignored a frame of ours
_ST_RESET = const(0x0400)  # set by a reset, cleared by writing MODE.RESET = 0

# MODE (0x02): REG_CRC_EN[13]=0, RX_CRC_EN[12]=1, CRC_TYPE[11]=0 (CCITT),
# RESET[10]=0 (clears the reset flag), WLENGTH[9:8]=01 (24 bit),
# TIMEOUT[4]=1 (SPI resyncs after 2^14 fCLKIN idle in a frame),
# DRDY_SEL[3:2]=00 (most lagging channel), DRDY_HiZ[1]=0, DRDY_FMT[0]=0 (level)
MODE_VALUE = const(0x1110)

# CLOCK (0x03): CH5_EN..CH0_EN[13:8], OSR[4:2], PWR[1:0]
_CLOCK_CH_ALL = const(0x3F00)
_PWR_HR = const(0x2)  # high resolution: fCLKIN up to 8.192 MHz nominal
_OSR_CODES = (128, 256, 512, 1024, 2048, 4096, 8192, 16384)  # OSR[2:0] = index
_PGA_CODES = (1, 2, 4, 8, 16, 32, 64, 128)  # PGAGAINn[2:0] = index

FRAME_BYTES = const(24)  # 8 words of 24 bits
_WORD = const(3)
_RAIL = const(8388607)  # 2**23 - 1

# fault() bits
FAULT_STUCK = const(1)  # a channel repeated one code for stuck_frames frames
FAULT_NO_DATA = const(2)  # no DRDY for no_data_ms (checked by check_alive)
FAULT_CRC = const(4)  # the last frame(s) failed CRC
FAULT_RESET = const(8)  # the ADC reports a reset: it must be configured again
FAULT_OVERRUN = const(16)  # the ring was full: the reader is too slow

# counters in self.st (array('i'), shared by the IRQ and the reader)
_S_HEAD = const(0)  # frames put, modulo 2**30 (IRQ only); 0-6 as framering.py
_S_TAIL = const(1)  # frames taken, modulo 2**30 (reader only)
_S_WSLOT = const(2)  # next slot to write (IRQ only)
_S_RSLOT = const(3)  # next slot to read (reader only)
_S_DEPTH = const(4)
_S_OVERRUN = const(5)  # frames dropped because the ring was full
_S_LOST = const(6)  # frames the ADC made while no IRQ ran (DRDY gaps)
_S_PERIOD = const(7)  # frame period, us
_S_CRC = const(8)  # frames dropped for a bad CRC
_S_CRC_RUN = const(9)  # consecutive bad frames
_S_STATUS = const(10)  # STATUS word of the last good frame
_S_RESETS = const(11)  # good frames with STATUS.RESET set
_S_RXCRC = const(12)  # good frames with STATUS.CRC_ERR set
_S_STUCK = const(13)  # bit ch: channel ch stuck now
_S_LIMIT = const(14)  # stuck_frames
_S_INUM = const(15)  # current channels: code * INUM >> ISH
_S_ISH = const(16)
_S_GOOD = const(17)  # good frames decoded, modulo 2**30
_S_CHMASK = const(30)  # channels the stuck detector watches
_S_LAST = const(18)  # 6 last codes
_S_RUN = const(24)  # 6 run lengths
_S_LEN = const(31)
_MASK30 = const(0x3FFFFFFF)


def crc_ccitt(data, n=-1, crc=0xFFFF):
    """CRC-16-CCITT (poly 0x1021, MSB first, no reflection, no final XOR),
    the ADS131M0x's CRC_TYPE 0; check value of b'123456789' is 0x29B1."""
    if n < 0:
        n = len(data)
    for k in range(n):
        crc ^= data[k] << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


def _crc_table():
    t = array("H", bytes(512))
    for b in range(256):
        t[b] = crc_ccitt(bytes((b,)), 1, 0)
    return t


@micropython.viper
def _put(rx: ptr8, ring: ptr8, st: ptr32):
    # IRQ side: one raw frame into the ring, or count an overrun.
    head = st[_S_HEAD]
    depth = st[_S_DEPTH]
    if ((head - st[_S_TAIL]) & _MASK30) >= depth:
        st[_S_OVERRUN] = st[_S_OVERRUN] + 1
        return
    slot = st[_S_WSLOT]
    p = slot * FRAME_BYTES
    for k in range(FRAME_BYTES):
        ring[p + k] = rx[k]
    slot += 1
    if slot >= depth:
        slot = 0
    st[_S_WSLOT] = slot
    st[_S_HEAD] = (head + 1) & _MASK30  # published last: the slot is complete


@micropython.viper
def _decode(ring: ptr8, nframes: int, out: ptr32, tab: ptr16, st: ptr32) -> int:
    # Reader side: nframes raw frames from slot st[_S_RSLOT] -> out (6 codes
    # a frame, from frame 0). Returns the good frames written.
    depth = st[_S_DEPTH]
    slot = st[_S_RSLOT]
    inum = st[_S_INUM]
    ish = st[_S_ISH]
    limit = st[_S_LIMIT]
    chmask = st[_S_CHMASK]
    good = 0
    o = 0
    for _f in range(nframes):
        p = slot * FRAME_BYTES
        slot += 1
        if slot >= depth:
            slot = 0
        crc = 0xFFFF
        for k in range(FRAME_BYTES):
            crc = ((crc << 8) & 0xFFFF) ^ tab[((crc >> 8) ^ ring[p + k]) & 0xFF]
        if crc != 0:
            st[_S_CRC] = st[_S_CRC] + 1
            st[_S_CRC_RUN] = st[_S_CRC_RUN] + 1
            continue
        st[_S_CRC_RUN] = 0
        status = (ring[p] << 8) | ring[p + 1]
        st[_S_STATUS] = status
        if status & _ST_RESET:
            st[_S_RESETS] = st[_S_RESETS] + 1
        if status & _ST_CRC_ERR:
            st[_S_RXCRC] = st[_S_RXCRC] + 1
        q = p + 3
        for ch in range(6):
            v = (ring[q] << 16) | (ring[q + 1] << 8) | ring[q + 2]
            q += 3
            if v & 0x800000:
                v -= 0x1000000
            if ch >= 3 and inum != 1:  # 1/3 V CTs: x3/2, kept inside the rail
                v = (v * inum) >> ish
                if v > _RAIL:
                    v = _RAIL
                elif v < 0 - _RAIL:
                    v = 0 - _RAIL
            out[o + ch] = v
            # stuck-code detector (datasheet-free: a property of noise)
            u = v & 0xFFFFFF  # compared as 24 bits: ptr32 loads zero-extend on 64-bit hosts
            if u == st[_S_LAST + ch]:
                run = st[_S_RUN + ch] + 1
                st[_S_RUN + ch] = run
                if run >= limit and (chmask >> ch) & 1:
                    st[_S_STUCK] = st[_S_STUCK] | (1 << ch)
            else:
                st[_S_LAST + ch] = u
                st[_S_RUN + ch] = 0
                st[_S_STUCK] = st[_S_STUCK] & (0x3F ^ (1 << ch))
        o += 6
        good += 1
    st[_S_RSLOT] = slot
    st[_S_TAIL] = (st[_S_TAIL] + nframes) & _MASK30  # slots free for the IRQ
    st[_S_GOOD] = (st[_S_GOOD] + good) & _MASK30
    return good


def _host_sleep_ms(ms):  # CPython (host tests): time has no sleep_ms
    time.sleep(ms / 1000)


class ADS131M06(FrameRing):
    CHANNELS = ("Va", "Vb", "Vc", "Ia", "Ib", "Ic")  # AIN0..AIN5
    CRC_FAULT_RUN = 3  # this many bad frames in a row -> FAULT_CRC
    RESET_PULSE_MS = 1  # SYNC/RESET low > 2048 fCLKIN periods (400 us at 5.12 MHz)
    RESET_WAIT_MS = 2  # after reset, before the first frame (tREGACQ, settling)

    def __init__(self, spi, cs, drdy, reset=None, clkin=5_120_000, osr=1024,
                 ct_secondary=1, depth=256, stuck_frames=0, stuck_channels=0x3F,
                 ticks_us=None, sleep_ms=None):
        if osr not in _OSR_CODES:
            raise ValueError("OSR must be one of %r" % (_OSR_CODES,))
        if clkin % (2 * osr):
            raise ValueError("CLKIN %d Hz / 2 / OSR %d is not a whole rate" % (clkin, osr))
        self.spi = spi
        self.cs = cs
        self.drdy = drdy
        self.reset_pin = reset
        self.clkin = clkin
        self.osr = osr
        self.fs = clkin // (2 * osr)
        self.depth = depth
        cs.value(1)
        self.ring = bytearray(depth * FRAME_BYTES)
        self.st = array("i", bytes(4 * _S_LEN))
        st = self.st
        st[_S_DEPTH] = depth
        st[_S_PERIOD] = self._period_us = 1_000_000 // self.fs
        self._half_us = self._period_us // 2
        self._gap_us = self._period_us + self._half_us
        st[_S_LIMIT] = stuck_frames or max(2, self.fs // 10)
        st[_S_CHMASK] = stuck_channels
        self._crc_tab = _crc_table()
        self._rx = bytearray(FRAME_BYTES)
        self._cmd = bytearray(FRAME_BYTES)
        self._null = bytearray(FRAME_BYTES)
        self._frame(self._null, _CMD_NULL, ())
        # IRQ path: every callable bound once, here
        self._xfer = spi.write_readinto
        self._cs = cs.value
        self._ticks = ticks_us or time.ticks_us
        self._ticks_diff = time.ticks_diff
        self._sleep_ms = sleep_ms or getattr(time, "sleep_ms", None) or _host_sleep_ms
        self._irq_ref = self._irq
        self._last_t = 0
        self._running = False
        self.alive_ms = None  # ticks_ms when check_alive last saw new frames
        self._heads_seen = 0
        self.set_ct_secondary(ct_secondary, write=False)

    # ---- SPI frames --------------------------------------------------------
    def _frame(self, buf, cmd, data):
        # command word, data words, CRC word; the rest zero (datasheet 8.5.1.9)
        for k in range(FRAME_BYTES):
            buf[k] = 0
        buf[0] = cmd >> 8
        buf[1] = cmd & 0xFF
        p = _WORD
        for d in data:
            buf[p] = (d >> 8) & 0xFF
            buf[p + 1] = d & 0xFF
            p += _WORD
        crc = crc_ccitt(buf, p)
        buf[p] = crc >> 8
        buf[p + 1] = crc & 0xFF

    def _transfer(self, cmd, data=()):
        # one whole frame out; returns the response word (to the previous
        # command) and checks the frame's CRC
        self._frame(self._cmd, cmd, data)
        self.cs.value(0)
        self.spi.write_readinto(self._cmd, self._rx)
        self.cs.value(1)
        rx = self._rx
        if crc_ccitt(rx) != 0:
            raise OSError("ADS131M06: bad CRC on a frame (rx %s)" % bytes(rx).hex())
        return (rx[0] << 8) | rx[1]

    def read_reg(self, addr):
        self._transfer(_CMD_RREG | (addr << 7))
        return self._transfer(_CMD_NULL)

    def write_reg(self, addr, value, verify=True):
        self._transfer(_CMD_WREG | (addr << 7), (value,))
        ack = self._transfer(_CMD_NULL)
        if ack != _WREG_ACK | (addr << 7):
            raise OSError("ADS131M06: WREG 0x%02x answered 0x%04x" % (addr, ack))
        if verify:
            got = self.read_reg(addr)
            if got != value:
                raise OSError("ADS131M06: register 0x%02x reads 0x%04x, wrote 0x%04x"
                              % (addr, got, value))

    # ---- configuration -----------------------------------------------------
    def clock_value(self):
        return _CLOCK_CH_ALL | (_OSR_CODES.index(self.osr) << 2) | _PWR_HR

    def gain_values(self):
        g = _PGA_CODES.index(self._pga_i)
        # voltages (AIN0..2) at PGA 1; currents (AIN3..5) at _pga_i
        return (g << 12), (g << 4) | g

    def set_ct_secondary(self, ct_secondary, write=True):
        """1: 1 V CTs (PGA 1); 3: 1/3 V CTs (PGA 2 and x3/2 in the decode)."""
        if ct_secondary == 1:
            pga, num, sh = 1, 1, 0
        elif ct_secondary == 3:
            pga, num, sh = 2, 3, 1
        else:
            raise ValueError("CT secondary must be 1 (1 V) or 3 (1/3 V)")
        self._pga_i = pga
        if write:
            running = self._running
            self.stop()
            g1, g2 = self.gain_values()
            self.write_reg(_REG_GAIN1, g1)
            self.write_reg(_REG_GAIN2, g2)
            if running:
                self.start()
        self.st[_S_INUM] = num
        self.st[_S_ISH] = sh
        self.ct_secondary = ct_secondary

    def init(self):
        """Reset the ADC, configure it and read every register back.
        Raises OSError when the chip does not answer as an ADS131M06."""
        self.stop()
        if self.reset_pin is not None:  # SYNC/RESET low > 2048 tCLKIN: reset
            self.reset_pin.value(0)
            self._sleep_ms(self.RESET_PULSE_MS)
            self.reset_pin.value(1)
            self._sleep_ms(self.RESET_WAIT_MS)
        self._transfer(_CMD_RESET)
        self._sleep_ms(self.RESET_WAIT_MS)
        ack = self._transfer(_CMD_NULL)
        if ack != _RESET_ACK:
            raise OSError("ADS131M06: RESET answered 0x%04x, not 0x%04x" % (ack, _RESET_ACK))
        ident = self.read_reg(_REG_ID)
        if ident & _ID_MASK != _ID_ADS131M06:
            raise OSError("ADS131M06: ID 0x%04x is not an ADS131M06" % ident)
        self.write_reg(_REG_MODE, MODE_VALUE)  # CRC on input from the next frame
        self.write_reg(_REG_CLOCK, self.clock_value())
        g1, g2 = self.gain_values()
        self.write_reg(_REG_GAIN1, g1)
        self.write_reg(_REG_GAIN2, g2)
        status = self.read_reg(_REG_STATUS)
        if status & (_ST_RESET | _ST_CRC_ERR):
            raise OSError("ADS131M06: STATUS 0x%04x after configuration" % status)
        self.id = ident
        return ident

    # ---- acquisition -------------------------------------------------------
    def start(self):
        st = self.st
        st[_S_HEAD] = st[_S_TAIL] = st[_S_WSLOT] = st[_S_RSLOT] = 0
        self._last_t = self._ticks()
        self._heads_seen = 0
        self.alive_ms = None
        self._running = True
        self.drdy.irq(handler=self._irq_ref, trigger=self.drdy.IRQ_FALLING, hard=True)

    def stop(self):
        if self._running:
            self.drdy.irq(handler=None)
            self._running = False

    def _irq(self, pin):
        # hard IRQ: no allocation anywhere on this path (heap_lock test)
        cs = self._cs
        cs(0)
        self._xfer(self._null, self._rx)
        cs(1)
        now = self._ticks()
        dt = self._ticks_diff(now, self._last_t)
        self._last_t = now
        if dt > self._gap_us:  # DRDY gap: frames made while no IRQ ran
            self.st[_S_LOST] += (dt + self._half_us) // self._period_us - 1
        _put(self._rx, self.ring, self.st)

    def read_block(self, buf, nframes):
        """Move up to nframes frames from the ring into buf (array('i'), 6
        codes a frame, from frame 0). Returns the number of good frames
        written; frames failing their CRC are counted and skipped."""
        n = self._take_count(buf, nframes)
        if n <= 0:
            return 0
        return _decode(self.ring, n, buf, self._crc_tab, self.st)

    # ---- health (available, read, overruns, lost: FrameRing) -----------------
    @property
    def crc_errors(self):
        return self.st[_S_CRC]

    @property
    def stuck_mask(self):
        return self.st[_S_STUCK]

    @property
    def status(self):
        return self.st[_S_STATUS]

    @property
    def resets(self):
        return self.st[_S_RESETS]

    @property
    def rx_crc_errors(self):
        return self.st[_S_RXCRC]

    def check_alive(self, now_ms, no_data_ms=50):
        """Call from the main loop: True while DRDY keeps coming."""
        head = self.st[_S_HEAD]
        if head != self._heads_seen or self.alive_ms is None or not self._running:
            self._heads_seen = head
            self.alive_ms = now_ms
            return True
        return time.ticks_diff(now_ms, self.alive_ms) < no_data_ms

    def fault(self, now_ms=None):
        st = self.st
        f = 0
        if st[_S_STUCK]:
            f |= FAULT_STUCK
        if st[_S_CRC_RUN] >= self.CRC_FAULT_RUN:
            f |= FAULT_CRC
        if st[_S_STATUS] & _ST_RESET:
            f |= FAULT_RESET
        if st[_S_OVERRUN]:
            f |= FAULT_OVERRUN
        if now_ms is not None and not self.check_alive(now_ms):
            f |= FAULT_NO_DATA
        return f

    def deinit(self):
        self.stop()
        self.cs.value(1)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.deinit()
