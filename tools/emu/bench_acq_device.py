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


def setup():
    global hw, adc, buf
    hw = board.make_hardware()
    adc = hw.adc
    buf = array("i", bytes(24 * 128))
    gc.collect()
    ident = adc.init()
    adc.start()
    print("ADC ID 0x%04x, streaming; heap free %d" % (ident, gc.mem_free()))


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


def measure(seconds):
    mark = machine.Pin(8, machine.Pin.OUT, value=0)
    while adc.read_block(buf, 128):  # what piled up during set-up
        pass
    prev = -1  # continuity checked from the first frame read here on
    ns = []
    bad = gaps = 0
    t0 = time.ticks_ms()
    while time.ticks_diff(time.ticks_ms(), t0) < 1000 * seconds:
        if adc.available() >= 64:
            mark(1)
            n = adc.read_block(buf, 128)
            mark(0)
            ns.append(n)
            b, g, prev = _check(n, prev)
            bad += b
            gaps += g
        time.sleep_ms(4)
    print(json.dumps({"ns": ns, "frames": sum(ns), "bad": bad, "gaps": gaps,
                      "crc_errors": adc.crc_errors, "overruns": adc.overruns, "lost": adc.lost,
                      "fault": adc.fault(time.ticks_ms()), "status": adc.status}))
