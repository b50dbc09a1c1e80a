"""The RP2040 runtime (firmware/runtime.py) on the reference board module
(boards/pico_ads131m06.make_hardware) with fakes of every peripheral:

- SPI: the ADS131M06 chip model (portable/ads131_sim.py) answers the
  driver's reset/configure/verify; once streaming, its frames (codes from
  tools/synth.py, looped) are replayed by DRDY falling edges that a fake
  clock fires every 400 us of simulated time;
- UART: Modbus RTU requests injected, replies read back (with DE);
- I2C: the PCF8574 bytes decoded back into the HD44780's DDRAM;
- pins: pulse and alarm outputs recorded, buttons and the power-fail input
  driven; flash: the store in tmp files (FileBackend, stalling as a flash
  erase does) unless a test takes the board's own store; SPI1: the F-RAM
  model (portable/fram_sim.py) behind the board's store and data log;
  WDT: counts feeds.

A minute and more of simulated time; registers, LCD text, pulse and alarm
contacts end to end, power fail, front-end faults, the watchdog.
"""

import struct
from array import array
from collections import deque

import machine
import pico_ads131m06 as board
import readings as R
import runtime
from ads131_sim import Ads131m06Sim
from fram_sim import FramSim
from nvstore import FileBackend, NvStore
from rs485_wire import FakeWatcher, Line, WireUart
from scenario import parse
from simclock import SimClock
from synth import Synth
from ui_glyphs import GLYPHS

FS = board.FS  # 2500 frames/s: 50 Hz is exactly 50 frames a cycle
PERIOD_US = 1_000_000 // FS


def scenario(vc=230.0, ia=40.0):
    ph = {}
    for k, (name, deg) in enumerate((("A", 0), ("B", -120), ("C", 120))):
        ph[name] = {"v_rms": vc if k == 2 else 230.0, "v_deg": deg, "i_rms": ia, "i_deg": deg - 30}
    return parse({
        "name": "runtime test", "frontend": {"bits": 24, "noise_lsb": 0.7, "fs_hz": FS},
        "config": {"system_type": 40, "ct_primary_a": 100, "ct_secondary_v": 1, "pt_ratio": 1.0,
                   "system_voltage_v": 400},
        "segments": [{"duration_s": 1.0, "frequency_hz": 50.0, "phases": ph}],
    })


def one_second(sc):
    buf = array("i", bytes(24 * FS))
    assert Synth(sc).fill(buf, FS) == FS
    return buf


class Player:
    """The SPI device: the chip model for commands; while streaming, each
    NULL frame returns the next precomputed frame (STATUS, six codes, CRC)
    of a one-second loop, so a minute runs in seconds of CPython time."""

    def __init__(self, cs):
        self.chip = Ads131m06Sim(cs)
        self.chip.log = False
        self.codes = None
        self.frames = None
        self.pos = 0
        self._pending = False
        self.stuck = False

    def load(self, codes):
        self.codes = codes
        self.frames = None  # rendered at the next streaming frame

    def _render(self):
        # the chip model's output frames for these codes, in its present
        # configuration (STATUS as it is after the driver's set-up)
        chip = self.chip
        cs, chip.cs = chip.cs, None
        saved = chip.resp
        chip.set_frames(self.codes)
        null = bytes(24)
        out = []
        for _ in range(len(self.codes) // 6):
            chip.resp = chip.status()
            rx = bytearray(24)
            chip.write_readinto(null, rx)
            out.append(bytes(rx))
        chip.resp = saved
        chip.cs = cs
        self.frames = out
        self.pos = 0

    def write_readinto(self, tx, rx):
        cmd = (tx[0] << 8) | tx[1]
        if cmd == 0 and not self._pending:
            if self.frames is None:
                self._render()
            f = self.frames[0 if self.stuck else self.pos]
            rx[:] = f
            self.pos = (self.pos + 1) % len(self.frames)
            return
        self.chip.write_readinto(tx, rx)
        self._pending = cmd != 0
        if cmd:
            self.frames = None  # configuration may change STATUS


class Clock(SimClock):
    """The one simulated clock (host_tests/fakes/simclock.py): the
    firmware's ticks and sleeps, the RS-485 wire, and the ADC's conversions,
    every 400 us unless the DRDY line is dead. The PIO clocks each frame
    and DMA moves it whatever the CPU does, interrupts off included."""

    def __init__(self, hw):
        super().__init__()
        self.hw = hw
        self.drdy_on = True
        self.every(PERIOD_US, self._conversion)

    def _conversion(self):
        if self.drdy_on:
            adc = self.hw.adc
            adc.sm.chip.drdy_pulse(adc.drdy)

    def advance_us(self, dt, irqs=True):
        # `irqs` is kept for the flash stalls' callers: PIO and DMA run on
        super().advance_us(dt)


class BoardUart(WireUart):
    """rs485_wire's UART on the simulated line, with machine.UART's init()
    (the runtime sets the line's format at start and after 7102/7103)."""

    def __init__(self, line, de):
        super().__init__(line, de)
        self.inits = []

    def init(self, baudrate=9600, bits=8, parity=None, stop=1, **kw):
        self.inits.append((baudrate, bits, parity, stop))
        self.line.baud = baudrate
        self.line.bit_us = 1_000_000 / baudrate


class StallingBackend(FileBackend):
    """Flash as files; each write stalls the CPU with interrupts off for
    ERASE_MS of simulated time, as a littlefs sector erase does on the
    RP2040 (the PIO and DMA keep acquiring: no frame is lost)."""
    ERASE_MS = 45

    def __init__(self, a, b):
        super().__init__(a, b)
        self.clock = None
        self.writes = 0

    def write(self, slot, data):
        self.writes += 1
        if self.clock is not None:
            self.clock.advance_us(1000 * self.ERASE_MS, irqs=False)
        return super().write(slot, data)


# ---- Modbus RTU through the fake UART -------------------------------------
def crc16(data):
    crc = 0xFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def adu(pdu, addr=1):
    f = bytes([addr]) + pdu
    return f + struct.pack("<H", crc16(f))


class Master:
    """A Modbus master on the simulated line: the request goes out a
    character at a time at the baud rate while the runtime turns."""

    def __init__(self, rt, line):
        self.rt = rt
        self.line = line
        self.uart = rt.hw.uart

    def request(self, pdu):
        uart = self.uart
        rt = self.rt
        while rt.rs485.sending:  # the previous reply is still on the wire
            rt.step()
            rt.clock.advance_us(500)
        n0 = len(uart.writes)
        self.line.put(adu(pdu))
        deadline = rt.clock.us + 2_000_000  # simulated: the harness has one clock
        while len(uart.writes) == n0:  # framed by the wire's silences (watcher)
            assert rt.clock.us < deadline, "no reply"
            rt.step()
            rt.clock.advance_us(500)
        data, _t, de = uart.writes[-1]
        assert de == 1, "reply sent with DE low"
        assert crc16(data) == 0 and data[0] == 1
        return data[1:-2]

    def read(self, reg, n):
        r = self.request(struct.pack(">BHH", 3, reg - 1, n))
        assert r[0] == 3, r.hex()
        return r[2:2 + 2 * n]

    def floats(self, reg, n=1):
        return struct.unpack(">%df" % n, self.read(reg, 2 * n))

    def u16(self, reg):
        return struct.unpack(">H", self.read(reg, 1))[0]

    def write(self, reg, v):
        return self.request(struct.pack(">BHH", 6, reg - 1, v & 0xFFFF))


# ---- the LCD: PCF8574 bytes -> HD44780 DDRAM --------------------------------
class LcdDecoder:
    def __init__(self, i2c):
        self.i2c = i2c
        self.seen = 0
        self.nibbles = 0
        self.prev = 0
        self.hi = None
        self.addr = 0
        self.cgram = False
        self.ddram = bytearray(b" " * 0x68)
        self.cg = bytearray(64)

    def _byte(self, rs, v):
        if not rs:
            if v & 0x80:
                self.addr = v & 0x7F
                self.cgram = False
            elif v & 0x40:
                self.addr = v & 0x3F
                self.cgram = True
            elif v == 0x01:
                self.ddram[:] = b" " * 0x68
                self.addr = 0
                self.cgram = False
        elif self.cgram:
            self.cg[self.addr & 63] = v
            self.addr += 1
        else:
            self.ddram[self.addr] = v
            self.addr += 1

    def update(self):
        for _addr, data in self.i2c.writes[self.seen:]:
            for b in data:
                if self.prev & 0x04 and not b & 0x04:  # E falling: latch D7-D4
                    n = b >> 4
                    self.nibbles += 1
                    if self.nibbles <= 4:  # the 8-bit-mode initialisation nibbles
                        pass
                    elif self.hi is None:
                        self.hi = n
                    else:
                        self._byte(b & 1, (self.hi << 4) | n)
                        self.hi = None
                self.prev = b
        self.seen = len(self.i2c.writes)
        return self.text()

    def text(self):
        return (bytes(self.ddram[0:16]).decode("latin-1"), bytes(self.ddram[0x40:0x50]).decode("latin-1"))


def rises(pin):
    h = pin.history
    return sum(1 for a, b in zip(h, h[1:]) if b and not a)


# ---- the fixture: the board, its fakes, the runtime ---------------------------
class Bench:
    def __init__(self, tmp_path, store=None, board_store=False, fram=None):
        hw = self.hw = board.make_hardware()
        hw.spi.transfers = deque(maxlen=64)  # bounded: a minute is 150,000 frames
        hw.adc.cs.history = deque(maxlen=64)
        self.player = Player(hw.adc.cs)
        hw.spi.device = self.player
        # SPI1: the F-RAM (the data log; the store too with board_store);
        # pass the `fram` of an earlier Bench for a power cycle
        self.fram = fram = fram if fram is not None else FramSim()
        fram.keep_log = False
        hw.fram.spi.transfers = deque(maxlen=64)
        hw.fram.cs.history = deque(maxlen=64)
        fram.watch(hw.fram.cs)
        hw.fram.spi.device = fram
        for p in hw.buttons + (hw.powerfail,):
            p.value(1)  # released; supply good
        clock = self.clock = Clock(hw)
        # RS-485: the master's line, the UART and the RX-pin watcher (the
        # board's PIO program, faked) on the same wire and clock; DE by the loop
        self.line = Line(clock, 19200)
        hw.uart = BoardUart(self.line, hw.de)
        hw.rs485_watcher = FakeWatcher(self.line)
        hw.rs485_de = None
        self.good = one_second(scenario())
        self.player.load(self.good)
        self.wdt = machine.WDT(timeout=runtime.Runtime.WDT_MS)
        if store is None and not board_store:
            self.backend = StallingBackend(str(tmp_path / "a.bin"), str(tmp_path / "b.bin"))
            store = NvStore(self.backend)
        self.store = store
        self.rt = runtime.Runtime(hw, store, clock, self.wdt)
        if store is not None and hasattr(self, "backend"):
            self.backend.clock = clock
        self.modbus = Master(self.rt, self.line)
        self.lcd = LcdDecoder(hw.i2c)

    def run(self, seconds):
        self.rt.run(max_seconds=(self.clock.ticks_ms() - self.rt.t0) / 1000 + seconds)


def test_runtime_minute_end_to_end(tmp_path):
    b = Bench(tmp_path)
    rt, hw, mb = b.rt, b.hw, b.modbus
    assert rt.fresh and rt.fe_running and rt.fault == 0
    # the ADC was reset, configured and verified over SPI (CRC on, 24-bit)
    assert b.player.chip.regs[2] & 0x1000 and b.player.chip.regs[3] == hw.adc.clock_value()
    # the UART follows the configuration: 19200 8N2 (11-bit characters)
    assert hw.uart.inits[-1] == (19200, 8, None, 2)
    # the alarm contact (N.C., pin low = closed) is closed until a second is measured
    assert hw.alarm.value() == board.ALARM_CLOSED_LEVEL
    assert mb.write(144, 10)[0] == 6  # 10 Wh a pulse: some pulses in a minute
    assert mb.write(134, 400)[0] == 6  # 230/400 V wye (the default 600 V would be phase loss)

    b.run(61)
    st = rt.status()
    assert st["seconds"] >= 60 and st["errors"] == [0, 0, 0]
    assert st["overruns"] == 0 and st["crc_errors"] == 0
    # registers over Modbus: 230 V, 40 A, PF 0.866 lagging, 50 Hz
    v = mb.floats(395, 3)
    i = mb.floats(401, 3)
    assert all(abs(x - 230.0) < 0.05 for x in v), v
    assert all(abs(x - 40.0) < 0.01 for x in i), i
    p_kw = mb.floats(277)[0]
    assert abs(p_kw - 3 * 230 * 40 * 0.8660254 / 1000) < 0.01, p_kw
    assert abs(mb.floats(283)[0] - 0.866) < 0.001
    assert abs(mb.floats(291)[0] - 50.0) < 0.01
    assert mb.u16(146) == 0
    # pulse contact end to end: pulses x 10 Wh within one pulse of 259 (kWh import)
    e_imp = mb.floats(259)[0]
    n_pulses = rises(hw.pulse)
    assert n_pulses >= 30
    assert abs(n_pulses * 0.010 - e_imp) <= 0.010, (n_pulses, e_imp)
    # register 39-40 is the count as of the last second; the contact runs on
    assert abs(struct.unpack(">I", mb.read(39, 2))[0] - n_pulses) <= 1
    # the flash stalls (interrupts off) cost no frame: PIO and DMA go on
    assert b.backend.writes >= 2 and st["lost"] == 0 and st["overruns"] == 0
    # alarm contact open (no phase loss); LCD shows what the menu draws
    assert hw.alarm.value() == 1 - board.ALARM_CLOSED_LEVEL
    text = b.lcd.update()
    frame = rt.app.frame()
    assert text == tuple(frame)
    assert bytes(b.lcd.cg[16:24]) == GLYPHS[2]  # the wrench in CGRAM 2
    # a button press (down, held 60 ms) moves the menu; the LCD follows
    before = text
    hw.buttons[1].value(0)
    b.run(0.06)
    hw.buttons[1].value(1)
    b.run(0.3)
    after = b.lcd.update()
    assert after != before and after == tuple(rt.app.frame())
    # the watchdog was fed all along: the health check runs every
    # HEALTH_MS in a turn without a long task, so at most a few turns late
    assert b.wdt.feeds > 60_000 // (2 * runtime.Runtime.HEALTH_MS)
    # phase C voltage lost: alarm contact closes, register 146 says so
    b.player.load(one_second(scenario(vc=10.0)))
    b.run(2.5)
    assert hw.alarm.value() == board.ALARM_CLOSED_LEVEL
    assert mb.u16(146) & (1 << 10)
    b.player.load(b.good)
    b.run(2.5)
    assert hw.alarm.value() == 1 - board.ALARM_CLOSED_LEVEL


def test_power_fail_saves(tmp_path):
    b = Bench(tmp_path)
    b.modbus.write(134, 400)
    b.run(3)
    saves = b.rt.app.persist.saves
    pf = b.hw.powerfail
    pf.value(0)  # the comparator says the supply is going
    pf.handler(pf)  # falling-edge IRQ -> micropython.schedule -> save
    assert b.rt.app.persist.saves == saves + 1 and b.rt.pf_saves == 1
    pf.handler(pf)  # bouncing: one save per failure
    assert b.rt.pf_saves == 1
    b.run(0.3)
    pf.value(1)  # supply back: re-armed
    b.run(0.3)
    pf.value(0)
    pf.handler(pf)
    assert b.rt.pf_saves == 2
    # what was saved is what a restart loads: energy and the power-up count
    e = b.rt.meter.energy.count(R.E_WH_IMP, R.E_TOTAL)
    b2 = Bench(tmp_path, store=NvStore(FileBackend(str(tmp_path / "a.bin"), str(tmp_path / "b.bin"))))
    assert not b2.rt.fresh
    assert b2.rt.meter.energy.count(R.E_WH_IMP, R.E_TOTAL) == e
    assert b2.rt.meter.config.power_ups == 2


def test_fram_store_saves_lose_no_frames(tmp_path):
    # the reference board's own store (hw.store_backend: F-RAM on SPI1):
    # saves and log rows are written with interrupts on, no frame is lost
    b = Bench(tmp_path, board_store=True)
    rt = b.rt
    assert rt.app.persist.store.backend is b.hw.store_backend
    assert rt.app.datalog is not None
    assert b.modbus.write(134, 400)[0] == 6
    b.run(3)
    saves = rt.app.persist.saves
    pf = b.hw.powerfail
    pf.value(0)
    pf.handler(pf)
    assert rt.app.persist.saves == saves + 1 and rt.app.persist.store.errors == 0
    e = rt.meter.energy.count(R.E_WH_IMP, R.E_TOTAL)
    pf.value(1)
    b.run(1)
    st = rt.status()
    assert st["seconds"] >= 3 and st["lost"] == 0 and st["overruns"] == 0
    assert not list(tmp_path.iterdir())  # nothing on the filesystem
    # power cycle over the same F-RAM: the saved state loads
    b2 = Bench(tmp_path, board_store=True, fram=b.fram)
    assert not b2.rt.fresh and b2.rt.meter.config.power_ups == 2
    assert b2.rt.meter.energy.count(R.E_WH_IMP, R.E_TOTAL) == e


def test_frontend_faults_alert_and_modbus_answers(tmp_path):
    b = Bench(tmp_path)
    rt, mb = b.rt, b.modbus
    b.run(3)
    assert rt.fault == 0 and mb.floats(395)[0] > 200
    feeds = b.wdt.feeds
    # DRDY stops (a dead ADC or a broken line): no-data fault, wrench,
    # readings QNAN, Modbus keeps answering, the watchdog keeps being fed
    b.clock.drdy_on = False
    b.run(1)
    assert rt.fault & 2
    assert struct.unpack(">I", mb.read(395, 2))[0] == 0x7FC00000
    assert mb.u16(7001) == 1000
    text = b.lcd.update()
    assert text[0][13] == "\x02", text  # the wrench glyph (CGRAM 2)
    assert b.wdt.feeds > feeds + 5
    # still nothing after RETRY_MS: the ADC is reset and configured again
    # (the chip answers on SPI, DRDY still dead: the fault stays)
    b.run(runtime.Runtime.RETRY_MS / 1000)
    assert rt.reinits == 1 and rt.fault & 2
    assert b.wdt.feeds > feeds + 50
    # DRDY back: measuring again within a second or two
    b.clock.drdy_on = True
    b.run(2.5)
    assert rt.fault == 0
    assert abs(mb.floats(395)[0] - 230.0) < 0.1
    # stuck codes (a channel repeating one code): fault, wrench, no crash
    b.player.stuck = True
    b.run(1.5)
    assert rt.fault & 1
    assert b.lcd.update()[0][13] == "\x02"
    assert mb.u16(7001) == 1000
    b.player.stuck = False
    b.run(2.5)
    assert rt.fault == 0


def test_watchdog_starves_when_a_part_hangs(tmp_path):
    b = Bench(tmp_path)
    b.run(2)
    feeds = b.wdt.feeds
    b.rt.app.frame = None  # the display task now raises every time
    b.run(3)
    assert b.rt.errors[2] > 0
    # fed until the display's heartbeat is ALIVE_MS old, then never again
    starved = b.wdt.feeds
    assert starved - feeds <= runtime.Runtime.ALIVE_MS[2] // runtime.Runtime.HEALTH_MS + 1
    b.run(1)
    assert b.wdt.feeds == starved
    # and Modbus still answers meanwhile (until the watchdog resets the board)
    assert b.modbus.u16(7001) == 1000


def test_corrupt_store_starts_with_defaults_and_wrench(tmp_path):
    (tmp_path / "a.bin").write_bytes(b"EMNV garbage" * 10)
    (tmp_path / "b.bin").write_bytes(b"\x00" * 64)
    b = Bench(tmp_path, store=NvStore(FileBackend(str(tmp_path / "a.bin"), str(tmp_path / "b.bin"))))
    assert b.rt.app.store_alert and not b.rt.fresh
    b.run(2)
    assert b.lcd.update()[0][13] == "\x02"
    assert b.modbus.u16(130) == 40


def test_no_lcd_still_runs(tmp_path):
    class DeadI2C(machine.I2C):
        def writeto(self, addr, buf, stop=True):
            raise OSError(19)  # ENODEV: nothing acknowledges 0x27

    hw_make = board.make_hardware

    def make():
        hw = hw_make()
        hw.i2c = DeadI2C()
        return hw

    board.make_hardware = make
    try:
        b = Bench(tmp_path)
    finally:
        board.make_hardware = hw_make
    assert b.rt.lcd is None
    b.run(2)
    assert b.modbus.u16(7001) == 1000 and b.rt.meter.dsp.seconds >= 1


def test_missing_fram_falls_back_to_the_flash_store_with_the_wrench(tmp_path):
    # no chip on SPI1: check_store() finds none, the runtime keeps its state
    # in files on the flash filesystem, has no data log, and shows the wrench
    hw = board.make_hardware()
    assert hw.check_store() is False
    assert hw.store_backend is None and hw.log_flash is None and hw.board_alert
