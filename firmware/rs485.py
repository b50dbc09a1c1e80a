# RS-485 half duplex for the RTU slave, without ever blocking the loop.
#
# The board creates the UART, the driver-enable pin (DE, tied to /RE) and,
# where it has one, a watcher of the RX pin (boards/drivers/rs485_pio.py),
# and hands them in; this module never imports machine. What it needs:
#   uart.write(buf) that returns once the bytes are queued (rp2: a txbuf of
#   at least ADU_MAX bytes), optionally uart.txdone() (rp2: True once the
#   ring, the FIFO and the shift register are empty, i.e. the last stop bit
#   is out), uart.any() and uart.readinto(buf, n); de.value(v);
#   watcher.pending(), watcher.event(), watcher.reset(), watcher.set_baud(baud)
#   (below);
#   de_timer.start(wire_us), go(), done(), abort().
#
# Transmit: send() raises DE, queues the reply (the copy into the UART's
# ring only) and returns. Where the board has a DE timer (a PIO state
# machine that owns the DE pin: rs485_pio.DeTimer), send() hands it the
# frame's wire time (n characters x 11 bits / baud, rounded up) around the
# write: DE goes up before the first start bit and falls that long after
# write() returned, to the microsecond, however long the loop's turns are.
# Without one, release() drops DE from the loop, at the first turn after
# the wire time, so up to a turn late, never early. Either way release(),
# called from every loop turn by service(), waits for txdone() (the last
# stop bit is out) before the link listens again and a changed address,
# baud or parity applies (rtu.sent()); a UART whose txdone() never comes
# (or a DE timer that never reports) is let go at twice the wire time plus
# STUCK_MARGIN_US, so a stuck UART cannot hold the bus. While DE is high
# nothing received counts: with /RE tied to DE the receiver is off (or, on
# boards that keep it on, hears our own echo), so the bytes and the
# watcher's events of that time are dropped when DE falls.
#
# Receive: where the board has a watcher, requests are framed by the wire:
# the watcher times the idle line after every character and reports each
# silence that reaches t3.5 (the frame ended) and each character that
# starts after more than t1.5 but less than t3.5 of silence (the frame is
# spoiled), with the running count of characters it has seen, so the loop
# splits the UART's byte stream exactly at those counts however long its
# turns are. An event word is (kind << 16) | (characters since reset mod
# 2^16), kind EVENT_END or 0; an absolute count keeps the split right even
# if an event was lost (two frames then merge and fail their CRC) or the
# UART dropped a byte (a break: that frame is dropped). Without a watcher
# (the virtual meter, host tests) bytes are stamped with the time the loop
# read them: framing is then only as good as the loop turn.

import time

from micropython import const

from modbus_rtu import BITS_PER_CHAR

EVENT_END = const(0x10000)  # kind: the silence reached t3.5
_COUNT_MASK = const(0xFFFF)


class RS485:
    STUCK_MARGIN_US = 2000

    def __init__(self, uart, de, baud, watcher=None, clock=None, rx_size=256, de_timer=None):
        if clock is None:
            clock = time
        self._ticks_us = clock.ticks_us
        self._diff = clock.ticks_diff
        self.uart = uart
        self.de = de
        de.value(0)  # receive until there is something to send
        self.watcher = watcher
        self._de_timer = de_timer
        self._txdone = getattr(uart, "txdone", None)
        self._rx = bytearray(rx_size)
        self._rtu = None
        self._sending = False
        self._t_tx = 0
        self._wire = 0
        self._counted = 0  # characters the watcher counted that went to the RTU
        self._event = -1  # an event whose characters are not all read yet
        self.stuck = 0  # DE let go by the time limit: txdone() never came
        self.tx_late = 0  # the PIO dropped DE but the UART was still shifting
        self._de_down = False
        self._set_char(baud)  # the board made the watcher at this baud

    def _set_char(self, baud):
        # Microseconds per character, rounded up so DE is never early; the
        # wire time of a frame from 1/16 us per character (a 255-byte reply
        # then comes out at most 16 us long instead of 140 at 38400)
        self.char_us = (BITS_PER_CHAR * 1_000_000 + baud - 1) // baud
        self._char16 = (BITS_PER_CHAR * 16_000_000 + baud - 1) // baud

    def set_baud(self, baud):
        # after the UART's re-init (7102/7103 changed): the watcher's clock
        # divider and silences follow
        self._set_char(baud)
        w = self.watcher
        if w is not None:
            w.set_baud(baud)
            self._counted = 0
            self._event = -1

    def wire_us(self, nbytes):
        return (nbytes * self._char16 + 15) >> 4

    @property
    def sending(self):
        return self._sending

    def send(self, buf):
        wire = (len(buf) * self._char16 + 15) >> 4
        t = self._de_timer
        if t is not None:
            t.start(wire)  # DE up now
        else:
            self.de.value(1)
        self.uart.write(buf)
        # the UART starts shifting when write() hands the first byte to its
        # FIFO, at the end of the copy: timing from here is never early
        if t is not None:
            t.go()  # DE falls wire us from now
        self._t_tx = self._ticks_us()
        self._wire = wire
        self._de_down = False
        self._sending = True

    def release_due_us(self):
        """Microseconds until the reply's wire time is over (0: due now), or
        -1 when not sending: a loop that sleeps between turns wakes for it."""
        if not self._sending:
            return -1
        d = self._wire - self._diff(self._ticks_us(), self._t_tx)
        return d if d > 0 else 0

    def release(self):
        """Drop DE once the reply's last stop bit is out; True while sending."""
        if not self._sending:
            return False
        elapsed = self._diff(self._ticks_us(), self._t_tx)
        wire = self._wire
        if elapsed < wire:
            return True
        txdone = self._txdone
        limit = 2 * wire + self.STUCK_MARGIN_US
        t = self._de_timer
        if t is not None:
            # DE is the PIO's: it falls at the wire time, to the microsecond
            if not self._de_down:
                if not t.done():
                    if elapsed < limit:
                        return True
                    t.abort()
                    self.stuck += 1
                self._de_down = True
                if txdone is not None and not txdone():
                    # the UART's ring ran dry (its TX interrupt came late):
                    # the frame's tail goes out after DE fell
                    self.tx_late += 1
        if txdone is not None and not txdone():
            # a new baud or parity, and listening again, only once the
            # last stop bit is out
            if elapsed < limit:
                return True
            self.stuck += 1
        if t is None:
            self.de.value(0)
        self._sending = False
        self._drop_input()
        rtu = self._rtu
        if rtu is not None:
            rtu.sent()  # a changed address/baud/parity applies only now
        return False

    def _drop_input(self):
        uart = self.uart
        rx = self._rx
        n = uart.any()
        while n:
            uart.readinto(rx, min(n, len(rx)))
            n = uart.any()
        w = self.watcher
        if w is not None:
            w.reset()
            self._counted = 0
            self._event = -1

    # service() runs every loop turn: it and what it calls keep their state
    # within 11 words (a C-stack frame: tools/frame_check.py HOT), so the
    # quiet turn is three attribute tests and one FIFO-level read.
    def service(self, rtu):
        """One loop turn of the receive/reply path for an RtuSlave."""
        self._rtu = rtu
        if self._sending and self.release():
            return False
        if self.watcher is None:
            r = self._poll_stamped(rtu)
        elif self._event < 0 and not self.watcher.pending():
            return False  # nothing on the wire since the last turn
        else:
            self._take_events(rtu)
            r = rtu.reply()
        if r is not None:
            self.send(r)
            return True
        return False

    def _poll_stamped(self, rtu):
        # no watcher: bytes stamped with the time the loop read them
        if rtu.CHECK_T15:
            # poll-time stamps cannot tell a 1.5-character silence from
            # a late turn: only t3.5 is judged (modbus_rtu.py)
            rtu.CHECK_T15 = False
        n = self.uart.any()
        if n:
            n = self.uart.readinto(self._rx, min(n, len(self._rx)))
            if n:
                rtu.feed(self._rx, self._ticks_us(), n)
        return rtu.poll(self._ticks_us())

    def _take_events(self, rtu):
        while True:
            ev = self._event
            if ev < 0:
                ev = self.watcher.event()
                if ev < 0:
                    return
                self._event = ev
            self._read_owed(rtu, ((ev & _COUNT_MASK) - self._counted) & _COUNT_MASK)
            self._counted = ev & _COUNT_MASK
            self._event = -1
            rtu.silence(ev & EVENT_END)

    def _read_owed(self, rtu, owed):
        # the characters an event counted, from the UART into the RTU
        while owed:
            n = self.uart.any()
            if not n:
                # any() drains the UART's FIFO and an event comes >= 1.5
                # characters after the last stop bit it counts: what is
                # missing now was dropped by the UART (a break, an overrun)
                rtu.lost()
                return
            n = self.uart.readinto(self._rx, min(n, owed, len(self._rx))) or 0
            rtu.receive(self._rx, n)
            owed -= n

    def deinit(self):
        if self._de_timer is not None:
            self._de_timer.abort()
        self.de.value(0)
        self._sending = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.deinit()
