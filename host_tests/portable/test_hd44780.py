# The HD44780 + PCF8574 driver (boards/drivers/hd44780.py), byte for byte on
# a fake I2C bus. PCF8574 lines: P0 RS, P1 RW, P2 E, P3 backlight, P4-P7 D4-D7.
import micropython

from drivers.hd44780 import HD44780
from ui_glyphs import GLYPHS

A = 0x27


class FakeI2C:
    """Records every writeto(addr, buf) as (addr, bytes)."""

    def __init__(self):
        self.writes = []
        self.record = True
        self.count = 0

    def writeto(self, addr, buf, stop=True):
        self.count += 1
        if self.record:
            self.writes.append((addr, bytes(buf)))
        return len(buf)


class Delays:
    def __init__(self):
        self.log = []

    def us(self, n):
        self.log.append(("us", n))

    def ms(self, n):
        self.log.append(("ms", n))


def _lcd(backlight=True):
    bus = FakeI2C()
    d = Delays()
    lcd = HD44780(bus, A, backlight=backlight, sleep_us=d.us, sleep_ms=d.ms)
    return lcd, bus, d


def _byte(v, rs, bl=0x08):
    # one byte as two nibbles, each E high then E low
    hi = (v & 0xF0) | bl | rs
    lo = ((v << 4) & 0xF0) | bl | rs
    return bytes((hi | 4, hi, lo | 4, lo))


def test_init_sequence_byte_for_byte():
    lcd, bus, d = _lcd()
    assert bus.writes == [
        (A, b"\x08"),  # backlight on, all else low
        (A, b"\x3c\x38"),  # 0x03 (8-bit) three times
        (A, b"\x3c\x38"),
        (A, b"\x3c\x38"),
        (A, b"\x2c\x28"),  # 0x02: 4-bit interface
        (A, b"\x2c\x28\x8c\x88"),  # 0x28 function set: 4 bit, 2 lines, 5x8
        (A, b"\x0c\x08\xcc\xc8"),  # 0x0C display on, no cursor
        (A, b"\x0c\x08\x1c\x18"),  # 0x01 clear
        (A, b"\x0c\x08\x6c\x68"),  # 0x06 entry mode: increment
    ]
    assert d.log == [("ms", 50), ("ms", 5), ("us", 150), ("us", 150), ("us", 150), ("ms", 2)]


def test_init_without_backlight_keeps_p3_low():
    lcd, bus, d = _lcd(backlight=False)
    assert bus.writes[0] == (A, b"\x00")
    assert bus.writes[1] == (A, b"\x34\x30")
    assert bus.writes[5] == (A, b"\x24\x20\x84\x80")


def test_frame_writes_only_changed_characters():
    lcd, bus, d = _lcd()
    bus.writes = []
    lcd.show(("HI", ""))
    assert bus.writes == [(A, _byte(0x80, 0) + _byte(ord("H"), 1) + _byte(ord("I"), 1))]
    bus.writes = []
    lcd.show(("HI", ""))
    assert bus.writes == []  # nothing changed: no bus traffic
    lcd.show(("HO", "  x"))
    assert bus.writes == [
        (A, _byte(0x81, 0) + _byte(ord("O"), 1)),  # row 0, column 1
        (A, _byte(0xC2, 0) + _byte(ord("x"), 1)),  # row 1 starts at DDRAM 0x40
    ]


def test_runs_one_character_apart_merge_and_glyph_codes_pass_through():
    lcd, bus, d = _lcd()
    lcd.show(("ABCDEFGHIJKLMNOP", ""))
    bus.writes = []
    lcd.show(("xBxDEFxxIJKLMNO\x03", ""))
    assert bus.writes == [
        (A, _byte(0x80, 0) + _byte(ord("x"), 1) + _byte(ord("B"), 1) + _byte(ord("x"), 1)),
        (A, _byte(0x86, 0) + _byte(ord("x"), 1) + _byte(ord("x"), 1)),
        (A, _byte(0x8F, 0) + _byte(3, 1)),  # CGRAM character 3 (the heart)
    ]
    bus.writes = []
    lcd.show((b"xBxDEFxxIJKLMNO\x03", b""))  # bytes frames are the same
    assert bus.writes == []
    lcd.show(("", "0123456789abcdef"))
    w = bus.writes[-1][1]
    assert len(w) == 4 * 17 and w[:4] == _byte(0xC0, 0)


def test_glyph_upload_to_cgram():
    lcd, bus, d = _lcd()
    bus.writes = []
    lcd.glyphs(GLYPHS)
    assert len(bus.writes) == 4
    for code in range(4):
        want = _byte(0x40 | code << 3, 0)
        for row in GLYPHS[code]:
            want += _byte(row, 1)
        assert bus.writes[code] == (A, want)
    # after CGRAM writes, text still goes to DDRAM: show() sets the address
    bus.writes = []
    lcd.show(("Z", ""))
    assert bus.writes[0][1][:4] == _byte(0x80, 0)


def test_backlight_display_and_deinit():
    lcd, bus, d = _lcd()
    bus.writes = []
    lcd.backlight(False)
    assert bus.writes == [(A, b"\x00")]
    lcd.show(("A", ""))
    assert bus.writes[-1] == (A, _byte(0x80, 0, 0) + _byte(0x41, 1, 0))
    lcd.backlight(True)
    assert bus.writes[-1] == (A, b"\x08")
    bus.writes = []
    with lcd:
        pass
    assert bus.writes == [(A, b"\x0c\x08\x8c\x88"), (A, b"\x00")]  # display off, backlight off


def test_clear_forgets_the_shadow():
    lcd, bus, d = _lcd()
    lcd.show(("AB", ""))
    lcd.clear()
    bus.writes = []
    lcd.show(("AB", ""))
    assert len(bus.writes) == 1


def test_frame_write_allocates_nothing():
    lcd, bus, d = _lcd()
    bus.record = False
    a = b"0123456789abcdef"
    b = b"0123x56789abcdeX"
    empty = b""
    f1 = (b, a)
    f2 = (a, b)
    lcd.show((a, empty))
    n = bus.count
    micropython.heap_lock()
    try:
        lcd.show(f1)  # row 0: 2 runs, row 1: 1 run
        lcd.show(f2)  # 2 runs per row
        lcd.show(f2)  # nothing
    finally:
        micropython.heap_unlock()
    assert bus.count == n + 7


def test_default_delays_work_on_either_runtime():
    bus = FakeI2C()
    lcd = HD44780(bus)  # time.sleep_us on MicroPython, time.sleep on CPython
    assert len(bus.writes) == 9 and lcd.cols == 16
