# The per-sample path: one viper loop over interleaved six-channel frames
# (Va, Vb, Vc, Ia, Ib, Ic), accumulating the sums the once-a-second
# arithmetic in dsp.py turns into RMS, power, energy and frequency.
#
# Why it is shaped like this (RP2040, Cortex-M0+, 32-bit viper ints, no
# 32x32->64 multiply):
#
# * Inputs are reduced to an internal scale before any product: voltages to
#   |v| <= 2**14 (so a line-to-line difference fits 2**15), currents to
#   |i| <= 2**15. Every product is then <= 2**30 in magnitude.
# * The reduction from a 24-bit front end (shift 9 or 8) would, by plain
#   rounding, leave a quantisation error correlated with the waveform: at 1 %
#   of nominal current (about 190 internal LSB rms) that biases Irms and P by
#   up to 0.04 %. First-order error feedback (the residue of each rounding is
#   added to the next sample) pushes that error up the spectrum where it
#   averages out over a second; the same experiment then shows < 0.003 %.
#   The residue is carried per channel in the state, so it has no bias and
#   nothing is truncated.
# * Sums of products are kept as two words: `lo` in [0, 2**16) and `hi`
#   counting units of 2**16. Adding a product (|p| <= 2**30) to lo stays
#   below 2**31, and the carry moves every sample, so lo never overflows.
#   hi grows by at most 2**14 per sample: after a whole second at fs = 16000
#   (above the supported 8000) it is below 2**28. dsp.py flushes every second.
#   Linear sums (sum of v, i, q) grow by 2**15 per sample: 2**29 at 16000/s.
# * Nothing is allocated: all state lives in preallocated array('i') buffers
#   and viper locals (machine words), so this runs under heap_lock().
#   Intermediates never exceed 2**31, so the result is bit-identical on the
#   RP2040 (32-bit), the 64-bit unix port and CPython.
# * Reactive power needs the voltage shifted by 90 degrees. A leaky
#   integrator s += u - s/2**k does that for one add and one shift; its exact
#   transfer function 1/(1 - (1 - 2**-k) z**-1) is known, so dsp.py removes
#   its gain and its small phase departure from 90 degrees once a second at
#   the measured frequency. Its DC response (gain 2**k) is why the integrator
#   output is taken as a covariance (mean removed), like everything else.
# * Offsets: a coarse integer offset (updated once a second from the mean)
#   is subtracted from each raw code; the residue is removed exactly by
#   computing covariances from the sums (sum(xy)/N - mean(x) mean(y)). That
#   is right for half-wave loads too: their DC is real signal, taken out
#   over the whole second, not filtered with a time constant.
# * Over-range: a raw code at or beyond the converter's rail (the +20 %
#   over-range point is full scale) is clamped to the rail and flags its
#   channel: bits 0-5 as register 146.
# * Frequency: zero crossings of one phase voltage (chosen once a second,
#   the largest), armed by a hysteresis of a fraction of its amplitude, each
#   interpolated linearly between the two samples around it.
# * Portability: viper on a 64-bit host (the unix port used by the tests)
#   zero-extends a ptr32 load, so a stored -1 reads back as 2**32 - 1.
#   Every load whose sign matters is sign-extended with (x << sx) >> sx,
#   sx = 32 there and 0 on the RP2040, where it costs two shifts by zero.
#   Read-modify-write of a sum (acc[i] += v) needs no care: the store keeps
#   the low 32 bits, which are right either way.

import micropython
from micropython import const
from compat import ptr32  # noqa: F401  (viper cast; a no-op on CPython)

NCH = const(6)

# State words (array('i'), ST_LEN long)
ST_OFF = const(0)  # 6 coarse offsets, raw code units
ST_EF = const(6)  # 6 error-feedback residues, raw code units
ST_SHV = const(12)  # raw -> internal shift for voltages
ST_SHI = const(13)  # raw -> internal shift for currents
ST_MODE = const(14)  # phase-voltage formation, MODE_*
ST_INT = const(15)  # 3 integrator states (internal units)
ST_KLEAK = const(18)  # integrator leak shift k
ST_QSH = const(19)  # integrator output shift
ST_ZSEL = const(20)  # phase whose voltage times the frequency (0..2)
ST_ZHYST = const(21)  # arming threshold, internal units
ST_ZARM = const(22)
ST_ZPREV = const(23)
ST_N = const(24)  # frame index within the second
ST_ZCOUNT = const(25)
ST_ZFN = const(26)  # first crossing: frame index, sample before, sample after
ST_ZFA = const(27)
ST_ZFB = const(28)
ST_ZLN = const(29)  # last crossing
ST_ZLA = const(30)
ST_ZLB = const(31)
ST_RAIL = const(32)  # largest raw code magnitude (the rail)
ST_OVR = const(33)  # over-range bits, as register 146 bits 0-5
ST_SX = const(34)  # sign-extension shift for ptr32 loads: 0 on 32-bit targets
ST_LEN = const(35)

MODE_LN = const(0)  # phase voltage = terminal voltage (types 10, 12, 40)
MODE_DELTA = const(1)  # against the artificial star point (type 31)
MODE_AB = const(2)  # phase A voltage = Va - Vb (type 11)

# Accumulator words (array('i'), ACC_LEN long). Product sums are lo/hi pairs.
A_UU = const(0)  # 3 pairs: sum u_k**2 (phase voltage)
A_DD = const(6)  # 3 pairs: sum d**2, d = Va-Vb, Vb-Vc, Vc-Va
A_II = const(12)  # 3 pairs: sum i_k**2
A_UI = const(18)  # 3 pairs: sum u_k*i_k (real power)
A_QI = const(24)  # 3 pairs: sum q_k*i_k (integrated voltage x current)
NPAIRS = const(15)
A_SV = const(30)  # 3: sum v_k
A_SU = const(33)  # 3: sum u_k
A_SI = const(36)  # 3: sum i_k
A_SQ = const(39)  # 3: sum q_k
ACC_LEN = const(42)


@micropython.viper
def accumulate(buf: ptr32, start: int, nframes: int, st: ptr32, acc: ptr32):
    sx = st[ST_SX]
    rail = st[ST_RAIL]
    nrail = 0 - rail
    shv = st[ST_SHV]
    shi = st[ST_SHI]
    hv = (1 << shv) >> 1
    hi_ = (1 << shi) >> 1
    vmax = 16384
    imax = 32767
    mode = st[ST_MODE]
    kl = st[ST_KLEAK]
    qsh = st[ST_QSH]
    zsel = st[ST_ZSEL]
    zhyst = 0 - st[ST_ZHYST]
    zarm = st[ST_ZARM]
    zprev = (st[ST_ZPREV] << sx) >> sx
    n = st[ST_N]
    ovr = st[ST_OVR]
    o0 = (st[ST_OFF] << sx) >> sx
    o1 = (st[ST_OFF + 1] << sx) >> sx
    o2 = (st[ST_OFF + 2] << sx) >> sx
    o3 = (st[ST_OFF + 3] << sx) >> sx
    o4 = (st[ST_OFF + 4] << sx) >> sx
    o5 = (st[ST_OFF + 5] << sx) >> sx
    e0 = (st[ST_EF] << sx) >> sx
    e1 = (st[ST_EF + 1] << sx) >> sx
    e2 = (st[ST_EF + 2] << sx) >> sx
    e3 = (st[ST_EF + 3] << sx) >> sx
    e4 = (st[ST_EF + 4] << sx) >> sx
    e5 = (st[ST_EF + 5] << sx) >> sx
    s0 = (st[ST_INT] << sx) >> sx
    s1 = (st[ST_INT + 1] << sx) >> sx
    s2 = (st[ST_INT + 2] << sx) >> sx
    j = start * 6
    end = j + nframes * 6
    while j < end:
        # ---- raw codes: clamp at the rail (over-range), remove coarse offset,
        # ---- reduce to the internal scale with error feedback
        x = (buf[j] << sx) >> sx
        if x >= rail:
            x = rail
            ovr |= 1
        elif x <= nrail:
            x = nrail
            ovr |= 1
        y = x - o0 + e0
        va = (y + hv) >> shv
        e0 = y - (va << shv)
        x = (buf[j + 1] << sx) >> sx
        if x >= rail:
            x = rail
            ovr |= 2
        elif x <= nrail:
            x = nrail
            ovr |= 2
        y = x - o1 + e1
        vb = (y + hv) >> shv
        e1 = y - (vb << shv)
        x = (buf[j + 2] << sx) >> sx
        if x >= rail:
            x = rail
            ovr |= 4
        elif x <= nrail:
            x = nrail
            ovr |= 4
        y = x - o2 + e2
        vc = (y + hv) >> shv
        e2 = y - (vc << shv)
        x = (buf[j + 3] << sx) >> sx
        if x >= rail:
            x = rail
            ovr |= 8
        elif x <= nrail:
            x = nrail
            ovr |= 8
        y = x - o3 + e3
        ia = (y + hi_) >> shi
        e3 = y - (ia << shi)
        x = (buf[j + 4] << sx) >> sx
        if x >= rail:
            x = rail
            ovr |= 16
        elif x <= nrail:
            x = nrail
            ovr |= 16
        y = x - o4 + e4
        ib = (y + hi_) >> shi
        e4 = y - (ib << shi)
        x = (buf[j + 5] << sx) >> sx
        if x >= rail:
            x = rail
            ovr |= 32
        elif x <= nrail:
            x = nrail
            ovr |= 32
        y = x - o5 + e5
        ic = (y + hi_) >> shi
        e5 = y - (ic << shi)
        j += 6
        # A coarse offset that lags a moving DC can push a value a little past
        # the internal range; hold it there so no product can exceed 2**30.
        if va > vmax:
            va = vmax
        elif va < 0 - vmax:
            va = 0 - vmax
        if vb > vmax:
            vb = vmax
        elif vb < 0 - vmax:
            vb = 0 - vmax
        if vc > vmax:
            vc = vmax
        elif vc < 0 - vmax:
            vc = 0 - vmax
        if ia > imax:
            ia = imax
        elif ia < 0 - imax:
            ia = 0 - imax
        if ib > imax:
            ib = imax
        elif ib < 0 - imax:
            ib = 0 - imax
        if ic > imax:
            ic = imax
        elif ic < 0 - imax:
            ic = 0 - imax
        # ---- phase voltages by wiring
        if mode == 0:
            ua = va
            ub = vb
            uc = vc
        elif mode == 1:
            # artificial star point: (va+vb+vc)/3, 10923/2**15 = 1/3 - 1e-5;
            # |va+vb+vc| <= 3*2**14, product < 2**30
            m = ((va + vb + vc) * 10923) >> 15
            ua = va - m
            ub = vb - m
            uc = vc - m
        else:
            ua = va - vb
            ub = vb
            uc = vc
        # ---- 90-degree voltages: leaky integrators
        s0 = s0 - (s0 >> kl) + ua
        s1 = s1 - (s1 >> kl) + ub
        s2 = s2 - (s2 >> kl) + uc
        qa = s0 >> qsh
        qb = s1 >> qsh
        qc = s2 >> qsh
        if qa > imax:
            qa = imax
        elif qa < 0 - imax:
            qa = 0 - imax
        if qb > imax:
            qb = imax
        elif qb < 0 - imax:
            qb = 0 - imax
        if qc > imax:
            qc = imax
        elif qc < 0 - imax:
            qc = 0 - imax
        # ---- linear sums (means for the covariances)
        acc[30] += va
        acc[31] += vb
        acc[32] += vc
        acc[33] += ua
        acc[34] += ub
        acc[35] += uc
        acc[36] += ia
        acc[37] += ib
        acc[38] += ic
        acc[39] += qa
        acc[40] += qb
        acc[41] += qc
        # ---- products, two-word sums: lo in [0, 2**16), carry to hi
        t = acc[0] + ua * ua
        acc[1] += t >> 16
        acc[0] = t & 0xFFFF
        t = acc[2] + ub * ub
        acc[3] += t >> 16
        acc[2] = t & 0xFFFF
        t = acc[4] + uc * uc
        acc[5] += t >> 16
        acc[4] = t & 0xFFFF
        d = va - vb
        t = acc[6] + d * d
        acc[7] += t >> 16
        acc[6] = t & 0xFFFF
        d = vb - vc
        t = acc[8] + d * d
        acc[9] += t >> 16
        acc[8] = t & 0xFFFF
        d = vc - va
        t = acc[10] + d * d
        acc[11] += t >> 16
        acc[10] = t & 0xFFFF
        t = acc[12] + ia * ia
        acc[13] += t >> 16
        acc[12] = t & 0xFFFF
        t = acc[14] + ib * ib
        acc[15] += t >> 16
        acc[14] = t & 0xFFFF
        t = acc[16] + ic * ic
        acc[17] += t >> 16
        acc[16] = t & 0xFFFF
        t = acc[18] + ua * ia
        acc[19] += t >> 16
        acc[18] = t & 0xFFFF
        t = acc[20] + ub * ib
        acc[21] += t >> 16
        acc[20] = t & 0xFFFF
        t = acc[22] + uc * ic
        acc[23] += t >> 16
        acc[22] = t & 0xFFFF
        t = acc[24] + qa * ia
        acc[25] += t >> 16
        acc[24] = t & 0xFFFF
        t = acc[26] + qb * ib
        acc[27] += t >> 16
        acc[26] = t & 0xFFFF
        t = acc[28] + qc * ic
        acc[29] += t >> 16
        acc[28] = t & 0xFFFF
        # ---- zero crossings (negative to positive) of the selected phase
        if zsel == 0:
            z = ua
        elif zsel == 1:
            z = ub
        else:
            z = uc
        if z < zhyst:
            zarm = 1
        elif zarm and z >= 0:
            zarm = 0
            c = st[ST_ZCOUNT] + 1
            st[ST_ZCOUNT] = c
            if c == 1:
                st[ST_ZFN] = n
                st[ST_ZFA] = zprev
                st[ST_ZFB] = z
            st[ST_ZLN] = n
            st[ST_ZLA] = zprev
            st[ST_ZLB] = z
        zprev = z
        n += 1
    st[ST_EF] = e0
    st[ST_EF + 1] = e1
    st[ST_EF + 2] = e2
    st[ST_EF + 3] = e3
    st[ST_EF + 4] = e4
    st[ST_EF + 5] = e5
    st[ST_INT] = s0
    st[ST_INT + 1] = s1
    st[ST_INT + 2] = s2
    st[ST_ZARM] = zarm
    st[ST_ZPREV] = zprev
    st[ST_N] = n
    st[ST_OVR] = ovr
