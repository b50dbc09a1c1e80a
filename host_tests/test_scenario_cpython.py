"""Scenario loader and synthesizer: the checks that need CPython (pytest,
hypothesis, subprocess). The portable ones are in
portable/test_scenario_synth.py."""

import copy
import glob
import json
import os
import subprocess
from array import array

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import scenario as S
import synth as Y

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# the project's own copies of the spec's examples (make sim works from any clone)
SHIPPED = os.path.join(ROOT, "tools", "scenarios")
SCENARIOS = sorted(p for p in glob.glob(os.path.join(SHIPPED, "*.json"))
                   if not p.endswith("default.json")) + [os.path.join(SHIPPED, "default.json")]
SPEC_DIR = os.path.join(ROOT, "..", "shared", "spec", "scenarios")


def test_the_spec_examples_ship_with_the_project():
    names = ["delta-480V.json", "split-phase-120V.json", "wye-230V-lag30.json", "wye-277V-export.json"]
    assert [os.path.basename(p) for p in SCENARIOS[:-1]] == names
    if not os.path.isdir(SPEC_DIR):
        pytest.skip("the spec (../shared/spec/scenarios) is not beside this clone: copies not compared")
    for name in names:
        with open(os.path.join(SPEC_DIR, name), "rb") as a, open(os.path.join(SHIPPED, name), "rb") as b:
            assert a.read() == b.read(), name
MP = os.path.join(ROOT, ".venv", "bin", "micropython")


@pytest.mark.parametrize("path", SCENARIOS, ids=os.path.basename)
def test_every_scenario_loads_and_plays(path):
    sc = S.load(path)
    sy = Y.Synth(sc)
    buf = array("i", bytes(24 * 2520))
    assert sy.fill(buf, 2520) == 2520
    assert max(abs(x) for x in buf) < sy.rail  # the examples are in range
    for seg in sc.segments:
        r = S.reference(seg, sy.fs)
        assert r["s_total"] > 0


def test_load_names_file_and_errors(tmp_path):
    p = tmp_path / "odd.json"
    p.write_text(json.dumps({"segments": [{"duration_s": 1, "phases": {"A": {"vrms": 1}}}]}))
    with pytest.raises(S.ScenarioError, match=r"odd\.json: segments\[0\]\.phases\.A: unknown key 'vrms'"):
        S.load(str(p))
    p.write_text('{"segments": [}')
    with pytest.raises(S.ScenarioError, match=r"odd\.json: not valid JSON"):
        S.load(str(p))
    p.write_text(json.dumps({"segments": [{"duration_s": 1, "phases": {}}]}))
    assert S.load(str(p)).name == "odd"
    with pytest.raises(S.ScenarioError, match="cannot read"):
        S.load(str(tmp_path / "missing.json"))
    with pytest.raises(ValueError):  # ScenarioError is a ValueError
        S.parse("[]")


def test_bad_overrides():
    sc = S.parse({"segments": [{"duration_s": 1, "phases": {}}]})
    for kw in ({"bits": 8}, {"fs": 100}, {"fs": 2520.0}, {"noise_lsb": -1}):
        with pytest.raises(ValueError):
            Y.Synth(sc, **kw)


_BASE = {
    "config": {"system_type": 40, "ct_primary_a": 100},
    "frontend": {"bits": 24},
    "segments": [{"duration_s": 1, "frequency_hz": 50, "phases": {
        "A": {"v_rms": 230, "v_deg": 0, "i_rms": 10, "i_deg": -30}},
        "harmonics": [{"order": 3, "v_pct": 1, "i_pct": 2, "deg": 0}]}],
}
_LEAVES = [("config", "system_type"), ("config", "ct_primary_a"), ("frontend", "bits"),
           ("segments", 0, "duration_s"), ("segments", 0, "frequency_hz"),
           ("segments", 0, "phases", "A", "v_rms"), ("segments", 0, "phases", "A", "i_deg"),
           ("segments", 0, "harmonics", 0, "order"), ("segments", 0, "harmonics", 0, "v_pct")]
_JUNK = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6),
                  st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=3),
                  st.lists(st.integers(), max_size=2),
                  st.dictionaries(st.text(max_size=2), st.integers(), max_size=2))


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(_LEAVES), _JUNK)
def test_any_value_is_accepted_or_refused_cleanly(leaf, value):
    obj = copy.deepcopy(_BASE)
    node = obj
    for k in leaf[:-1]:
        node = node[k]
    node[leaf[-1]] = value
    path = ""
    for k in leaf:
        path += "[%d]" % k if isinstance(k, int) else ("." if path else "") + k
    try:
        S.parse(obj)
    except S.ScenarioError as e:
        # refused, and the message names where the bad value sits
        assert str(e).startswith(path + ": "), (path, str(e))


_MP_SCRIPT = """
import sys
sys.path.insert(0, %r)
from array import array
import scenario, synth
for path in %r:
    sy = synth.Synth(scenario.load(path), seed=5)
    buf = array('i', bytes(24 * 2520))
    s = 0
    for _ in range(3):
        sy.fill(buf, 2520)
        for x in buf:
            s = (s * 1000003 + x) & 0xFFFFFFFF
    print(s)
"""


@pytest.mark.skipif(not os.path.exists(MP), reason="no micropython binary (make venv)")
def test_bit_identical_with_micropython():
    script = _MP_SCRIPT % (os.path.join(ROOT, "tools"), SCENARIOS)
    out = subprocess.run([MP, "-c", script], capture_output=True, text=True, timeout=60, check=True).stdout
    got = [int(x) for x in out.split()]
    want = []
    for path in SCENARIOS:
        sy = Y.Synth(S.load(path), seed=5)
        buf = array("i", bytes(24 * 2520))
        s = 0
        for _ in range(3):
            sy.fill(buf, 2520)
            for x in buf:
                s = (s * 1000003 + x) & 0xFFFFFFFF
        want.append(s)
    assert got == want


def test_dsp_reads_what_reference_says():
    # the consumer agrees with the synthesizer's scaling (loose: this checks
    # conventions, the DSP's accuracy has its own tests)
    from dsp import Dsp
    from frontend import FrontEnd
    from readings import R_I, R_P, R_VLL, R_VLN

    sc = S.load(SCENARIOS[-1])
    sy = Y.Synth(sc)
    d = Dsp(FrontEnd(sy.bits, sy.fs, sy.noise_lsb))
    c = sc.config
    d.configure(c["system_type"], c["ct_primary_a"], c["ct_secondary_v"], c["pt_ratio"])
    buf = array("i", bytes(24 * 2520))
    for _ in range(2):
        sy.fill(buf, 2520)
        d.process(buf)
    ref = S.reference(sc.segments[0], sy.fs)
    for k in range(3):
        assert d.readings[R_VLN + k] == pytest.approx(ref["v_rms"][k], rel=1e-3)
        assert d.readings[R_VLL + k] == pytest.approx(ref["v_ll"][k], rel=1e-3)
        assert d.readings[R_I + k] == pytest.approx(ref["i_rms"][k], rel=1e-3)
        assert d.readings[R_P + k] == pytest.approx(ref["p"][k], rel=1e-3)
