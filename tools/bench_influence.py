"""The IEC 62053-22 influence tests and the accuracy certificate
(`make bench`; issue 12 items 4 and 5; reasoning in docs/accuracy.md).

Every point is a scenario (../shared/spec/scenario-format.md) synthesized by
tools/synth.py and measured by the firmware's own DSP (firmware/dsp.py and
its viper kernel, run under CPython: bit-identical to the RP2040,
host_tests/test_cross_runtime.py) behind the board's front-end path:

  ads24    the reference board: 24-bit codes packed into ADS131M06 SPI
           frames (status, six codes, CRC) and unpacked by the driver's own
           CRC check and decode (boards/drivers/ads131m06.py _decode)
  16-bit   a 16-bit converter: the codes as they are
  onboard  the RP2040's 12-bit ADC (boards/pico_onboard.py): V and I
           sampled in turn at 2 fs, biased at mid-rail, unpacked by the
           driver's own _take (boards/drivers/rp2040_adc.py); single phase,
           system type 10, not revenue-grade

For each point it reports, beside the targets of issue 12 (TARGETS), the
worst error over the measured seconds and the present phases of the
per-second readings P, Q, S, V, I, PF, the totals, and the error of the real
energy billed over the whole run. `python tools/bench_influence.py` runs it
alone; `--quick` runs a few points of each test.
"""

import argparse
import binascii
import csv
import json
import math
import os
import sys
from array import array
from multiprocessing import Pool

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for _sub in ("tools", "boards", "firmware", "host_tests/fakes"):
    _p = os.path.join(ROOT, _sub)
    if _p not in sys.path:
        sys.path.insert(0, _p)

import calibrate  # noqa: E402
import dsp_kernel as K  # noqa: E402
import readings as R  # noqa: E402
import scenario  # noqa: E402
from dsp import Dsp  # noqa: E402
from frontend import FrontEnd  # noqa: E402
from synth import Synth  # noqa: E402

CT = 100  # A: nominal current In (the CT's rating)
IMAX_PCT = 120  # Imax = 120 % of In (the datasheet's +20 % over-range)
VLN = 230.0  # reference voltage Un, L-N
F_NOM = 50.0
FS_BOARD = 2500  # the reference board's rate (boards/pico_ads131m06.py)
FS_SPEC = 2520  # the scenario format's default
PF_LAG = {"1": 0.0, "0.5i": 60.0, "0.8c": -36.86989764584402}  # current lag, degrees
CURRENTS = (1, 2, 5, 10, 20, 50, 100, 120)  # % of In

# ---- the standard's limits -------------------------------------------------
# IEC 62053-22:2003 Table 4 (class 0.2S, balanced load, transformer
# operated): percentage error limits. (lo, hi, limit) over lo <= I% < hi;
# the last row of each runs to Imax inclusive. PF 0.5 ind / 0.8 cap are
# defined from 2 % of In only.
CLASS_02S = {
    "1": ((1, 5, 0.4), (5, IMAX_PCT, 0.2)),
    "0.5i": ((2, 10, 0.5), (10, IMAX_PCT, 0.3)),
    "0.8c": ((2, 10, 0.5), (10, IMAX_PCT, 0.3)),
}


def class_02s_limit(i_pct, pf):
    """The class 0.2S error limit in % at i_pct % of In and power factor pf
    ('1', '0.5i', '0.8c'); None where the table defines none."""
    rows = CLASS_02S[pf]
    for lo, hi, lim in rows:
        if lo <= i_pct < hi or (i_pct == hi == rows[-1][1]):
            return lim
    return None


# IEC 62053-22:2003 Table 8, class 0.2S: limits of variation of the error
# (in %) an influence quantity may cause, at PF 1 and PF 0.5 ind.
VARIATION_02S = {
    "voltage": {"1": 0.1, "0.5i": 0.2},  # +-10 % of Un
    "frequency": {"1": 0.1, "0.5i": 0.1},  # +-2 % of fn
    "reversed": {"1": 0.05},  # reversed phase sequence
    "interrupted": {"1": 0.5},  # voltage unbalance: one or two phases interrupted
    "harmonics": {"1": 0.4},  # 10 % V5, 40 % I5 at 50 % Imax
}

# issue 12 'Targets'
TARGETS = {
    "readings_pct": 0.05,  # P, Q, S, V, I per second, 24-bit
    "pf_abs": 0.001,  # PF per second, 24-bit
    "energy_pct": 0.1,  # real energy, 24-bit (16-bit: class 0.2S)
    "q1_pct_of_s1": 0.2,  # Q with up to 40 % I THD and 10 % V THD
    "float32_pct": 0.005,  # float32 once-a-second path against double
}

# ---- the points --------------------------------------------------------------
FRONTENDS = {"ads24": 24, "16-bit": 16, "onboard": 12}


def point(test, fe="ads24", fs=FS_BOARD, f=F_NOM, v_pct=100.0, i_pct=100.0, pf="1", harmonics=(),
          phases="ABC", reversed_seq=False, export=False, noise_lsb=0.5, errors=None, calibrate=None,
          seconds=3, settle=2, x=None):
    """One test point. errors: the front end's gain, phase and offset errors
    (tools/synth.py); calibrate: run the calibration path first (default:
    when there are errors, and always on the onboard ADC)."""
    if calibrate is None:
        calibrate = errors is not None or fe == "onboard"
    return dict(test=test, fe=fe, fs=fs, f=f, v_pct=v_pct, i_pct=i_pct, pf=pf, harmonics=list(harmonics),
                phases=phases, reversed=reversed_seq, export=export, noise_lsb=noise_lsb, errors=errors,
                calibrate=calibrate,
                seconds=seconds, settle=settle, x=i_pct if x is None else x)


def phase_fired_harmonics(fire_deg=90.0, top=49):
    """The current of a phase-angle-fired load (a thyristor firing at
    fire_deg of each half cycle of a sine) as harmonics of its
    fundamental: [(order, pct, deg)] for the scenario format (whose
    harmonic h sits at h x i_deg + deg), and the fundamental's share of
    the rms and its lag in degrees. Integrated numerically, 3600 steps."""
    n = 3600
    a = math.radians(fire_deg)
    coef = {}
    for h in range(1, top + 1, 2):
        re = im = 0.0
        for j in range(n):
            th = 2 * math.pi * (j + 0.5) / n
            half = th % math.pi
            w = math.sin(th) if half >= a else 0.0
            re += w * math.cos(h * th)
            im += w * math.sin(h * th)
        coef[h] = (2 * re / n, 2 * im / n)  # w = sum re cos(h th) + im sin(h th)
    # as cos(h th + phi_h): amplitude A_h, phi_h = atan2(-im, re)
    amp = {h: math.hypot(*coef[h]) for h in coef}
    phi = {h: math.atan2(-coef[h][1], coef[h][0]) for h in coef}
    rms_total = math.sqrt(sum(v * v for v in amp.values()) / 2)
    # the fundamental at angle phi_1 relative to the voltage's sine... both
    # voltage and current are sines here; the scenario uses cosines for both,
    # so the fundamental current leads the voltage by phi_1 - (-90 deg).
    lag1 = -math.degrees(phi[1] + math.pi / 2)
    harm = []
    for h in sorted(amp):
        if h == 1 or amp[h] < 1e-4 * amp[1]:
            continue
        deg = math.degrees(phi[h] - h * phi[1])
        harm.append((h, 100.0 * amp[h] / amp[1], deg))
    return harm, (amp[1] / math.sqrt(2)) / rms_total, lag1


def crest_factor_3():
    """A current of crest factor 3: the fundamental and the 3rd, 5th, 7th
    and 9th harmonics at half its amplitude, all peaking together: peak
    sqrt2 (1 + 4 x 0.5) = 3 sqrt2, rms sqrt(1 + 4 x 0.25) = sqrt2 (in
    units of the fundamental's rms). Returns [(order, pct, deg)] and the
    fundamental's share of the rms (1/sqrt2)."""
    return [(h, 50.0, 0.0) for h in (3, 5, 7, 9)], 1.0 / math.sqrt(2.0)


def points(quick=False):
    """Every point of every influence test (the certificate's panels)."""
    pts = []
    cur = (1, 5, 100) if quick else CURRENTS
    pfs = ("1", "0.5i", "0.8c")
    # 1-120 % of In at PF 1, 0.5 ind, 0.8 cap, for each front end and rate
    for fe, fs in (("ads24", FS_BOARD), ("ads24", FS_SPEC), ("16-bit", FS_BOARD), ("onboard", FS_BOARD)):
        for pf in pfs:
            if fe == "onboard" and pf != "1" and quick:
                continue
            for i in cur:
                if fe == "onboard":  # one phase; the ADC's own noise (ENOB ~8.7 of 12 bits)
                    pts.append(point("current", fe=fe, fs=fs, i_pct=i, pf=pf, phases="A", noise_lsb=2.8))
                else:
                    pts.append(point("current", fe=fe, fs=fs, i_pct=i, pf=pf))
    infl = (5, 100) if quick else (5, 10, 50, 100, 120)
    for pf in pfs:  # export: the same points with the power flowing out
        for i in infl:
            pts.append(point("export", i_pct=i, pf=pf, export=True))
    for f in (49.0, 51.0):  # +-2 % of 50 Hz
        for pf in ("1", "0.5i"):
            for i in infl:
                pts.append(point("frequency", f=f, i_pct=i, pf=pf))
    for v in (90.0, 110.0):
        for pf in ("1", "0.5i"):
            for i in infl:
                pts.append(point("voltage", v_pct=v, i_pct=i, pf=pf))
    for pf in ("1", "0.5i"):
        for i in infl:
            pts.append(point("reversed", i_pct=i, pf=pf, reversed_seq=True))
            pts.append(point("interrupted", i_pct=i, pf=pf, phases="AB"))
            pts.append(point("interrupted", i_pct=i, pf=pf, phases="A"))
    # 10 % V5 and 40 % I5 at 50 % of Imax (PF 1 is the standard's; 0.5 ind
    # shows Q1), and at the frequency range's ends
    h5 = [(5, 10.0, 40.0, 0.0)]
    i_h5 = 0.5 * IMAX_PCT / math.sqrt(1 + 0.4 ** 2)  # the rms is 50 % of Imax
    for f in ((50.0,) if quick else (45.0, 50.0, 60.0, 65.0)):
        for pf in ("1", "0.5i"):
            pts.append(point("harmonics", f=f, i_pct=i_h5, pf=pf, harmonics=h5, x=0.5 * IMAX_PCT))
    fired, share, lag1 = phase_fired_harmonics()
    for i in ((50,) if quick else (10, 50, 100, 120)):
        harm = [(h, 0.0, pct, deg) for h, pct, deg in fired]
        pts.append(point("odd harmonics", i_pct=i * share, pf="fired", harmonics=harm, x=i,
                         errors=None) | {"lag": lag1})
    cf, share = crest_factor_3()
    # and at 150 % (beyond Imax): clipped, whatever the headroom, so the
    # over-range flag of every clipped sample is tested
    for i in ((120, 150) if quick else (10, 50, 100, 120, 150)):
        harm = [(h, 0.0, pct, deg) for h, pct, deg in cf]
        pts.append(point("crest factor 3", i_pct=i * share, pf="1", harmonics=harm, x=i))
    # 30 LSB rms of noise at 24 bits, front-end gain, phase and offset errors
    # corrected by the calibration path (calibrate.py's solve, 7201-7209)
    err = {"gain": (1.007, 0.995, 1.003, 0.989, 1.009, 1.004), "phase_deg": (0.3, -0.2, 0.5),
           "offset": (0.004, -0.003, 0.002, 0.005, -0.004, 0.003)}
    for pf in pfs:
        for i in cur:
            pts.append(point("noise + calibration", i_pct=i, pf=pf, noise_lsb=30.0, errors=err))
    # every 0.05 Hz from 45 to 65 Hz at 100 % In, PF 0.5 ind, at both rates
    step = 1.0 if quick else 0.05
    n = int(round(20.0 / step))
    for fs in (FS_BOARD, FS_SPEC):
        for j in range(n + 1):
            f = round(45.0 + j * step, 2)
            pts.append(point("frequency sweep", fs=fs, f=f, pf="0.5i", x=f))
    return pts


# ---- a point's scenario and reference --------------------------------------
def lag_deg(pt):
    return pt["lag"] if pt["pf"] == "fired" else PF_LAG[pt["pf"]]


def make_scenario(pt, seconds=None):
    lag = lag_deg(pt)
    v = VLN * pt["v_pct"] / 100.0
    i = CT * pt["i_pct"] / 100.0
    order = (("A", 0.0), ("B", 120.0), ("C", -120.0)) if pt["reversed"] else \
        (("A", 0.0), ("B", -120.0), ("C", 120.0))
    phases = {}
    for name, vdeg in order:
        if name in pt["phases"]:
            # export: the current reversed (the energy flows to the network)
            phases[name] = {"v_rms": v, "v_deg": vdeg, "i_rms": i,
                            "i_deg": vdeg - lag + (180.0 if pt["export"] else 0.0)}
    # a tenth of a second beyond the last measured one: a front-end path
    # that holds a frame back (the onboard ADC's interpolation) still closes it
    dur = (pt["settle"] + pt["seconds"] if seconds is None else seconds) + 0.1
    seg = {"duration_s": dur, "frequency_hz": pt["f"], "phases": phases,
           "harmonics": [{"order": h, "v_pct": vp, "i_pct": ip, "deg": d}
                         for h, vp, ip, d in pt["harmonics"]]}
    onboard = pt["fe"] == "onboard"
    return {"name": pt["test"], "config": {"system_type": 10 if onboard else 40, "ct_primary_a": CT,
                                           "system_voltage_v": 230 if onboard else 400},
            "frontend": {"bits": FRONTENDS[pt["fe"]], "noise_lsb": pt["noise_lsb"], "fs_hz": pt["fs"]},
            "segments": [seg]}


# ---- front-end paths: codes as the firmware receives them ------------------
class Ads131Path:
    """24-bit codes through the ADS131M06 driver's frame CRC check and decode:
    each frame is packed as the converter sends it (status word, six 24-bit
    two's-complement codes, CRC-16-CCITT), then unpacked by the driver."""

    def __init__(self, fs):
        from drivers import ads131m06 as ads

        class _Pin:
            def value(self, v=None):
                return 1

        class _Dma:
            def active(self, v=None):
                return 0

        self.ads = ads
        self.adc = ads.ADS131M06(None, _Pin(), _Pin(), None, [_Dma() for _ in range(4)], None,
                                 clkin=fs * 2 * 1024,
                                 sleep_ms=lambda ms: None)
        self.out = array("i", bytes(24 * 256))
        self.crc_errors = 0

    def convert(self, codes, n):
        ring = self.adc.ring
        fb = self.ads.FRAME_BYTES
        for f in range(n):
            p = f * fb
            frame = bytearray(fb)
            for ch in range(6):
                frame[3 + 3 * ch: 6 + 3 * ch] = (codes[6 * f + ch] & 0xFFFFFF).to_bytes(3, "big")
            crc = binascii.crc_hqx(bytes(frame[:21]), 0xFFFF)
            frame[21] = crc >> 8
            frame[22] = crc & 0xFF
            ring[p:p + fb] = frame
        self.adc.st[self.ads._S_RSLOT] = 0
        good = self.ads._decode(ring, n, self.out, self.adc._crc_tab, self.adc.st)
        self.crc_errors += n - good
        return self.out, good

    def clip_mask(self):
        # the channels the driver's decode found at the rail, if it looks
        take = getattr(self.adc, "take_clip_mask", None)
        return take() if take is not None else 0


class DirectPath:
    """A converter whose codes reach the DSP as they are (16 bits); its
    decode would see a code at the rail as the ADS131M06 driver's does."""

    def __init__(self, rail):
        self.rail = rail
        self._mask = 0

    def convert(self, codes, n):
        rail = self.rail
        for k in range(6 * n):
            if codes[k] >= rail or codes[k] <= -rail:
                self._mask |= 1 << (k % 6)
        return codes, n

    def clip_mask(self):
        m = self._mask
        self._mask = 0
        return m


class OnboardPath:
    """The RP2040 ADC: voltage and current converted in turn at 2 fs (V, I,
    V, I, ...), 12-bit unsigned around the mid-rail bias; the driver's
    _take makes each frame's voltage the mean of the two voltage samples
    around its current sample. Fed from frames synthesized at 2 fs: the
    even ones give the voltage sample, the odd ones the current sample."""

    DEPTH = 512

    def __init__(self):
        from drivers import rp2040_adc as adc

        self.adc = adc
        self.st = array("i", bytes(4 * adc._S_LEN))
        self.st[adc._S_DEPTH] = self.DEPTH
        self.st[adc._S_WINDOW] = self.DEPTH * 64
        self.st[adc._S_BIAS] = 2048
        self.st[adc._S_LIMIT] = 1 << 30
        self.ring = array("H", bytes(4 * self.DEPTH))
        self.out = array("i", bytes(24 * self.DEPTH))
        self.pending = []  # raw samples V, I, V, ... not yet in a frame
        self.count = 0  # synthesized frames seen

    def convert(self, codes2, n2):
        pend = self.pending
        for j in range(n2):
            ch = 0 if (self.count + j) % 2 == 0 else 3
            pend.append((codes2[6 * j + ch] + 2048) & 0xFFF)
        self.count += n2
        nfr = (len(pend) - 1) // 2  # frame k needs samples 2k, 2k+1, 2k+2
        ring = self.ring
        for k in range(2 * nfr + 1):
            ring[k] = pend[k]
        self.st[self.adc._S_RSLOT] = 0
        self.adc._take(ring, nfr, self.out, self.st)
        self.pending = pend[2 * nfr:]
        return self.out, nfr

    def clip_mask(self):
        return 0  # the RP2040 ADC's driver does not look for its rail


# ---- measuring one point -----------------------------------------------------
def _new_dsp(pt):
    bits = FRONTENDS[pt["fe"]]
    dsp = Dsp(FrontEnd(bits, pt["fs"]))
    dsp.configure(10 if pt["fe"] == "onboard" else 40, CT, 1, 1.0)
    return dsp


def _path(pt):
    if pt["fe"] == "ads24":
        return Ads131Path(pt["fs"])
    if pt["fe"] == "onboard":
        return OnboardPath()
    return DirectPath((1 << (FRONTENDS[pt["fe"]] - 1)) - 1)


def feed(pt, sc_dict, dsp, seed=7, on_block=None):
    """Play a scenario through the point's front-end path into dsp.
    Returns (frames fed to the DSP, clipped codes per channel)."""
    onboard = pt["fe"] == "onboard"
    syn_fs = 2 * pt["fs"] if onboard else pt["fs"]
    syn = Synth(scenario.parse(sc_dict), seed=seed, fs=syn_fs, errors=pt["errors"])
    path = _path(pt)
    rail = syn.rail
    block = 252 if not onboard else 504
    buf = array("i", bytes(24 * block))
    fed = 0
    clipped = [0] * 6
    while True:
        n = syn.fill(buf, block)
        if n == 0:
            break
        for k in range(6 * n):
            c = buf[k]
            if c >= rail or c <= -rail:
                clipped[k % 6] += 1
        codes, m = path.convert(buf, n)
        # as the runtime does: channels with a sample at the rail go to the
        # DSP (register 146) before the samples, where the DSP takes them
        mask = path.clip_mask()
        hook = getattr(dsp, "clipped", None)
        if mask and hook is not None:
            hook(mask)
        if m:
            dsp.process(codes, m)
            fed += m
        if on_block is not None:
            on_block(dsp)
    return fed, clipped


def calibrate_dsp(pt, dsp):
    """What a calibration bench does (tools/calibrate.py): the reference
    source at Un, In, PF 0.5 ind, the meter's mean readings over 3 s, the
    new gains and phases from calibrate.solve, written as register words
    7201-7209 and taken back as the meter takes them."""
    nph = 1 if pt["fe"] == "onboard" else 3
    cal_pt = dict(pt, i_pct=100.0, pf="0.5i", v_pct=100.0, f=F_NOM, harmonics=[], phases="ABC"[:nph],
                  reversed=False, settle=2, seconds=3)
    sums = [[0.0] * 4 for _ in range(nph)]

    def second(d):
        if d.seconds <= cal_pt["settle"]:
            return
        r = d.readings
        for k in range(nph):
            for j, idx in enumerate((R.R_VLN + k, R.R_I + k, R.R_P + k, R.R_Q + k)):
                sums[k][j] += r[idx]

    dsp.on_second = second
    feed(cal_pt, make_scenario(cal_pt), dsp, seed=11)
    meas = [[x / cal_pt["seconds"] for x in row] for row in sums]
    gains, phases = calibrate.solve([1.0] * 6, [0.0] * 3, meas, VLN, CT * 1.0, 0.5)
    for k in range(nph, 3):  # channels the board does not have keep unity
        gains[k] = gains[3 + k] = 1.0
        phases[k] = 0.0
    words = [int(round(g * 10000)) for g in gains] + [int(round(p * 1000)) & 0xFFFF for p in phases]
    g = [w / 10000.0 for w in words[:6]]
    ph = [(w - 0x10000 if w & 0x8000 else w) / 1000.0 for w in words[6:]]
    fresh = _new_dsp(pt)
    fresh.set_calibration(g, ph)
    return fresh, words


def _pct(got, want, base=None):
    base = abs(want) if base is None else abs(base)
    return 100.0 * (got - want) / base if base > 0.0 else 0.0


def _worst(a, b):
    return b if a is None or abs(b) > abs(a) else a


def measure(pt):
    """Run one point; the worst error of each per-second reading over the
    measured seconds and present phases, and the real-energy error."""
    sc = make_scenario(pt)
    dsp = _new_dsp(pt)
    words = None
    if pt["calibrate"]:
        dsp, words = calibrate_dsp(pt, dsp)
    seg = scenario.parse(sc).segments[0]
    ref = scenario.reference(seg, pt["fs"])
    present = [k for k in range(3) if "ABC"[k] in pt["phases"]]
    if pt["fe"] == "onboard":
        present = [0]
    worst = {q: None for q in ("p", "q", "s", "v", "i", "pf", "p_tot", "q_tot", "s_tot", "pf_tot")}
    flagged = [0] * 6  # seconds each channel's over-range bit was set
    seen = {"n": 0, "wh": 0.0, "t": 0.0, "wh0": 0.0, "t0": 0.0}

    def second(d):
        e = d.energy
        t = R.E_TOTAL * R.E_KINDS
        # the time this reading's energy covers: a DSP that closes on whole
        # cycles says it (window_s); one that closes every fs frames does not
        # Energy is judged after the settling second(s), as a laboratory
        # energises a meter before it tests it; the start-up's own error is
        # kept apart (startup_energy_err_pct)
        part = "0" if d.seconds <= pt["settle"] else ""
        seen["wh" + part] += e[t + R.E_WH_IMP] - e[t + R.E_WH_EXP]
        seen["t" + part] += getattr(d, "window_s", 1.0)
        for ch in range(6):
            if d.flags & (1 << ch):
                flagged[ch] += 1
        if part:
            return
        seen["n"] += 1
        r = d.readings
        for k in present:
            s1 = ref["v1_rms"][k] * ref["i1_rms"][k]
            worst["p"] = _worst(worst["p"], _pct(r[R.R_P + k], ref["p"][k]))
            worst["q"] = _worst(worst["q"], _pct(r[R.R_Q + k], ref["q1"][k], s1))
            worst["s"] = _worst(worst["s"], _pct(r[R.R_S + k], ref["s"][k]))
            worst["v"] = _worst(worst["v"], _pct(r[R.R_VLN + k], ref["v_rms"][k]))
            worst["i"] = _worst(worst["i"], _pct(r[R.R_I + k], ref["i_rms"][k]))
            worst["pf"] = _worst(worst["pf"], r[R.R_PF + k] - ref["pf"][k])
        s1t = sum(ref["v1_rms"][k] * ref["i1_rms"][k] for k in present)
        worst["p_tot"] = _worst(worst["p_tot"], _pct(r[R.R_P_TOT], ref["p_total"]))
        worst["q_tot"] = _worst(worst["q_tot"], _pct(r[R.R_Q_TOT], ref["q1_total"], s1t))
        worst["s_tot"] = _worst(worst["s_tot"], _pct(r[R.R_S_TOT], ref["s_total"]))
        worst["pf_tot"] = _worst(worst["pf_tot"], r[R.R_PF_TOT] - ref["pf_total"])

    dsp.on_second = second
    fed, clipped = feed(pt, sc, dsp)
    # the energy billed, against the reference power over the time the DSP
    # billed it; all the time billed from the first frame against the frames
    # the DSP has closed (the open window's are not billed yet), in frames
    billed_frames = fed - dsp.st[K.ST_N]
    e_ref = ref["p_total"] * seen["t"]
    time_diff = (seen["t0"] + seen["t"]) * pt["fs"] - billed_frames
    res = dict(pt, errors=None if pt["errors"] is None else "yes", cal_words=words,
               seconds_measured=seen["n"], energy_err_pct=_pct(seen["wh"], e_ref), billed_time_diff=time_diff,
               startup_energy_err_pct=_pct(seen["wh0"], ref["p_total"] * seen["t0"]),
               clipped=clipped, flagged_seconds=flagged, total_seconds=dsp.seconds, thd_i=_thd_i(pt))
    for q, w in worst.items():
        res[q + "_err"] = w
    return verdict(res)


def _thd_i(pt):
    return 100.0 * math.sqrt(sum((h[2] / 100.0) ** 2 for h in pt["harmonics"]))


# ---- verdict -------------------------------------------------------------------
def energy_limit(r):
    """The real-energy target for a point: +-0.1 % on the 24-bit front end,
    class 0.2S (Table 4) on the 16-bit one; the onboard ADC has none."""
    if r["fe"] == "ads24":
        return TARGETS["energy_pct"]
    if r["fe"] == "16-bit":
        pf = r["pf"] if r["pf"] in CLASS_02S else "1"
        lim = class_02s_limit(max(r["x"], 1), pf)
        return lim if lim is not None else class_02s_limit(2, pf)  # 1 % In, PF != 1: the 2 % row
    return None


def verdict(r):
    """PASS/MISS per target (None: no target for this front end)."""
    v = {}
    lim_e = energy_limit(r)
    if r["test"] == "crest factor 3":
        # class 0.2S at PF 1 and every clipped sample flagged
        lim_e = class_02s_limit(max(r["x"], 1), "1") if r["fe"] == "ads24" else lim_e
        clipped = any(r["clipped"])
        v["flagged"] = (not clipped) or all(
            r["flagged_seconds"][ch] > 0 for ch in range(6) if r["clipped"][ch])
    # and the time billed is the time measured: within 2 frames of the
    # frames closed (a whole-cycle window splits its edge frame)
    v["energy"] = None if lim_e is None else (abs(r["energy_err_pct"]) <= lim_e
                                              and abs(r.get("billed_time_diff", 0.0)) <= 2.0)
    r["energy_limit"] = lim_e
    if r["fe"] == "ads24":
        lim = TARGETS["readings_pct"]
        v["readings"] = all(abs(r[q + "_err"]) <= lim for q in ("p", "s", "v", "i", "p_tot", "s_tot"))
        lim_q = TARGETS["q1_pct_of_s1"] if r["harmonics"] else lim
        v["q"] = abs(r["q_err"]) <= lim_q and abs(r["q_tot_err"]) <= lim_q
        v["pf"] = abs(r["pf_err"]) <= TARGETS["pf_abs"] and abs(r["pf_tot_err"]) <= TARGETS["pf_abs"]
    else:
        v["readings"] = v["q"] = v["pf"] = None
    if r["x"] > IMAX_PCT:  # beyond Imax only the clipping flag is judged
        for k in ("readings", "q", "pf", "energy"):
            v[k] = None
        r["energy_limit"] = None
    r["verdict"] = v
    r["pass"] = all(x is not False for x in v.values())
    return r


def mark(ok):
    return "-" if ok is None else ("PASS" if ok else "MISS")


# ---- float32: the once-a-second path as the RP2040 computes it ---------------
class _Both:
    """Two DSPs fed the same frames: the firmware's (double on the host)
    and the same source with every float operation in float32
    (tools/float32_shim.py); each second's readings and energy kept."""

    def __init__(self, pt):
        import float32_shim

        bits = FRONTENDS[pt["fe"]]
        self.dsps = (_new_dsp(pt), float32_shim.load().Dsp(FrontEnd(bits, pt["fs"])))
        self.dsps[1].configure(40, CT, 1, 1.0)
        self.seconds = ([], [])
        for k in range(2):
            self.dsps[k].on_second = (lambda d, out=self.seconds[k]:
                                      out.append((list(d.readings), list(d.energy))))

    def process(self, codes, n):
        for d in self.dsps:
            d.process(codes, n)

    def clipped(self, mask):
        for d in self.dsps:
            if hasattr(d, "clipped"):
                d.clipped(mask)


def float32_points():
    h = [(3, 5.0, 30.0, 0.0), (5, 10.0, 40.0, 0.0)]
    return [point("float32", i_pct=100, pf="0.5i"), point("float32", i_pct=1, pf="1"),
            point("float32", i_pct=120, pf="0.8c", f=65.0), point("float32", i_pct=5, pf="0.5i", f=45.0),
            point("float32", i_pct=50, pf="0.5i", f=60.2, harmonics=h),
            point("float32", i_pct=10, pf="1", fe="16-bit", f=50.25)]


def float32_check(pt):
    """The largest difference, over the seconds and readings, between the
    float32 and the double once-a-second path: V, I, S in % of the reading,
    P and Q in % of the phase's (or total) S, PF absolute, energy in % of
    the second's apparent energy."""
    both = _Both(pt)
    feed(pt, make_scenario(pt), both)
    worst = {"v_i_s": 0.0, "p_q": 0.0, "pf": 0.0, "energy": 0.0, "freq": 0.0}
    for (r64, e64), (r32, e32) in zip(*both.seconds):
        for k in range(3):
            s = r64[R.R_S + k]
            for idx in (R.R_VLN + k, R.R_I + k, R.R_S + k):
                worst["v_i_s"] = max(worst["v_i_s"], abs(_pct(r32[idx], r64[idx])))
            for idx in (R.R_P + k, R.R_Q + k):
                worst["p_q"] = max(worst["p_q"], abs(_pct(r32[idx], r64[idx], s)))
            worst["pf"] = max(worst["pf"], abs(r32[R.R_PF + k] - r64[R.R_PF + k]))
        st = r64[R.R_S_TOT]
        for idx in (R.R_P_TOT, R.R_Q_TOT):
            worst["p_q"] = max(worst["p_q"], abs(_pct(r32[idx], r64[idx], st)))
        worst["v_i_s"] = max(worst["v_i_s"], abs(_pct(r32[R.R_S_TOT], st)))
        worst["freq"] = max(worst["freq"], abs(_pct(r32[R.R_FREQ], r64[R.R_FREQ])))
        t = R.E_TOTAL * R.E_KINDS
        e_s = e64[t + R.E_VAH_IMP] + e64[t + R.E_VAH_EXP]
        for x in range(R.E_KINDS):
            worst["energy"] = max(worst["energy"], abs(_pct(e32[t + x], e64[t + x], e_s)))
    worst["seconds"] = len(both.seconds[1])
    worst["ok"] = max(worst["v_i_s"], worst["p_q"], worst["energy"], worst["freq"], 100.0 * worst["pf"]) \
        <= TARGETS["float32_pct"]
    return dict(pt, errors=None, float32=worst)


def run_float32(jobs=2):
    pts = float32_points()
    if jobs > 1:
        with Pool(min(2, jobs)) as pool:
            return pool.map(float32_check, pts)
    return [float32_check(p) for p in pts]


def print_float32(rows):
    print()
    print("float32: the once-a-second path with every float operation rounded to float32")
    print("(tools/float32_shim.py) against double, the same frames; largest difference in %%"
          " (target %.3f %%)" % TARGETS["float32_pct"])
    print("%-7s %4s %6s %6s %5s %5s | %9s %9s %9s %9s %9s | %s" % (
        "front", "fs", "f Hz", "I %In", "PF", "THD%", "V,I,S", "P,Q of S", "PF x100", "energy", "freq", ""))
    for r in rows:
        w = r["float32"]
        print("%-7s %4d %6.2f %6.1f %5s %5.0f | %9.6f %9.6f %9.6f %9.6f %9.6f | %s" % (
            r["fe"], r["fs"], r["f"], r["i_pct"], r["pf"], _thd_i(r), w["v_i_s"], w["p_q"], 100 * w["pf"],
            w["energy"], w["freq"], "PASS" if w["ok"] else "MISS"))


# ---- running and printing -----------------------------------------------------
def run(pts, jobs=2):
    jobs = max(1, min(2, jobs))  # a shared 2-core machine: two workers at most
    # the long points first, so the pool's two workers finish together
    order = sorted(range(len(pts)), key=lambda k: -(pts[k]["seconds"] + pts[k]["settle"]))
    if jobs == 1:
        res = [measure(pts[k]) for k in order]
    else:
        with Pool(jobs) as pool:
            res = pool.map(measure, [pts[k] for k in order], chunksize=4)
    out = [None] * len(pts)
    for k, r in zip(order, res):
        out[k] = r
    return out


def _fmt(x, w=8, p=4):
    return ("%+" + str(w) + "." + str(p) + "f") % x if x is not None else " " * (w - 1) + "-"


def row_text(r):
    v = r["verdict"]
    lim = ("%5.2f" % r["energy_limit"]) if r["energy_limit"] is not None else "    -"
    extra = ""
    if "flagged" in v:
        extra = " clipped %d, flagged %s" % (sum(r["clipped"]), mark(v["flagged"]))
    return ("%-20s %-7s %4d %6.2f %5.0f %6.1f %5s %3s | %s %s %s %s %s %s | %s %s | %s %s %s %s%s"
            % (r["test"], r["fe"], r["fs"], r["f"], r["v_pct"], r["x"], r["pf"], r["phases"],
               _fmt(r["p_err"]), _fmt(r["q_err"]), _fmt(r["s_err"]), _fmt(r["v_err"]), _fmt(r["i_err"]),
               _fmt(r["pf_err"], 8, 5), _fmt(r["energy_err_pct"]), lim,
               mark(v["readings"]), mark(v["q"]), mark(v["pf"]), mark(v["energy"]), extra))


HEADER = ("%-20s %-7s %4s %6s %5s %6s %5s %3s | %8s %8s %8s %8s %8s %8s | %8s %5s | %s"
          % ("test", "front", "fs", "f Hz", "V %", "I %In", "PF", "ph", "P", "Q/S1", "S", "V", "I", "PF",
             "energy", "limit", "readings Q PF energy"))


def print_rows(rows, sweep_worst=8):
    print("IEC 62053-22 influence tests through the firmware DSP (errors in %; Q in % of S1;")
    print("PF absolute; per-second readings: the worst second and phase; energy: billed from the")
    print("first frame). Targets (issue 12): readings +-%.2f %%, PF +-%.3f, Q1 +-%.1f %% of S1 with"
          " harmonics, energy +-%.1f %% (24-bit), class 0.2S (16-bit)."
          % (TARGETS["readings_pct"], TARGETS["pf_abs"], TARGETS["q1_pct_of_s1"], TARGETS["energy_pct"]))
    print(HEADER)
    print("-" * len(HEADER))
    for r in rows:
        if r["test"] != "frequency sweep":
            print(row_text(r))
    sweep = [r for r in rows if r["test"] == "frequency sweep"]
    if sweep:
        print("frequency sweep, every %.2f Hz 45-65 Hz, 100 %% In, PF 0.5 ind: the %d worst of %d points"
              % (sweep[1]["f"] - sweep[0]["f"], sweep_worst, len(sweep)))
        key = lambda r: -max(abs(r[q + "_err"]) for q in ("p", "q", "s", "v", "i"))  # noqa: E731
        for r in sorted(sweep, key=key)[:sweep_worst]:
            print(row_text(r))
    print_summary(rows)


def summary(rows):
    out = []
    tests = []
    for r in rows:
        if (r["test"], r["fe"], r["fs"]) not in tests:
            tests.append((r["test"], r["fe"], r["fs"]))
    for t in tests:
        sub = [r for r in rows if (r["test"], r["fe"], r["fs"]) == t]
        s = dict(test=t[0], fe=t[1], fs=t[2], points=len(sub), passed=sum(r["pass"] for r in sub))
        for q in ("p", "q", "s", "v", "i", "pf"):
            s["worst_" + q] = max(abs(r[q + "_err"]) for r in sub)
        s["worst_energy"] = max(abs(r["energy_err_pct"]) for r in sub)
        s["worst_startup"] = max(abs(r["startup_energy_err_pct"]) for r in sub)
        for k in ("readings", "q", "pf", "energy", "flagged"):
            vals = [r["verdict"].get(k) for r in sub if r["verdict"].get(k) is not None]
            s["miss_" + k] = sum(1 for x in vals if not x) if vals else None
        out.append(s)
    return out


def print_summary(rows):
    print()
    print("Summary per test (worst |error| over its points; MISS counts per target)")
    print("(start-up: the energy of the settling windows after power-on, no target)")
    hdr = "%-20s %-7s %4s %6s | %7s %7s %7s %7s %7s %8s %7s %8s | %s" % (
        "test", "front", "fs", "pass", "P", "Q/S1", "S", "V", "I", "PF", "energy", "start-up",
        "MISS: readings Q PF energy")
    print(hdr)
    print("-" * len(hdr))
    for s in summary(rows):
        def m(k, s=s):
            return "-" if s["miss_" + k] is None else str(s["miss_" + k])
        flag = "" if s["miss_flagged"] is None else "  unflagged clipping: %s" % m("flagged")
        print("%-20s %-7s %4d %3d/%-3d| %7.4f %7.4f %7.4f %7.4f %7.4f %8.5f %7.4f %8.4f | %s %s %s %s%s" % (
            s["test"], s["fe"], s["fs"], s["passed"], s["points"], s["worst_p"], s["worst_q"], s["worst_s"],
            s["worst_v"], s["worst_i"], s["worst_pf"], s["worst_energy"], s["worst_startup"], m("readings"),
            m("q"), m("pf"), m("energy"), flag))


CSV_FIELDS = ("test", "fe", "fs", "f", "v_pct", "x", "i_pct", "pf", "phases", "reversed", "noise_lsb",
              "errors", "thd_i", "p_err", "q_err", "s_err", "v_err", "i_err", "pf_err", "p_tot_err",
              "q_tot_err", "s_tot_err", "pf_tot_err", "energy_err_pct", "startup_energy_err_pct",
              "billed_time_diff", "energy_limit", "class_02s_limit",
              "readings", "q", "pf_ok", "energy", "flagged", "clipped", "pass")


def write_csv(rows, path):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(CSV_FIELDS)
        for r in rows:
            v = r["verdict"]
            pf = r["pf"] if r["pf"] in CLASS_02S else "1"
            cls = class_02s_limit(max(r["x"], 1), pf) if r["test"] != "frequency sweep" else \
                class_02s_limit(100, pf)
            vals = dict(r, class_02s_limit=cls, readings=mark(v["readings"]), q=mark(v["q"]),
                        pf_ok=mark(v["pf"]), energy=mark(v["energy"]), flagged=mark(v.get("flagged")),
                        clipped=sum(r["clipped"]), **{"pass": "PASS" if r["pass"] else "MISS"})
            out = []
            for k in CSV_FIELDS:
                x = vals[k]
                out.append("%.6g" % x if isinstance(x, float) else ("" if x is None else x))
            w.writerow(out)


# ---- the certificate ------------------------------------------------------------
PANELS = (  # (test, title, x label)
    ("current", "1-120 % In at Un, 50 Hz: each front end and rate", "current, % of In"),
    ("noise + calibration", "30 LSB rms noise; gain, phase, offset errors calibrated", "current, % of In"),
    ("frequency", "frequency 49 and 51 Hz (+-2 %)", "current, % of In"),
    ("voltage", "voltage 90 and 110 % of Un", "current, % of In"),
    ("reversed", "reversed phase sequence (A-C-B)", "current, % of In"),
    ("interrupted", "one (C) or two (B, C) phases interrupted", "current, % of In"),
    ("export", "export: the current reversed", "current, % of In"),
    ("odd harmonics", "odd harmonics: current fired at 90 deg", "current (rms), % of In"),
    ("crest factor 3", "current crest factor 3 (3rd-9th at 50 %, in phase)", "current (rms), % of In"),
    ("harmonics", "10 % V5, 40 % I5 at 50 % Imax: energy and Q1", "frequency, Hz"),
    ("frequency sweep", "45-65 Hz every 0.05 Hz, 100 % In, PF 0.5 ind", "frequency, Hz"),
)
# the error axis: linear within +-0.01 %, logarithmic beyond, so errors of a
# few ppm and the class limits (0.2-0.5 %) both show; beyond 1 %, a point is
# marked at the edge with its value
Y_LIM = 1.0
Y_LIN = 0.01
PF_STYLE = {"1": ("o", "-"), "0.5i": ("s", "--"), "0.8c": ("^", ":"), "fired": ("D", "-")}
PF_NAME = {"1": "PF 1", "0.5i": "PF 0.5 ind", "0.8c": "PF 0.8 cap", "fired": "fired"}


def _series_key(r):
    if r["test"] == "current":
        return "%s %d/s" % (r["fe"], r["fs"])
    if r["test"] == "frequency":
        return "%g Hz" % r["f"]
    if r["test"] == "voltage":
        return "%g %% Un" % r["v_pct"]
    if r["test"] == "interrupted":
        return "phases %s" % r["phases"]
    return "%s %d/s" % (r["fe"], r["fs"])


def _draw_limits(ax, pfs):
    # the class 0.2S limits of Table 4, as steps over the current range
    for pf in pfs:
        rows = CLASS_02S[pf]
        _, ls = PF_STYLE[pf]
        for sign in (1, -1):
            xs, ys = [], []
            for lo, hi, lim in rows:
                xs += [lo, hi]
                ys += [sign * lim, sign * lim]
            ax.plot(xs, ys, color="crimson", lw=1.2, ls=ls,
                    label=("class 0.2S, %s" % PF_NAME[pf]) if sign > 0 else None)


def _plot_clipped(ax, xs, ys, color, marker):
    inside = [(x, y) for x, y in zip(xs, ys) if abs(y) <= Y_LIM]
    out = [(x, y) for x, y in zip(xs, ys) if abs(y) > Y_LIM]
    if inside:
        ax.plot([p[0] for p in inside], [p[1] for p in inside], marker=marker, color=color, ms=4, lw=0.8)
    for x, y in out:  # off the scale: a marker at the edge and the value, upright
        edge = math.copysign(Y_LIM * 0.97, y)
        ax.plot([x], [edge], marker="v" if y < 0 else "^", color=color, ms=7)
        ax.annotate("%+.1f %%" % y, (x, edge), textcoords="offset points", xytext=(-3, 6 if y < 0 else -6),
                    fontsize=7, color=color, rotation=90, va="bottom" if y < 0 else "top")


def plot_certificate(rows, path, title_extra=""):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(4, 3, figsize=(17, 21))
    axes = axes.ravel()
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for n, (test, title, xlabel) in enumerate(PANELS):
        ax = axes[n]
        sub = [r for r in rows if r["test"] == test]
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(xlabel, fontsize=9)
        ax.set_ylabel("real-energy error, %" if test not in ("harmonics", "frequency sweep") else "error, %",
                      fontsize=9)
        ax.axhline(0, color="grey", lw=0.6)
        ax.grid(True, which="both", alpha=0.3)
        if not sub:
            continue
        if test in ("harmonics", "frequency sweep"):
            _plot_frequency_panel(ax, test, sub, colors)
        else:
            ax.set_xscale("log")
            ax.set_xlim(0.8, 170)
            beyond = test == "crest factor 3"  # a point at 150 % In
            ax.set_xticks([1, 2, 5, 10, 20, 50, 100, 150] if beyond else [1, 2, 5, 10, 20, 50, 120])
            ax.get_xaxis().set_major_formatter(matplotlib.ticker.ScalarFormatter())
            pfs = []
            keys = []
            for r in sub:
                if _series_key(r) not in keys:
                    keys.append(_series_key(r))
                if r["pf"] not in pfs:
                    pfs.append(r["pf"])
            _draw_limits(ax, [p for p in pfs if p in CLASS_02S])
            for ci, key in enumerate(keys):
                for pf in pfs:
                    pts = sorted([r for r in sub if _series_key(r) == key and r["pf"] == pf],
                                 key=lambda r: r["x"])
                    if not pts:
                        continue
                    marker, _ = PF_STYLE[pf]
                    color = colors[ci % len(colors)]
                    _plot_clipped(ax, [r["x"] for r in pts], [r["energy_err_pct"] for r in pts],
                                  color, marker)
                    ax.plot([], [], marker=marker, color=color, label="%s, %s" % (key, PF_NAME[pf]))
        ax.set_yscale("symlog", linthresh=Y_LIN, linscale=0.6)
        ax.set_ylim(-Y_LIM, Y_LIM)
        ax.set_yticks([-1, -0.5, -0.2, -0.1, -0.01, 0, 0.01, 0.1, 0.2, 0.5, 1])
        ax.get_yaxis().set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
        # below the panel, where it hides nothing
        ax.legend(fontsize=6.5, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=3, frameon=False)
    _summary_panel(axes[len(PANELS)], rows)
    fig.suptitle("Accuracy certificate: real-energy error through the firmware DSP, IEC 62053-22 class 0.2S "
                 "(Table 4 limits drawn)%s\nerror axis linear to +-0.01 %%, logarithmic beyond; "
                 "Un 230 V L-N, In 100 A, system type 40 (onboard: 10);"
                 " tools/bench_influence.py, make bench" % title_extra,
                 fontsize=12)
    fig.tight_layout(rect=(0, 0, 1, 0.965), h_pad=4.0)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _plot_frequency_panel(ax, test, sub, colors):
    if test == "harmonics":
        for pf in ("1", "0.5i"):
            pts = sorted([r for r in sub if r["pf"] == pf], key=lambda r: r["f"])
            marker, _ = PF_STYLE[pf]
            _plot_clipped(ax, [r["f"] for r in pts], [r["energy_err_pct"] for r in pts], colors[0], marker)
            _plot_clipped(ax, [r["f"] for r in pts], [r["q_err"] for r in pts], colors[1], marker)
            ax.plot([], [], marker=marker, color=colors[0], label="energy, %s" % PF_NAME[pf])
            ax.plot([], [], marker=marker, color=colors[1], label="Q per second, %% of S1, %s" % PF_NAME[pf])
        lim, name = VARIATION_02S["harmonics"]["1"], "class 0.2S variation (harmonics)"
        ax.axhspan(-TARGETS["q1_pct_of_s1"], TARGETS["q1_pct_of_s1"], color="green", alpha=0.08,
                   label="Q1 target +-%.1f %% of S1" % TARGETS["q1_pct_of_s1"])
    else:
        rates = sorted({r["fs"] for r in sub})
        for what in ("p_err", "energy_err_pct"):  # the energy drawn over the readings
            for ci, fs in enumerate(rates):
                pts = sorted([r for r in sub if r["fs"] == fs], key=lambda r: r["f"])
                ys = [max(min(r[what], Y_LIM), -Y_LIM) for r in pts]
                if what == "p_err":
                    ax.plot([r["f"] for r in pts], ys, color=("grey", "tan")[ci % 2], lw=0.6, alpha=0.8,
                            label="P per second (worst second and phase), %d/s" % fs)
                else:
                    ax.plot([r["f"] for r in pts], ys, color=colors[ci], lw=1.6,
                            label="real energy, %d/s" % fs)
        lim, name = CLASS_02S["0.5i"][-1][2], "class 0.2S, PF 0.5 ind, 10-120 % In"
        ax.axhspan(-TARGETS["readings_pct"], TARGETS["readings_pct"], color="green", alpha=0.12,
                   label="readings target +-%.2f %%" % TARGETS["readings_pct"])
    for sign in (1, -1):
        ax.axhline(sign * lim, color="crimson", lw=1.2, label=name if sign > 0 else None)


def _summary_panel(ax, rows):
    ax.axis("off")
    lines = ["Points meeting every target of issue 12", ""]
    for s in summary(rows):
        lines.append("%-20s %-7s %4d/s  %3d / %-3d  energy worst %.4f %%" % (
            s["test"], s["fe"], s["fs"], s["passed"], s["points"], s["worst_energy"]))
    lines += ["", "targets: readings +-%.2f %%, PF +-%.3f, energy +-%.1f %% (24-bit)," % (
        TARGETS["readings_pct"], TARGETS["pf_abs"], TARGETS["energy_pct"]),
        "class 0.2S (16-bit), Q1 +-%.1f %% of S1 with harmonics." % TARGETS["q1_pct_of_s1"],
        "Per-point figures: bench/accuracy.csv"]
    ax.text(0.0, 1.0, "\n".join(lines), family="monospace", fontsize=7.5, va="top")


def accuracy(quick=False, jobs=2):
    """Every influence point and the float32 check: (rows, float32 rows)."""
    return run(points(quick), jobs), run_float32(jobs)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="a few points of each test")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench"))
    ap.add_argument("--replot", action="store_true",
                    help="draw the certificate again from OUT/accuracy.json (no measuring)")
    a = ap.parse_args(argv)
    if a.replot:
        with open(os.path.join(a.out, "accuracy.json")) as f:
            rows = json.load(f)["points"]
        plot_certificate(rows, os.path.join(a.out, "accuracy.png"))
        return rows
    rows, f32 = accuracy(a.quick, a.jobs)
    print_rows(rows)
    print_float32(f32)
    os.makedirs(a.out, exist_ok=True)
    write_csv(rows, os.path.join(a.out, "accuracy.csv"))
    with open(os.path.join(a.out, "accuracy.json"), "w") as f:
        json.dump({"points": rows, "float32": f32}, f)
    plot_certificate(rows, os.path.join(a.out, "accuracy.png"))
    print("written: %s, %s" % (os.path.join(a.out, "accuracy.csv"), os.path.join(a.out, "accuracy.png")))
    return rows


if __name__ == "__main__":
    main()
