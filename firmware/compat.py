# One source for the board and for CPython host tests.
#
# Viper code annotates arguments as ptr32/uint and casts with ptr32(x),
# uint(x), int(x). The viper compiler resolves those names itself, so on
# MicroPython these module names are never used; CPython needs them to exist
# (as no-op casts) to run the same source. `micropython` itself comes from
# the firmware (MicroPython) or host_tests/fakes (CPython).
import sys

IS_MICROPYTHON = sys.implementation.name == "micropython"

if IS_MICROPYTHON:
    ptr8 = ptr16 = ptr32 = uint = None
else:
    def _same(x):
        return x

    ptr8 = ptr16 = ptr32 = _same

    def uint(x):
        return x & 0xFFFFFFFF
