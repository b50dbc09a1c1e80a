# The codes the board's ADC would produce for a scenario: interleaved frames
# (Va, Vb, Vc, Ia, Ib, Ic) of signed ints, scaled exactly as
# firmware/frontend.py defines full scale, with white Gaussian noise.
# Portable: CPython 3.11 and the MicroPython unix port give the same codes
# for the same seed: after the cos/sin anchors (one pair per order per block)
# everything is the same IEEE double operations in the same order, then
# integers. A libm that rounds an anchor differently could, very rarely, move
# a code by one LSB; a host test compares the two runtimes.
#
# Signal model, per phase k and channel (v or i):
#   x(t) = sqrt2 * X * [cos(th + a) + sum_h (pct_h/100) cos(h*th + h*a + deg_h)]
# th is the fundamental's phase. It is continuous across segment boundaries:
# it accumulates 2*pi*f*dt segment by segment, so a frequency step does not
# jump the waveform. Sample n is taken at t = n/fs and belongs to the segment
# whose [start, end) holds t. Components at or above fs/2 are left out, as an
# ideal anti-alias filter would (scenario.reference(seg, fs_hz) does the same).
#
# Scaling (firmware/frontend.py): code = round(x / FS * rail + noise), clipped
# to [-rail, rail], rail = 2**(bits-1) - 1.
#   voltage: x = primary volts / pt_ratio, FS = 1.2 * sqrt2 * 347 V
#   current: x = primary amps / ct_primary_a, FS = 1.2 * sqrt2 (per unit)
#
# Why the arithmetic is shaped like this (speed under MicroPython, where every
# float operation allocates and small ints do not):
# * Every channel is a fixed combination of the same basis signals
#   cos(h*th), sin(h*th), one pair per harmonic order. Per block of BLOCK
#   frames the basis is made once, as integers scaled by 2**30, by rotating a
#   phasor (one complex multiply a sample) anchored with cos/sin at the
#   block start; blocks sit on a fixed grid from the segment start, so the
#   codes do not depend on how fill() is called.
# * A channel is then sum(A*C[n] + B*S[n]) in integers: A, B are its
#   component's amplitude in units of 2**-(29 - bits) code (the rail is
#   then about 2**28 units; 1/32 LSB at 24 bits), so a product stays
#   below 2**58 for in-range signals (MicroPython small ints reach 2**62;
#   beyond that Python ints still give the right answer, just slower).
# * Noise: a table of 4096 Gaussian values (fixed, normalised to mean 0,
#   rms 1), indexed by the top bits of a 31-bit LCG, one stream per channel,
#   the streams 2**28 steps apart (29 hours at 2520/s before one runs into
#   the next).

import math
from array import array

from scenario import Scenario, components, parse

# firmware/frontend.py (a host test checks these agree)
V_FULL_SCALE_PEAK = 1.2 * 1.4142135623730951 * 347.0  # V at the terminals
I_FULL_SCALE_PEAK_PU = 4.0  # per unit of CT rating: crest factor 3.33 at 120 %

BLOCK = 256  # frames per basis block
_QB = 30  # basis scale: cos/sin * 2**30
_NOISE_BITS = 12
_NOISE_N = 1 << _NOISE_BITS
_LCG_A = 1103515245
_LCG_C = 12345
_MASK31 = 0x7FFFFFFF
_STREAM_GAP = 1 << 28
_TWO_PI = 2.0 * math.pi


class Synth:
    def __init__(self, scenario, seed=1, bits=None, fs=None, noise_lsb=None, errors=None):
        # errors: a front-end that is off, for calibration tests:
        # {"gain": 6 factors (Va Vb Vc Ia Ib Ic), "phase_deg": 3 current
        # delays in degrees of the fundamental (positive: the current lags
        # more; a harmonic h is delayed by h times as many degrees),
        # "offset": 6 DC offsets as fractions of full scale (-0.05..0.05),
        # synthesized as a component of order 0 (a constant basis)}
        self.errors = _errors(errors)
        self._offsets = _offsets(errors)
        if not isinstance(scenario, Scenario):
            scenario = parse(scenario)
        fe = scenario.frontend
        bits = fe["bits"] if bits is None else bits
        fs = fe["fs_hz"] if fs is None else fs
        noise_lsb = fe["noise_lsb"] if noise_lsb is None else noise_lsb
        if type(bits) is not int or not 10 <= bits <= 24:
            raise ValueError("bits must be an integer 10..24, got %r" % (bits,))
        if type(fs) is not int or not 2000 <= fs <= 8000:
            raise ValueError("fs must be an integer 2000..8000, got %r" % (fs,))
        if not noise_lsb >= 0:
            raise ValueError("noise_lsb must be >= 0, got %r" % (noise_lsb,))
        self.scenario = scenario
        self.bits = bits
        self.fs = fs
        self.noise_lsb = noise_lsb
        self.rail = (1 << (bits - 1)) - 1
        # rail * 2**amp_shift is about 2**28: A, B up to 2**28, A*C up to 2**58
        self._amp_shift = 29 - bits
        self._shift = _QB + self._amp_shift
        self._half = 1 << (self._shift - 1)
        self._plan(scenario)
        self._noise_table(noise_lsb)
        self._seed_streams(seed)
        self._C = [array("i", bytes(4 * BLOCK)) for _ in range(self._n_orders_max)]
        self._S = [array("i", bytes(4 * BLOCK)) for _ in range(self._n_orders_max)]
        self._acc = [0] * BLOCK
        self._block = None  # (segment index, first frame) of the basis held
        self.frames = 0  # frames produced so far
        # samples clipped to the rail, per channel, and those already taken
        self.clips = [0] * 6
        self._clips_taken = [0] * 6
        self._seg = 0
        self._skip_empty()

    # ---- public state -------------------------------------------------
    @property
    def t(self):
        return self.frames / self.fs

    @property
    def done(self):
        return self.frames >= self.total_frames

    @property
    def segment_index(self):
        # the segment holding the next frame; len(segments) once done
        return self._seg

    # ---- set-up -------------------------------------------------------
    def _plan(self, sc):
        fs = self.fs
        cfg = sc.config
        v_scale = self.rail / V_FULL_SCALE_PEAK / cfg["pt_ratio"]
        i_scale = self.rail / I_FULL_SCALE_PEAK_PU / cfg["ct_primary_a"]
        amp_unit = 1 << self._amp_shift
        self._starts = []
        self._segs = []
        t = 0.0
        th = 0.0
        n_max = 1
        for seg in sc.segments:
            n0 = _frames_before(t * fs)
            self._starts.append(n0)
            plan = _SegmentPlan(seg, fs, th, n0 - t * fs, v_scale * amp_unit, i_scale * amp_unit,
                                self.errors)
            plan.add_offsets(self._offsets, self.rail * amp_unit)
            n_max = max(n_max, len(plan.orders))
            self._segs.append(plan)
            th = math.fmod(th + _TWO_PI * seg.frequency_hz * seg.duration_s, _TWO_PI)
            t += seg.duration_s
        self.total_frames = _frames_before(t * fs)
        self._starts.append(self.total_frames)
        self._n_orders_max = n_max

    def _noise_table(self, noise_lsb):
        # Box-Muller from a fixed LCG, then exact mean 0 / rms 1: the table
        # is the same for every seed; the seed picks the index streams.
        g = []
        x = 12345
        while len(g) < _NOISE_N:
            x = (x * _LCG_A + _LCG_C) & _MASK31
            u1 = (x + 1) / 2147483649.0
            x = (x * _LCG_A + _LCG_C) & _MASK31
            u2 = x / 2147483648.0
            r = math.sqrt(-2.0 * math.log(u1))
            g.append(r * math.cos(_TWO_PI * u2))
            g.append(r * math.sin(_TWO_PI * u2))
        mean = sum(g) / _NOISE_N
        rms = math.sqrt(sum([(v - mean) ** 2 for v in g]) / _NOISE_N)
        k = noise_lsb * (1 << self._shift) / rms
        self._noise = [int(math.floor((v - mean) * k + 0.5)) for v in g]

    def _seed_streams(self, seed):
        s = (int(seed) * 2654435761 + 0x2545F491) & _MASK31
        self._lcg = [0] * 6
        for ch in range(6):
            self._lcg[ch] = s
            s = _lcg_jump(s, _STREAM_GAP)

    def _skip_empty(self):
        # move past segments that hold no frame (shorter than a sample)
        n = self.frames
        while self._seg < len(self._segs) and n >= self._starts[self._seg + 1]:
            self._seg += 1

    # ---- samples out --------------------------------------------------
    def fill(self, buf, nframes):
        """Write up to nframes frames into buf (array('i'), 6 codes a frame);
        returns how many: fewer only at the scenario's end, 0 after it."""
        if len(buf) < 6 * nframes:
            raise ValueError("buffer holds %d frames, %d asked" % (len(buf) // 6, nframes))
        written = 0
        while written < nframes and self._seg < len(self._segs):
            i = self._seg
            start = self._starts[i]
            n = self.frames
            b0 = start + ((n - start) // BLOCK) * BLOCK
            b1 = min(b0 + BLOCK, self._starts[i + 1])
            if self._block != (i, b0):
                self._make_basis(i, b0, b1 - b0)
            j0 = n - b0
            j1 = min(b1 - b0, j0 + nframes - written)
            self._render(self._segs[i], buf, 6 * written, j0, j1)
            written += j1 - j0
            self.frames = n + j1 - j0
            self._skip_empty()
        return written

    def take_clipped(self):
        """(mask, count) of the samples at the rail since the last call:
        bit ch set for a channel that had one (0 Va .. 5 Ic)."""
        mask = 0
        n = 0
        for ch in range(6):
            d = self.clips[ch] - self._clips_taken[ch]
            if d:
                mask |= 1 << ch
                n += d
            self._clips_taken[ch] = self.clips[ch]
        return mask, n

    def _make_basis(self, i, b0, m):
        plan = self._segs[i]
        th0 = plan.phase_at(b0 - self._starts[i])
        for o in range(len(plan.orders)):
            h = plan.orders[o]
            a = h * th0
            zr = math.cos(a)
            zi = math.sin(a)
            _rotate(self._C[o], self._S[o], m, zr, zi, plan.rot[o][0], plan.rot[o][1])
        self._block = (i, b0)

    def _render(self, plan, buf, k0, j0, j1):
        acc = self._acc
        C = self._C
        S = self._S
        for ch in range(6):
            comps = plan.comps[ch]
            last = len(comps) - 1
            for c in range(last):
                o, a, b = comps[c]
                _accumulate(acc, j0, j1, C[o], S[o], a, b, c == 0)
            if last < 0:
                a = b = 0
                Co = So = C[0]
                base = False
            else:
                o, a, b = comps[last]
                Co = C[o]
                So = S[o]
                base = last > 0
            self._lcg[ch] = _emit(buf, k0 + ch, j0, j1, acc, base, Co, So, a, b,
                                  self._noise, self._lcg[ch], self._half, self._shift, self.rail,
                                  self.clips, ch)


class _SegmentPlan:
    # What one segment needs per block: its orders, their per-sample
    # rotation, and per channel the (order slot, A, B) of each component.
    def __init__(self, seg, fs, th_start, lead, v_amp, i_amp, errors=None):
        self.th_start = th_start
        self.lead = lead  # first frame's time after the segment start, in frames
        self.w = _TWO_PI * seg.frequency_hz / fs
        comps = components(seg, fs)
        orders = [1]
        for k in range(3):
            for c in comps[k]:
                if c[0] not in orders:
                    orders.append(c[0])
        self.orders = orders
        self.rot = [(math.cos(h * self.w), math.sin(h * self.w)) for h in orders]
        self.comps = [[] for _ in range(6)]
        g, ph = errors if errors is not None else ((1.0,) * 6, (0.0,) * 3)
        for k in range(3):
            for order, vp, ip in comps[k]:
                slot = orders.index(order)
                self._add(k, slot, vp, v_amp * g[k])
                if ph[k]:  # a delay: the phasor turns back by h times the angle
                    a = -math.radians(ph[k]) * order
                    c = math.cos(a)
                    sn = math.sin(a)
                    ip = (ip[0] * c - ip[1] * sn, ip[0] * sn + ip[1] * c)
                self._add(3 + k, slot, ip, i_amp * g[3 + k])

    def _add(self, ch, slot, phasor, scale):
        # peak * cos(h th + phi) = (peak cos phi) cos(h th) - (peak sin phi) sin(h th)
        s = 1.4142135623730951 * scale
        a = _round(phasor[0] * s)
        b = -_round(phasor[1] * s)
        if a or b:
            self.comps[ch].append((slot, a, b))

    def add_offsets(self, offsets, full_scale):
        # DC on each channel (fractions of full scale): order 0, whose
        # basis is cos(0) = 1 and whose rotation is none
        if not any(offsets):
            return
        slot = len(self.orders)
        self.orders.append(0)
        self.rot.append((1.0, 0.0))
        for ch in range(6):
            a = _round(offsets[ch] * full_scale)
            if a:
                self.comps[ch].append((slot, a, 0))

    def phase_at(self, m):
        # fundamental phase at frame m of the segment (m = 0: its first frame)
        return self.th_start + self.w * (m + self.lead)


def _errors(e):
    # validated (gains, phases) or None; unknown keys are errors
    if e is None:
        return None
    for k in e:
        if k not in ("gain", "phase_deg", "offset"):
            raise ValueError("front-end errors take 'gain', 'phase_deg' and 'offset', not %r" % (k,))
    g = tuple(float(x) for x in e.get("gain", (1.0,) * 6))
    ph = tuple(float(x) for x in e.get("phase_deg", (0.0,) * 3))
    if len(g) != 6 or len(ph) != 3:
        raise ValueError("front-end errors: 6 gains and 3 phase angles")
    for x in g:
        if not 0.5 <= x <= 2.0:
            raise ValueError("front-end gain error %r outside 0.5..2" % (x,))
    for x in ph:
        if not -20.0 <= x <= 20.0:
            raise ValueError("front-end phase error %r outside +-20 degrees" % (x,))
    return g, ph


def _offsets(e):
    # the 6 validated DC offsets (fractions of full scale), zeros by default
    off = tuple(float(x) for x in (e or {}).get("offset", (0.0,) * 6))
    if len(off) != 6:
        raise ValueError("front-end errors: 6 offsets")
    for x in off:
        if not -0.05 <= x <= 0.05:
            raise ValueError("front-end offset %r outside +-0.05 of full scale" % (x,))
    return off


def _round(x):
    return int(math.floor(x + 0.5))


def _frames_before(x):
    # frames n >= 0 with n < x (x = a time in frames); the slack absorbs the
    # float sum of durations (0.1 + 0.2 s at 2520/s is 756.0000000000001)
    n = int(x)
    if x - n > 1e-6:
        n += 1
    return n


def _lcg_jump(x, k):
    # x advanced k steps of the LCG, by squaring the affine map
    a, c = _LCG_A, _LCG_C
    ra, rc = 1, 0
    while k:
        if k & 1:
            ra, rc = (ra * a) & _MASK31, (rc * a + c) & _MASK31
        a, c = (a * a) & _MASK31, (c * a + c) & _MASK31
        k >>= 1
    return (ra * x + rc) & _MASK31


def _rotate(C, S, m, zr, zi, rr, ri):
    one = float(1 << _QB)
    off = 1 << _QB
    bias = one + 0.5  # floor(x + 0.5) via int() of a positive number
    for j in range(m):
        C[j] = int(zr * one + bias) - off
        S[j] = int(zi * one + bias) - off
        zr, zi = zr * rr - zi * ri, zr * ri + zi * rr


def _accumulate(acc, j0, j1, C, S, a, b, first):
    if first:
        for j in range(j0, j1):
            acc[j] = a * C[j] + b * S[j]
    else:
        for j in range(j0, j1):
            acc[j] += a * C[j] + b * S[j]


def _emit(buf, k, j0, j1, acc, base, C, S, a, b, noise, x, half, shift, rail, clips, ch):
    # the channel's last component, plus what acc holds (if base), plus
    # noise, rounded, clipped (counted in clips[ch], as a converter's
    # decode finds its rail codes) and stored every 6th word; returns the LCG
    lo = -rail
    nsh = 31 - _NOISE_BITS
    for j in range(j0, j1):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        y = a * C[j] + b * S[j] + noise[x >> nsh] + half
        if base:
            y += acc[j]
        y >>= shift
        if y >= rail:
            if y > rail:
                y = rail
            clips[ch] += 1
        elif y <= lo:
            if y < lo:
                y = lo
            clips[ch] += 1
        buf[k] = y
        k += 6
    return x
