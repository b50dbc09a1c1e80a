"""Board layer on CPython with the host fakes: every board module has the
same shape, the pin map docs are current, make_hardware() builds every part
from the PINS table, firmware/ never imports machine, and the reference
board's ADC path runs end to end (fake SPI -> ADS131M06 model -> driver ->
DSP)."""

import importlib
import importlib.util
import math
import os
import re
import subprocess
import sys
from array import array

import machine
import pio_dma_sim
import pytest

from ads131_sim import Ads131m06Sim

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BOARDS = ("sim", "pico_ads131m06", "pico_onboard")
HARDWARE = ("frontend", "source", "uart", "de", "i2c", "buttons", "pulse", "alarm",
            "powerfail", "led", "pulse_closed_level", "alarm_closed_level")


def test_pinmaps_not_stale():
    r = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "gen_pinmaps.py"), "--check"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr




def _board_module(name):
    """boards/<name>.py itself, whatever sys.path holds first: tools/sim.py
    (the simulator program) shares the sim board's module name."""
    path = os.path.join(ROOT, "boards", name + ".py")
    spec = importlib.util.spec_from_file_location("board_" + name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod

@pytest.fixture(autouse=True)
def fresh_chip():
    # each board test on a chip of its own: channels an earlier test's
    # driver left running would otherwise keep draining the fake ADC FIFO
    pio_dma_sim.reset().fast = True


def test_every_board_has_the_same_shape():
    for name in BOARDS:
        mod = _board_module(name)
        assert isinstance(mod.NAME, str) and mod.NAME == name
        assert isinstance(mod.DESCRIPTION, str) and mod.DESCRIPTION
        assert isinstance(mod.PINS, tuple)
        for row in mod.PINS:
            assert len(row) == 3 and all(isinstance(c, str) for c in row), row
        assert len(mod.CAL_GAINS) == 6 and all(0.5 <= g <= 2.0 for g in mod.CAL_GAINS)
        assert len(mod.CAL_PHASE_DEG) == 3
        if name != "sim":
            assert callable(mod.make_hardware)
            fe = mod.frontend()
            assert 10 <= fe.bits <= 24 and 2000 <= fe.fs <= 8000
            gpios = [row[1] for row in mod.PINS if row[1].startswith("GP")]
            assert len(gpios) == len(set(gpios)), "a GPIO used twice on " + name


def test_reference_board_hardware():
    import pico_ads131m06 as b

    hw = b.make_hardware()
    for attr in HARDWARE:
        assert hasattr(hw, attr), attr
    assert hw.frontend.bits == 24 and hw.frontend.fs == 2500
    assert hw.spi.polarity == 0 and hw.spi.phase == 1  # SPI mode 1
    assert hw.clkin.freq() == 5_120_000 and hw.clkin.duty_u16() == 32768
    assert hw.adc.cs.id == 17 and hw.adc.drdy.id == 20 and hw.de.id == 2
    assert [p.id for p in hw.buttons] == [10, 11, 12, 13]
    assert hw.alarm.value() == b.ALARM_CLOSED_LEVEL  # N.C. contact closed at start
    assert hw.pulse.value() == 1 - b.PULSE_CLOSED_LEVEL
    assert hw.de.value() == 0  # RS-485 receiving
    # the F-RAM on SPI1 (mode 0): the store's two slots and the log's blocks
    assert hw.fram.spi.id == 1 and hw.fram.spi.polarity == 0 and hw.fram.spi.phase == 0
    assert hw.fram.cs.id == 6 and hw.fram.cs.value() == 1
    assert [p.id for p in hw.fram.spi.pins] == [26, 27, 28]
    assert hw.store_backend.base == 0 and hw.store_backend.slot_size == 0x4000
    assert hw.log_flash.size == 58 * 4096 and hw.log_flash.bdev.base == 0x8000


def test_reference_board_end_to_end_through_dsp():
    import pico_ads131m06 as b
    from dsp import Dsp
    from readings import R_I, R_VLN

    hw = b.make_hardware()
    sim = Ads131m06Sim(hw.adc.cs)
    hw.spi.device = sim
    hw.start()
    assert sim.regs[2] == 0x1110
    sim.log = False
    fs = hw.frontend.fs
    rail = hw.frontend.rail
    # one second of 50 Hz: Va at half of full scale, Ia at a quarter
    frames = array("i")
    for n in range(fs):
        s = math.sin(2 * math.pi * 50 * n / fs)
        d = (n * 7919) % 5 - 2  # a few LSB of noise, as a real converter has
        frames.extend((int(0.5 * rail * s) + d, d, -d, int(0.25 * rail * s) - d, d, d))
    sim.set_frames(frames)
    dsp = Dsp(hw.frontend)
    dsp.configure(10, 100, 1, 1.0)
    buf = array("i", bytes(4 * 6 * 125))
    drdy = hw.adc.drdy
    for _ in range(4 * fs // 125):
        for _ in range(125):  # 50 ms: well inside the 256-frame ring
            hw.adc.sm.chip.drdy_pulse(drdy)  # the PIO clocks a frame, DMA moves it
        n = hw.source.read_block(buf, 125)
        assert n == 125
        dsp.process(buf, n)
    assert dsp.seconds == 4
    v_expect = 0.5 * hw.frontend.v_full_scale_peak() / math.sqrt(2)
    i_expect = 0.25 * hw.frontend.i_full_scale_peak_pu() * 100 / math.sqrt(2)
    assert abs(dsp.readings[R_VLN] - v_expect) < 0.002 * v_expect, dsp.readings[R_VLN]
    assert abs(dsp.readings[R_I] - i_expect) < 0.002 * i_expect, dsp.readings[R_I]
    assert hw.source.fault() == 0 and hw.source.crc_errors == 0


def test_onboard_hardware():
    import pico_onboard as b

    hw = b.make_hardware()
    for attr in HARDWARE:
        assert hasattr(hw, attr), attr
    assert hw.frontend.bits == 12 and hw.frontend.fs == 2500
    hw.start()
    import rp2

    rp2.chip().adc.convert(21)  # the ADC free-running: V I V I ... V -> 10 frames
    buf = array("i", bytes(4 * 6 * 16))
    assert hw.source.read_block(buf, 16) == 10
    assert list(buf[0:6]) == [0, 0, 0, 0, 0, 0]  # fake ADC sits at mid-rail


_IMPORT_HW = re.compile(r"^\s*(import|from)\s+(machine|rp2)\b", re.M)


def test_firmware_never_imports_machine():
    bad = []
    for dirpath, _d, files in os.walk(os.path.join(ROOT, "firmware")):
        for f in files:
            if f.endswith(".py"):
                with open(os.path.join(dirpath, f)) as fh:
                    if _IMPORT_HW.search(fh.read()):
                        bad.append(f)
    assert not bad, "firmware/ imports machine or rp2: %s" % bad


def test_only_board_modules_import_machine():
    allowed = {"pico_ads131m06.py", "pico_onboard.py", "pico_w_ads131m06.py"}
    bad = []
    for dirpath, _d, files in os.walk(os.path.join(ROOT, "boards")):
        for f in files:
            if f.endswith(".py") and f not in allowed:
                with open(os.path.join(dirpath, f)) as fh:
                    if _IMPORT_HW.search(fh.read()):
                        bad.append(os.path.relpath(os.path.join(dirpath, f), ROOT))
    assert not bad, "only the board modules may import machine: %s" % bad
    assert machine.SPI  # the fakes stand in for it here


def test_deploy_stages_board_filesystem(tmp_path):
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    import deploy

    for board in ("pico_ads131m06", "pico_onboard"):
        out = deploy.stage(board, str(tmp_path / board))
        lib = os.listdir(os.path.join(out, "lib"))
        assert "dsp.mpy" in lib and "frontend.mpy" in lib and board + ".mpy" in lib
        assert "sim.mpy" not in lib and not any(f.endswith(".py") for f in lib)
        drivers = os.listdir(os.path.join(out, "lib", "drivers"))
        assert "ads131m06.mpy" in drivers and "rp2040_adc.mpy" in drivers
        with open(os.path.join(out, "board.py")) as fh:
            assert "from %s import *" % board in fh.read()
    cmd = deploy.deploy_command("/dev/ttyACM0", out)
    assert cmd[1:3] == ["connect", "/dev/ttyACM0"] and "cp" in cmd and cmd[-1] == "reset"


def test_package_json_current():
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    import deploy

    with open(os.path.join(ROOT, "package.json")) as fh:
        assert fh.read() == deploy.package_json(), "run make package-json"
