# Scenario loader and waveform synthesizer (tools/scenario.py, tools/synth.py).
# Portable: pytest runs these on CPython, tools/mp_test.py under MicroPython;
# the checksum test proves both runtimes make the same codes.
import math
from array import array

import scenario as S
import synth as Y

_HERE = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
# the spec's examples as the project ships them (tools/scenarios/; a test
# in test_scenario_cpython.py holds them equal to the spec's)
SPEC_DIR = _HERE + "/../../tools/scenarios"
DEFAULT = _HERE + "/../../tools/scenarios/default.json"
EXAMPLES = ("delta-480V", "split-phase-120V", "wye-230V-lag30", "wye-277V-export")
V_FS = 1.2 * math.sqrt(2) * 347.0


def _exists(path):
    try:
        open(path).close()
        return True
    except OSError:
        return False


def _wye(i_deg_a=-30.0, v=230.0, i=10.0, freq=50.0, dur=1.0, harmonics=None, noise=0.5, **cfg):
    seg = {"duration_s": dur, "frequency_hz": freq, "phases": {
        "A": {"v_rms": v, "v_deg": 0, "i_rms": i, "i_deg": i_deg_a},
        "B": {"v_rms": v, "v_deg": -120, "i_rms": i, "i_deg": i_deg_a - 120},
        "C": {"v_rms": v, "v_deg": 120, "i_rms": i, "i_deg": i_deg_a + 120}}}
    if harmonics:
        seg["harmonics"] = harmonics
    config = {"system_type": 40, "ct_primary_a": 100, "system_voltage_v": 400}
    config.update(cfg)
    return {"name": "t", "config": config, "frontend": {"noise_lsb": noise}, "segments": [seg]}


def _run(obj, frames=None, seed=1, chunk=None, **kw):
    sy = Y.Synth(S.parse(obj), seed=seed, **kw)
    n = sy.total_frames if frames is None else frames
    buf = array("i", bytes(24 * n))
    if chunk is None:
        got = sy.fill(buf, n)
    else:
        got = 0
        tmp = array("i", bytes(24 * chunk))
        while got < n:
            m = sy.fill(tmp, min(chunk, n - got))
            if m == 0:
                break
            buf[6 * got:6 * (got + m)] = tmp[:6 * m]
            got += m
    assert got == n
    return sy, buf


def _chan(buf, ch):
    return [buf[k] for k in range(ch, len(buf), 6)]


def _rms(xs):
    s = 0
    for x in xs:
        s += x * x
    return math.sqrt(s / len(xs))


def _err(obj):
    try:
        S.parse(obj)
    except S.ScenarioError as e:
        assert isinstance(e, ValueError)
        return str(e)
    raise AssertionError("no ScenarioError for %r" % (obj,))


def _seg(**kw):
    seg = {"duration_s": 1, "phases": {"A": {"v_rms": 230, "v_deg": 0, "i_rms": 5, "i_deg": 0}}}
    seg.update(kw)
    return seg


def _top(**kw):
    top = {"segments": [_seg()]}
    top.update(kw)
    return top


# ---- loading -----------------------------------------------------------------
def test_examples_load():
    # shipped with the project: missing is a failure, not a skip
    assert _exists(SPEC_DIR + "/wye-230V-lag30.json"), "the examples are missing from " + SPEC_DIR
    for name in EXAMPLES:
        sc = S.load(SPEC_DIR + "/" + name + ".json")
        assert sc.duration_s == 60.0
        assert len(sc.config) == 14
        assert sc.frontend == {"bits": 24, "noise_lsb": 0.5, "fs_hz": 2520}
    sc = S.load(SPEC_DIR + "/delta-480V.json")
    assert sc.name.startswith("3-wire delta")
    assert sc.config["system_type"] == 31 and sc.config["pt_ratio"] == 2.0
    assert sc.config["parity"] == "N" and sc.config["baud"] == 19200
    assert sc.segments[0].phases["B"] == (277.1, -120.0, 250.0, -145.0)
    sc = S.load(SPEC_DIR + "/split-phase-120V.json")
    assert sorted(sc.segments[0].phases) == ["A", "B"]
    sc = S.load(SPEC_DIR + "/wye-277V-export.json")
    assert sc.segments[0].harmonics == [(3, 1.5, 8.0, 0.0), (5, 1.0, 4.0, 30.0)]
    assert sc.segments[1].harmonics == []


def test_default_scenario_loads():
    sc = S.load(DEFAULT)
    assert sc.duration_s >= 30 and len(sc.segments) >= 3
    refs = [S.reference(seg) for seg in sc.segments]
    assert min(r["p_total"] for r in refs) < 0  # an export segment
    assert max(len(seg.harmonics) for seg in sc.segments) > 0


def test_defaults_filled():
    sc = S.parse('{"segments": [{"duration_s": 2, "phases": {}}]}')
    assert sc.name == "scenario"
    assert sc.config == {
        "system_type": 40, "ct_primary_a": 100, "ct_secondary_v": 1, "pt_ratio": 1.0,
        "system_voltage_v": 600, "phase_loss_pct": 10, "imbalance_pct": 25, "pulse_wh": 1000,
        "demand_subintervals": 1, "demand_subinterval_s": 900, "display_units": 1,
        "modbus_address": 1, "baud": 19200, "parity": "N"}
    assert sc.frontend == {"bits": 24, "noise_lsb": 0.5, "fs_hz": 2520}
    seg = sc.segments[0]
    assert seg.frequency_hz == 60.0 and seg.harmonics == [] and seg.phases == {}
    assert sc.duration_s == 2.0


def test_unknown_keys_named():
    cases = (
        (_top(segmnts=1), "scenario: unknown key 'segmnts'"),
        (_top(config={"ct_primary": 5}), "config: unknown key 'ct_primary'"),
        (_top(frontend={"fs": 4000}), "frontend: unknown key 'fs'"),
        ({"segments": [_seg(), _seg(freq=50)]}, "segments[1]: unknown key 'freq'"),
        ({"segments": [_seg(), _seg(phases={"B": {"vrms": 1}})]}, "segments[1].phases.B: unknown key 'vrms'"),
        ({"segments": [_seg(phases={"N": {}})]}, "segments[0].phases: unknown key 'N'"),
        ({"segments": [_seg(harmonics=[{"order": 3, "v_pct": 1, "i_pct": 1, "deg": 0, "ph": 1}])]},
         "segments[0].harmonics[0]: unknown key 'ph'"),
    )
    for obj, msg in cases:
        got = _err(obj)
        assert got.startswith(msg), got


def test_lenient_where_the_format_allows():
    # a whole number written as 100.0 is that number; a harmonic without
    # v_pct, i_pct or deg has 0 there; any PT ratio in range is taken
    sc = S.parse(_top(config={"ct_primary_a": 100.0, "pt_ratio": 1.732}))
    assert sc.config["ct_primary_a"] == 100 and type(sc.config["ct_primary_a"]) is int
    assert sc.config["pt_ratio"] == 1.732
    sc = S.parse({"segments": [_seg(harmonics=[{"order": 3, "i_pct": 5}])]})
    assert sc.segments[0].harmonics == [(3, 0.0, 5.0, 0.0)]


def test_missing_and_empty():
    assert "missing required key 'segments'" in _err({"name": "x"})
    assert _err(_top(segments=[])).startswith("segments: needs at least one segment")
    assert _err({"segments": [{"phases": {}}]}).startswith("segments[0]: missing required key 'duration_s'")
    assert _err({"segments": [{"duration_s": 1}]}).startswith("segments[0]: missing required key 'phases'")
    got = _err({"segments": [_seg(phases={"C": {"v_rms": 1, "i_rms": 1, "i_deg": 0}})]})
    assert got.startswith("segments[0].phases.C: missing required key 'v_deg'"), got
    got = _err({"segments": [_seg(harmonics=[{"v_pct": 1, "i_pct": 1, "deg": 0}])]})
    assert got.startswith("segments[0].harmonics[0]: missing required key 'order'"), got


def test_wrong_types():
    h = {"order": 3, "v_pct": 1, "i_pct": 1, "deg": 0}
    cases = (
        ([1, 2], "scenario: must be an object"),
        (_top(name=5), "name: must be a string"),
        (_top(config=[]), "config: must be an object"),
        (_top(config={"ct_primary_a": 100.5}), "config.ct_primary_a: must be an integer"),
        (_top(config={"system_type": True}), "config.system_type: must be an integer, got a boolean"),
        (_top(config={"pt_ratio": "2"}), "config.pt_ratio: must be a number"),
        (_top(config={"pt_ratio": False}), "config.pt_ratio: must be a number, got a boolean"),
        (_top(config={"parity": 0}), "config.parity: must be a string"),
        (_top(frontend={"noise_lsb": None}), "frontend.noise_lsb: must be a number, got null"),
        (_top(frontend={"fs_hz": 4000.5}), "frontend.fs_hz: must be an integer"),
        (_top(segments={}), "segments: must be a list"),
        ({"segments": [3]}, "segments[0]: must be an object"),
        ({"segments": [_seg(duration_s="1")]}, "segments[0].duration_s: must be a number"),
        ({"segments": [_seg(phases=[])]}, "segments[0].phases: must be an object"),
        ({"segments": [_seg(phases={"A": {"v_rms": "230", "v_deg": 0, "i_rms": 1, "i_deg": 0}})]},
         "segments[0].phases.A.v_rms: must be a number"),
        ({"segments": [_seg(harmonics={})]}, "segments[0].harmonics: must be a list"),
        ({"segments": [_seg(harmonics=[dict(h, order=3.5)])]},
         "segments[0].harmonics[0].order: must be an integer"),
        ({"segments": [_seg(harmonics=[dict(h, deg=True)])]},
         "segments[0].harmonics[0].deg: must be a number"),
        ("{not json", "not valid JSON"),
    )
    for obj, msg in cases:
        got = _err(obj)
        assert got.startswith(msg), got


def test_out_of_range():
    h = {"order": 3, "v_pct": 1, "i_pct": 1, "deg": 0}
    ph = {"v_rms": 230, "v_deg": 0, "i_rms": 5, "i_deg": 0}
    cases = (
        (_top(config={"system_type": 41}), "config.system_type"),
        (_top(config={"ct_primary_a": 4}), "config.ct_primary_a"),
        (_top(config={"ct_primary_a": 32001}), "config.ct_primary_a"),
        (_top(config={"ct_secondary_v": 2}), "config.ct_secondary_v"),
        (_top(config={"pt_ratio": 0.001}), "config.pt_ratio"),
        (_top(config={"pt_ratio": 320.5}), "config.pt_ratio"),
        (_top(config={"pt_ratio": 0.004}), "config.pt_ratio"),
        (_top(config={"system_voltage_v": 81}), "config.system_voltage_v"),
        (_top(config={"phase_loss_pct": 0}), "config.phase_loss_pct"),
        (_top(config={"pulse_wh": 500}), "config.pulse_wh"),
        (_top(config={"demand_subintervals": 7}), "config.demand_subintervals"),
        (_top(config={"demand_subinterval_s": 5}), "config.demand_subinterval_s"),
        (_top(config={"display_units": 2}), "config.display_units"),
        (_top(config={"modbus_address": 0}), "config.modbus_address"),
        (_top(config={"modbus_address": 248}), "config.modbus_address"),
        (_top(config={"baud": 9601}), "config.baud"),
        (_top(config={"parity": "X"}), "config.parity"),
        (_top(frontend={"bits": 9}), "frontend.bits"),
        (_top(frontend={"bits": 25}), "frontend.bits"),
        (_top(frontend={"fs_hz": 1999}), "frontend.fs_hz"),
        (_top(frontend={"noise_lsb": -0.1}), "frontend.noise_lsb"),
        ({"segments": [_seg(duration_s=0)]}, "segments[0].duration_s: must be > 0"),
        ({"segments": [_seg(duration_s=-1)]}, "segments[0].duration_s: must be > 0"),
        ({"segments": [_seg(frequency_hz=39.9)]}, "segments[0].frequency_hz: must be 40.0..70.0"),
        ({"segments": [_seg(frequency_hz=70.1)]}, "segments[0].frequency_hz"),
        ({"segments": [_seg(phases={"A": dict(ph, v_rms=-1)})]}, "segments[0].phases.A.v_rms: must be >= 0"),
        ({"segments": [_seg(phases={"A": dict(ph, i_rms=-1)})]}, "segments[0].phases.A.i_rms"),
        ({"segments": [_seg(harmonics=[dict(h, order=1)])]}, "segments[0].harmonics[0].order: must be 2..50"),
        ({"segments": [_seg(harmonics=[dict(h, order=51)])]}, "segments[0].harmonics[0].order"),
        ({"segments": [_seg(harmonics=[dict(h, v_pct=-1)])]}, "segments[0].harmonics[0].v_pct"),
        ({"segments": [_seg(harmonics=[dict(h, i_pct=-1)])]}, "segments[0].harmonics[0].i_pct"),
        ({"segments": [_seg(harmonics=[h, dict(h, v_pct=2)])]},
         "segments[0].harmonics[1].order: order 3 appears twice"),
    )
    for obj, msg in cases:
        got = _err(obj)
        assert got.startswith(msg), got


def test_reference_values():
    r = S.reference(S.parse(_wye()).segments[0])
    for k in range(3):
        assert abs(r["p"][k] - 2300.0 * math.cos(math.radians(30))) < 1e-9
        assert abs(r["q1"][k] - 1150.0) < 1e-9
        assert abs(r["v_rms"][k] - 230.0) < 1e-9
        assert abs(r["v_ll"][k] - 230.0 * math.sqrt(3)) < 1e-9
        assert abs(r["pf"][k] - math.cos(math.radians(30))) < 1e-12
    assert abs(r["s_total"] - 6900.0) < 1e-9 and r["frequency_hz"] == 50.0
    h = [{"order": 3, "v_pct": 10, "i_pct": 20, "deg": 15}]
    seg = S.parse(_wye(harmonics=h)).segments[0]
    r = S.reference(seg)
    p3 = 23.0 * 2.0 * math.cos(math.radians(90))
    assert abs(r["p"][0] - (2300.0 * math.cos(math.radians(30)) + p3)) < 1e-9
    assert abs(r["q1"][0] - 1150.0) < 1e-9  # harmonics add no Q1
    assert abs(r["v_rms"][1] - 230.0 * math.sqrt(1.01)) < 1e-9
    # balanced third harmonics are zero sequence: they cancel line to line
    assert abs(r["v_ll"][2] - 230.0 * math.sqrt(3)) < 1e-9
    # above fs/2 the synthesizer (an ideal anti-alias filter) drops it
    high = [{"order": 30, "v_pct": 10, "i_pct": 20, "deg": 0}]
    seg = S.parse(_wye(harmonics=high)).segments[0]
    assert abs(S.reference(seg, 2520)["v_rms"][0] - 230.0) < 1e-9
    assert S.reference(seg)["v_rms"][0] > 230.5


# ---- synthesis ---------------------------------------------------------------
def test_full_scale_matches_frontend():
    from frontend import FrontEnd
    fe = FrontEnd()
    assert abs(Y.V_FULL_SCALE_PEAK - fe.v_full_scale_peak()) < 1e-9
    assert abs(Y.I_FULL_SCALE_PEAK_PU - fe.i_full_scale_peak_pu()) < 1e-12


def test_rms_and_phase_angle():
    sy, buf = _run(_wye(), 2520)  # 1 s: whole cycles at 50 Hz
    rail = sy.rail
    for k in range(3):
        v = _chan(buf, k)
        i = _chan(buf, 3 + k)
        v_rms = _rms(v) * V_FS / rail
        i_rms = _rms(i) * Y.I_FULL_SCALE_PEAK_PU * 100 / rail
        assert abs(v_rms / 230.0 - 1) < 0.0005, v_rms
        assert abs(i_rms / 10.0 - 1) < 0.0005, i_rms
        s = 0
        for n in range(len(v)):
            s += v[n] * i[n]
        cos_phi = s / len(v) / (_rms(v) * _rms(i))
        assert abs(cos_phi - math.cos(math.radians(30))) < 1e-4, cos_phi


def test_pt_and_ct_scaling():
    sy, buf = _run(_wye(v=460.0, i=50.0, pt_ratio=2.0, ct_primary_a=200), 2520)
    v_rms = _rms(_chan(buf, 0)) * V_FS / sy.rail * 2.0
    i_rms = _rms(_chan(buf, 4)) * Y.I_FULL_SCALE_PEAK_PU * 200 / sy.rail
    assert abs(v_rms / 460.0 - 1) < 0.0005 and abs(i_rms / 50.0 - 1) < 0.0005


def _dft(xs, cycles):
    # complex amplitude (peak) of the component making `cycles` cycles in xs
    re = im = 0.0
    N = len(xs)
    for n in range(N):
        a = 2 * math.pi * cycles * n / N
        re += xs[n] * math.cos(a)
        im -= xs[n] * math.sin(a)
    return 2 * re / N, 2 * im / N


def test_harmonic_amplitude_and_power():
    h = [{"order": 3, "v_pct": 10, "i_pct": 20, "deg": 15}, {"order": 5, "v_pct": 4, "i_pct": 8, "deg": -40}]
    obj = _wye(harmonics=h)
    sy, buf = _run(obj, 504)  # 0.2 s: 10 cycles
    v = _chan(buf, 1)  # phase B: harmonic 3 at 3*(-120) + 15 degrees
    re, im = _dft(v, 30)
    peak = math.sqrt(2) * 23.0 / V_FS * sy.rail
    assert abs(math.sqrt(re * re + im * im) / peak - 1) < 1e-4
    want = math.radians(3 * -120 + 15)
    assert abs(math.atan2(im, re) - math.atan2(math.sin(want), math.cos(want))) < 1e-4
    i = _chan(buf, 3)  # phase A current, 5th: 8 % of 10 A at 5*(-30) - 40
    re, im = _dft(i, 50)
    peak = math.sqrt(2) * 0.8 / 100 / Y.I_FULL_SCALE_PEAK_PU * sy.rail
    assert abs(math.sqrt(re * re + im * im) / peak - 1) < 1e-3
    # real power from the codes matches the reference, harmonics included
    ref = S.reference(S.parse(obj).segments[0], 2520)
    va = _chan(buf, 0)
    s = 0
    for n in range(len(va)):
        s += va[n] * i[n]
    p = s / len(va) * (V_FS / sy.rail) * (Y.I_FULL_SCALE_PEAK_PU * 100 / sy.rail)
    assert abs(p / ref["p"][0] - 1) < 0.0005, (p, ref["p"][0])
    assert abs(_rms(va) * V_FS / sy.rail / ref["v_rms"][0] - 1) < 0.0005


def test_clipping_at_rail():
    sy, buf = _run(_wye(v=347.0 * 1.5, i=200.0), 252)
    rail = sy.rail
    for ch in range(6):
        xs = _chan(buf, ch)
        assert max(xs) == rail and min(xs) == -rail
        assert sum(1 for x in xs if abs(x) == rail) > 10
    # 110 % is inside the +20 % over-range: no code reaches the rail
    sy, buf = _run(_wye(v=347.0 * 1.1, i=110.0), 252)
    assert max(abs(x) for x in buf) < sy.rail


def _boundary_obj(d0):
    ph = {"A": {"v_rms": 300, "v_deg": 0, "i_rms": 50, "i_deg": 0}}
    return {"frontend": {"noise_lsb": 0}, "segments": [
        {"duration_s": d0, "frequency_hz": 50, "phases": ph},
        {"duration_s": 0.1, "phases": {}}]}


def test_segment_boundary_exact():
    # 0.1001 s is 252.25 frames: frames 0..252 are the first segment's
    sy, buf = _run(_boundary_obj(0.1001))
    assert sy.total_frames == 505 and sy.done
    assert sy.segment_index == 2
    va = _chan(buf, 0)
    amp = math.sqrt(2) * 300 / V_FS * sy.rail
    for n in (0, 126, 251, 252):
        want = amp * math.cos(2 * math.pi * 50 * n / 2520)
        assert abs(va[n] - want) <= 0.5 + 1e-6, (n, va[n], want)
    assert va[252] != 0 and _chan(buf, 3)[252] != 0
    assert max(abs(x) for x in buf[6 * 253:]) == 0
    # a boundary on a sample: 0.1 s = 252 frames, frame 252 is the second's
    sy, buf = _run(_boundary_obj(0.1))
    assert sy.total_frames == 504
    assert _chan(buf, 0)[251] != 0 and max(abs(x) for x in buf[6 * 252:]) == 0


def test_fill_chunks_end_and_state():
    obj = _boundary_obj(0.1001)
    _, whole = _run(obj)
    for chunk in (1, 7, 100, 253, 600):
        _, parts = _run(obj, chunk=chunk)
        assert parts == whole, chunk
    sy = Y.Synth(S.parse(obj))
    buf = array("i", bytes(24 * 400))
    assert sy.segment_index == 0 and not sy.done and sy.t == 0
    assert sy.fill(buf, 400) == 400
    assert sy.segment_index == 1 and abs(sy.t - 400 / 2520) < 1e-12
    assert sy.fill(buf, 400) == 105
    assert sy.done and sy.fill(buf, 400) == 0


def test_phase_continuous_across_segments():
    # 50 Hz for 0.0123 s, then 60 Hz: the second starts where the first ended
    ph = {"A": {"v_rms": 300, "v_deg": 0, "i_rms": 50, "i_deg": -60}}
    obj = {"frontend": {"noise_lsb": 0}, "segments": [
        {"duration_s": 0.0123, "frequency_hz": 50, "phases": ph},
        {"duration_s": 0.05, "frequency_hz": 60, "phases": ph}]}
    sy, buf = _run(obj)
    va = _chan(buf, 0)
    ia = _chan(buf, 3)
    amp = math.sqrt(2) * 300 / V_FS * sy.rail
    iamp = math.sqrt(2) * 0.5 / Y.I_FULL_SCALE_PEAK_PU * sy.rail
    th_b = 2 * math.pi * 50 * 0.0123
    for n in range(len(va)):
        t = n / 2520
        th = 2 * math.pi * 50 * t if t < 0.0123 else th_b + 2 * math.pi * 60 * (t - 0.0123)
        assert abs(va[n] - amp * math.cos(th)) <= 0.5 + 1e-6, n
        assert abs(ia[n] - iamp * math.cos(th - math.pi / 3)) <= 0.5 + 1e-6, n


def test_determinism_and_seed():
    obj = _wye(noise=2.0)
    _, a = _run(obj, 300, seed=7)
    _, b = _run(obj, 300, seed=7)
    _, c = _run(obj, 300, seed=8)
    assert a == b and a != c


def test_same_codes_on_every_runtime():
    # Same checksum on CPython and MicroPython: integer arithmetic after a
    # few float anchors per block, so the codes are bit-identical.
    h = [{"order": 3, "v_pct": 1.5, "i_pct": 8.0, "deg": 0}, {"order": 5, "v_pct": 1, "i_pct": 4, "deg": 30}]
    _, buf = _run(_wye(i_deg_a=161.81, v=277.0, i=40.0, freq=60.0, harmonics=h), 1000, seed=3)
    s = 0
    for x in buf:
        s = (s * 1000003 + x) & 0xFFFFFFFF
    assert s == CHECKSUM, s


CHECKSUM = 3975464538


def test_noise_rms_and_independence():
    obj = {"frontend": {"noise_lsb": 3.0, "bits": 16}, "segments": [{"duration_s": 1, "phases": {}}]}
    sy, buf = _run(obj)
    want = math.sqrt(9.0 + 1.0 / 12)  # noise plus rounding
    chans = [_chan(buf, ch) for ch in range(6)]
    for xs in chans:
        assert abs(_rms(xs) / want - 1) < 0.03, _rms(xs)
        assert abs(sum(xs) / len(xs)) < 0.2
    s = 0
    for n in range(len(chans[0])):
        s += chans[0][n] * chans[1][n]
    assert abs(s / len(chans[0]) / want ** 2) < 0.05
    # without noise an unwired channel is exactly zero
    obj["frontend"]["noise_lsb"] = 0
    _, buf = _run(obj, 100)
    assert max(abs(x) for x in buf) == 0
    # the constructor's overrides win over the file
    sy = Y.Synth(S.parse(obj), bits=12, fs=4000, noise_lsb=1.0)
    assert sy.rail == 2047 and sy.total_frames == 4000 and sy.noise_lsb == 1.0
