"""time.ticks_ms/us/add/diff on CPython, as MicroPython has them (30-bit
wrapping counters), so firmware that times itself runs unchanged."""

import time

_PERIOD = 1 << 30


def ticks_ms():
    return int(time.monotonic() * 1000) & (_PERIOD - 1)


def ticks_us():
    return int(time.monotonic() * 1_000_000) & (_PERIOD - 1)


def ticks_add(t, d):
    return (t + d) & (_PERIOD - 1)


def ticks_diff(a, b):
    d = (a - b) & (_PERIOD - 1)
    return d - _PERIOD if d >= _PERIOD // 2 else d


def sleep_ms(ms):
    time.sleep(ms / 1000)


def sleep_us(us):
    time.sleep(us / 1_000_000)


def install():
    for name in ("ticks_ms", "ticks_us", "ticks_add", "ticks_diff", "sleep_ms", "sleep_us"):
        if not hasattr(time, name):
            setattr(time, name, globals()[name])
