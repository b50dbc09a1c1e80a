"""Host test setup: the firmware's own source on sys.path, fakes of the
MicroPython-only modules in front of it, and time.ticks_* on CPython."""

import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# In this order: boards/sim.py (the board) must win over tools/sim.py (the
# simulator program) for `import sim`.
_paths = [os.path.join(ROOT, sub) for sub in
          ("host_tests/fakes", "firmware", "boards", "tools", "host_tests/portable")]
sys.path[0:0] = [p for p in _paths if p not in sys.path]

if not hasattr(time, "ticks_ms"):
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

    time.ticks_ms = ticks_ms
    time.ticks_us = ticks_us
    time.ticks_add = ticks_add
    time.ticks_diff = ticks_diff
