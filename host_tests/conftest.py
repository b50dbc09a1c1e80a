"""Host test setup: the firmware's own source on sys.path, fakes of the
MicroPython-only modules in front of it, and time.ticks_* on CPython."""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# In this order: boards/sim.py (the board) must win over tools/sim.py (the
# simulator program) for `import sim`.
_paths = [os.path.join(ROOT, sub) for sub in
          ("host_tests/fakes", "firmware", "boards", "tools", "host_tests/portable")]
sys.path[0:0] = [p for p in _paths if p not in sys.path]

import ticks  # noqa: E402  (host_tests/fakes: MicroPython's time.ticks_* on CPython)

ticks.install()
