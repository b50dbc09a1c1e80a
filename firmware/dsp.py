# The measurement core. Frames of six simultaneous samples go in (any block
# length, every sample used: no blind time); once every fs frames (one
# second) the sums from the viper kernel become RMS values, powers, power
# factors, frequency and the energy moved in that second.
#
# Only this once-a-second step uses floats; the per-sample path is
# dsp_kernel.accumulate (integers, no allocation). Gain and phase
# calibration are applied here too, to the second's results: a gain scales
# an RMS or a power exactly, and a phase correction of delta rotates (P, Q)
# by delta, which is exact at the fundamental and costs nothing per sample.

import math
import sys
from array import array

from micropython import const

import dsp_kernel as K

from frontend import OVER_RANGE
from readings import (
    E_KINDS, E_TOTAL, E_VAH_EXP, E_VAH_IMP, E_VARH_Q1, E_VARH_Q2, E_VARH_Q3,
    E_VARH_Q4, E_WH_EXP, E_WH_IMP, F_FREQ, N_ENERGIES, N_READINGS, R_FREQ, R_I,
    R_I_AVG, R_P, R_P_TOT, R_PF, R_PF_TOT, R_Q, R_Q_TOT, R_S, R_S_TOT, R_VLL,
    R_VLL_AVG, R_VLN, R_VLN_AVG,
)

_kernel = K.accumulate  # one global load a call (the frame stays small)

SYSTEM_TYPES = (10, 11, 12, 31, 40)
# Per system type (datasheet, 'Supported System Types'): phases with a CT,
# valid L-N voltages, valid L-L voltages (0 = A-B, 1 = B-C, 2 = C-A), and
# how the kernel forms each phase's voltage.
_WIRING = {
    10: ((0,), (0,), (), K.MODE_LN),
    11: ((0,), (), (0,), K.MODE_AB),
    12: ((0, 1), (0, 1), (0,), K.MODE_LN),
    31: ((0, 1, 2), (), (0, 1, 2), K.MODE_DELTA),
    40: ((0, 1, 2), (0, 1, 2), (0, 1, 2), K.MODE_LN),
}

FREQ_MIN = 45.0
FREQ_MAX = 65.0
# Below this share of the voltage range there is 'insufficient voltage to
# determine frequency' (register 146 bit 6): about 10 V at the terminals.
_FREQ_V_MIN_FRAC = const(25)  # per mille of the voltage full scale (rms)
# No-load (anti-creep) threshold: a phase whose current is below this share
# of the CT rating moves no energy and shows no power. IEC 62053-22 class
# 0.2S must start at 0.1 % of In; this is half that, and some 8 times the
# noise (0.5 LSB rms) of a 16-bit front end with 4 x In full scale.
NO_LOAD_FRACTION = 0.0005
_TWO_PI = 2.0 * math.pi


class Dsp:
    def __init__(self, frontend):
        self.fe = frontend
        self.fs = frontend.fs
        self.st = array("i", bytes(4 * K.ST_LEN))
        self.acc = array("i", bytes(4 * K.ACC_LEN))
        self.readings = array("f", bytes(4 * N_READINGS))
        self.energy = array("f", bytes(4 * N_ENERGIES))
        self.valid = 0  # bit R_x set: readings[R_x] is meaningful
        self.flags = 0  # F_* bits for the last second
        self.seconds = 0  # completed seconds since start
        self.on_second = None  # called with this Dsp after each second
        self.gain = [1.0] * 6  # per channel, Va..Ic
        self.phase_deg = [0.0] * 3  # per phase: current lag to correct
        # the last two buffers whose type and length were checked: the
        # runtime alternates two blocks, and the check's repr() allocates
        self._checked = None
        self._checked2 = None
        self._last_cross = None  # last crossing time, in frames, this second
        self._gap = 0  # frames the board lost this second (add_gap)
        self._clip = 0  # channels with a sample at the rail this window (clipped)
        # the second's means (_close_second): lists, reused, hold the
        # float objects themselves, so reading them back allocates nothing
        self._mu = [0.0, 0.0, 0.0]
        self._mv = [0.0, 0.0, 0.0]
        self._mi = [0.0, 0.0, 0.0]
        self._mq = [0.0, 0.0, 0.0]
        self._md = [0.0, 0.0, 0.0]
        self._u_rms = [0.0, 0.0, 0.0]
        self._ll_rms = [0.0, 0.0, 0.0]
        self._i_rms = [0.0, 0.0, 0.0]
        # windows (_edges): what the last window handed on to this one, per
        # product sum, and (last word) its length in 1/256 frame
        self._carry = array("i", bytes(4 * K.NPAIRS + 4))
        self._whole = 0  # the last window ran from crossing to crossing
        self._fs256 = self.fs * 256.0
        self._grid = self.fs  # frames from the window's start to the next second
        self.window_s = 0.0  # the last window's length, s (its energy's time)
        st = self.st
        per = self.fs // 32  # a 40 Hz period: see _next_second
        st[K.ST_ZSTOP] = self.fs - per - (per >> 2) - 1
        bits = frontend.bits
        st[K.ST_SX] = 32 if sys.maxsize > 0x7FFFFFFF else 0
        st[K.ST_SHV] = max(0, bits - 14)  # voltages to 2**13 (dsp_kernel.py)
        st[K.ST_SHI] = max(0, bits - 15)  # currents to 2**14
        self._off_max = frontend.rail >> 6  # coarse offsets held within rail/64
        self._tune(55.0)  # the fundamental filters, until a frequency is measured
        self.configure(40, 100, 1, 1.0)
        # until a second has been measured, time phase A with the smallest
        # arming threshold that still means 'there is a voltage'
        st[K.ST_ZHYST] = self._freq_v_min_internal(0)

    # ---- configuration -------------------------------------------------
    def configure(self, system_type, ct_primary, ct_secondary, pt_ratio):
        if system_type not in _WIRING:
            raise ValueError("system type must be one of 10, 11, 12, 31, 40")
        if not (isinstance(ct_primary, int) and 5 <= ct_primary <= 32000):
            raise ValueError("CT primary must be 5..32000 A")
        if ct_secondary not in (1, 3):
            raise ValueError("CT secondary must be 1 (1 V) or 3 (1/3 V)")
        if not 0.01 <= pt_ratio <= 320.0:
            raise ValueError("PT ratio must be 0.01..320")
        self.system_type = system_type
        self.ct_primary = ct_primary
        self.ct_secondary = ct_secondary
        self.pt_ratio = pt_ratio
        phases, ln, ll, mode = _WIRING[system_type]
        self.phases = phases
        self.ln = ln
        self.ll = ll
        self.st[K.ST_MODE] = mode
        valid = (1 << R_P_TOT) | (1 << R_Q_TOT) | (1 << R_S_TOT) | (1 << R_PF_TOT)
        valid |= 1 << R_I_AVG
        for p in phases:
            for base in (R_I, R_P, R_Q, R_S, R_PF):
                valid |= 1 << (base + p)
        for p in ln:
            valid |= 1 << (R_VLN + p)
        for p in ll:
            valid |= 1 << (R_VLL + p)
        if ln:
            valid |= 1 << R_VLN_AVG
        if ll:
            valid |= 1 << R_VLL_AVG
        self._valid_cfg = valid
        self.valid = valid  # frequency joins once a second has measured it
        self._scales()

    def set_calibration(self, gains, phase_deg):
        if len(gains) != 6 or len(phase_deg) != 3:
            raise ValueError("calibration needs 6 gains and 3 phase angles")
        for g in gains:
            if not 0.5 <= g <= 2.0:
                raise ValueError("channel gain must be 0.5..2.0")
        for d in phase_deg:
            if not -10.0 <= d <= 10.0:
                raise ValueError("phase correction must be -10..+10 degrees")
        self.gain = [float(g) for g in gains]
        self.phase_deg = [float(d) for d in phase_deg]
        self._scales()

    def _scales(self):
        fe = self.fe
        st = self.st
        v_lsb = fe.v_full_scale_peak() / fe.rail * (1 << st[K.ST_SHV]) * self.pt_ratio
        i_lsb = (fe.i_full_scale_peak_pu() * self.ct_primary / fe.rail) * (1 << st[K.ST_SHI])
        g = self.gain
        self._v_lsb = [v_lsb * g[k] for k in range(3)]
        self._i_lsb = [i_lsb * g[3 + k] for k in range(3)]
        self._ll_lsb = [v_lsb * 0.5 * (g[k] + g[(k + 1) % 3]) for k in range(3)]
        if self.st[K.ST_MODE] == K.MODE_AB:
            self._u_lsb = [self._ll_lsb[0], self._v_lsb[1], self._v_lsb[2]]
        else:
            self._u_lsb = self._v_lsb
        self._i_no_load = NO_LOAD_FRACTION * self.ct_primary
        self._v_full_rms = fe.v_full_scale_peak() / 1.4142135623730951 * self.pt_ratio
        self._i_full_rms = OVER_RANGE * self.ct_primary  # 120 % rms (not the rail: headroom)
        self._rot = [(math.cos(math.radians(d)), math.sin(math.radians(d))) for d in self.phase_deg]

    def _freq_v_min_internal(self, k):
        return max(4, int(self._v_full_rms * _FREQ_V_MIN_FRAC / 1000.0 / self._u_lsb[k]))

    # ---- the fundamental filters (dsp_kernel.py), for Q1 ----------------
    def _tune(self, f):
        # F = 2 sin(pi f / fs) puts the filter's peak at f (docs/dsp.md);
        # F^2 and D F kept for _h
        self._f_tuned = f
        fk = int(2.0 * math.sin(math.pi * f / self.fs) * 16384.0 + 0.5)
        self.st[K.ST_FK] = fk
        F = fk / 16384.0
        self._f2 = F * F
        self._df = F / (1 << K.SV_D)

    def _h(self, f):
        # q's response to u at frequency f: magnitude and angle. With z1 =
        # e^-jw, c = cos w, s = sin w, a = 1 - c: L / X = F^2 z1 / A,
        # A = (1 - z1)^2 + F^2 z1 + D F z1 (1 - z1)
        #   = c (F^2 - 2a) + D F a (1 + 2c) + j s (D F (2c - 1) - F^2 + 2a);
        # X = 2^SV_G u, q = L (1 + z1) / 2^(SV_OUT + 1) (dsp_kernel.py)
        w = _TWO_PI * f / self.fs
        c = math.cos(w)
        s = math.sin(w)
        a = 1.0 - c
        f2 = self._f2
        df = self._df
        e = f2 - a - a
        c2 = c + c
        re = c * e + df * a * (1.0 + c2)
        im = s * (df * (c2 - 1.0) - e)
        g = f2 * math.sqrt(0.5 + 0.5 * c) / (1 << (K.SV_OUT - K.SV_G))
        return g / math.sqrt(re * re + im * im), -1.5 * w - math.atan2(im, re)

    # ---- samples in --------------------------------------------------------
    def process(self, buf, nframes=-1):
        """Feed frames from buf (array('i'), 6 codes a frame). Returns the
        number of windows (readings) completed; on_second is called after
        each. (process, _feed and _accumulate run every block on the board:
        each keeps its frame within 11 words, tools/frame_check.py HOT.)"""
        if buf is not self._checked and buf is not self._checked2:
            self._check_block(buf)
        total = len(buf) // 6
        if nframes < 0:
            nframes = total
        elif nframes > total:
            raise ValueError("block holds %d frames, %d asked" % (total, nframes))
        return self._feed(buf, nframes)

    def _check_block(self, buf):
        try:
            ok = repr(buf[:0]) == "array('i')"
        except Exception:
            ok = False
        if not ok:
            raise TypeError("samples must be an array('i') of 6-channel frames")
        if len(buf) % 6:
            raise ValueError("block length %d is not a whole number of 6-channel frames" % len(buf))
        self._checked2 = self._checked
        self._checked = buf

    def _feed(self, buf, nframes):
        done = 0
        start = 0
        while nframes > 0:
            n = self._accumulate(buf, start, nframes)
            start += n
            nframes -= n
            if self.st[K.ST_ZEND] or self.st[K.ST_N] >= self._grid:
                self._close_second()
                done += 1
        return done

    def _accumulate(self, buf, start, n):
        # up to n frames; the kernel stops early at the crossing that ends
        # the window
        n0 = self.st[K.ST_N]
        if n > self._grid - n0:
            n = self._grid - n0
        _kernel(buf, start, n, self.st, self.acc)
        return self.st[K.ST_N] - n0

    def clipped(self, mask):
        """Channels (bit 0 Va .. bit 5 Ic, as register 146 bits 0-5) that
        had a sample at their converter's rail: the board's decode finds
        them (a comparison there, none in the kernel). They are flagged
        over-range for the window they fall in."""
        self._clip |= mask & 0x3F

    def add_gap(self, frames):
        """The board lost `frames` frames (a flash erase stalls interrupts on
        the RP2040). The window they fall in bills its energy over its
        measured frames plus the gap, at the power measured around it, so a
        stall costs no energy; the readings are those of the frames there."""
        if frames > 0:
            self._gap += frames

    # ---- once a second -----------------------------------------------------
    # Every float result is a 16-byte heap block on the RP2040 (MicroPython's
    # object model A boxes floats): no closures or comprehensions here, the
    # means in reused lists, the window's edges in integers.
    def _close_second(self):
        N = self.st[K.ST_N]
        nw = self._edges()  # the window's length, 1/256 frame, crossing to crossing
        inv = 256.0 / nw
        freq = self._frequency(N)
        self._rms(inv)
        T = (nw + (self._gap << 8)) / self._fs256
        self._gap = 0
        self.window_s = T
        self._powers(inv, freq, T)
        self._flags(freq)
        self._next_second(N, freq)
        self.seconds += 1
        if self.on_second is not None:
            self.on_second(self)

    def _edges(self):
        # A window runs from the frame after one crossing to the frame after
        # the next-but-many (kernel, ST_ZSTOP), so its frames cover, by the
        # midpoint rule, the time from 0.5 to 1.5 frames after its first
        # crossing to as much after its last: whole cycles give or take a
        # frame. That frame would ripple the readings by up to 1/N of S
        # (0.04 % at 2520/s). The edge frame's own products stand for the
        # part beyond the crossing (within a quarter frame of its middle):
        # it is taken off this window and given to the next, in integers
        # (1/256 frame), so the sums stay exact and nothing is counted twice.
        st = self.st
        acc = self.acc
        cy = self._carry
        ee = 0
        if st[K.ST_ZEND]:
            b = st[K.ST_ZLA]  # < 0: the sample before the crossing
            a = st[K.ST_ZLB]  # >= 0: the edge frame's
            ee = 384 - (-b * 256) // (a - b)  # 1.5 - |b|/(|b| + a) frames
        # the edge frame's products, its phase voltages formed as the kernel does
        e = K.ST_EDGE
        va = st[e]
        vb = st[e + 1]
        mode = st[K.ST_MODE]
        m = ((va + vb + st[e + 2]) * 10923) >> 15 if mode == K.MODE_DELTA else 0
        for k in range(3):
            v = st[e + k]
            u = va - vb if mode == K.MODE_AB and k == 0 else v - m
            d = v - st[e + (k + 1) % 3]
            i = st[e + 3 + k]
            _hand_on(acc, cy, k, ee, u * u)
            _hand_on(acc, cy, 3 + k, ee, d * d)
            _hand_on(acc, cy, 6 + k, ee, i * i)
            _hand_on(acc, cy, 9 + k, ee, u * i)
            _hand_on(acc, cy, 12 + k, ee, st[e + 6 + k] * i)
        es = cy[K.NPAIRS]
        cy[K.NPAIRS] = ee
        self._whole = ee and es  # crossing to crossing: its means are the offsets
        return (st[K.ST_N] << 8) - ee + es

    def _rms(self, inv):
        # the window's means of each phase voltage u_k, terminal voltage
        # v_k, line-line d_k, current i_k, filtered voltage q_k; then RMS
        acc = self.acc
        r = self.readings
        mu = self._mu
        mv = self._mv
        mi = self._mi
        mq = self._mq
        md = self._md
        for k in range(3):
            mu[k] = acc[K.A_SU + k] * inv
            mv[k] = acc[K.A_SV + k] * inv
            mi[k] = acc[K.A_SI + k] * inv
            mq[k] = acc[K.A_SQ + k] * inv
        md[0] = mv[0] - mv[1]
        md[1] = mv[1] - mv[2]
        md[2] = mv[2] - mv[0]
        u_rms = self._u_rms
        ll_rms = self._ll_rms
        i_rms = self._i_rms
        for k in range(3):
            uu = _msum(acc, k, inv) - mu[k] * mu[k]
            u_rms[k] = math.sqrt(uu) * self._u_lsb[k] if uu > 0.0 else 0.0
            r[R_VLN + k] = u_rms[k]
            dd = _msum(acc, 3 + k, inv) - md[k] * md[k]
            ll_rms[k] = math.sqrt(dd) * self._ll_lsb[k] if dd > 0.0 else 0.0
            r[R_VLL + k] = ll_rms[k]
            ii = _msum(acc, 6 + k, inv) - mi[k] * mi[k]
            i_rms[k] = math.sqrt(ii) * self._i_lsb[k] if ii > 0.0 else 0.0
            r[R_I + k] = i_rms[k]
        r[R_VLL_AVG] = _avg(ll_rms, self.ll)
        r[R_VLN_AVG] = _avg(u_rms, self.ln)
        r[R_I_AVG] = _avg(i_rms, self.phases)

    def _powers(self, inv, freq, T):
        acc = self.acc
        r = self.readings
        mu = self._mu
        mi = self._mi
        mq = self._mq
        u_rms = self._u_rms
        i_rms = self._i_rms
        h_mag, h_arg = self._h(freq if freq > 0.0 else 60.0)
        cpsi = math.cos(h_arg)
        spsi = math.sin(h_arg)
        e = self.energy
        for x in range(N_ENERGIES):
            e[x] = 0.0
        ptot = 0.0
        qtot = 0.0
        for k in range(3):
            if k not in self.phases:
                r[R_P + k] = r[R_Q + k] = r[R_S + k] = 0.0
                r[R_PF + k] = 1.0
                continue
            scale = self._u_lsb[k] * self._i_lsb[k]
            p = (_msum(acc, 9 + k, inv) - mu[k] * mi[k]) * scale
            x = (_msum(acc, 12 + k, inv) - mq[k] * mi[k]) * scale
            q = (p * cpsi - x / h_mag) / spsi
            c, s = self._rot[k]
            p, q = p * c + q * s, q * c - p * s
            sa = u_rms[k] * i_rms[k]
            if i_rms[k] < self._i_no_load:
                p = q = sa = 0.0
            r[R_P + k] = p
            r[R_Q + k] = q
            r[R_S + k] = sa
            r[R_PF + k] = p / sa if sa > 0.0 else 1.0
            self._book(k, p, q, sa, T)
            ptot += p
            qtot += q
        stot = math.sqrt(ptot * ptot + qtot * qtot)
        r[R_P_TOT] = ptot
        r[R_Q_TOT] = qtot
        r[R_S_TOT] = stot
        r[R_PF_TOT] = ptot / stot if stot > 0.0 else 1.0
        self._book(E_TOTAL, ptot, qtot, stot, T)

    def _flags(self, freq):
        # register 146 bits 0-5: an input above its +20 % over-range point
        # ('Metering Over-Range') by its RMS, or with a sample at the rail
        # (clipped). In type 11 phase A's voltage is A-B, two terminals in
        # anti-phase: each carries half of it. Bit 6: the frequency.
        flags = self._clip
        self._clip = 0
        u_rms = self._u_rms
        i_rms = self._i_rms
        ab = self.st[K.ST_MODE] == K.MODE_AB
        for k in range(3):
            if i_rms[k] > self._i_full_rms:
                flags |= 8 << k
            if (u_rms[k] * 0.5 if ab and k == 0 else u_rms[k]) > self._v_full_rms:
                flags |= 1 << k
        valid = self._valid_cfg
        if freq > 0.0:
            self.readings[R_FREQ] = freq
            valid |= 1 << R_FREQ
            if not FREQ_MIN <= freq <= FREQ_MAX:
                flags |= F_FREQ
        else:
            self.readings[R_FREQ] = 0.0
            flags |= F_FREQ
        self.valid = valid
        self.flags = flags

    def _book(self, k, p, q, s, T):
        e = self.energy
        b = k * E_KINDS
        if p >= 0.0:
            e[b + E_WH_IMP] = p * T
            e[b + E_VAH_IMP] = s * T
            if q >= 0.0:
                e[b + E_VARH_Q1] = q * T
            else:
                e[b + E_VARH_Q4] = -q * T
        else:
            e[b + E_WH_EXP] = -p * T
            e[b + E_VAH_EXP] = s * T
            if q >= 0.0:
                e[b + E_VARH_Q2] = q * T
            else:
                e[b + E_VARH_Q3] = -q * T

    def _frequency(self, N):
        st = self.st
        count = st[K.ST_ZCOUNT]
        if count == 0:
            self._last_cross = None
            return 0.0
        t_first = _cross_time(st[K.ST_ZFN], st[K.ST_ZFA], st[K.ST_ZFB])
        t_last = _cross_time(st[K.ST_ZLN], st[K.ST_ZLA], st[K.ST_ZLB])
        prev = self._last_cross
        self._last_cross = t_last - N
        if prev is not None and t_first - prev <= 1.5 * self.fs / 40.0:
            # the previous second's last crossing ends the first period
            periods = count
            span = t_last - prev
        else:
            periods = count - 1
            span = t_last - t_first
        if periods < 2 or span <= 0.0:
            return 0.0
        return periods * self.fs / span

    def _offset(self, off):
        # the kernel's ranges hold only for offsets within rail/64 (1.6 % of
        # full scale, far beyond any working front end); a larger DC stays in
        # the signal, where the covariances remove it anyway
        m = self._off_max
        return m if off > m else (-m if off < -m else off)

    def _next_second(self, N, freq):
        st = self.st
        acc = self.acc
        u_rms = self._u_rms
        # The next window ends at the first crossing from 1.25 periods
        # before the next 1-second grid point, or at that point if none
        # comes: a reading a second, whole cycles, and no drift from fs.
        fs = self.fs
        self._grid += fs - N
        per = fs // 32  # a 40 Hz period, before any is measured
        if 40.0 <= freq <= 70.0:
            per = int(fs / freq)
            if not -0.05 < freq - self._f_tuned < 0.05:
                # retuned only by steps of 0.05 Hz or more: a step moves the
                # filters' phase (0.16 rad/Hz) and settles in some 25 ms
                self._tune(freq)
        st[K.ST_ZSTOP] = self._grid - per - (per >> 2) - 1
        st[K.ST_ZEND] = 0
        # coarse offsets follow the means (internal units back to raw codes),
        # taken over whole cycles (a part cycle's mean is not the offset), or
        # where there are no cycles (no voltage)
        shv = st[K.ST_SHV]
        shi = st[K.ST_SHI]
        for k in range(3 if self._whole or not st[K.ST_ZCOUNT] else 0):
            k3 = 3 + k
            st[K.ST_OFF + k] = self._offset(st[K.ST_OFF + k] + _round(acc[K.A_SV + k] * (1 << shv) / N))
            st[K.ST_OFF + k3] = self._offset(st[K.ST_OFF + k3] + _round(acc[K.A_SI + k] * (1 << shi) / N))
        # time the frequency on the largest phase voltage that is there;
        # keep the present one unless another is clearly (25 %) larger, so
        # balanced phases do not take turns
        v_min = self._v_full_rms * _FREQ_V_MIN_FRAC / 1000.0
        cur = st[K.ST_ZSEL]
        best = cur if (cur in self.phases and u_rms[cur] > v_min) else -1
        best_v = u_rms[cur] * 1.25 if best >= 0 else v_min
        for k in range(3):
            if k in self.phases and u_rms[k] > best_v:
                best = k
                best_v = u_rms[k]
        if best >= 0:
            best_v = u_rms[best]
            if best != cur:
                # a new signal: forget the old one's crossing and arming
                self._last_cross = None
                st[K.ST_ZARM] = 0
            st[K.ST_ZSEL] = best
            # arm at a quarter of the peak: far above noise, and low enough
            # that harmonics cannot hide the crossing
            st[K.ST_ZHYST] = max(4, int(best_v / self._u_lsb[best] * 0.35))
        else:
            st[K.ST_ZHYST] = self._freq_v_min_internal(cur)
            st[K.ST_ZARM] = 0
            self._last_cross = None
        for x in range(K.ACC_LEN):
            acc[x] = 0
        st[K.ST_N] = 0
        st[K.ST_ZCOUNT] = 0


def _hand_on(acc, cy, x, ee, f):
    # product sum x (acc[2x] low 16 bits, acc[2x + 1] the rest): take off
    # ee/256 of the edge frame's value f, handed on to the next window
    # (cy[x]), and add what the last window handed on. floor(ee * f / 256)
    # with every step a small int (below 2**30) on the RP2040: ee <= 384,
    # |f| < 2**28.1. The linear sums need no correction: over whole cycles
    # their means are near 0 and enter the covariances only as products.
    c = ee * (f >> 8) + ((ee * (f & 255)) >> 8)
    lo = acc[2 * x] - c + cy[x]
    cy[x] = c
    acc[2 * x + 1] += lo >> 16
    acc[2 * x] = lo & 0xFFFF


def _msum(acc, pair, inv):
    # the mean of a 48-bit sum kept as two words (low 16 bits, the rest)
    return (acc[2 * pair + 1] * 65536.0 + acc[2 * pair]) * inv


def _cross_time(n, before, after):
    # the sample at frame n is `after` (>= 0), the one before is `before` (< 0)
    return n - 1 + before / (before - after)


def _round(x):
    return int(x + 0.5) if x >= 0 else -int(-x + 0.5)


def _avg(x, idx):
    # the mean of x[k], k in idx (the inputs the system type has)
    if not idx:
        return 0.0
    s = 0.0
    for k in idx:
        s += x[k]
    return s / len(idx)
