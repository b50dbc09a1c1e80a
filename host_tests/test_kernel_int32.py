"""The DSP kernel (firmware/dsp_kernel.py) never leaves 32 bits, checked
under 32-bit arithmetic on its worst waveforms.

The RP2040's viper ints are 32-bit words: an intermediate beyond 2**31
would wrap silently there while the 64-bit unix port and CPython (where
the other tests run) compute it right. Here every integer the kernel
computes from a sample, a state word or a sum is an Int32, which refuses
any result outside [-2**31, 2**31). The waveforms are the kernel's worst
(docs/dsp.md 'Fixed point'): every input at a converter rail, neighbouring
voltages at opposite rails (line-to-line differences of twice the rail,
and in type 11 a phase voltage of Va - Vb), the currents' signs making
every product sum grow as fast as it can, the coarse offsets at their
bound (rail/64) against the signal, the ADS131M06's own negative rail
(-2**23, one beyond -rail), and a square wave between the rails at the
fundamental filters' tuning (the input that drives a resonator highest).
CPython only: it needs an int subclass with operators.
"""

from array import array

import dsp_kernel as K
from dsp import Dsp
from frontend import FrontEnd

LIM = 1 << 31


class Int32(int):
    """An int whose arithmetic results must fit a signed 32-bit word."""

    def _fit(r):
        if not -LIM <= r < LIM:
            raise OverflowError("32-bit overflow: %d" % r)
        return Int32(r)

    def _op(name):
        f = getattr(int, name)
        return lambda a, b: Int32._fit(f(a, int(b)))

    for _n in ("__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__",
               "__lshift__", "__rlshift__", "__rshift__", "__rrshift__", "__and__", "__rand__",
               "__or__", "__ror__", "__xor__", "__rxor__", "__floordiv__"):
        locals()[_n] = _op(_n)
    del _n

    def __neg__(a):
        return Int32._fit(-int(a))


class Words:
    """array('i') as viper's ptr32 sees it on the RP2040: loads are Int32,
    stores keep the low 32 bits (here: must already fit)."""

    def __init__(self, a):
        self.a = a

    def __getitem__(self, i):
        return Int32(self.a[i])

    def __setitem__(self, i, v):
        self.a[i] = Int32._fit(int(v))

    def __len__(self):
        return len(self.a)


def run(system_type, fs, frames, codes, offsets, tune=None):
    """Frames of the `codes` (one frame's six, or many frames') through the
    kernel under Int32, the coarse offsets set to `offsets`, the
    fundamental filters tuned to `tune` Hz; returns the Dsp."""
    d = Dsp(FrontEnd(24, fs))
    d.configure(system_type, 100, 1, 1.0)
    if tune:
        d._tune(tune)
    st = d.st
    st[K.ST_SX] = 0  # the RP2040: 32-bit words, no sign extension needed
    st[K.ST_ZSTOP] = 1 << 30  # one window over all of it
    for ch in range(6):
        st[K.ST_OFF + ch] = offsets[ch]
    buf = array("i", list(codes) * (frames * 6 // len(codes)))
    frames = len(buf) // 6
    K.accumulate(Words(buf), 0, frames, Words(st), Words(d.acc))
    return d


def test_no_32_bit_overflow_at_opposite_rails_in_every_wiring():
    rail = (1 << 23) - 1
    m = rail >> 6  # the coarse offsets' bound (dsp.py _offset)
    # voltages at opposite rails (A-B and B-C at twice the rail), the
    # currents' signs those of their phase voltages, offsets against them
    up = (rail, -rail - 1, rail, rail, -rail - 1, rail)
    off_up = (-m, m, -m, -m, m, -m)
    down = tuple(-x if x != -rail - 1 else rail for x in up)
    off_down = tuple(-x for x in off_up)
    for system_type in (40, 31, 11):
        for codes, off in ((up, off_up), (down, off_down)):
            d = run(system_type, 8000, 600, codes, off)
            acc = d.acc
            for pair in range(K.NPAIRS):
                assert 0 <= acc[2 * pair] < 65536
                assert abs(acc[2 * pair + 1]) < (1 << 26)
            # the line-to-line sum really saw a difference of twice the rail:
            # (2 * 8192)**2 per frame, in internal units (shift 10)
            dab = acc[K.A_DD + 1] * 65536 + acc[K.A_DD]
            assert dab >= 600 * (2 * 8191) ** 2, system_type


def test_no_32_bit_overflow_over_a_whole_second_at_8000_per_s():
    # type 11 (phase A = Va - Vb: the largest phase voltage), every product
    # at its largest for 8000 frames: the high words' stated bound (2**26
    # after a second at 16000/s) and no intermediate beyond 32 bits
    rail = (1 << 23) - 1
    m = rail >> 6
    d = run(11, 8000, 8000, (rail, -rail - 1, rail, rail, -rail - 1, rail),
            (-m, m, -m, -m, m, -m))
    acc = d.acc
    for pair in range(K.NPAIRS):
        assert abs(acc[2 * pair + 1]) < (1 << 26)
    # DC: the filters' low-pass state follows 2**SV_G x the phase voltage
    assert abs(d.st[K.ST_LP]) <= (1 << K.SV_G) * 16384 * 1.04


def test_no_32_bit_overflow_with_a_square_wave_at_the_filters_tuning():
    # the fundamental filters (Q = 4) driven at their peak by a square wave
    # between the rails, at the largest tuning coefficient (70 Hz at
    # 2000/s), in type 11 (the largest phase voltage): the states' swing is
    # the worst any input can make. 28 frames a period = 71.4 Hz.
    rail = (1 << 23) - 1
    m = rail >> 6
    hi = (rail, -rail - 1, rail, rail, -rail - 1, rail)
    lo = (-rail - 1, rail, -rail - 1, -rail - 1, rail, -rail - 1)
    period = list(hi) * 14 + list(lo) * 14
    for tune in (70.0, 71.4):
        d = run(11, 2000, 2000, period, (-m, m, -m, -m, m, -m), tune=tune)
        acc = d.acc
        for pair in range(K.NPAIRS):
            assert abs(acc[2 * pair + 1]) < (1 << 26)
