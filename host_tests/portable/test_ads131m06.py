# ADS131M06 driver (boards/drivers/ads131m06.py) against a model of the chip
# (ads131_sim.py): the exact init frames, frame decoding and sign extension,
# CRC errors, stuck codes, ring overflow, DRDY gaps, and a non-allocating
# IRQ path. Runs under CPython (pytest) and `micropython tools/mp_test.py`.
from array import array

import micropython

from ads131_sim import Ads131m06Sim, crc16
from drivers import ads131m06 as ads
from drivers.ads131m06 import ADS131M06


class Pin:
    IRQ_FALLING = 4

    def __init__(self, v=1):
        self.v = v
        self.history = []
        self.handler = None

    def value(self, v=None):
        if v is None:
            return self.v
        self.v = v
        if self.log:
            self.history.append(v)

    log = True

    def irq(self, handler=None, trigger=0, hard=False):
        self.handler = handler
        self.hard = hard


class Ticks:
    def __init__(self):
        self.t = 0

    def __call__(self):
        return self.t


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


def make(ct=1, depth=16, stuck=0):
    cs = Pin(1)
    drdy = Pin(1)
    rst = Pin(1)
    sim = Ads131m06Sim(cs)
    t = Ticks()
    drv = ADS131M06(sim, cs, drdy, reset=rst, ct_secondary=ct, depth=depth,
                    stuck_frames=stuck, ticks_us=t, sleep_ms=lambda ms: None)
    return drv, sim, cs, drdy, rst, t


def frames_of(rows):
    a = array("i")
    for r in rows:
        for v in r:
            a.append(v)
    return a


def pump(drv, drdy, t, n, step=400):
    for _ in range(n):
        t.t += step
        drdy.handler(drdy)


def test_crc_ccitt_check_value():
    assert ads.crc_ccitt(b"123456789") == 0x29B1
    assert ads.crc_ccitt(bytes(3)) == 0xCC9C
    # a frame with its CRC word (and the pad byte) runs to 0
    f = frame(0x6100, (0x1110,))
    assert ads.crc_ccitt(f) == 0


def test_rate_and_clock_choice():
    drv = make()[0]
    assert drv.fs == 2500  # 5.12 MHz / 2 / 1024
    assert drv.clock_value() == 0x3F0E  # CH0..5 on, OSR 1024, HR
    try:
        ADS131M06(Ads131m06Sim(), Pin(), Pin(), clkin=5_000_000, osr=1024)
        raise AssertionError("a non-integer rate must be refused")
    except ValueError:
        pass


def test_init_sequence_bytes():
    drv, sim, cs, drdy, rst, t = make()
    ident = drv.init()
    assert ident == 0x2600
    assert rst.history == [0, 1]  # SYNC/RESET pulsed low
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
    assert sim.tx_log == want, [b.hex() for b in sim.tx_log]
    # two frames spelled out, byte by byte
    assert sim.tx_log[0] == bytes.fromhex("001100" "fcde00") + bytes(18)
    assert sim.tx_log[4] == bytes.fromhex("610000" "111000" "638800") + bytes(15)
    assert sim.regs[2] == 0x1110 and sim.regs[3] == 0x3F0E
    assert sim.regs[4] == 0 and sim.regs[5] == 0
    # the constant frame the IRQ sends: NULL with its CRC (RX_CRC_EN is on)
    assert bytes(drv._null) == bytes.fromhex("000000" "cc9c00") + bytes(18)


def test_init_one_third_volt_cts():
    drv, sim = make(ct=3)[:2]
    drv.init()
    assert sim.regs[4] == 0x1000  # PGAGAIN3 = x2 (Ia), voltages x1
    assert sim.regs[5] == 0x0011  # PGAGAIN5, PGAGAIN4 = x2 (Ic, Ib)
    # and back to 1 V CTs at run time
    drv.set_ct_secondary(1)
    assert sim.regs[4] == 0 and sim.regs[5] == 0


def test_init_refuses_wrong_chip_and_dead_bus():
    cs = Pin()
    sim = Ads131m06Sim(cs, ident=0x2400)  # an ADS131M04
    drv = ADS131M06(sim, cs, Pin(), sleep_ms=lambda ms: None)
    try:
        drv.init()
        raise AssertionError("an ADS131M04 must be refused")
    except OSError as e:
        assert "0x2400" in str(e) or "ff24" in str(e).lower()
    for level in (0x00, 0xFF):  # MISO stuck low or high: no valid CRC
        sim = Ads131m06Sim(cs)
        sim.dead = level
        drv = ADS131M06(sim, cs, Pin(), sleep_ms=lambda ms: None)
        try:
            drv.init()
            raise AssertionError("a dead bus must be refused")
        except OSError as e:
            assert "CRC" in str(e)


ROWS = [
    (0, -1, 1, 8388607, -8388608, 123456),
    (-123456, 4194304, -4194304, -2, 3, -3),
    (100, 200, 300, -100, -200, -300),
]


def test_frames_decode_sign_extension():
    drv, sim, cs, drdy, rst, t = make()
    drv.init()
    sim.log = False
    sim.set_frames(frames_of(ROWS))
    drv.start()
    assert drdy.handler is not None and drdy.hard
    pump(drv, drdy, t, 6)
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
    drv, sim, cs, drdy, rst, t = make(ct=3)
    drv.init()
    sim.log = False
    sim.set_frames(frames_of(ROWS))
    drv.start()
    pump(drv, drdy, t, 3)
    buf = array("i", bytes(4 * 6 * 3))
    assert drv.read_block(buf, 3) == 3
    # voltages untouched; currents x3/2 (floor), clamped to +-(2**23 - 1)
    assert tuple(buf[0:6]) == (0, -1, 1, 8388607, -8388607, 185184)
    assert tuple(buf[6:12]) == (-123456, 4194304, -4194304, -3, 4, -5)
    assert tuple(buf[12:18]) == (100, 200, 300, -150, -300, -450)


def test_crc_error_counted_and_dropped():
    drv, sim, cs, drdy, rst, t = make()
    drv.init()
    sim.log = False
    sim.set_frames(frames_of(ROWS))
    drv.start()
    pump(drv, drdy, t, 1)
    sim.corrupt = 1
    pump(drv, drdy, t, 2)  # frame 2 (ROWS[1]) is corrupted on the wire
    buf = array("i", bytes(4 * 6 * 3))
    n = drv.read_block(buf, 3)
    assert n == 2 and drv.crc_errors == 1
    assert tuple(buf[0:6]) == ROWS[0] and tuple(buf[6:12]) == ROWS[2]
    assert not drv.fault() & ads.FAULT_CRC  # one bad frame is noise, not a fault
    sim.corrupt = 3
    pump(drv, drdy, t, 3)
    assert drv.read_block(buf, 3) == 0 and drv.crc_errors == 4
    assert drv.fault() & ads.FAULT_CRC
    pump(drv, drdy, t, 1)
    assert drv.read_block(buf, 3) == 1 and not drv.fault() & ads.FAULT_CRC


def test_stuck_code_fault():
    drv, sim, cs, drdy, rst, t = make(stuck=10, depth=64)
    drv.init()
    sim.log = False
    # channel Vb (1) and Ic (5) frozen, the others moving
    rows = [(k, 7, -k, k * 3, -k * 5, -42) for k in range(20)]
    sim.set_frames(frames_of(rows))
    drv.start()
    buf = array("i", bytes(4 * 6 * 64))
    pump(drv, drdy, t, 10)
    drv.read_block(buf, 64)
    assert drv.stuck_mask == 0  # 9 repeats after the first: not yet
    pump(drv, drdy, t, 1)
    drv.read_block(buf, 64)
    assert drv.stuck_mask == (1 << 1) | (1 << 5)
    assert drv.fault() & ads.FAULT_STUCK
    # the channel moves again: its flag clears
    sim.set_frames(frames_of([(1, 2, 3, 4, 5, 6), (6, 5, 4, 3, 2, 1)]))
    pump(drv, drdy, t, 2)
    drv.read_block(buf, 64)
    assert drv.stuck_mask == 0 and not drv.fault() & ads.FAULT_STUCK


def test_ring_overflow_accounting():
    drv, sim, cs, drdy, rst, t = make(depth=8)
    drv.init()
    sim.log = False
    rows = [(k, -k, k, -k, k, -k) for k in range(13)]
    sim.set_frames(frames_of(rows))
    drv.start()
    pump(drv, drdy, t, 13)  # reader asleep: 8 fit, 5 are dropped
    assert drv.available() == 8 and drv.overruns == 5
    assert drv.fault() & ads.FAULT_OVERRUN
    buf = array("i", bytes(4 * 6 * 5))
    assert drv.read_block(buf, 5) == 5
    assert [buf[6 * k] for k in range(5)] == [0, 1, 2, 3, 4]
    assert drv.read_block(buf, 5) == 3
    assert [buf[6 * k] for k in range(3)] == [5, 6, 7]
    sim.set_frames(frames_of([(99, 0, 0, 0, 0, 1), (98, 0, 0, 0, 0, 2)]))
    pump(drv, drdy, t, 10)  # the ring wraps: slots 0..7 reused
    assert drv.available() == 8 and drv.overruns == 7
    assert drv.read_block(buf, 5) == 5
    assert [buf[6 * k] for k in range(5)] == [99, 98, 99, 98, 99]


def test_drdy_gap_counted_as_lost():
    drv, sim, cs, drdy, rst, t = make()
    drv.init()
    sim.log = False
    sim.set_frames(frames_of(ROWS))
    drv.start()
    pump(drv, drdy, t, 5)
    assert drv.lost == 0
    pump(drv, drdy, t, 1, step=400 * 11)  # IRQs off for 10 frame periods
    assert drv.lost == 10
    pump(drv, drdy, t, 3, step=430)  # jitter is not a loss
    assert drv.lost == 10


def test_chip_reset_is_a_fault():
    drv, sim, cs, drdy, rst, t = make()
    drv.init()
    sim.log = False
    sim.set_frames(frames_of(ROWS))
    drv.start()
    pump(drv, drdy, t, 2)
    sim.reset()  # brown-out: configuration gone, STATUS.RESET set
    pump(drv, drdy, t, 2)
    buf = array("i", bytes(4 * 6 * 4))
    assert drv.read_block(buf, 4) == 4
    assert drv.resets >= 1 and drv.fault() & ads.FAULT_RESET


def test_no_data_fault():
    drv, sim, cs, drdy, rst, t = make()
    drv.init()
    sim.log = False
    sim.set_frames(frames_of(ROWS))
    drv.start()
    assert drv.check_alive(1000)
    pump(drv, drdy, t, 1)
    assert drv.check_alive(1010) and drv.fault(1040) == 0
    assert drv.fault(1100) & ads.FAULT_NO_DATA  # 90 ms without DRDY
    pump(drv, drdy, t, 1)
    assert not drv.fault(1101) & ads.FAULT_NO_DATA


def test_irq_and_read_block_allocate_nothing():
    drv, sim, cs, drdy, rst, t = make(depth=64)
    drv.init()
    sim.log = False
    cs.log = False
    sim.set_frames(frames_of(ROWS))
    drv.start()
    handler = drdy.handler
    buf = array("i", bytes(4 * 6 * 32))
    sim.corrupt = 1
    micropython.heap_lock()
    try:
        for _ in range(40):
            t.t += 400
            handler(drdy)
        n1 = drv.read_block(buf, 32)
        n2 = drv.read_block(buf, 32)
    finally:
        micropython.heap_unlock()
    assert n1 == 31 and n2 == 8 and drv.crc_errors == 1
    assert tuple(buf[0:6]) == ROWS[32 % 3]


def test_read_interface_like_sim_board():
    drv, sim, cs, drdy, rst, t = make()
    drv.init()
    sim.log = False
    sim.set_frames(frames_of(ROWS))
    drv.start()
    pump(drv, drdy, t, 4)
    buf = array("i", bytes(4 * 6 * 2))
    assert drv.read(buf) == 2 and drv.read(buf) == 2 and drv.read(buf) == 0
    drv.deinit()
    assert drdy.handler is None and cs.value() == 1
