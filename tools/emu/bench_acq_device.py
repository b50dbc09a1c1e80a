# Run on the emulated Pico by tools/emu/bench_acq.mjs (raw REPL, after
# the deploy stage's modules are on the filesystem): the board's own
# make_hardware(), then the ADC read in a loop. Codes carry their
# conversion number (bench_acq.mjs), so every frame is checked exactly.
import gc
import json
import time
from array import array

import board
import machine

hw = adc = buf = None
onboard = False


def setup(name):
    global hw, adc, buf, onboard
    onboard = name == "pico_onboard"
    hw = board.make_hardware()
    adc = hw.adc
    buf = array("i", bytes(24 * 128))
    gc.collect()
    ident = adc.init()
    adc.start()
    print("ADC init() -> %#x, streaming; heap free %d" % (ident, gc.mem_free()))


def _check(n, prev):
    bad = gaps = 0
    for k in range(n):
        a = buf[6 * k]
        if (buf[6 * k + 1] != -a or buf[6 * k + 2] != 2 * a + 1 or buf[6 * k + 3] != (7 * a) & 0xFFFFF
                or buf[6 * k + 4] != -3 * a or buf[6 * k + 5] != 12345 - a):
            bad += 1
        if prev >= 0 and a != prev + 1:
            gaps += a - prev - 1
        prev = a
    return bad, gaps, prev


def _check_onboard(n, prev):
    # ADC1's m-th code is 13 m + 100 (mod 4096): m from Ia; ADC0's is 7 m;
    # Va = mean of V(m) and V(m + 1), less 2048
    bad = gaps = 0
    for k in range(n):
        m = ((buf[6 * k + 3] + 2048 - 100) * 3781) & 0xFFF  # 3781 = 13^-1 mod 4096
        if buf[6 * k] != ((((7 * m) & 0xFFF) + ((7 * (m + 1)) & 0xFFF)) >> 1) - 2048:
            bad += 1
        if prev >= 0 and m != (prev + 1) & 0xFFF:
            gaps += 1
        prev = m
    return bad, gaps, prev


def measure(seconds):
    mark = machine.Pin(8, machine.Pin.OUT, value=0)
    while adc.read_block(buf, 128):  # what piled up during set-up
        pass
    prev = -1  # continuity checked from the first frame read here on
    ns = []
    first = None
    bad = gaps = 0
    t0 = time.ticks_ms()
    while time.ticks_diff(time.ticks_ms(), t0) < 1000 * seconds:
        if adc.available() >= 64:
            mark(1)
            n = adc.read_block(buf, 128)
            mark(0)
            ns.append(n)
            if first is None:
                first = list(buf[:18])  # the first three frames read here, as decoded
            b, g, prev = (_check_onboard if onboard else _check)(n, prev)
            bad += b
            gaps += g
        time.sleep_ms(4)
    print(json.dumps({"ns": ns, "frames": sum(ns), "bad": bad, "gaps": gaps,
                      "crc_errors": adc.crc_errors, "overruns": adc.overruns, "lost": adc.lost,
                      "fault": adc.fault(time.ticks_ms()), "status": getattr(adc, "status", 0),
                      "first": first}))
