# A CPython process with host_tests/fakes on PYTHONPATH (the virtual meter's
# --runtime cpython) gets MicroPython's time.ticks_* before the firmware runs.
import ticks

ticks.install()
