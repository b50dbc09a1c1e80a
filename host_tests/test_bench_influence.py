"""The accuracy bench's machinery (tools/bench_influence.py, make bench): a
known error is reported as that error and marked MISS, the limits are IEC
62053-22's class 0.2S table, the calibration path removes a front end's
errors, and the float32 shim really computes in float32. Seconds of signal
only: the bench itself runs in `make bench`."""

import math
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))

import bench_influence as B  # noqa: E402
import float32_shim  # noqa: E402

GAIN_ERR = 1.003  # +0.3 % on every current channel


@pytest.mark.parametrize("i_pct, pf, limit", [
    (1, "1", 0.4), (4.9, "1", 0.4), (5, "1", 0.2), (100, "1", 0.2), (120, "1", 0.2),
    (1, "0.5i", None), (2, "0.5i", 0.5), (9.9, "0.5i", 0.5), (10, "0.5i", 0.3), (120, "0.5i", 0.3),
    (1, "0.8c", None), (2, "0.8c", 0.5), (10, "0.8c", 0.3), (120, "0.8c", 0.3),
])
def test_class_02s_limits_are_iec_62053_22_table_4(i_pct, pf, limit):
    # 1-5 % In at PF 1: +-0.4 %; 5-120 %: +-0.2 %; PF 0.5 ind and 0.8 cap:
    # +-0.5 % from 2 to 10 % In, +-0.3 % from 10 % to Imax (120 % In)
    assert B.class_02s_limit(i_pct, pf) == limit


def test_issue_12_targets():
    assert B.TARGETS == {"readings_pct": 0.05, "pf_abs": 0.001, "energy_pct": 0.1, "q1_pct_of_s1": 0.2,
                         "float32_pct": 0.005}


def _gain_error_point(calibrate):
    err = {"gain": (1.0, 1.0, 1.0, GAIN_ERR, GAIN_ERR, GAIN_ERR)}
    return B.point("current", i_pct=100, pf="1", errors=err, calibrate=calibrate, seconds=1, settle=2)


def test_a_deliberate_gain_error_is_reported_as_that_error_and_misses():
    r = B.measure(_gain_error_point(calibrate=False))
    want = 100.0 * (GAIN_ERR - 1.0)  # I, P, S and the energy all read 0.3 % high
    for q in ("i_err", "p_err", "s_err", "energy_err_pct"):
        assert r[q] == pytest.approx(want, abs=0.003), q
    assert abs(r["v_err"]) < 0.003
    assert r["verdict"]["readings"] is False and r["verdict"]["energy"] is False
    assert not r["pass"]
    line = B.row_text(r)
    assert line.endswith("MISS PASS PASS MISS") and "+0.30" in line  # readings Q PF energy


def test_the_calibration_path_takes_the_same_error_out():
    r = B.measure(_gain_error_point(calibrate=True))
    # registers 7204-7206 hold the current gains x 10000: 1 / 1.003
    assert r["cal_words"][3:6] == [round(10000 / GAIN_ERR)] * 3
    assert abs(r["energy_err_pct"]) < 0.01 and abs(r["i_err"]) < 0.01
    assert r["pass"] and "MISS" not in B.row_text(r)


def test_16_bit_energy_is_judged_on_the_class_limits():
    r = B.verdict(dict(B.point("current", fe="16-bit", i_pct=2, pf="0.5i"), energy_err_pct=0.45,
                       clipped=[0] * 6, flagged_seconds=[0] * 6, **{k + "_err": 0.0 for k in (
                           "p", "q", "s", "v", "i", "pf", "p_tot", "q_tot", "s_tot", "pf_tot")}))
    assert r["energy_limit"] == 0.5 and r["verdict"]["energy"] is True
    assert r["verdict"]["readings"] is None  # the per-second targets are the 24-bit front end's


def test_phase_fired_current_has_the_half_sine_fundamental():
    # a sine conducting from 90 deg of each half cycle: fundamental
    # b1 = 1/2, a1 = -1/pi; rms of the whole 1/2 (of the peak); so the
    # fundamental lags by atan(2/pi) and is 0.838 of the rms (0.842 of the
    # rms up to the 49th, where the series stops)
    harm, share, lag = B.phase_fired_harmonics()
    assert lag == pytest.approx(math.degrees(math.atan(2 / math.pi)), abs=0.01)
    assert share == pytest.approx(math.sqrt((0.25 + 1 / math.pi ** 2) / 2) / 0.5, abs=0.005)
    assert [h for h, _, _ in harm][:3] == [3, 5, 7]  # odd harmonics only


def test_crest_factor_3_waveform():
    # the waveform's peak over its rms, sampled over a cycle
    harm, share = B.crest_factor_3()
    comps = [(1, 1.0)] + [(h, pct / 100.0) for h, pct, _ in harm]
    n = 3600
    wave = [sum(a * math.sqrt(2) * math.cos(h * 2 * math.pi * j / n) for h, a in comps) for j in range(n)]
    rms = math.sqrt(sum(w * w for w in wave) / n)
    assert max(abs(w) for w in wave) / rms == pytest.approx(3.0)
    assert share == pytest.approx(1.0 / rms)


def test_float32_shim_rounds_every_float_operation():
    assert float32_shim.f32(0.1) != 0.1 and float32_shim.f32(0.1) == pytest.approx(0.1, rel=1e-7)
    from frontend import FrontEnd

    import dsp

    d64 = dsp.Dsp(FrontEnd(24, 2500))
    d32 = float32_shim.load().Dsp(FrontEnd(24, 2500))
    # the LSB size is computed with several operations: float32 differs
    assert d32._v_lsb[0] == float32_shim.f32(d32._v_lsb[0]) != d64._v_lsb[0]
    assert d32._v_lsb[0] == pytest.approx(d64._v_lsb[0], rel=1e-6)


def test_synth_offset_error_moves_every_code_by_that_share_of_full_scale():
    import scenario
    from array import array

    from synth import Synth

    sc = scenario.parse({"segments": [{"duration_s": 0.1, "frequency_hz": 50.0, "phases": {
        "A": {"v_rms": 230.0, "v_deg": 0.0, "i_rms": 10.0, "i_deg": 0.0}}}]})
    off = (0.01, 0.0, 0.0, -0.02, 0.0, 0.0)
    a, b = array("i", bytes(24 * 50)), array("i", bytes(24 * 50))
    Synth(sc).fill(a, 50)
    Synth(sc, errors={"offset": off}).fill(b, 50)
    rail = (1 << 23) - 1
    for k in range(0, 300, 6):
        for ch in range(6):
            assert abs(b[k + ch] - a[k + ch] - off[ch] * rail) <= 1  # one rounding
    with pytest.raises(ValueError, match="offset"):
        Synth(sc, errors={"offset": (0.06, 0, 0, 0, 0, 0)})
    with pytest.raises(ValueError, match="6 offsets"):
        Synth(sc, errors={"offset": (0.01,)})
