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
# The board's current-input divider (0.3) maps a 1 V CT at 4 times its
# rating (4 V peak: crest factor 3.33 at 120 %, frontend.py) to the 1.2 V
# reference at PGA 1; a 1/3 V CT then reaches 2/3 of full scale at PGA 2,
# and x3/2 puts it on the same codes a 1 V CT gives: FrontEnd's full scale
# is right for both. A code at the rail (or the x3/2 clamp) is counted and
# its channel flagged in the decode (clipped, take_clip_mask).
#
# Frames: 24-bit words (MODE.WLENGTH = 01), so one frame is 8 words =
# 24 bytes: response word (STATUS after a NULL command), six channel words
# (two's complement, MSB first), CRC word. The output CRC (CRC-16-CCITT,
# polynomial 0x1021, seed 0xFFFF, MODE.CRC_TYPE = 0) covers every byte
# before it, so the CRC run over all 24 bytes (CRC word and its pad byte
# included) is 0 for a good frame. MODE.RX_CRC_EN = 1 makes the ADC check
# the CRC we send with each command (datasheet, 'Cyclic Redundancy
# Check'): a frame failing it is not executed (a flipped MOSI bit cannot
# turn a NULL into a RESET or STANDBY) -- except WREG, which executes
# anyway -- and sets STATUS.CRC_ERR, for every command, NULL included.
# Every frame we send carries its CRC, so CRC_ERR keeps meaning "a bit of
# ours was flipped".
#
# Acquisition, without the CPU (docs/acquisition.md has the figures):
#   PIO: a state machine (frame_clock_program) waits for DRDY low (MODE.
#   DRDY_FMT = 0: level, active low), drives CS low, pushes the 24 bytes of
#   a NULL frame into its RX FIFO 1.5 us apart (the SPI at 8 MHz takes 1 us
#   a byte, so its 8-byte TX FIFO never overflows), waits for the last byte
#   to leave, drives CS high and waits for DRDY high.
#   DMA "tx": PIO RX FIFO (paced by the PIO's RX DREQ) -> SPI DR, a byte a
#   transfer. DMA "rx": SPI DR (paced by the SPI's RX DREQ) -> the raw ring,
#   depth * 24 bytes, write address incrementing. Each finishes after a
#   whole ring's worth of bytes and CHAIN_TOs a control channel: "ctl_rx"
#   copies the ring's base address into rx's AL2_WRITE_ADDR_TRIG (the write
#   address back to the ring's start, the count reloaded, re-triggered),
#   "ctl_tx" re-triggers tx through AL3_READ_ADDR_TRIG. ctl_rx reads its
#   word from a 64-entry table of that same address with its read address
#   incrementing inside a 256-byte read ring: ctl_rx's READ_ADDR counts the
#   ring's rounds modulo 64. Rounds and rx's remaining TRANS_COUNT give the
#   exact number of bytes written, modulo 64 rings (6.5 s at depth 256), so
#   the reader knows exactly how many frames are there and how many it
#   missed; no frame straddles the ring's end (its length is whole frames).
#   Nothing runs on the CPU per frame: no interrupt, no Python.
#   The input CRC: MODE.RX_CRC_EN stays on, and as a NULL without its CRC
#   would set STATUS.CRC_ERR in every frame, the PIO sends the CRC word too:
#   bytes 3 and 4 come from the Y register, loaded once at start with
#   (bit-reversed CRC high byte) << 24 | CRC low byte (`mov isr, ::y` puts
#   the high byte in bits 7:0, `mov isr, y` the low byte; DMA byte reads of
#   the FIFO take bits 7:0).
#   Registers (RESET, WREG/RREG at init, set_ct_secondary) are CPU-driven
#   over the SPI with CS as an ordinary output while the PIO and DMA are
#   stopped: start() hands CS to the PIO, stop() stops PIO and DMA and
#   takes it back.
#   The main loop calls read_block(buf, nframes): whole frames since the
#   last read, CRC-checked and sign-extended into buf (viper, table CRC).
#   Every frame the ADC made is either handed over or counted in `lost`:
#   frames overwritten before they were read (overruns: the reader fell a
#   ring behind) and frames failing their CRC. The runtime bills `lost` to
#   the DSP (App.frames_lost -> Dsp.add_gap).
#   Depth: 256 frames = 102.4 ms at 2500/s, 6144 bytes; a read keeps GUARD
#   frames clear of the DMA's write position, so a block is never decoded
#   while the DMA overwrites it (checked again after the decode).
#   Flash erase/program (littlefs) stops XIP and interrupts, not the PIO or
#   the DMA (both run from RAM/peripherals): no frame is lost to a save.

# Checks: CRC errors (counted, frame dropped), the STATUS word of each frame
# (RESET bit set = the chip reset itself, e.g. a brown-out: its
# configuration is gone -> fault; CRC_ERR = it rejected one of our frames),
# stuck codes (one channel returning the same code for `stuck_frames`
# frames in a row, 100 ms by default: a 24-bit converter's noise never does
# that, even on a shorted input, a dead front-end or a broken SPI line does;
# synthetic test frames need at least an LSB of noise, or a narrower
# `stuck_channels` mask) and ring overruns. fault() gathers them as bits
# for the alarm/runtime layer.

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

# FAULT_OVERRUN and FAULT_CRC clear once the cause is gone: an overrun is
# a fault until OVERRUN_CLEAR_S seconds of frames were read without one.

# counters in self.st (array('i'); the reader's, updated by read_block)
_S_HEAD = const(0)  # frames the DMA completed, modulo _S_WINDOW; 0-6 as framering.py
_S_TAIL = const(1)  # frames taken, modulo _S_WINDOW
_S_WSLOT = const(2)  # (unused: the DMA's write address is the write slot)
_S_RSLOT = const(3)  # next slot to read
_S_DEPTH = const(4)
_S_OVERRUN = const(5)  # frames overwritten before they were read
_S_LOST = const(6)  # every frame not handed over: overruns + CRC drops
_S_WINDOW = const(7)  # frame counters' modulus: depth * _ROUNDS
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
_S_LAST = const(18)  # 6 last codes
_S_RUN = const(24)  # 6 run lengths
_S_CHMASK = const(30)  # channels the stuck detector watches
_S_CLEAN = const(31)  # frames taken since the last overrun (saturates)
_S_CLIPPED = const(32)  # samples at the rail (clipped), modulo 2**30
_S_CLIPMASK = const(33)  # bit ch: channel ch had one since take_clip_mask()
_S_LEN = const(34)
_MASK30 = const(0x3FFFFFFF)

# ---- the DMA ring (RP2040 datasheet 2.5) ----
_ROUNDS = const(64)  # ctl_rx's table: 64 words in a 256-byte read ring
_TABLE_RING = const(8)  # RING_SIZE: 1 << 8 bytes
_TREQ_PERMANENT = const(0x3F)
_DMA_BASE = const(0x50000000)
_CH_STRIDE = const(0x40)
_AL2_WRITE_ADDR_TRIG = const(0x2C)
_AL3_READ_ADDR_TRIG = const(0x3C)
SPI0_DR = const(0x4003C008)  # SSPDR
DREQ_SPI0_TX = const(16)
DREQ_SPI0_RX = const(17)
_PIO_BASE = (0x50200000, 0x50300000)  # PIO0, PIO1
_PIO_RXF = const(0x20)  # RXF0; RXFn at + 4 n
_DREQ_PIO_RX = (4, 12)  # DREQ_PIO0_RX0, DREQ_PIO1_RX0; + n for SM n
PIO_HZ = const(2_000_000)  # 0.5 us an instruction: the pacing below
GUARD = const(16)  # frames a read keeps clear of the DMA (6.4 ms)


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




def frame_clock_program(rp2):
    """The PIO program (rp2.asm_pio) that clocks one NULL frame a DRDY.
    Pins: set_base = CS, in_base = DRDY. Y must be loaded first (put(), the
    first two instructions) with null_crc_word(). 24 pushes 1.5 us apart at
    PIO_HZ; the last byte leaves the SPI 1 us after its push, CS rises 4.5
    us after it. 17 instructions (PIO0 keeps 15 for others)."""

    @rp2.asm_pio(set_init=rp2.PIO.OUT_HIGH, in_shiftdir=rp2.PIO.SHIFT_LEFT)
    def frame_clock():
        pull(block)  # noqa: F821 (PIO assembler names)
        mov(y, osr)  # noqa: F821
        wrap_target()  # noqa: F821
        wait(0, pin, 0)  # noqa: F821  DRDY low: a conversion is ready
        set(pins, 0)  # noqa: F821  CS low
        push(block)[2]  # noqa: F821  byte 0: NULL command
        push(block)[2]  # noqa: F821  byte 1
        push(block)[1]  # noqa: F821  byte 2 (pad)
        mov(isr, reverse(y))  # noqa: F821
        push(block)[1]  # noqa: F821  byte 3: CRC high
        mov(isr, y)  # noqa: F821
        push(block)[1]  # noqa: F821  byte 4: CRC low
        set(x, 18)  # noqa: F821
        label("zeros")  # noqa: F821
        push(block)[1]  # noqa: F821  bytes 5..23
        jmp(x_dec, "zeros")  # noqa: F821
        nop()[7]  # noqa: F821  the last byte leaves the SPI
        set(pins, 1)  # noqa: F821  CS high: frame done
        wait(1, pin, 0)  # noqa: F821  DRDY high again
        wrap()  # noqa: F821

    return frame_clock


def _rev8(b):
    r = 0
    for _ in range(8):
        r = (r << 1) | (b & 1)
        b >>= 1
    return r


def null_crc_word(frame):
    # Y for frame_clock: ::Y bits 7:0 = frame[3], Y bits 7:0 = frame[4]
    return (_rev8(frame[3]) << 24) | frame[4]


@micropython.viper
def _decode(ring: ptr8, nframes: int, out: ptr32, tab: ptr16, st: ptr32) -> int:
    # nframes raw frames from slot st[_S_RSLOT] -> out (6 codes a frame,
    # from frame 0). Returns the good frames written; a bad CRC is counted
    # (and billed in _S_LOST) and its frame left out. Cost per frame (the
    # emulated chip, docs/acquisition.md): the CRC four bytes a loop turn,
    # as viper's loop overhead (~28 cycles a turn) is most of a byte's cost.
    depth = st[_S_DEPTH]
    slot = st[_S_RSLOT]
    inum = st[_S_INUM]
    ish = st[_S_ISH]
    good = 0
    bad = 0
    clip = 0  # samples at the converter's rail: 0x7FFFFF or 0x800000
    cmask = 0
    o = 0
    for _f in range(nframes):
        p = slot * FRAME_BYTES
        slot += 1
        if slot >= depth:
            slot = 0
        crc = 0xFFFF
        k = p
        end = p + FRAME_BYTES
        while k < end:  # bits above 15 are junk until the mask: never read
            crc = (crc << 8) ^ tab[((crc >> 8) ^ ring[k]) & 0xFF]
            crc = (crc << 8) ^ tab[((crc >> 8) ^ ring[k + 1]) & 0xFF]
            crc = (crc << 8) ^ tab[((crc >> 8) ^ ring[k + 2]) & 0xFF]
            crc = ((crc << 8) ^ tab[((crc >> 8) ^ ring[k + 3]) & 0xFF]) & 0xFFFF
            k += 4
        if crc != 0:
            bad += 1
            st[_S_CRC_RUN] = st[_S_CRC_RUN] + 1
            continue
        st[_S_CRC_RUN] = 0
        status = (ring[p] << 8) | ring[p + 1]
        st[_S_STATUS] = status
        if status & (_ST_RESET | _ST_CRC_ERR):
            if status & _ST_RESET:
                st[_S_RESETS] = st[_S_RESETS] + 1
            if status & _ST_CRC_ERR:
                st[_S_RXCRC] = st[_S_RXCRC] + 1
        # six 24-bit two's complement codes, unrolled (a loop turn costs
        # about what a channel's decode does)
        v = (ring[p + 3] << 16) | (ring[p + 4] << 8) | ring[p + 5]
        out[o] = v - ((v & 0x800000) << 1)
        if (v + 1) >> 1 == 0x400000:  # the rail, either sign: 0x7FFFFF, 0x800000
            clip += 1
            cmask |= 1
        v = (ring[p + 6] << 16) | (ring[p + 7] << 8) | ring[p + 8]
        out[o + 1] = v - ((v & 0x800000) << 1)
        if (v + 1) >> 1 == 0x400000:
            clip += 1
            cmask |= 2
        v = (ring[p + 9] << 16) | (ring[p + 10] << 8) | ring[p + 11]
        out[o + 2] = v - ((v & 0x800000) << 1)
        if (v + 1) >> 1 == 0x400000:
            clip += 1
            cmask |= 4
        v = (ring[p + 12] << 16) | (ring[p + 13] << 8) | ring[p + 14]
        out[o + 3] = v - ((v & 0x800000) << 1)
        if (v + 1) >> 1 == 0x400000:
            clip += 1
            cmask |= 8
        v = (ring[p + 15] << 16) | (ring[p + 16] << 8) | ring[p + 17]
        out[o + 4] = v - ((v & 0x800000) << 1)
        if (v + 1) >> 1 == 0x400000:
            clip += 1
            cmask |= 16
        v = (ring[p + 18] << 16) | (ring[p + 19] << 8) | ring[p + 20]
        out[o + 5] = v - ((v & 0x800000) << 1)
        if (v + 1) >> 1 == 0x400000:
            clip += 1
            cmask |= 32
        if inum != 1:  # 1/3 V CTs: currents x3/2, kept inside the rail
            for ch in range(3, 6):
                v = ((out[o + ch] & 0xFFFFFF) ^ 0x800000) - 0x800000  # 24-bit code again
                v = (v * inum) >> ish
                if v > _RAIL:
                    if v != 12582910:  # not the converter's own rail (counted above)
                        clip += 1
                        cmask |= 1 << ch
                    v = _RAIL
                elif v < 0 - _RAIL:
                    if v != -12582912:
                        clip += 1
                        cmask |= 1 << ch
                    v = 0 - _RAIL
                out[o + ch] = v
        o += 6
        good += 1
    st[_S_RSLOT] = slot
    st[_S_TAIL] = (st[_S_TAIL] + nframes) % st[_S_WINDOW]
    st[_S_GOOD] = (st[_S_GOOD] + good) & _MASK30
    st[_S_CLIPPED] = (st[_S_CLIPPED] + clip) & _MASK30
    st[_S_CLIPMASK] = st[_S_CLIPMASK] | cmask
    st[_S_CRC] = st[_S_CRC] + bad
    st[_S_LOST] = st[_S_LOST] + bad
    _stuck(out, good, st)
    return good


@micropython.viper
def _stuck(out: ptr32, good: int, st: ptr32):
    # stuck-code detector (datasheet-free: a 24-bit converter's noise never
    # repeats a code for long), once a block: each channel's run of equal
    # codes at the block's end, continued from the last block when the
    # whole block repeats its last code. A channel is stuck while its run
    # is >= stuck_frames. Codes compared as 24 bits: ptr32 loads
    # zero-extend on 64-bit hosts.
    if good <= 0:
        return
    limit = st[_S_LIMIT]
    chmask = st[_S_CHMASK]
    stuck = 0
    j = 6 * (good - 1)
    for ch in range(6):
        u = out[j + ch] & 0xFFFFFF
        run = 0  # repeats of u before the block's last frame
        k = j - 6
        while k >= 0 and (out[k + ch] & 0xFFFFFF) == u:
            k -= 6
            run += 1
        if k < 0 and u == st[_S_LAST + ch]:
            run = st[_S_RUN + ch] + good
        st[_S_LAST + ch] = u
        st[_S_RUN + ch] = run
        if run >= limit and (chmask >> ch) & 1:
            stuck |= 1 << ch
    st[_S_STUCK] = stuck


def _host_sleep_ms(ms):  # CPython (host tests): time has no sleep_ms
    time.sleep(ms / 1000)


class ADS131M06(FrameRing):
    CLIP_WORD = _S_CLIPPED  # FrameRing.clipped, take_clip_mask (the mask follows)
    CHANNELS = ("Va", "Vb", "Vc", "Ia", "Ib", "Ic")  # AIN0..AIN5
    CRC_FAULT_RUN = 3  # this many bad frames in a row -> FAULT_CRC
    OVERRUN_CLEAR_S = 1  # FAULT_OVERRUN until this long without one
    RESET_PULSE_MS = 1  # SYNC/RESET low > 2048 fCLKIN periods (400 us at 5.12 MHz)
    RESET_WAIT_MS = 2  # after reset, before the first frame (tREGACQ, settling)
    STOP_MS = 1  # after the PIO stops: a frame it began leaves the SPI (< 50 us)

    def __init__(self, spi, cs, drdy, sm, dma, program, reset=None, clkin=5_120_000,
                 osr=1024, ct_secondary=1, depth=256, stuck_frames=0, stuck_channels=0x3F,
                 sleep_ms=None, spi_dr=SPI0_DR, spi_dreq=(DREQ_SPI0_TX, DREQ_SPI0_RX),
                 sm_id=0, guard=GUARD):
        """sm: an rp2.StateMachine (not started); dma: four rp2.DMA
        channels (tx, rx, ctl_tx, ctl_rx); program: frame_clock_program(rp2).
        sm_id is sm's number as rp2.StateMachine counts them (0-3 PIO0,
        4-7 PIO1: its RX FIFO address and DREQ); spi_dr/spi_dreq the SPI's
        data register and TX/RX DREQs (SPI0 by default)."""
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
        # the big buffers first, before the heap fragments
        self.ring = bytearray(depth * FRAME_BYTES)
        self._table_buf = array("I", bytes(8 * _ROUNDS))  # 2 x 256 bytes: one aligned half
        self.st = array("i", bytes(4 * _S_LEN))
        st = self.st
        st[_S_DEPTH] = depth
        st[_S_WINDOW] = depth * _ROUNDS
        st[_S_CLEAN] = _MASK30
        st[_S_LIMIT] = stuck_frames or max(2, self.fs // 10)
        st[_S_CHMASK] = stuck_channels
        self._crc_tab = _crc_table()
        self._rx = bytearray(FRAME_BYTES)
        self._cmd = bytearray(FRAME_BYTES)
        self._null = bytearray(FRAME_BYTES)
        self._frame(self._null, _CMD_NULL, ())
        self._sleep_ms = sleep_ms or getattr(time, "sleep_ms", None) or _host_sleep_ms
        self.sm = sm
        self.program = program
        self.dma_tx, self.dma_rx, self.ctl_tx, self.ctl_rx = dma
        # A soft reset stops the PIO and unclaims rp2.DMA channels (their
        # finaliser) without aborting them: an rx channel of the last
        # session could still wait on the SPI's RX DREQ and take init()'s
        # bytes into a freed ring. The same board claims the same channels
        # again: abort them first. (On the emulated chip a soft reset then
        # init() and start() work with and without this.)
        for ch in dma:
            ch.active(0)
        self._spi_dr = spi_dr
        self._spi_dreq = spi_dreq
        self._pio_rxf = _PIO_BASE[sm_id >> 2] + _PIO_RXF + 4 * (sm_id & 3)
        self._pio_dreq = _DREQ_PIO_RX[sm_id >> 2] + (sm_id & 3)
        self._tx_reload = array("I", (self._pio_rxf,))  # ctl_tx's word: tx's read address
        self._table = 0  # address of the aligned table (set by start)
        self._ring_bytes = depth * FRAME_BYTES
        self._keep = depth - min(guard, depth // 4)  # frames a read may find intact
        self._over = 0  # read_block: frames overrun in this read
        self._tail0 = 0  # read_block: the tail before decoding
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
        """Hand CS to the PIO and start the DMA ring (the ADC configured)."""
        st = self.st
        for k in (_S_HEAD, _S_TAIL, _S_RSLOT):
            st[k] = 0
        self.alive_ms = None
        self._heads_seen = 0
        tx, rx, ctl_tx, ctl_rx = self.dma_tx, self.dma_rx, self.ctl_tx, self.ctl_rx
        nbytes = self._ring_bytes
        # rx first: the ring's address as the DMA sees it, into ctl_rx's table
        rx.config(read=self._spi_dr, write=self.ring, count=nbytes, ctrl=rx.pack_ctrl(
            size=0, inc_read=False, inc_write=True, treq_sel=self._spi_dreq[1],
            chain_to=ctl_rx.channel), trigger=False)
        ring_addr = rx.write
        ctl_rx.config(read=self._table_buf, trigger=False)
        t = ctl_rx.read  # the table's address: its 256-byte-aligned half
        skip = ((256 - (t & 255)) & 255) >> 2
        tb = self._table_buf
        for k in range(_ROUNDS):
            tb[skip + k] = ring_addr
        self._table = t + 4 * skip
        ctl_rx.config(read=self._table, write=_DMA_BASE + _CH_STRIDE * rx.channel
                      + _AL2_WRITE_ADDR_TRIG, count=1, ctrl=ctl_rx.pack_ctrl(
                          size=2, inc_read=True, inc_write=False, ring_size=_TABLE_RING,
                          ring_sel=False, treq_sel=_TREQ_PERMANENT), trigger=False)
        tx.config(read=self._pio_rxf, write=self._spi_dr, count=nbytes, ctrl=tx.pack_ctrl(
            size=0, inc_read=False, inc_write=False, treq_sel=self._pio_dreq,
            chain_to=ctl_tx.channel), trigger=False)
        # ctl_tx re-triggers tx with its own (unchanged) read address
        ctl_tx.config(read=self._tx_reload, write=_DMA_BASE + _CH_STRIDE * tx.channel
                      + _AL3_READ_ADDR_TRIG, count=1, ctrl=ctl_tx.pack_ctrl(
                          size=2, inc_read=False, inc_write=False, treq_sel=_TREQ_PERMANENT),
                      trigger=False)
        rx.active(1)
        tx.active(1)
        sm = self.sm
        sm.init(self.program, freq=PIO_HZ, set_base=self.cs, in_base=self.drdy)
        sm.put(null_crc_word(self._null))
        self._running = True
        sm.active(1)

    def stop(self):
        """Stop the PIO and the DMA; CS back to an output at 1."""
        if not self._running:
            return
        self._running = False
        self.sm.active(0)
        self._sleep_ms(self.STOP_MS)  # a frame the PIO began: its bytes leave the SPI
        for ch in (self.ctl_tx, self.ctl_rx, self.dma_tx, self.dma_rx, self.ctl_tx, self.ctl_rx):
            ch.active(0)
        self.cs.init(self.cs.OUT, value=1)

    # The loop calls these every turn or block: each keeps its state (locals
    # + value stack) within 11 words, so MicroPython gives it a C-stack
    # frame instead of a heap block per call (tools/frame_check.py HOT,
    # docs/runtime.md 'Frames from the heap'); hence the small helpers.
    def _poll(self):
        # frames the DMA completed (modulo _S_WINDOW): ctl_rx's read address
        # counts the ring's rounds, rx's TRANS_COUNT the bytes left in this
        # one. Read twice round the count, so a round ending in between (or
        # the count at 0 before ctl_rx re-armed it) is never mixed up.
        st = self.st
        if self._running:
            n = 4
            while n:
                r = self.ctl_rx.read
                c = self.dma_rx.count
                if c and self.ctl_rx.read == r:
                    st[_S_HEAD] = self._head_at(r, c)
                    break
                n -= 1
        return st[_S_HEAD]

    def _head_at(self, r, c):
        return ((((r - self._table) >> 2) & (_ROUNDS - 1)) * self.st[_S_DEPTH]
                + (self._ring_bytes - c) // FRAME_BYTES)

    def available(self):
        st = self.st
        return (self._poll() - st[_S_TAIL]) % st[_S_WINDOW]

    def read_block(self, buf, nframes):
        """Up to nframes frames from the ring into buf (array('i'), 6 codes
        a frame, from frame 0). Returns the number of good frames written;
        frames failing their CRC or overwritten before this read are
        counted (crc_errors, overruns) and billed in `lost`."""
        n = self._claim()
        if n > nframes:
            n = nframes
        if n > len(buf) // 6:
            n = len(buf) // 6
        good = 0
        if n > 0:
            good = self._decode_into(buf, n)
            if self._lapped():  # overwritten while being decoded
                self._over += good
                good = 0
        self._account(n)
        return good

    def _claim(self):
        # frames waiting; the oldest ones beyond what the ring keeps are
        # (being) overwritten: skipped and counted as overrun
        st = self.st
        tail = st[_S_TAIL]
        avail = (self._poll() - tail) % st[_S_WINDOW]
        over = avail - self._keep
        if over > 0:
            tail = (tail + over) % st[_S_WINDOW]
            st[_S_TAIL] = tail
            st[_S_RSLOT] = tail % st[_S_DEPTH]
            avail = self._keep
        else:
            over = 0
        self._over = over
        self._tail0 = tail
        return avail

    def _decode_into(self, buf, n):
        return _decode(self.ring, n, buf, self._crc_tab, self.st)

    def _lapped(self):
        st = self.st
        return (self._poll() - self._tail0) % st[_S_WINDOW] >= st[_S_DEPTH]

    def _account(self, n):
        st = self.st
        over = self._over
        if over:
            st[_S_OVERRUN] += over
            st[_S_LOST] += over
            st[_S_CLEAN] = 0
        elif st[_S_CLEAN] < _MASK30:
            st[_S_CLEAN] += n

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

    def fault(self, now_ms=None):
        st = self.st
        f = 0
        if st[_S_STUCK]:
            f |= FAULT_STUCK
        if st[_S_CRC_RUN] >= self.CRC_FAULT_RUN:
            f |= FAULT_CRC
        if st[_S_STATUS] & _ST_RESET:
            f |= FAULT_RESET
        if st[_S_OVERRUN] and st[_S_CLEAN] < self.OVERRUN_CLEAR_S * self.fs:
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
