# Scenario files (docs: /work/shared/spec/scenario-format.md): load, check
# and fill in defaults, and the analytic values a meter should read for each
# segment. Portable: CPython 3.11 and the MicroPython unix port run it alike
# (only math and json; no f-strings, typing or dataclasses).
#
# Decisions where the format leaves room (keep them in this one place):
# * A phase needs all four of v_rms, v_deg, i_rms, i_deg: the format gives
#   them no default. A harmonic needs its order; v_pct, i_pct and deg left
#   out are 0 (no voltage or current at that order, no extra angle).
# * Harmonic order is an integer 2..50 (IEC 61000-4-7 stops at the 50th);
#   an order may appear once per segment.
# * Integer settings (the registers' UInt values, bits, fs_hz) must be whole
#   numbers; 100.0 is taken as 100, 100.5 is refused. pt_ratio may be any
#   number in range: the synthesizer uses it as given, the meter holds it x
#   100 in register 133 (so 1.732 is configured as 1.73).
# * "phases": {} is allowed: nothing wired (a blackout segment).
# * Only each key's own range is checked, not cross-key rules the meter
#   enforces itself (e.g. system voltage / PT ratio within 82..660 V), so a
#   scenario can exercise the meter's refusal.
# * Booleans are never numbers (CPython would take True as 1).

import json
import math

SYSTEM_TYPES = (10, 11, 12, 31, 40)
BAUDS = (1200, 2400, 4800, 9600, 19200, 38400)
PULSE_WH = (10, 100, 1000, 10000)
PHASES = ("A", "B", "C")
ORDER_MAX = 50
# What the virtual meter's firmware child (MicroPython, 4 MB heap) holds:
# the synthesizer plans every segment up front, and a parse of a big file
# leaves its heap too fragmented for the synthesizer's tables. Measured
# (tools/sim.py under -X heapsize=4M): 500 segments, 200 x 2 harmonics,
# 50 x 10 and 10 x 49 load; 550 x 0, 300 x 2 and 75 x 10 die of MemoryError.
# tools/sim.py refuses a scenario over these before it starts.
SEGMENTS_MAX = 200
HARMONICS_MAX = 500  # harmonic entries, all segments together

# config key -> (default, check); datasheet 'Standard Modbus Default Settings'
_INT, _NUM, _STR = "int", "num", "str"
_CONFIG = {
    "system_type": (40, (_INT, SYSTEM_TYPES)),  # 130
    "ct_primary_a": (100, (_INT, 5, 32000)),  # 131 (5 A: the DSP's floor)
    "ct_secondary_v": (1, (_INT, (1, 3))),  # 132
    "pt_ratio": (1.0, (_NUM, 0.01, 320.0)),  # 133 / 100
    "system_voltage_v": (600, (_INT, 82, 32000)),  # 134
    "phase_loss_pct": (10, (_INT, 1, 99)),  # 142
    "imbalance_pct": (25, (_INT, 1, 99)),  # 143
    "pulse_wh": (1000, (_INT, PULSE_WH)),  # 144
    "demand_subintervals": (1, (_INT, 1, 6)),  # 149
    "demand_subinterval_s": (900, (_INT, 0, 32767)),  # 150: 0 or 10..32767
    "display_units": (1, (_INT, (0, 1))),  # 137
    "modbus_address": (1, (_INT, 1, 247)),
    "baud": (19200, (_INT, BAUDS)),
    "parity": ("N", (_STR, ("N", "E", "O"))),
}
_FRONTEND = {
    "bits": (24, (_INT, 10, 24)),
    "noise_lsb": (0.5, (_NUM, 0.0, None)),
    "fs_hz": (2520, (_INT, 2000, 8000)),
}
_TOP_KEYS = ("name", "config", "frontend", "segments")
_SEGMENT_KEYS = ("duration_s", "frequency_hz", "phases", "harmonics")
_PHASE_KEYS = ("v_rms", "v_deg", "i_rms", "i_deg")
_HARMONIC_KEYS = ("order", "v_pct", "i_pct", "deg")


class ScenarioError(ValueError):
    pass


class Segment:
    def __init__(self, duration_s, frequency_hz, phases, harmonics):
        self.duration_s = duration_s
        self.frequency_hz = frequency_hz
        # 'A'/'B'/'C' -> (v_rms, v_deg, i_rms, i_deg); absent = not wired
        self.phases = phases
        # list of (order, v_pct, i_pct, deg), in file order
        self.harmonics = harmonics

    def __repr__(self):
        return "Segment(%r s, %r Hz, %r, %r)" % (
            self.duration_s, self.frequency_hz, self.phases, self.harmonics)


class Scenario:
    def __init__(self, name, config, frontend, segments):
        self.name = name
        self.config = config
        self.frontend = frontend
        self.segments = segments
        total = 0.0
        for s in segments:
            total += s.duration_s
        self.duration_s = total

    def __repr__(self):
        return "Scenario(%r, %d segments, %r s)" % (self.name, len(self.segments), self.duration_s)


# ---- loading ---------------------------------------------------------------
def load(path):
    try:
        with open(path) as f:
            text = f.read()
    except OSError as e:
        raise ScenarioError("%s: cannot read: %s" % (path, e)) from None
    base = path.rsplit("/", 1)[-1]
    if base.endswith(".json"):
        base = base[:-5]
    try:
        return parse(text, default_name=base)
    except ScenarioError as e:
        raise ScenarioError("%s: %s" % (path, e)) from None


def too_big(sc):
    """Why the virtual meter cannot hold sc, or None."""
    n = len(sc.segments)
    h = 0
    for seg in sc.segments:
        h += len(seg.harmonics)
    if n > SEGMENTS_MAX:
        return "%d segments; the virtual meter holds at most %d" % (n, SEGMENTS_MAX)
    if h > HARMONICS_MAX:
        return "%d harmonics in all; the virtual meter holds at most %d" % (h, HARMONICS_MAX)
    return None


def parse(obj, default_name="scenario"):
    """obj: JSON text or the already-decoded dict."""
    if isinstance(obj, (str, bytes)):
        try:
            obj = json.loads(obj)
        except ValueError as e:
            raise ScenarioError("not valid JSON: %s" % (e,)) from None
    top = _object(obj, "scenario", _TOP_KEYS)
    name = default_name
    if "name" in top:
        name = top["name"]
        if not isinstance(name, str):
            _fail("name", "must be a string, got %s" % _show(name))
    config = _table(top.get("config", {}), "config", _CONFIG)
    _check_pt_ratio(config["pt_ratio"])
    _check_subinterval(config["demand_subinterval_s"])
    frontend = _table(top.get("frontend", {}), "frontend", _FRONTEND)
    frontend["noise_lsb"] = float(frontend["noise_lsb"])
    if "segments" not in top:
        _fail("scenario", "missing required key 'segments'")
    raw = top["segments"]
    if not isinstance(raw, list):
        _fail("segments", "must be a list, got %s" % _show(raw))
    if not raw:
        _fail("segments", "needs at least one segment")
    segments = [_segment(raw[i], "segments[%d]" % i) for i in range(len(raw))]
    return Scenario(name, config, frontend, segments)


def _fail(path, msg):
    raise ScenarioError("%s: %s" % (path, msg))


def _show(v):
    if v is None:
        return "null"
    if v is True or v is False:
        return "a boolean (%s)" % ("true" if v else "false")
    if isinstance(v, dict):
        return "an object"
    if isinstance(v, list):
        return "a list"
    return repr(v)


def _object(obj, path, allowed):
    if not isinstance(obj, dict):
        _fail(path, "must be an object, got %s" % _show(obj))
    for k in sorted(obj):
        if k not in allowed:
            _fail(path, "unknown key %r (allowed: %s)" % (k, ", ".join(allowed)))
    return obj


def _is_int(v):
    return type(v) is int


def _is_num(v):
    return (type(v) is int or type(v) is float) and math.isfinite(v)


def _value(v, path, check):
    kind = check[0]
    if kind == _STR:
        if not isinstance(v, str):
            _fail(path, "must be a string, got %s" % _show(v))
    elif kind == _INT:
        if type(v) is float and _is_num(v) and v == int(v):
            v = int(v)
        if not _is_int(v):
            _fail(path, "must be an integer, got %s" % _show(v))
    elif not _is_num(v):
        _fail(path, "must be a number, got %s" % _show(v))
    if len(check) == 2:
        if v not in check[1]:
            _fail(path, "must be one of %s, got %s" % (", ".join([repr(x) for x in check[1]]), _show(v)))
        return v
    lo, hi = check[1], check[2]
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        if hi is None:
            _fail(path, "must be >= %r, got %r" % (lo, v))
        _fail(path, "must be %r..%r, got %r" % (lo, hi, v))
    return v


def _table(obj, path, spec):
    obj = _object(obj, path, sorted(spec))
    out = {}
    for key in spec:
        default, check = spec[key]
        out[key] = _value(obj[key], path + "." + key, check) if key in obj else default
    return out


def _check_pt_ratio(r):
    if round(r * 100.0) < 1:
        _fail("config.pt_ratio", "rounds to 0 in register 133 (ratio x 100), got %r" % r)


def _check_subinterval(s):
    if 0 < s < 10:
        _fail("config.demand_subinterval_s", "must be 0 or 10..32767, got %r" % s)


def _required(obj, path, key):
    if key not in obj:
        _fail(path, "missing required key %r" % key)
    return obj[key]


def _positive(v, path):
    if not _is_num(v):
        _fail(path, "must be a number, got %s" % _show(v))
    if not v > 0:
        _fail(path, "must be > 0, got %r" % v)
    return v


def _segment(obj, path):
    obj = _object(obj, path, _SEGMENT_KEYS)
    dur = _positive(_required(obj, path, "duration_s"), path + ".duration_s")
    freq = 60.0
    if "frequency_hz" in obj:
        freq = _value(obj["frequency_hz"], path + ".frequency_hz", (_NUM, 40.0, 70.0))
    phases = _object(_required(obj, path, "phases"), path + ".phases", PHASES)
    wired = {}
    for name in PHASES:
        if name in phases:
            wired[name] = _phase(phases[name], path + ".phases." + name)
    harmonics = obj.get("harmonics", [])
    hpath = path + ".harmonics"
    if not isinstance(harmonics, list):
        _fail(hpath, "must be a list, got %s" % _show(harmonics))
    hs = []
    seen = []
    for i in range(len(harmonics)):
        h = _harmonic(harmonics[i], "%s[%d]" % (hpath, i))
        if h[0] in seen:
            _fail("%s[%d].order" % (hpath, i), "order %d appears twice" % h[0])
        seen.append(h[0])
        hs.append(h)
    return Segment(float(dur), float(freq), wired, hs)


def _phase(obj, path):
    obj = _object(obj, path, _PHASE_KEYS)
    out = []
    for key in _PHASE_KEYS:
        v = _required(obj, path, key)
        lo = 0.0 if key.endswith("_rms") else None
        out.append(float(_value(v, path + "." + key, (_NUM, lo, None))))
    return tuple(out)


def _harmonic(obj, path):
    obj = _object(obj, path, _HARMONIC_KEYS)
    order = _value(_required(obj, path, "order"), path + ".order", (_INT, 2, ORDER_MAX))
    v_pct = _value(obj.get("v_pct", 0.0), path + ".v_pct", (_NUM, 0.0, None))
    i_pct = _value(obj.get("i_pct", 0.0), path + ".i_pct", (_NUM, 0.0, None))
    deg = _value(obj.get("deg", 0.0), path + ".deg", (_NUM, None, None))
    return (order, float(v_pct), float(i_pct), float(deg))


# ---- analytic reference ----------------------------------------------------
def components(segment, fs_hz=None):
    """Per phase index 0..2, the list of (order, v_peak_phasor, i_peak_phasor)
    with phasors as (re, im) in primary volts/amps rms, the fundamental
    first. With fs_hz, components at or above fs/2 are left out: the
    synthesizer models an ideal anti-alias filter there."""
    out = []
    for k in range(3):
        p = segment.phases.get(PHASES[k])
        comps = []
        if p is not None:
            v, vd, i, idg = p
            comps.append((1, _polar(v, vd), _polar(i, idg)))
            for order, v_pct, i_pct, deg in segment.harmonics:
                if fs_hz is not None and order * segment.frequency_hz >= 0.5 * fs_hz:
                    continue
                comps.append((order, _polar(v * v_pct / 100.0, order * vd + deg),
                              _polar(i * i_pct / 100.0, order * idg + deg)))
        out.append(comps)
    return out


def _polar(mag, deg):
    r = math.radians(deg)
    return (mag * math.cos(r), mag * math.sin(r))


def reference(segment, fs_hz=None):
    """What an ideal meter reads for one segment (primary side). Lists are
    per phase A, B, C (0.0 where not wired); v_ll is A-B, B-C, C-A.
      v_rms, i_rms   true rms, harmonics included
      v1_rms, i1_rms fundamental only
      p              real power, every component: sum V_h I_h cos(h(v_deg - i_deg))
      q1             fundamental reactive power V1 I1 sin(v_deg - i_deg)
                     (IEEE 1459 Q1; harmonics' reactive power is not included)
      s              apparent power per phase, v_rms * i_rms
      pf             p / s (1.0 when s is 0), signed like p
      p_total, q1_total, s_total = sqrt(p_total**2 + q1_total**2) (the
      vector sum, as register 23), pf_total, frequency_hz.
    fs_hz: leave out components at or above fs/2, as the synthesizer does."""
    comps = components(segment, fs_hz)
    r = {"frequency_hz": segment.frequency_hz}
    keys = ("v_rms", "i_rms", "v1_rms", "i1_rms", "p", "q1", "s", "pf")
    for key in keys:
        r[key] = [0.0, 0.0, 0.0]
    for k in range(3):
        vv = ii = p = 0.0
        for c in comps[k]:
            order, vp, ip = c
            vv += vp[0] * vp[0] + vp[1] * vp[1]
            ii += ip[0] * ip[0] + ip[1] * ip[1]
            # Re(V conj(I)): V_h I_h cos(angle difference)
            p += vp[0] * ip[0] + vp[1] * ip[1]
            if order == 1:
                r["v1_rms"][k] = math.sqrt(vp[0] * vp[0] + vp[1] * vp[1])
                r["i1_rms"][k] = math.sqrt(ip[0] * ip[0] + ip[1] * ip[1])
                r["q1"][k] = vp[1] * ip[0] - vp[0] * ip[1]
        r["v_rms"][k] = math.sqrt(vv)
        r["i_rms"][k] = math.sqrt(ii)
        r["p"][k] = p
        s = r["v_rms"][k] * r["i_rms"][k]
        r["s"][k] = s
        r["pf"][k] = p / s if s > 0.0 else 1.0
    r["v_ll"] = [_ll_rms(comps[k], comps[(k + 1) % 3]) for k in range(3)]
    pt = r["p"][0] + r["p"][1] + r["p"][2]
    qt = r["q1"][0] + r["q1"][1] + r["q1"][2]
    st = math.sqrt(pt * pt + qt * qt)
    r["p_total"] = pt
    r["q1_total"] = qt
    r["s_total"] = st
    r["pf_total"] = pt / st if st > 0.0 else 1.0
    return r


def _ll_rms(a, b):
    # components of different orders are orthogonal: add per order, then rms
    by_order = {}
    for order, vp, _ in a:
        by_order[order] = [vp[0], vp[1]]
    for order, vp, _ in b:
        d = by_order.setdefault(order, [0.0, 0.0])
        d[0] -= vp[0]
        d[1] -= vp[1]
    s = 0.0
    for order in by_order:
        d = by_order[order]
        s += d[0] * d[0] + d[1] * d[1]
    return math.sqrt(s)
