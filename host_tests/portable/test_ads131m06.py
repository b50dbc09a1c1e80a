# ADS131M06 driver (boards/drivers/ads131m06.py) against a model of the chip
# (ads131_sim.py) behind a model of the RP2040's PIO and DMA
# (pio_dma_sim.py): the exact init frames, the NULL frame the PIO clocks
# and its pacing, the DMA ring's configuration, frame decoding and sign
# extension, CRC drops, stuck codes, overruns billed as lost, the ring's
# wrap, faults that clear, stop/start, and a read path that allocates
# nothing. Runs under CPython (pytest) and `micropython tools/mp_test.py`.
from array import array

import micropython
import pio_dma_sim as rp2

from ads131_sim import Ads131m06Sim, crc16
from drivers import ads131m06 as ads
from drivers.ads131m06 import ADS131M06


class Pin:
    OUT = 1

    def __init__(self, v=1):
        self.v = v
        self.history = []
        self.mode = None

    def value(self, v=None):
        if v is None:
            return self.v
        self.v = v
        if self.log:
            self.history.append(v)

    log = True

    def init(self, mode=-1, pull=-1, value=None):
        self.mode = mode  # an SIO output again (taken back from the PIO)
        if value is not None:
            self.value(value)


def frame(cmd, data=()):
    # the frame the driver must send: words of 24 bits, CRC after the data
    b = bytearray(24)
    b[0] = cmd >> 8
    b[1] = cmd & 0xFF
    p = 3
    for d in data:
        b[p] = d >> 8
        b[p + 1] = d & 0xFF
        p += 3
    c = crc16(b, p)
    b[p] = c >> 8
    b[p + 1] = c & 0xFF
    return bytes(b)


class Board:
    """The driver wired to the chip model through the PIO/DMA model."""

    def __init__(self, ct=1, depth=16, stuck=0, ident=0x2600):
        self.chip = rp2.reset()
        self.cs = Pin(1)
        self.drdy = Pin(1)
        self.rst = Pin(1)
        self.sim = Ads131m06Sim(self.cs, ident=ident)
        self.chip.attach_spi(ads.SPI0_DR, ads.DREQ_SPI0_TX, ads.DREQ_SPI0_RX, self.sim, self.cs)
        self.dma = tuple(rp2.DMA() for _ in range(4))
        self.drv = ADS131M06(self.sim, self.cs, self.drdy, rp2.StateMachine(0), self.dma,
                             ads.frame_clock_program(rp2), reset=self.rst, ct_secondary=ct,
                             depth=depth, stuck_frames=stuck, sleep_ms=lambda ms: None)

    def stream(self, frames):
        """init, the chip's codes, start"""
        self.drv.init()
        self.sim.log = False
        self.sim.set_frames(frames)
        self.drv.start()

    def pump(self, n):
        for _ in range(n):
            self.chip.drdy_pulse(self.drdy)


def frames_of(rows):
    a = array("i")
    for r in rows:
        for v in r:
            a.append(v)
    return a


def test_crc_ccitt_check_value():
    assert ads.crc_ccitt(b"123456789") == 0x29B1
    assert ads.crc_ccitt(bytes(3)) == 0xCC9C
    # a frame with its CRC word (and the pad byte) runs to 0
    f = frame(0x6100, (0x1110,))
    assert ads.crc_ccitt(f) == 0


def test_rate_and_clock_choice():
    drv = Board().drv
    assert drv.fs == 2500  # 5.12 MHz / 2 / 1024
    assert drv.clock_value() == 0x3F0E  # CH0..5 on, OSR 1024, HR
    try:
        ADS131M06(Ads131m06Sim(), Pin(), Pin(), None, (None,) * 4, None, clkin=5_000_000,
                  osr=1024)
        raise AssertionError("a non-integer rate must be refused")
    except ValueError:
        pass


def test_init_sequence_bytes():
    b = Board()
    ident = b.drv.init()
    assert ident == 0x2600
    assert b.rst.history == [0, 1]  # SYNC/RESET pulsed low
    want = [
        frame(0x0011), frame(0x0000),  # RESET, then its 0xFF26 answer
        frame(0xA000), frame(0x0000),  # RREG ID
        frame(0x6100, (0x1110,)), frame(0x0000),  # WREG MODE: RX_CRC_EN, 24 bit
        frame(0xA100), frame(0x0000),
        frame(0x6180, (0x3F0E,)), frame(0x0000),  # WREG CLOCK
        frame(0xA180), frame(0x0000),
        frame(0x6200, (0x0000,)), frame(0x0000),  # WREG GAIN1
        frame(0xA200), frame(0x0000),
        frame(0x6280, (0x0000,)), frame(0x0000),  # WREG GAIN2
        frame(0xA280), frame(0x0000),
        frame(0xA080), frame(0x0000),  # RREG STATUS: no reset flag, no CRC error
    ]
    sim = b.sim
    assert sim.tx_log == want, [x.hex() for x in sim.tx_log]
    # two frames spelled out, byte by byte
    assert sim.tx_log[0] == bytes.fromhex("001100" "fcde00") + bytes(18)
    assert sim.tx_log[4] == bytes.fromhex("610000" "111000" "638800") + bytes(15)
    assert sim.regs[2] == 0x1110 and sim.regs[3] == 0x3F0E
    assert sim.regs[4] == 0 and sim.regs[5] == 0


ROWS = [
    (0, -1, 1, 8388607, -8388608, 123456),
    (-123456, 4194304, -4194304, -2, 3, -3),
    (100, 200, 300, -100, -200, -300),
]


def test_pio_clocks_a_null_frame_with_its_crc_on_each_drdy():
    b = Board()
    b.drv.init()
    b.sim.set_frames(frames_of(ROWS))
    n0 = len(b.sim.tx_log)
    b.drv.start()
    assert b.cs.v == 1 and b.sim.tx_log[n0:] == []  # nothing before DRDY falls
    b.pump(3)
    # RX_CRC_EN is on: NULL (0000 00) with its input CRC CC9C, the rest zero
    null = bytes.fromhex("000000" "cc9c00") + bytes(18)
    assert b.sim.tx_log[n0:] == [null] * 3
    assert b.sim.crc_err == 0  # the chip took every frame's CRC
    assert ads.crc_ccitt(null, 3) == 0xCC9C
    assert ads.null_crc_word(null) == 0x3300009C  # ::Y -> 0xCC, Y -> 0x9C
    assert b.cs.history[-2:] == [0, 1]  # CS low for the frame, high after it


def test_pio_paces_the_spi():
    # 24 pushes; each 1 us or more apart (one byte at 8 MHz), so the SPI's
    # 8-byte TX FIFO never overflows, and CS rises a byte time after the last
    b = Board()
    b.stream(frames_of(ROWS))
    b.pump(1)
    sm = b.drv.sm
    pushes, rise = sm.last_frame
    assert sm.freq == ads.PIO_HZ == 2_000_000
    us = 1_000_000 / sm.freq  # per PIO cycle
    assert len(pushes) == 24
    gaps = [pushes[k + 1] - pushes[k] for k in range(23)]
    assert min(gaps) * us == 1.5 and max(gaps) * us == 1.5
    assert (rise - pushes[-1]) * us >= 1.0 + 1.0  # the last byte's time, and margin
    assert (rise - pushes[0]) * us < 60  # a frame well inside the 400 us period
    assert len(sm.program.instrs) <= 32  # fits a PIO's instruction memory


def test_dma_ring_configuration():
    b = Board(depth=16)
    b.stream(frames_of(ROWS))
    tx, rx, ctl_tx, ctl_rx = b.dma
    u = rp2.unpack_ctrl
    c = u(rx.ctrl)  # SPI0 RX DREQ -> ring, a byte a transfer, then ctl_rx
    assert (c["size"], c["inc_read"], c["inc_write"], c["treq_sel"], c["chain_to"]) == \
        (0, 0, 1, 17, ctl_rx.channel)
    assert rx.read == ads.SPI0_DR and rx._reload == 16 * 24
    c = u(tx.ctrl)  # PIO0 SM0 RX FIFO (DREQ 4) -> SPI0 DR, then ctl_tx
    assert (c["size"], c["inc_read"], c["inc_write"], c["treq_sel"], c["chain_to"]) == \
        (0, 0, 0, 4, ctl_tx.channel)
    assert tx.read == 0x50200020 and tx.write == ads.SPI0_DR
    c = u(ctl_rx.ctrl)  # the ring's address into rx's AL2_WRITE_ADDR_TRIG
    assert (c["size"], c["inc_read"], c["inc_write"], c["ring_size"], c["ring_sel"],
            c["treq_sel"]) == (2, 1, 0, 8, 0, 0x3F)
    assert ctl_rx.write == 0x50000000 + 0x40 * rx.channel + 0x2C
    assert ctl_rx.read % 256 == 0  # a 256-byte read ring must be aligned
    assert ctl_tx.write == 0x50000000 + 0x40 * tx.channel + 0x3C
    ring = b.chip.address(b.drv.ring)
    assert all(b.chip.mem_read(ctl_rx.read + 4 * k, 2) == ring for k in range(64))


def test_frames_decode_sign_extension():
    b = Board()
    b.stream(frames_of(ROWS))
    drv = b.drv
    b.pump(6)
    assert drv.available() == 6
    buf = array("i", bytes(4 * 6 * 8))
    n = drv.read_block(buf, 8)
    assert n == 6
    for k in range(6):
        assert tuple(buf[6 * k:6 * k + 6]) == ROWS[k % 3], (k, buf[6 * k:6 * k + 6])
    assert drv.available() == 0 and drv.read_block(buf, 8) == 0
    assert drv.crc_errors == 0 and drv.overruns == 0 and drv.lost == 0
    assert drv.status == 0x013F  # 24-bit words, all six DRDY bits, no flags
    assert drv.fault() == 0


def test_one_third_volt_ct_scaling():
    b = Board(ct=3)
    b.stream(frames_of(ROWS))
    b.pump(3)
    buf = array("i", bytes(4 * 6 * 3))
    assert b.drv.read_block(buf, 3) == 3
    # voltages untouched; currents x3/2 (floor), clamped to +-(2**23 - 1)
    assert tuple(buf[0:6]) == (0, -1, 1, 8388607, -8388607, 185184)
    assert tuple(buf[6:12]) == (-123456, 4194304, -4194304, -3, 4, -5)
    assert tuple(buf[12:18]) == (100, 200, 300, -150, -300, -450)


def test_samples_at_the_rail_are_counted_per_channel():
    # issue 12: a code at the converter's rail (0x7FFFFF, 0x800000) is never
    # silent: counted (registers 7303-7304) and its channel flagged (register
    # 146 bits 0-5) by the decode the board runs anyway, not by the DSP kernel
    b = Board()
    b.stream(frames_of(ROWS))
    b.pump(6)
    buf = array("i", bytes(4 * 6 * 8))
    assert b.drv.read_block(buf, 8) == 6
    assert b.drv.clipped == 4  # Ia +rail and Ib -rail in two frames of six
    assert b.drv.take_clip_mask() == 0x18 and b.drv.take_clip_mask() == 0
    # 1/3 V CTs: x3/2 clamped at the rail counts too, the converter's own
    # rail once
    b = Board(ct=3)
    b.stream(frames_of([(0, 0, 0, 6000000, -6000000, 8388607), (1, 2, 3, 4, 5, 6)]))
    b.pump(2)
    assert b.drv.read_block(buf, 8) == 2
    assert tuple(buf[0:6]) == (0, 0, 0, 8388607, -8388607, 8388607)
    assert b.drv.clipped == 3 and b.drv.take_clip_mask() == 0x38


def test_init_one_third_volt_cts():
    b = Board(ct=3)
    b.drv.init()
    assert b.sim.regs[4] == 0x1000  # PGAGAIN3 = x2 (Ia), voltages x1
    assert b.sim.regs[5] == 0x0011  # PGAGAIN5, PGAGAIN4 = x2 (Ic, Ib)
    # and back to 1 V CTs at run time, while streaming: stop, WREG, start
    b.sim.set_frames(frames_of(ROWS))
    b.drv.start()
    b.pump(2)
    b.drv.set_ct_secondary(1)
    assert b.sim.regs[4] == 0 and b.sim.regs[5] == 0
    assert b.drv.sm.active() and b.dma[1].active()
    b.pump(3)
    buf = array("i", bytes(4 * 6 * 3))
    assert b.drv.read_block(buf, 3) == 3 and b.drv.lost == 0


def test_init_refuses_wrong_chip_and_dead_bus():
    b = Board(ident=0x2400)  # an ADS131M04
    try:
        b.drv.init()
        raise AssertionError("an ADS131M04 must be refused")
    except OSError as e:
        assert "0x2400" in str(e) or "ff24" in str(e).lower()
    for level in (0x00, 0xFF):  # MISO stuck low or high: no valid CRC
        b = Board()
        b.sim.dead = level
        try:
            b.drv.init()
            raise AssertionError("a dead bus must be refused")
        except OSError as e:
            assert "CRC" in str(e)


def test_crc_error_dropped_billed_and_fault_clears():
    b = Board()
    b.stream(frames_of(ROWS))
    drv = b.drv
    b.pump(1)
    b.sim.corrupt = 1
    b.pump(2)  # frame 2 (ROWS[1]) is corrupted on the wire
    buf = array("i", bytes(4 * 6 * 3))
    n = drv.read_block(buf, 3)
    assert n == 2 and drv.crc_errors == 1 and drv.lost == 1  # not handed over: billed
    assert tuple(buf[0:6]) == ROWS[0] and tuple(buf[6:12]) == ROWS[2]
    assert not drv.fault() & ads.FAULT_CRC  # one bad frame is noise, not a fault
    b.sim.corrupt = 3
    b.pump(3)
    assert drv.read_block(buf, 3) == 0 and drv.crc_errors == 4 and drv.lost == 4
    assert drv.fault() & ads.FAULT_CRC
    b.pump(1)
    assert drv.read_block(buf, 3) == 1 and not drv.fault() & ads.FAULT_CRC


def test_stuck_code_fault():
    b = Board(stuck=10, depth=64)
    # channel Vb (1) and Ic (5) frozen, the others moving
    b.stream(frames_of([(k, 7, -k, k * 3, -k * 5, -42) for k in range(20)]))
    drv = b.drv
    buf = array("i", bytes(4 * 6 * 64))
    b.pump(10)
    drv.read_block(buf, 64)
    assert drv.stuck_mask == 0  # 9 repeats after the first: not yet
    b.pump(1)
    drv.read_block(buf, 64)
    assert drv.stuck_mask == (1 << 1) | (1 << 5)
    assert drv.fault() & ads.FAULT_STUCK
    # the channel moves again: its flag clears
    b.sim.set_frames(frames_of([(1, 2, 3, 4, 5, 6), (6, 5, 4, 3, 2, 1)]))
    b.pump(2)
    drv.read_block(buf, 64)
    assert drv.stuck_mask == 0 and not drv.fault() & ads.FAULT_STUCK


def counting(n):
    # frame k carries k: continuity and identity are checkable
    return frames_of([(k, -k, 2 * k + 1, 3 * k, -5 * k, 7 - k) for k in range(n)])


def test_ring_wraps_and_rounds_count_exactly():
    # depth 4: the DMA's ring is 96 bytes; 72 rounds of it (past the
    # 64-round counter's own wrap), read 3 frames at a time
    b = Board(depth=4)
    b.stream(counting(4096))
    drv = b.drv
    buf = array("i", bytes(4 * 6 * 3))
    got = 0
    for _ in range(4 * 72 // 3):
        b.pump(3)
        assert drv.available() == 3
        assert drv.read_block(buf, 3) == 3
        assert [buf[6 * k] for k in range(3)] == [got + k for k in range(3)]
        got += 3
    assert drv.lost == 0 and drv.overruns == 0 and drv.fault() == 0
    assert b.dma[1].transfers == 4 * 72 * 24  # every byte through the ring


def test_overrun_billed_exactly_and_fault_clears():
    b = Board(depth=16)  # reads keep depth - 4 = 12 frames clear of the DMA
    b.stream(counting(4096))
    drv = b.drv
    buf = array("i", bytes(4 * 6 * 16))
    b.pump(30)  # reader asleep: 30 frames into a 16-frame ring
    assert drv.available() == 30
    n = drv.read_block(buf, 16)
    assert n == 12 and drv.overruns == 18 and drv.lost == 18
    assert [buf[6 * k] for k in range(12)] == list(range(18, 30))  # the newest, in order
    assert drv.fault() & ads.FAULT_OVERRUN
    # the cause is gone: the fault clears after OVERRUN_CLEAR_S of clean
    # reads (shortened here to 20 ms = 50 frames)
    drv.OVERRUN_CLEAR_S = 0.02
    fs = 50
    k = 30
    while k < 30 + fs:
        b.pump(8)
        assert drv.read_block(buf, 16) == 8 and buf[0] == k
        k += 8
    assert not drv.fault() & ads.FAULT_OVERRUN and drv.overruns == 18 and drv.lost == 18


def test_frames_overwritten_while_decoding_are_not_handed_over():
    b = Board(depth=16)
    b.stream(counting(64))
    drv = b.drv
    b.pump(12)
    buf = array("i", bytes(4 * 6 * 16))
    poll = drv._poll
    heads = [12, 12 + 16]  # the DMA laps the block while it is decoded
    drv._poll = lambda: heads.pop(0) if heads else poll()
    assert drv.read_block(buf, 16) == 0
    assert drv.overruns == 12 and drv.lost == 12 and drv.fault() & ads.FAULT_OVERRUN


def test_chip_reset_is_a_fault():
    b = Board()
    b.stream(frames_of(ROWS))
    b.pump(2)
    b.sim.reset()  # brown-out: configuration gone, STATUS.RESET set
    b.pump(2)
    buf = array("i", bytes(4 * 6 * 4))
    assert b.drv.read_block(buf, 4) == 4
    assert b.drv.resets >= 1 and b.drv.fault() & ads.FAULT_RESET


def test_no_data_fault():
    b = Board()
    b.stream(frames_of(ROWS))
    drv = b.drv
    assert drv.check_alive(1000)
    b.pump(1)
    assert drv.check_alive(1010) and drv.fault(1040) == 0
    assert drv.fault(1100) & ads.FAULT_NO_DATA  # 90 ms without DRDY
    b.pump(1)
    assert not drv.fault(1101) & ads.FAULT_NO_DATA


def test_read_path_allocates_nothing():
    b = Board(depth=64)
    b.stream(frames_of(ROWS))
    drv = b.drv
    buf = array("i", bytes(4 * 6 * 32))
    b.sim.corrupt = 1
    b.pump(40)
    micropython.heap_lock()
    try:
        a = drv.available()
        n1 = drv.read_block(buf, 32)
        n2 = drv.read_block(buf, 32)
        f = drv.fault(5)
    finally:
        micropython.heap_unlock()
    assert a == 40 and n1 == 31 and n2 == 8 and drv.crc_errors == 1 and f == 0
    assert tuple(buf[0:6]) == ROWS[32 % 3]


def test_stop_hands_cs_back_and_deinit():
    b = Board()
    b.stream(frames_of(ROWS))
    b.pump(4)
    buf = array("i", bytes(4 * 6 * 2))
    drv = b.drv
    assert drv.read(buf) == 2 and drv.read(buf) == 2 and drv.read(buf) == 0
    drv.stop()
    assert not drv.sm.active() and not any(d.active() for d in b.dma)
    assert b.cs.mode == Pin.OUT and b.cs.v == 1  # an SIO output again, high
    n = b.sim.pos
    b.pump(3)  # DRDY with the PIO stopped: nothing clocked
    assert b.sim.pos == n and drv.available() == 0
    assert drv.read_reg(0) == 0x2600  # register access over the SPI, CS by the CPU
    drv.deinit()
    assert b.cs.v == 1
