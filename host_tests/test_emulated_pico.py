"""The meter on an emulated Raspberry Pi Pico, as a user deploys it.

What runs: the stock MicroPython v1.28.0 firmware (../shared/rp2/, or
PICO_FIRMWARE) on rp2040js (tools/emu/, `make emu`), with a littlefs image
of exactly what `make deploy BOARD=pico_ads131m06` copies (tools/deploy.stage)
and main.py starting the meter at reset, as on a board: no REPL is used for
any check. Around the chip, the reference board's parts (tools/emu/board.mjs):
the ADS131M06 fed frame by frame with a scenario's waveforms synthesized on
the host (tools/emu/frames.py), the F-RAM, the LCD backpack, a Modbus RTU
master on UART0 at wire timing, the power-fail input, and recorders for the
pulse, alarm and LED pins and the watchdog.

Run 1 (host_tests/scenarios/emu_wye347_phase_loss.json: 347/600 V wye, the
factory settings, 80 A per phase at PF 0.9 lagging, 50 Hz; phase C lost
from 6 s): 2.5 s: register 144 = 10 Wh a pulse; 3 s: read it back; 3.2 s:
the energy; 5 s:
the float registers 257-292; 5.5 s: the error bitmap 146; 8 s: 146 again,
8.2 s: the energy; 8.5 s: GP9 pulled low (power fail); the F-RAM is kept.
Run 2 (emu_wye347_no_load.json: the same voltages, no current): a new chip
with run 1's F-RAM; 3 s: the energy and register 144 again; from 3.5 s
every ADC frame fails its CRC (a broken DOUT line): the DSP part gets no
data it can use, so the watchdog must stop being fed.

Expected values are the scenario's analytic ones (scenario.reference), as
in the virtual meter's tests; accuracy targets as test_sim_clients.py."""

import os
import struct
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools", "emu"))

import chip  # noqa: E402
import scenario as S  # noqa: E402  (tools/, put on sys.path by chip)

FIRMWARE = chip.FIRMWARE
SCEN_DIR = os.path.join(ROOT, "host_tests", "scenarios")
RUN1_SCENARIO = os.path.join(SCEN_DIR, "emu_wye347_phase_loss.json")
RUN2_SCENARIO = os.path.join(SCEN_DIR, "emu_wye347_no_load.json")
FS = 2500  # boards/pico_ads131m06.py frontend()
ADDR = 1  # factory settings: address 1, 19200 baud, no parity
PULSE_WH = 10
PHASE_LOSS_AT = 6.0  # run 1's second segment
T_CONFIG, T_CHECK_CONFIG, T_FIRST_ENERGY, T_FLOATS, T_BITMAP, T_LOSS_BITMAP, T_ENERGY, T_POWERFAIL, T_END1 = \
    2.5, 3.0, 3.2, 5.0, 5.5, 8.0, 8.2, 8.5, 9.0
T_RESTORED, T_RESTORED_CONFIG, T_CORRUPT, T_END2 = 3.0, 3.3, 3.5, 7.5
DSP_ALIVE_S = 2.5  # firmware/runtime.py ALIVE_MS[dsp]


def fc03(start, count):
    return [ADDR, 3, start >> 8, start & 0xFF, count >> 8, count & 0xFF]


def fc06(reg, value):
    return [ADDR, 6, reg >> 8, reg & 0xFF, value >> 8, value & 0xFF]


def floats(regs):
    pairs = range(0, len(regs) - 1, 2)
    return [struct.unpack(">f", struct.pack(">HH", regs[i], regs[i + 1]))[0] for i in pairs]


def near(got, want, rel):
    return abs(got - want) <= rel * abs(want)


def run_plan(plan, workdir, name):
    try:
        return chip.run_plan(plan, workdir, name)
    except RuntimeError as e:
        pytest.fail(str(e))


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    problems = chip.missing_parts()
    if problems:
        pytest.fail("the emulated Pico cannot run:\n  " + "\n  ".join(problems))
    d = str(tmp_path_factory.mktemp("emu"))
    image = chip.filesystem(d)  # exactly what make deploy BOARD=pico_ads131m06 copies
    for name, sc in (("run1", RUN1_SCENARIO), ("run2", RUN2_SCENARIO)):
        chip.frames_file(sc, os.path.join(d, name + ".frames"))
    return {"dir": d, "image": image, "files": sorted(os.listdir(os.path.join(d, "stage", "lib")))}


@pytest.fixture(scope="module")
def run1(work):
    d = work["dir"]
    events = [
        {"at": T_CONFIG, "modbus": fc06(143, PULSE_WH)},  # 144
        {"at": T_CHECK_CONFIG, "modbus": fc03(143, 1)},
        {"at": T_FIRST_ENERGY, "modbus": fc03(256, 4)},  # 257-260
        {"at": T_FLOATS, "modbus": fc03(256, 36)},  # 257-292
        {"at": T_BITMAP, "modbus": fc03(145, 1)},  # 146
        {"at": T_LOSS_BITMAP, "modbus": fc03(145, 1)},
        {"at": T_ENERGY, "modbus": fc03(256, 4)},  # 257-260
        {"at": T_POWERFAIL, "pin": 9, "level": 0},
    ]
    return run_plan({"firmware": FIRMWARE, "fs": work["image"], "frames": os.path.join(d, "run1.frames"),
                     "fs_hz": FS, "fram_out": os.path.join(d, "fram.bin"), "seconds": T_END1,
                     "window_from": 4.0, "events": events}, d, "run1")


@pytest.fixture(scope="module")
def run2(work, run1):
    d = work["dir"]
    events = [{"at": T_RESTORED, "modbus": fc03(256, 4)}, {"at": T_RESTORED_CONFIG, "modbus": fc03(143, 1)},
              {"at": T_CORRUPT, "adc_corrupt_crc": True}]
    return run_plan({"firmware": FIRMWARE, "fs": work["image"], "frames": os.path.join(d, "run2.frames"),
                     "fs_hz": FS, "fram_in": os.path.join(d, "fram.bin"), "seconds": T_END2,
                     "window_from": 2.0, "events": events}, d, "run2")


def started(r):
    """Fail with what the chip printed when main.py did not keep running."""
    started_until(r, r["emulatedSeconds"])


def started_until(r, t):
    out = r["usbOutput"].replace("\r", "")
    if r["traceback"] or [x for x in r["watchdog"]["triggers"] if x < t]:
        pytest.fail("the meter did not run on the emulated Pico (stock firmware, deploy path); USB output:\n"
                    + out[-3000:] + "\nwatchdog triggers at %s s" % r["watchdog"]["triggers"])


def transaction(r, at):
    for t in r["modbus"]:
        if t["at"] == at:
            assert t.get("reply") is not None, "no request at %s s: %s" % (at, t.get("note"))
            assert t["crcOk"], "reply at %s s: [%s] (CRC bad or no reply)" % (at, t["reply"])
            return t
    raise AssertionError("no transaction at %s s" % at)


def level_at(pin, t):
    v = None
    for e in pin["edges"]:
        if e["s"] > t:
            break
        v = e["v"]
    return v


def screen_at(r, t):
    """The LCD's text at time t, from the screens that stayed up at least
    0.1 s (the firmware rewrites changed characters every 250 ms)."""
    shown = [x for x in r["lcd"]["screens"]
             if x["s"] <= t and ((x["until"] or r["emulatedSeconds"]) - x["s"]) >= 0.1]
    assert shown, "nothing stayed on the LCD before %s s" % t
    return shown[-1]["lines"]


def reference():
    sc = S.load(RUN1_SCENARIO)
    return S.reference(sc.segments[0], FS)


# ---- the checks -------------------------------------------------------------
def test_the_stage_is_what_make_deploy_copies(work):
    assert "runtime.mpy" in work["files"] and "pico_ads131m06.mpy" in work["files"]


def test_it_boots_and_measures(run1):
    started(run1)
    w = run1["adc"]["window"]
    # every DRDY of the window (4-9 s) has its frame clocked out of the ADC
    assert w["drdyEdges"] >= 0.99 * (T_END1 - 4.0) * FS, w
    assert w["framesClocked"] >= w["drdyEdges"] - 2, w
    assert run1["adc"]["crcErrors"] == 0
    assert run1["adc"]["commands"].get("reset", 0) >= 1 and run1["adc"]["commands"].get("wreg", 0) >= 4


def test_modbus_rtu_answers_at_wire_timing(run1):
    started(run1)
    t = transaction(run1, T_CONFIG)
    assert t["reply"] == t["req"], t  # FC06 echoes the request
    # a frame ends after 3.5 character times of silence (1.75 ms above
    # 19200 baud, 2.0 ms at 19200): no answer may start before that
    # RS-485: DE (GP2) up before the first start bit, down only after the
    # last stop bit has left (the emulated UART shifts at the baud rate),
    # and released within t3.5 so the master can talk again
    for t in run1["modbus"]:
        if t.get("bytes"):
            assert t["firstByteMs"] >= 1.75, t
            assert t["dropped"] == 0, t
            assert t.get("deRiseBeforeFirstStartUs", -1) >= 0, t
            t35_us = max(1750.0, 3.5 * 11e6 / t["baud"])
            assert 0 <= t.get("deFallAfterLastStopUs", -1) <= t35_us, t
    assert transaction(run1, T_CHECK_CONFIG)["regs"] == [PULSE_WH]


def test_float_registers_match_the_scenario(run1):
    started(run1)
    ref = reference()
    f = floats(transaction(run1, T_FLOATS)["regs"])
    p_kw, q_kvar, s_kva, pf, vll, vln, i, hz = f[10:18]
    assert near(p_kw * 1000, ref["p_total"], 1e-3), (p_kw, ref["p_total"])
    assert near(q_kvar * 1000, ref["q1_total"], 5e-3), (q_kvar, ref["q1_total"])
    assert near(s_kva * 1000, ref["s_total"], 1e-3), (s_kva, ref["s_total"])
    assert near(pf, ref["pf_total"], 1e-3), (pf, ref["pf_total"])
    assert near(vll, sum(ref["v_ll"]) / 3, 1e-3) and near(vln, sum(ref["v_rms"]) / 3, 1e-3), (vll, vln)
    assert near(i, sum(ref["i_rms"]) / 3, 1e-3), i
    assert abs(hz - ref["frequency_hz"]) < 0.01, hz
    # energy comes in whole measured seconds of the scenario's power
    kwh_net, kwh_imp, kwh_exp = f[0:3]
    seconds = kwh_imp * 3.6e6 / ref["p_total"]
    assert 1 <= round(seconds) <= T_FLOATS, seconds
    assert abs(seconds - round(seconds)) <= 0.02 + 2e-3 * seconds, seconds
    assert kwh_exp == 0.0 and near(kwh_net, kwh_imp, 1e-6)


def test_lcd_shows_the_total_power(run1):
    started(run1)
    ref = reference()
    line1, line2 = screen_at(run1, PHASE_LOSS_AT - 0.05)
    assert line1.startswith("3PHASE W TOT") and line1[14] == "^", (line1, line2)  # importing
    assert line2.endswith(" W"), line2
    assert near(float(line2[:-2]), ref["p_total"], 1e-3), (line2, ref["p_total"])
    assert run1["lcd"]["backlight"] and run1["lcd"]["displayOn"]


def test_pulse_output_follows_the_import_energy(run1):
    started(run1)
    e1 = floats(transaction(run1, T_FIRST_ENERGY)["regs"])[1] * 1000
    e2 = floats(transaction(run1, T_ENERGY)["regs"])[1] * 1000
    pulse = run1["pins"]["pulse"]
    # contact closures (pin high) between the two reads, 10 Wh each (set at
    # 2.5 s); both energy readings are second-boundary images and pulses
    # trail the energy by the backlog the contact works off: one pulse of
    # slack at either end (as test_sim_outputs.py)
    pulses = sum(1 for e in pulse["edges"] if e["v"] == 1 and T_FIRST_ENERGY < e["s"] <= T_ENERGY)
    assert e2 - e1 > 5 * PULSE_WH, (e1, e2)
    assert (e2 - e1) / PULSE_WH - 2 <= pulses <= (e2 - e1) / PULSE_WH + 2, (pulses, e1, e2)
    # never more pulses in all than whole 10 Wh of the energy since the setting
    total = sum(1 for e in pulse["edges"] if e["v"] == 1 and e["s"] <= T_ENERGY)
    assert total <= e2 / PULSE_WH, (total, e2)


def test_alarm_output_follows_a_phase_loss(run1):
    started(run1)
    alarm = run1["pins"]["alarm"]
    assert level_at(alarm, PHASE_LOSS_AT - 0.1) == 1, alarm  # N.C. contact held open: no alarm
    assert level_at(alarm, T_LOSS_BITMAP) == 0, alarm  # released: the contact closes
    ok = transaction(run1, T_BITMAP)["regs"][0]
    lost = transaction(run1, T_LOSS_BITMAP)["regs"][0]
    assert not ok & 0x0700, hex(ok)
    assert lost & (1 << 10) and not lost & ((1 << 8) | (1 << 9)), hex(lost)  # phase loss C
    line1 = screen_at(run1, T_LOSS_BITMAP)[0]
    assert line1[13] == "W", line1  # the wrench


def test_power_fail_saves_and_a_restart_restores_the_energy(run1, run2):
    started(run1)
    saves = [w for w in run1["fram"]["writeLog"] if w["s"] >= T_POWERFAIL]
    assert saves, "no F-RAM write after the power-fail edge at %s s: %s" % (T_POWERFAIL, run1["fram"])
    before = floats(transaction(run1, T_ENERGY)["regs"])[1]
    started_until(run2, T_CORRUPT)
    after = floats(transaction(run2, T_RESTORED)["regs"])[1]
    ref = reference()
    # the save at the edge holds at most the 0.3 s since T_ENERGY more
    assert before <= after <= before + ref["p_total"] * 0.8 / 3.6e6, (before, after)
    assert transaction(run2, T_RESTORED_CONFIG)["regs"] == [PULSE_WH]  # the setting survived too


def test_watchdog_is_fed_while_healthy(run1):
    started(run1)
    wd = run1["watchdog"]
    assert wd["enabled"], wd["ctrl"]
    assert not wd["triggers"]
    feeds = [t for t in wd["loadTimes"] if 3.0 <= t < T_POWERFAIL]
    assert len(feeds) >= 10, wd["loads"]
    gaps = [b - a for a, b in zip(feeds, feeds[1:])]
    assert max(gaps) < 1.0, max(gaps)  # fed every health check (100 ms), far inside WDT_MS
    assert feeds[-1] > T_POWERFAIL - 1.0, feeds[-1]


def test_watchdog_is_not_fed_while_the_measuring_part_is_dead(run2):
    started_until(run2, T_CORRUPT)
    wd = run2["watchdog"]
    assert wd["enabled"], wd["ctrl"]
    assert [t for t in wd["loadTimes"] if t < T_CORRUPT], "never fed before the ADC broke"
    # a part is dead once its heartbeat is older than its ALIVE_MS (2.5 s
    # for the DSP); from then on no feed (the watchdog, WDT_MS 4 s, resets)
    late = [t for t in wd["loadTimes"] if t > T_CORRUPT + DSP_ALIVE_S + 0.5]
    assert not late, late
