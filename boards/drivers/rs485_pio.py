# A PIO state machine that watches the RS-485 receive line and tells the
# loop where Modbus RTU frames begin and end on the wire (firmware/rs485.py:
# the watcher interface, event(), reset(), set_baud()).
#
# Why: the loop reads the UART's bytes whenever its turn comes round (a DSP
# block, a display frame: several ms), so the time it sees them says little
# about when they arrived, and RTU framing is all silences (Modbus over
# Serial Line v1.02, 2.5.1.1: >= t3.5 between frames, > t1.5 inside one
# makes it invalid). The hardware UART keeps receiving the bytes (parity
# checked, into its FIFO and MicroPython's ring); this state machine reads
# the same pin (a PIO reads any GPIO's input whatever its function, so the
# RX pin stays the UART's), counts the characters and times the idle line
# after each one, and pushes a word into its RX FIFO
#   - when the silence reaches t3.5: kind END, the frame is over;
#   - when a start bit comes after more than t1.5 but less than t3.5 of
#     silence: kind 0, the frame is spoiled (the new character is not yet
#     counted in that word).
# The word carries the running count of characters (mod 2^16); the loop
# splits the UART's byte stream at those counts.
#
# Timing: the state machine runs at 16 cycles a bit (the clock divider
# follows the baud rate, set_baud()). After a start bit's falling edge it
# waits 9.5 bits (the middle of the parity or first stop bit; an 8N1 master's
# next start bit can come at bit 10), then for the line to be high (a parity
# bit of 0), then counts the idle line in 2-cycle steps (1/8 bit). Silences
# are measured from the end of an 11-bit character (start, 8 data, parity
# or second stop, stop; modbus_rtu.BITS_PER_CHAR), to within 1/8 bit;
# behind an 8N1 master's 10-bit character they read one bit longer.
# t1.5 / t3.5 are 16.5 / 38.5 bits up to 19200 baud and 750 / 1750 us
# above (modbus_rtu.timing_us).
#
# Event words are (kind << 16) | count: the state machine shifts them in
# right-aligned at the top of its ISR and get(None, 15) brings them down,
# so every value is a small int (no allocation in the loop).

from micropython import const

from modbus_rtu import timing_us

CYCLES_PER_BIT = const(16)
# cycles from the start bit's edge to the first idle-line sample (the
# instructions below), and the 11-bit character's end
_FIRST_IDLE_SAMPLE = const(157)
_CHAR_END = const(176)
_PHASE2_ENTRY = const(5)  # the cycles spent between the two idle loops


def watch_program(rp2):
    """The PIO program (rp2.asm_pio); the board hands in rp2 (drivers never
    import it, so host tests run them with fakes)."""

    # pull, mov, jmp, ... exist only inside rp2.asm_pio:
    # ruff: noqa: F821
    @rp2.asm_pio(in_shiftdir=rp2.PIO.SHIFT_RIGHT, out_shiftdir=rp2.PIO.SHIFT_RIGHT)
    def watch():
        pull()                      # OSR = n2 << 16 | n1 (idle loop counts)
        mov(y, invert(null))        # Y = ~characters
        label("idle")
        wait(0, pin, 0)             # a start bit
        label("char")
        set(x, 16)          [15]
        label("bit")
        jmp(x_dec, "bit")   [7]     # 16 + 17 * 8 cycles: the middle of bit 9
        wait(1, pin, 0)             # past a parity bit of 0
        jmp(y_dec, "counted")
        label("counted")
        mov(isr, osr)               # keep n2 << 16 | n1 while OSR is shifted
        out(x, 16)                  # X = n1
        label("t15")
        jmp(pin, "high15")
        mov(osr, isr)               # a start bit within t1.5: same frame
        jmp("char")
        label("high15")
        jmp(x_dec, "t15")
        mov(x, osr)                 # X = n2
        label("t35")
        jmp(pin, "high35")
        jmp("late")
        label("high35")
        jmp(x_dec, "t35")
        mov(osr, isr)               # t3.5 of silence: the frame is over
        mov(x, invert(y))
        in_(x, 16)
        set(x, 1)
        in_(x, 1)                   # kind END
        push(noblock)
        jmp("idle")
        label("late")               # a start bit after t1.5, before t3.5
        mov(osr, isr)
        mov(x, invert(y))
        in_(x, 16)
        in_(null, 1)                # kind 0
        push(noblock)
        set(x, 16)          [4]     # the rest of "char", 9 cycles shorter: the
        jmp("bit")                  # sample stays inside bit 9

    return watch


def idle_counts(baud):
    """(n1, n2): the idle loops' counts for t1.5 and t3.5 at this baud."""
    _, t15_us, t35_us = timing_us(baud)
    per_us = CYCLES_PER_BIT * baud  # cycles per second
    t15 = (t15_us * per_us + 999_999) // 1_000_000
    t35 = (t35_us * per_us + 999_999) // 1_000_000
    lead = _CHAR_END - _FIRST_IDLE_SAMPLE
    n1 = (t15 + lead) // 2
    n2 = (t35 + lead - _PHASE2_ENTRY) // 2 - n1
    return n1, n2


class WireWatcher:
    """The RX-pin watcher on one PIO state machine. The board hands in the
    state machine (the ADC's acquisition has PIO0; this takes one of PIO1's,
    4-7), watch_program(rp2) and the RX pin."""

    def __init__(self, sm, program, rx_pin, baud):
        self._sm = sm
        self._program = program
        self._pin = rx_pin
        self._params = 0
        self.set_baud(baud)

    def set_baud(self, baud):
        n1, n2 = idle_counts(baud)
        self._params = (n2 << 16) | n1
        sm = self._sm
        sm.active(0)
        sm.init(self._program, freq=CYCLES_PER_BIT * baud, in_base=self._pin, jmp_pin=self._pin)
        self.reset()

    def reset(self):
        # count from 0 again and forget what was seen (our own reply's time)
        sm = self._sm
        sm.active(0)
        sm.restart()
        while sm.rx_fifo():
            sm.get(None, 15)
        sm.put(self._params)
        sm.active(1)

    def pending(self):
        return self._sm.rx_fifo()  # events waiting (the loop's quiet-turn check)

    def event(self):
        sm = self._sm
        if sm.rx_fifo():
            return sm.get(None, 15)
        return -1

    def deinit(self):
        self._sm.active(0)


def de_program(rp2):
    """DE (driver enable) by PIO, timed to the microsecond: the loop's turn
    does not delay the bus's release. Two words from the loop: the reply's
    wire time (DE goes up at once, before the UART's first start bit), then
    'go' once uart.write() has returned (the UART is already shifting: it
    starts when write() hands its FIFO the first byte, at the end of the
    copy), so DE falls wire time after 'go', never before the last stop
    bit. Then a word to the RX FIFO tells the loop."""

    # ruff: noqa: F821
    @rp2.asm_pio(set_init=rp2.PIO.OUT_LOW)
    def de():
        pull()                      # the wire time, us - 2
        set(pins, 1)                # DE up
        mov(x, osr)
        pull()                      # 'go'
        label("wire")
        jmp(x_dec, "wire")          # 1 us a turn (the state machine at 1 MHz)
        set(pins, 0)                # DE down: the last stop bit is out
        push(noblock)

    return de


class DeTimer:
    """The DE pin driven by de_program on one state machine (the board picks
    it) at 1 MHz; the pin becomes the PIO's. start(wire_us) / go() / done()
    for firmware/rs485.py; abort() forces DE low (a stalled transmission)."""

    def __init__(self, sm, program, de_pin):
        self._sm = sm
        self._program = program
        self._pin = de_pin
        self._init()

    def _init(self):
        # (init also empties both FIFOs and sets DE low: set_init)
        sm = self._sm
        sm.active(0)
        sm.init(self._program, freq=1_000_000, set_base=self._pin)
        sm.active(1)

    def start(self, wire_us):
        self._sm.put(wire_us - 2 if wire_us > 2 else 0)

    def go(self):
        self._sm.put(0)

    def done(self):
        sm = self._sm
        if sm.rx_fifo():
            sm.get()
            return True
        return False

    def abort(self):
        self._init()

    def deinit(self):
        self.abort()
        self._sm.active(0)
