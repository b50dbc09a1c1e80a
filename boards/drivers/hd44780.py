# 16x2 HD44780 character LCD behind a PCF8574 I2C backpack (the common
# module: P0 RS, P1 RW, P2 E, P3 backlight, P4-P7 D4-D7; address 0x27, or
# 0x3F for the PCF8574A). Handed an I2C object (machine.I2C or a fake with
# writeto(addr, buf)); never builds it.
#
# Every byte written to the PCF8574 sets all eight lines at once. A nibble
# is two bytes: with E high, then with E low (the HD44780 latches on E's
# falling edge); a command or character is two nibbles, high first. One
# I2C byte takes 90 us at 100 kHz, longer than any command but clear and
# home (37 us; 1.52 ms), so only those two wait. A run of characters goes
# out as one I2C transaction from a preallocated buffer.
import time

from micropython import const

_RS = const(0x01)  # P0: register select (1 = data)
_E = const(0x04)  # P2: enable
_BL = const(0x08)  # P3: backlight
# HD44780 instructions (datasheet table 6)
_CLEAR = const(0x01)
_ENTRY_INC = const(0x06)  # entry mode set: increment, no shift
_DISPLAY_ON = const(0x0C)  # display on, cursor off, blink off
_DISPLAY_OFF = const(0x08)
_FUNC_4BIT_2LINE = const(0x28)  # function set: DL = 0, N = 1, F = 0 (5x8)
_SET_CGRAM = const(0x40)
_SET_DDRAM = const(0x80)
_ROW_ADDR = (0x00, 0x40)  # DDRAM address of each row's first character
_MAX_RUN = const(17)  # an address command and 16 characters


def _sleep_us_default(us):
    # time.sleep_us is MicroPython's; CPython (host tools) has only sleep()
    f = getattr(time, "sleep_us", None)
    if f is not None:
        f(us)
    else:
        time.sleep(us / 1000000)


def _sleep_ms_default(ms):
    _sleep_us_default(ms * 1000)


class HD44780:
    def __init__(self, i2c, addr=0x27, cols=16, rows=2, backlight=True,
                 sleep_us=None, sleep_ms=None):
        self.i2c = i2c
        self.addr = addr
        self.cols = cols
        self.rows = rows
        self._sleep_us = sleep_us or _sleep_us_default
        self._sleep_ms = sleep_ms or _sleep_ms_default
        self._bl = _BL if backlight else 0
        self._buf = bytearray(4 * _MAX_RUN)
        mv = memoryview(self._buf)
        # one view per length, made once: writes allocate nothing
        self._views = [mv[:n] for n in range(4 * _MAX_RUN + 1)]
        self._one = bytearray(1)
        self._shadow = bytearray(b" " * (cols * rows))  # what the DDRAM holds
        self.init()

    # ---- bus -----------------------------------------------------------------------
    def _put(self, i, byte, rs):
        # the 4 expander bytes of one byte at slot i of the buffer
        b = self._buf
        hi = (byte & 0xF0) | self._bl | rs
        lo = ((byte << 4) & 0xF0) | self._bl | rs
        j = 4 * i
        b[j] = hi | _E
        b[j + 1] = hi
        b[j + 2] = lo | _E
        b[j + 3] = lo

    def _nibble(self, n):
        # 4-bit initialisation: one nibble (as D7-D4) with RS = 0
        b = self._buf
        v = ((n << 4) & 0xF0) | self._bl
        b[0] = v | _E
        b[1] = v
        self.i2c.writeto(self.addr, self._views[2])

    def command(self, cmd):
        self._put(0, cmd, 0)
        self.i2c.writeto(self.addr, self._views[4])
        if cmd <= 0x03:  # clear, home: 1.52 ms
            self._sleep_ms(2)

    def init(self):
        # HD44780 datasheet figure 24, 'Initializing by Instruction', 4-bit
        self._sleep_ms(50)  # > 40 ms after Vcc reaches 2.7 V
        self._one[0] = self._bl  # all lines low but the backlight
        self.i2c.writeto(self.addr, self._one)
        self._nibble(0x03)
        self._sleep_ms(5)  # > 4.1 ms
        self._nibble(0x03)
        self._sleep_us(150)  # > 100 us
        self._nibble(0x03)
        self._sleep_us(150)
        self._nibble(0x02)  # 4-bit interface from here on
        self._sleep_us(150)
        self.command(_FUNC_4BIT_2LINE)
        self.command(_DISPLAY_ON)
        self.clear()
        self.command(_ENTRY_INC)

    def clear(self):
        self.command(_CLEAR)
        for i in range(len(self._shadow)):
            self._shadow[i] = 0x20

    # ---- glyphs ------------------------------------------------------------------------
    def glyph(self, code, rows8):
        """Define CGRAM character code (0-7) from 8 row bytes (5 bits each)."""
        self._put(0, _SET_CGRAM | ((code & 7) << 3), 0)
        for i in range(8):
            self._put(1 + i, rows8[i] & 0x1F, _RS)
        self.i2c.writeto(self.addr, self._views[36])
        # characters already showing this code change at once (the display
        # reads CGRAM continuously); show() sets the DDRAM address again

    def glyphs(self, table):
        for code in range(len(table)):
            self.glyph(code, table[code])

    # ---- text ----------------------------------------------------------------------------
    def show(self, lines):
        """Write a frame (one str or bytes per row); only the characters that
        differ from what the display holds go out, one I2C transaction per
        run (runs one unchanged character apart are merged: an address
        command costs as much as a character)."""
        cols = self.cols
        sh = self._shadow
        for row in range(self.rows):
            line = lines[row] if row < len(lines) else ""
            base = row * cols
            col = 0
            while col < cols:
                if sh[base + col] == _code(line, col):
                    col += 1
                    continue
                start = col
                end = col + 1  # exclusive
                while end < cols:
                    if sh[base + end] != _code(line, end):
                        end += 1
                    elif end + 1 < cols and sh[base + end + 1] != _code(line, end + 1):
                        end += 2
                    else:
                        break
                self._put(0, _SET_DDRAM | (_ROW_ADDR[row] + start), 0)
                for c in range(start, end):
                    ch = _code(line, c)
                    self._put(1 + c - start, ch, _RS)
                    sh[base + c] = ch
                self.i2c.writeto(self.addr, self._views[4 * (1 + end - start)])
                col = end

    def backlight(self, on):
        self._bl = _BL if on else 0
        self._one[0] = self._bl
        self.i2c.writeto(self.addr, self._one)

    def display(self, on):
        self.command(_DISPLAY_ON if on else _DISPLAY_OFF)

    def deinit(self):
        self.display(False)
        self.backlight(False)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.deinit()


def _code(line, i):
    # character code at column i (space past the end; '?' outside 8 bits)
    if i >= len(line):
        return 0x20
    c = line[i]
    if not isinstance(c, int):
        c = ord(c)
    return c if c < 0x100 else 0x3F
