"""CPython stand-in for the `rp2` module: only the names board code imports."""


class PIO:
    IN_LOW = 0
    IN_HIGH = 1
    OUT_LOW = 2
    OUT_HIGH = 3
    SHIFT_LEFT = 0
    SHIFT_RIGHT = 1


def asm_pio(*args, **kwargs):
    def deco(f):
        return f
    return deco


class StateMachine:
    """Records its configuration; a test feeds its RX FIFO with `rx` (words
    as the PIO pushes them) and reads what was put() from `tx`."""

    def __init__(self, *args, **kwargs):
        self.args = args
        self.kwargs = kwargs
        self.rx = []
        self.tx = []
        self.restarts = 0
        self._active = 0

    def init(self, *args, **kwargs):
        self.args = args
        self.kwargs = kwargs

    def active(self, *a):
        if a:
            self._active = 1 if a[0] else 0
        return self._active

    def restart(self):
        self.restarts += 1

    def put(self, value, shift=0):
        self.tx.append(value >> shift)

    def rx_fifo(self):
        return len(self.rx)

    def get(self, buf=None, shift=0):
        return (self.rx.pop(0) & 0xFFFFFFFF) >> shift
