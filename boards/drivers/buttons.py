# Four push buttons, polled (not pin interrupts), active low with pull-ups.
# Handed Pin-like objects (anything with .value()); poll(now_ms) from the
# main loop every few ms returns the key events since the last poll.
#
# A level counts once it has held DEBOUNCE_MS; a press gives one event, and
# holding gives another after REPEAT_DELAY_MS and then every REPEAT_MS.
NAMES = ("up", "down", "left", "right")


def _diff(a, b):
    # ms tick difference, wrapping at 2**30 like time.ticks_ms
    d = (a - b) & 0x3FFFFFFF
    return d - 0x40000000 if d & 0x20000000 else d


class Buttons:
    DEBOUNCE_MS = 20
    REPEAT_DELAY_MS = 600
    REPEAT_MS = 200

    def __init__(self, pins, names=NAMES):
        if len(pins) != len(names):
            raise ValueError("one pin per button name")
        self.pins = pins
        self.names = names
        n = len(pins)
        self._raw = bytearray(n)  # last level read (1 = pressed)
        self._stable = bytearray(n)  # debounced state
        self._since = [0] * n  # when the raw level last changed
        self._next = [0] * n  # when a held button repeats
        self._events = []  # reused: valid until the next poll

    def poll(self, now_ms):
        ev = self._events
        while ev:  # not clear(): that re-sizes the list's storage every call
            ev.pop()
        for i in range(len(self.pins)):
            raw = 1 if self.pins[i].value() == 0 else 0
            if raw != self._raw[i]:
                self._raw[i] = raw
                self._since[i] = now_ms
            elif raw != self._stable[i]:
                if _diff(now_ms, self._since[i]) >= self.DEBOUNCE_MS:
                    self._stable[i] = raw
                    if raw:
                        ev.append(self.names[i])
                        self._next[i] = now_ms + self.REPEAT_DELAY_MS
            elif raw and _diff(now_ms, self._next[i]) >= 0:
                ev.append(self.names[i])
                self._next[i] = now_ms + self.REPEAT_MS
        return ev

    def pressed(self, i):
        return bool(self._stable[i])
