# Polled buttons (boards/drivers/buttons.py): debounce and auto-repeat with
# explicit timestamps. Pins are active low (pull-ups): 0 = pressed.
import micropython

from drivers.buttons import Buttons


class Pin:
    def __init__(self):
        self.level = 1

    def value(self):
        return self.level


def _four():
    pins = [Pin(), Pin(), Pin(), Pin()]
    return pins, Buttons(pins)


def _run(b, t0, t1, step=5):
    out = []
    t = t0
    while t <= t1:
        for k in b.poll(t):
            out.append((t, k))
        t += step
    return out


def test_press_is_reported_once_after_the_debounce_time():
    pins, b = _four()
    assert b.poll(0) == []
    pins[0].level = 0
    assert b.poll(100) == []  # level seen changing
    assert b.poll(100 + Buttons.DEBOUNCE_MS - 1) == []
    assert b.poll(100 + Buttons.DEBOUNCE_MS) == ["up"]
    assert b.poll(130) == []
    pins[0].level = 1
    assert _run(b, 135, 400) == []  # release gives no event


def test_bounce_shorter_than_debounce_gives_nothing():
    pins, b = _four()
    b.poll(0)
    for t in range(0, 60, 5):  # chatter every 5 ms for 60 ms
        pins[1].level = (t // 5) & 1
        assert b.poll(t) == []
    pins[1].level = 1
    assert _run(b, 60, 200) == []
    # a real press after bouncing: one event, DEBOUNCE_MS after it settles
    pins[1].level = 0
    b.poll(203)
    pins[1].level = 1
    b.poll(206)
    pins[1].level = 0
    assert _run(b, 210, 300, 1) == [(210 + Buttons.DEBOUNCE_MS, "down")]


def test_hold_repeats_after_the_delay_then_at_the_rate():
    pins, b = _four()
    b.poll(0)
    pins[3].level = 0
    ev = _run(b, 10, 1500, 1)
    first = 10 + Buttons.DEBOUNCE_MS
    want = [first, first + Buttons.REPEAT_DELAY_MS]
    while want[-1] + Buttons.REPEAT_MS <= 1500:
        want.append(want[-1] + Buttons.REPEAT_MS)
    assert ev == [(t, "right") for t in want]
    assert b.pressed(3)
    pins[3].level = 1
    assert _run(b, 1501, 3000) == []
    assert not b.pressed(3)


def test_buttons_are_independent_and_polling_order_is_pin_order():
    pins, b = _four()
    b.poll(0)
    pins[2].level = 0
    pins[0].level = 0
    b.poll(10)
    assert b.poll(30) == ["up", "left"]
    pins[0].level = 1
    pins[1].level = 0
    b.poll(40)
    assert b.poll(60) == ["down"]


def test_tick_counter_wrap():
    pins, b = _four()
    t0 = (1 << 30) - 10  # time.ticks_ms wraps at 2**30 on the board
    b.poll(t0)
    pins[0].level = 0
    b.poll(t0 + 5)
    assert b.poll((t0 + 5 + Buttons.DEBOUNCE_MS) & ((1 << 30) - 1)) == ["up"]


def test_polling_allocates_nothing_released_pressed_or_repeating():
    # polled every 20 ms by the loop: idle turns must not feed the collector
    pins, b = _four()
    b.poll(0)
    seen = []
    micropython.heap_lock()
    try:
        for t in range(5, 100, 5):
            b.poll(t)
        pins[1].level = 0
        for t in range(100, 1000, 5):
            if b.poll(t):
                seen.append(t)
        pins[1].level = 1
        for t in range(1000, 1100, 5):
            b.poll(t)
    finally:
        micropython.heap_unlock()
    assert len(seen) >= 2  # the press and at least one repeat
