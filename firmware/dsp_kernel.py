# The per-sample path: one viper loop over interleaved six-channel frames
# (Va, Vb, Vc, Ia, Ib, Ic), accumulating the sums the once-a-second
# arithmetic in dsp.py turns into RMS, power, energy and frequency.
#
# Why it is shaped like this (RP2040, Cortex-M0+, 32-bit viper ints, no
# 32x32->64 multiply):
#
# * Inputs are reduced to an internal scale before any product: voltages to
#   |v| <= 2**13 (so a line-to-line difference fits 2**14), currents to
#   |i| <= 2**14. A board's codes are within +-2**(bits-1) (the front-end
#   contract: a converter's own range, or the synthesizer's clipping) and
#   the coarse offsets are held within rail/64 (dsp.py), so the reduced
#   values stay within 1.016 times those bounds by construction, with no
#   clamp per sample. Every product is then below 1.04 * 2**28.
# * The reduction from a 24-bit front end (shift 10 for voltages, 9 for
#   currents: dsp.py sets bits - 14 and bits - 15) would, by plain
#   rounding, leave a quantisation error correlated with the waveform: at 1 %
#   of nominal current (about 190 internal LSB rms) that biases Irms and P by
#   up to 0.04 %. First-order error feedback (the residue of each rounding is
#   added to the next sample) pushes that error up the spectrum where it
#   averages out over a second; the same experiment then shows < 0.003 %
#   (1 % of nominal current is about 29 internal LSB rms with the current's
#   full scale at 4 x In; docs/dsp.md 'Headroom' has the figures). The
#   residue is carried per channel in the state, so it has no bias and
#   nothing is truncated.
# * Sums of products are kept as two words: `lo` and `hi` counting units of
#   2**16. lo starts a group of four frames in [0, 2**16); four products
#   (each below 2**28.5, q x i the largest: q's swing on the worst input)
#   keep it below 2**31; then the carry moves lo's upper part into hi. hi
#   grows by at most 2**12.5 per frame: under 2**26 after a window (at most
#   1 s and 1.25 periods) at the supported 8000/s; dsp.py clears the sums
#   every window. Linear sums (of v, i, q) grow by 2**14.5 per frame: under
#   2**28 at 8000/s. host_tests/test_kernel_int32.py checks all of it under
#   32-bit arithmetic on the worst waveforms.
# * On the Cortex-M0+ viper keeps locals in stack slots and an array element
#   costs an address computation besides the load and store, so the sums live
#   in locals for the whole block and go back to `acc` once at its end; the
#   carry runs every fourth frame. This is what keeps the loop at 245
#   cycles a channel-sample, 1472 a frame (tools/thumb_emulate.py runs the
#   compiled Thumb code; docs/dsp.md has the figures).
# * Nothing is allocated: all state lives in preallocated array('i') buffers
#   and viper locals (machine words), so this runs under heap_lock().
#   Intermediates never exceed 2**31, so the result is bit-identical on the
#   RP2040 (32-bit), the 64-bit unix port and CPython.
# * Reactive power is the fundamental's (IEEE 1459 Q1): each phase
#   voltage goes through a state-variable filter tuned to the measured
#   frequency (ST_FK = 2 sin(pi f / fs) x 2**14, damping 2**-SV_D: Q = 4),
#   whose low-pass output is 90 degrees behind the fundamental less half a
#   sample; q, the mean of this and the last output, removes the half
#   sample. Two multiplies a phase. dsp.py knows its exact response and
#   corrects gain and phase once a window; the current needs no filter (its
#   harmonics are orthogonal to q's fundamental over whole cycles).
#   Range: gain 4 x 2**SV_G at the peak on L; host_tests/test_kernel_int32.py
#   drives it with a square wave between the rails at its peak.
# * Offsets: a coarse integer offset (updated once a second from the mean)
#   is subtracted from each raw code; the residue is removed exactly by
#   computing covariances from the sums (sum(xy)/N - mean(x) mean(y)). That
#   is right for half-wave loads too: their DC is real signal, taken out
#   over the whole second, not filtered with a time constant.
# * No comparison runs per sample that can run once a second instead: on
#   the Cortex-M0+ viper turns each `if` into some ten instructions.
#   Over-range (register 146 bits 0-5, 'Metering Over-Range +20 %') is the
#   RMS above the +20 % point, judged in dsp.py, or a sample at the rail,
#   found by the board's decode (where every code is touched anyway).
# * Frequency: zero crossings of one phase voltage (chosen once a second,
#   the largest), armed by a hysteresis of a fraction of its amplitude, each
#   interpolated linearly between the two samples around it.
# * Windows of whole cycles: the first crossing at or after frame ST_ZSTOP
#   (dsp.py puts it 1.25 periods before the next second) ends the window:
#   the kernel keeps that frame's samples in ST_EDGE, sets ST_ZEND and
#   returns with the rest of the block unread. One compare per crossing,
#   nothing per sample.
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
ST_LP = const(15)  # 3 fundamental filters' low-pass states (internal units x 2)
ST_FK = const(18)  # their tuning F = 2 sin(pi f / fs), x 2**14
ST_ZSEL = const(19)  # phase whose voltage times the frequency (0..2)
ST_ZHYST = const(20)  # arming threshold, internal units
ST_ZARM = const(21)
ST_ZPREV = const(22)
ST_N = const(23)  # frame index within the window
ST_ZCOUNT = const(24)
ST_ZFN = const(25)  # first crossing: frame index, sample before, sample after
ST_ZFA = const(26)
ST_ZFB = const(27)
ST_ZLN = const(28)  # last crossing
ST_ZLA = const(29)
ST_ZLB = const(30)
ST_ZSTOP = const(31)  # frame index from which a crossing ends the window
ST_ZEND = const(32)  # 1: the window ended at a crossing (the kernel stopped)
ST_SX = const(33)  # sign-extension shift for ptr32 loads: 0 on 32-bit targets
ST_BP = const(34)  # 3 fundamental filters' band-pass states (internal units x 2)
ST_EDGE = const(37)  # the window's last frame: va vb vc ia ib ic qa qb qc
ST_LEN = const(46)

# The fundamental filter (a state-variable filter per phase voltage, Q = 4):
SV_D = const(2)  # damping 1/Q = 2**-2
SV_G = const(2)  # its states carry two fraction bits
SV_OUT = const(4)  # q = (L + L_prev) / 2 >> 4: gain 1 at its tuning, -90 degrees

MODE_LN = const(0)  # phase voltage = terminal voltage (types 10, 12, 40)
MODE_DELTA = const(1)  # against the artificial star point (type 31)
MODE_AB = const(2)  # phase A voltage = Va - Vb (type 11)

# Accumulator words (array('i'), ACC_LEN long). Product sums are lo/hi pairs.
A_UU = const(0)  # 3 pairs: sum u_k**2 (phase voltage)
A_DD = const(6)  # 3 pairs: sum d**2, d = Va-Vb, Vb-Vc, Vc-Va
A_II = const(12)  # 3 pairs: sum i_k**2
A_UI = const(18)  # 3 pairs: sum u_k*i_k (real power)
A_QI = const(24)  # 3 pairs: sum q_k*i_k (filtered voltage x current: Q1)
NPAIRS = const(15)
A_SV = const(30)  # 3: sum v_k
A_SU = const(33)  # 3: sum u_k
A_SI = const(36)  # 3: sum i_k
A_SQ = const(39)  # 3: sum q_k
ACC_LEN = const(42)


@micropython.viper
def accumulate(buf: ptr32, start: int, nframes: int, st: ptr32, acc: ptr32):
    sx = st[ST_SX]
    shv = st[ST_SHV]
    shi = st[ST_SHI]
    hv = (1 << shv) >> 1
    hi_ = (1 << shi) >> 1
    mode = st[ST_MODE]
    fk = st[ST_FK]
    zsel = st[ST_ZSEL]
    zhyst = 0 - st[ST_ZHYST]
    zarm = st[ST_ZARM]
    zprev = (st[ST_ZPREV] << sx) >> sx
    n = st[ST_N]
    zstop = st[ST_ZSTOP]
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
    l0 = (st[ST_LP] << sx) >> sx
    l1 = (st[ST_LP + 1] << sx) >> sx
    l2 = (st[ST_LP + 2] << sx) >> sx
    b0 = (st[ST_BP] << sx) >> sx
    b1 = (st[ST_BP + 1] << sx) >> sx
    b2 = (st[ST_BP + 2] << sx) >> sx
    # product sums (lo in [0, 2**16) between calls; hi signed)
    uual = acc[0]
    uuah = (acc[1] << sx) >> sx
    uubl = acc[2]
    uubh = (acc[3] << sx) >> sx
    uucl = acc[4]
    uuch = (acc[5] << sx) >> sx
    dabl = acc[6]
    dabh = (acc[7] << sx) >> sx
    dbcl = acc[8]
    dbch = (acc[9] << sx) >> sx
    dcal = acc[10]
    dcah = (acc[11] << sx) >> sx
    iial = acc[12]
    iiah = (acc[13] << sx) >> sx
    iibl = acc[14]
    iibh = (acc[15] << sx) >> sx
    iicl = acc[16]
    iich = (acc[17] << sx) >> sx
    pal = acc[18]
    pah = (acc[19] << sx) >> sx
    pbl = acc[20]
    pbh = (acc[21] << sx) >> sx
    pcl = acc[22]
    pch = (acc[23] << sx) >> sx
    xal = acc[24]
    xah = (acc[25] << sx) >> sx
    xbl = acc[26]
    xbh = (acc[27] << sx) >> sx
    xcl = acc[28]
    xch = (acc[29] << sx) >> sx
    # linear sums
    sva = (acc[30] << sx) >> sx
    svb = (acc[31] << sx) >> sx
    svc = (acc[32] << sx) >> sx
    sua = (acc[33] << sx) >> sx
    sub = (acc[34] << sx) >> sx
    suc = (acc[35] << sx) >> sx
    sia = (acc[36] << sx) >> sx
    sib = (acc[37] << sx) >> sx
    sic = (acc[38] << sx) >> sx
    sqa = (acc[39] << sx) >> sx
    sqb = (acc[40] << sx) >> sx
    sqc = (acc[41] << sx) >> sx
    j = start * 6
    end = j + nframes * 6
    cc = 0
    while True:
        if cc == 4 or j >= end:
            # carry: lo back to [0, 2**16), its upper part into hi
            uuah += uual >> 16
            uual &= 0xFFFF
            uubh += uubl >> 16
            uubl &= 0xFFFF
            uuch += uucl >> 16
            uucl &= 0xFFFF
            dabh += dabl >> 16
            dabl &= 0xFFFF
            dbch += dbcl >> 16
            dbcl &= 0xFFFF
            dcah += dcal >> 16
            dcal &= 0xFFFF
            iiah += iial >> 16
            iial &= 0xFFFF
            iibh += iibl >> 16
            iibl &= 0xFFFF
            iich += iicl >> 16
            iicl &= 0xFFFF
            pah += pal >> 16
            pal &= 0xFFFF
            pbh += pbl >> 16
            pbl &= 0xFFFF
            pch += pcl >> 16
            pcl &= 0xFFFF
            xah += xal >> 16
            xal &= 0xFFFF
            xbh += xbl >> 16
            xbl &= 0xFFFF
            xch += xcl >> 16
            xcl &= 0xFFFF
            cc = 0
            if j >= end:
                break
        cc += 1
        # ---- raw codes: remove the coarse offset, reduce to the internal
        # ---- scale with error feedback
        x = (buf[j] << sx) >> sx
        y = x - o0 + e0
        va = (y + hv) >> shv
        e0 = y - (va << shv)
        x = (buf[j + 1] << sx) >> sx
        y = x - o1 + e1
        vb = (y + hv) >> shv
        e1 = y - (vb << shv)
        x = (buf[j + 2] << sx) >> sx
        y = x - o2 + e2
        vc = (y + hv) >> shv
        e2 = y - (vc << shv)
        x = (buf[j + 3] << sx) >> sx
        y = x - o3 + e3
        ia = (y + hi_) >> shi
        e3 = y - (ia << shi)
        x = (buf[j + 4] << sx) >> sx
        y = x - o4 + e4
        ib = (y + hi_) >> shi
        e4 = y - (ib << shi)
        x = (buf[j + 5] << sx) >> sx
        y = x - o5 + e5
        ic = (y + hi_) >> shi
        e5 = y - (ic << shi)
        j += 6
        # ---- phase voltages by wiring
        if mode == 0:
            ua = va
            ub = vb
            uc = vc
        elif mode == 1:
            # artificial star point: (va+vb+vc)/3, 10923/2**15 = 1/3 - 1e-5;
            # |va+vb+vc| < 3.05 * 2**13, product < 2**29
            m = ((va + vb + vc) * 10923) >> 15
            ua = va - m
            ub = vb - m
            uc = vc - m
        else:
            ua = va - vb
            ub = vb
            uc = vc
        # ---- the voltages' fundamentals, 90 degrees behind: one
        # state-variable filter per phase tuned to the measured frequency
        # (L += F B; B += F (2u - L - B/8)), q the mean of this and the last
        # L (cancels the filter's half-sample lead), scaled to u's range
        t = (fk * b0) >> 14
        l0 += t
        b0 += (fk * ((ua << SV_G) - l0 - (b0 >> SV_D))) >> 14
        qa = (l0 - (t >> 1)) >> SV_OUT
        t = (fk * b1) >> 14
        l1 += t
        b1 += (fk * ((ub << SV_G) - l1 - (b1 >> SV_D))) >> 14
        qb = (l1 - (t >> 1)) >> SV_OUT
        t = (fk * b2) >> 14
        l2 += t
        b2 += (fk * ((uc << SV_G) - l2 - (b2 >> SV_D))) >> 14
        qc = (l2 - (t >> 1)) >> SV_OUT
        # ---- linear sums (means for the covariances)
        sva += va
        svb += vb
        svc += vc
        sua += ua
        sub += ub
        suc += uc
        sia += ia
        sib += ib
        sic += ic
        sqa += qa
        sqb += qb
        sqc += qc
        # ---- products into the low words
        uual += ua * ua
        uubl += ub * ub
        uucl += uc * uc
        d = va - vb
        dabl += d * d
        d = vb - vc
        dbcl += d * d
        d = vc - va
        dcal += d * d
        iial += ia * ia
        iibl += ib * ib
        iicl += ic * ic
        pal += ua * ia
        pbl += ub * ib
        pcl += uc * ic
        xal += qa * ia
        xbl += qb * ib
        xcl += qc * ic
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
            if n >= zstop:
                # the window ends with this frame (whole cycles): keep its
                # samples for dsp.py's boundary correction and stop
                st[ST_ZEND] = 1
                st[ST_EDGE] = va
                st[ST_EDGE + 1] = vb
                st[ST_EDGE + 2] = vc
                st[ST_EDGE + 3] = ia
                st[ST_EDGE + 4] = ib
                st[ST_EDGE + 5] = ic
                st[ST_EDGE + 6] = qa
                st[ST_EDGE + 7] = qb
                st[ST_EDGE + 8] = qc
                end = j
        zprev = z
        n += 1
    acc[0] = uual
    acc[1] = uuah
    acc[2] = uubl
    acc[3] = uubh
    acc[4] = uucl
    acc[5] = uuch
    acc[6] = dabl
    acc[7] = dabh
    acc[8] = dbcl
    acc[9] = dbch
    acc[10] = dcal
    acc[11] = dcah
    acc[12] = iial
    acc[13] = iiah
    acc[14] = iibl
    acc[15] = iibh
    acc[16] = iicl
    acc[17] = iich
    acc[18] = pal
    acc[19] = pah
    acc[20] = pbl
    acc[21] = pbh
    acc[22] = pcl
    acc[23] = pch
    acc[24] = xal
    acc[25] = xah
    acc[26] = xbl
    acc[27] = xbh
    acc[28] = xcl
    acc[29] = xch
    acc[30] = sva
    acc[31] = svb
    acc[32] = svc
    acc[33] = sua
    acc[34] = sub
    acc[35] = suc
    acc[36] = sia
    acc[37] = sib
    acc[38] = sic
    acc[39] = sqa
    acc[40] = sqb
    acc[41] = sqc
    st[ST_EF] = e0
    st[ST_EF + 1] = e1
    st[ST_EF + 2] = e2
    st[ST_EF + 3] = e3
    st[ST_EF + 4] = e4
    st[ST_EF + 5] = e5
    st[ST_LP] = l0
    st[ST_LP + 1] = l1
    st[ST_LP + 2] = l2
    st[ST_BP] = b0
    st[ST_BP + 1] = b1
    st[ST_BP + 2] = b2
    st[ST_ZARM] = zarm
    st[ST_ZPREV] = zprev
    st[ST_N] = n
