# DSP speed under the real MicroPython binary (run by tools/bench.py as
# `micropython tools/bench_dsp_mp.py`): CPU time per second of six-channel
# signal for the firmware's viper path, and for a plain float
# implementation of the same per-sample formulas in the same run.
# Prints one JSON line.
import gc
import json
import math
import sys
import time
from array import array

sys.path.insert(0, __file__.rsplit("/", 1)[0] + "/../firmware")
import micropython  # noqa: E402
from compat import ptr32  # noqa: E402,F401

import dsp_kernel as K  # noqa: E402
from dsp import Dsp  # noqa: E402
from frontend import FrontEnd  # noqa: E402

FS = 2520
BLOCK = 126  # frames per block, as a DMA double buffer would hand them over


def one_second(fe):
    buf = array("i", bytes(24 * FS))
    rail = fe.rail
    vs = rail / fe.v_full_scale_peak()
    is_ = rail / (fe.i_full_scale_peak_pu() * 100)
    w = 2 * math.pi * 50.0 / FS
    for n in range(FS):
        for k in range(3):
            th = n * w - k * 2.0943951023931953
            buf[6 * n + k] = int(325.27 * math.cos(th) * vs)
            buf[6 * n + 3 + k] = int(14.142 * math.cos(th - 0.5) * is_)
    return buf


@micropython.viper
def _ref_viper(buf: ptr32, n: int) -> int:
    # the guide's yardstick: a viper loop iteration costs about 30 cycles on
    # the RP2040
    s = 0
    i = 0
    while i < n:
        s += buf[i]
        i += 1
    return s


def _ref_bytecode(buf, n):
    # ... and a bytecode loop iteration about 400
    s = 0
    i = 0
    while i < n:
        s += buf[i]
        i += 1
    return s


def float_second(buf, sums):
    # the same per-sample formulas, in floats: offsets, squares, L-L,
    # products, a 90-degree integrator; what a direct port would do
    vsc = 1.0 / 512
    isc = 1.0 / 256
    s0 = s1 = s2 = 0.0
    for n in range(FS):
        j = 6 * n
        va = buf[j] * vsc
        vb = buf[j + 1] * vsc
        vc = buf[j + 2] * vsc
        ia = buf[j + 3] * isc
        ib = buf[j + 4] * isc
        ic = buf[j + 5] * isc
        s0 += va - s0 * 0.015625
        s1 += vb - s1 * 0.015625
        s2 += vc - s2 * 0.015625
        sums[0] += va * va
        sums[1] += vb * vb
        sums[2] += vc * vc
        d = va - vb
        sums[3] += d * d
        d = vb - vc
        sums[4] += d * d
        d = vc - va
        sums[5] += d * d
        sums[6] += ia * ia
        sums[7] += ib * ib
        sums[8] += ic * ic
        sums[9] += va * ia
        sums[10] += vb * ib
        sums[11] += vc * ic
        sums[12] += s0 * ia
        sums[13] += s1 * ib
        sums[14] += s2 * ic
        sums[15] += va + vb + vc + ia + ib + ic


def main():
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    fe = FrontEnd(24, FS)
    gc.collect()
    free0 = gc.mem_free()
    d = Dsp(fe)
    gc.collect()
    dsp_heap = free0 - gc.mem_free()
    buf = one_second(fe)
    blocks = [memoryview(buf)[i * 6 * BLOCK:(i + 1) * 6 * BLOCK] for i in range(FS // BLOCK)]
    blk = array("i", bytes(24 * BLOCK))
    # per-sample path alone: the kernel over one second in DMA-sized blocks
    st = d.st
    acc = d.acc
    t0 = time.ticks_us()
    for _ in range(seconds):
        for i in range(FS // BLOCK):
            K.accumulate(buf, i * BLOCK, BLOCK, st, acc)
        for x in range(K.ACC_LEN):
            acc[x] = 0
        st[K.ST_N] = 0
        st[K.ST_ZCOUNT] = 0
    kernel_us = time.ticks_diff(time.ticks_us(), t0) / seconds
    # the whole DSP, per-second arithmetic included, block by block
    d = Dsp(fe)
    t0 = time.ticks_us()
    for _ in range(seconds):
        for b in blocks:
            blk[:] = b
            d.process(blk)
    whole_us = time.ticks_diff(time.ticks_us(), t0) / seconds
    # once-a-second step alone
    t0 = time.ticks_us()
    n_close = 20
    for _ in range(n_close):
        d.st[K.ST_N] = FS
        d._close_second()
    close_us = time.ticks_diff(time.ticks_us(), t0) / n_close
    # plain float implementation, same run
    sums = [0.0] * 16
    fsec = max(1, seconds // 5)
    t0 = time.ticks_us()
    for _ in range(fsec):
        float_second(buf, sums)
    float_us = time.ticks_diff(time.ticks_us(), t0) / fsec
    # yardsticks: host ns per iteration of a minimal viper and bytecode loop
    n = len(buf)
    t0 = time.ticks_us()
    for _ in range(20):
        _ref_viper(buf, n)
    ref_viper_ns = time.ticks_diff(time.ticks_us(), t0) * 1000 / (20 * n)
    t0 = time.ticks_us()
    for _ in range(2):
        _ref_bytecode(buf, n)
    ref_bc_ns = time.ticks_diff(time.ticks_us(), t0) * 1000 / (2 * n)
    print(json.dumps({
        "ref_viper_ns_per_iter": ref_viper_ns,
        "ref_bytecode_ns_per_iter": ref_bc_ns,
        "fs": FS,
        "seconds": seconds,
        "kernel_us_per_s": kernel_us,
        "dsp_us_per_s": whole_us,
        "close_second_us": close_us,
        "float_us_per_s": float_us,
        "dsp_heap_bytes": dsp_heap,
        "word_bits": 64 if sys.maxsize > 0x7FFFFFFF else 32,
    }))


main()
