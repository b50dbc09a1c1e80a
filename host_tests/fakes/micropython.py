"""CPython stand-in for MicroPython's `micropython` module.

The decorators return the plain function, so viper/native code runs as
ordinary Python; viper's casts (ptr32, uint, ...) come from firmware/compat.py.
heap_lock() is only counted here: the real proof of a non-allocating path is
the same test under the `micropython` binary (tools/mp_test.py).
"""

_lock_depth = 0


def const(x):
    return x


def viper(f):
    return f


def native(f):
    return f


def heap_lock():
    global _lock_depth
    _lock_depth += 1
    return _lock_depth - 1


def heap_unlock():
    global _lock_depth
    _lock_depth -= 1
    return _lock_depth


def schedule(func, arg):
    func(arg)


def alloc_emergency_exception_buf(size):
    pass
