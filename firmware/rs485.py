# RS-485 half duplex: the transceiver's driver-enable (DE) is raised before
# the first byte of a reply and dropped right after its last stop bit has
# left, so the line is released for the master's next request (the master
# may start after t3.5, spec 2.5.1.1; holding DE longer would collide).
#
# The board creates the UART and the DE pin and hands them in; this module
# never imports machine. What it needs:
#   uart.write(buf), and optionally uart.txdone() (rp2, esp32: True once the
#   transmit FIFO is empty and the shift register idle, i.e. the last stop
#   bit is out), uart.any() and uart.readinto(buf) for service();
#   de.value(v).
#
# When DE drops: not before the wire time of the frame, counted from the
# write (n characters x 11 bits / baud, the 11-bit character of
# modbus_rtu), and, where the UART has txdone(), not before txdone() says
# the shift register is empty. A UART whose txdone() never turns True is not
# waited for beyond twice the wire time plus 2 ms, so a stuck UART cannot
# hold the bus or stall the meter. (uart.flush() is not used: on some ports
# it returns when the FIFO is empty, one character before the stop bit.)

import time

from micropython import const

from modbus_rtu import BITS_PER_CHAR

_STUCK_MARGIN_US = const(2000)


def _sleep_us(us):
    if us > 0:
        if hasattr(time, "sleep_us"):
            time.sleep_us(us)
        else:  # CPython host tests
            time.sleep(us / 1_000_000)


class RS485:
    def __init__(self, uart, de, baud, rx_size=64):
        self.uart = uart
        self.de = de
        de.value(0)  # receive until there is something to send
        self._txdone = getattr(uart, "txdone", None)
        self._rx = bytearray(rx_size)
        self.set_baud(baud)

    def set_baud(self, baud):
        # Microseconds per character, rounded up so DE is never early.
        self.char_us = (BITS_PER_CHAR * 1_000_000 + baud - 1) // baud

    def wire_us(self, nbytes):
        return nbytes * self.char_us

    def send(self, buf):
        de = self.de
        de.value(1)
        t0 = time.ticks_us()
        self.uart.write(buf)
        wire = len(buf) * self.char_us
        _sleep_us(wire - time.ticks_diff(time.ticks_us(), t0))
        txdone = self._txdone
        if txdone is not None:
            limit = 2 * wire + _STUCK_MARGIN_US
            while not txdone() and time.ticks_diff(time.ticks_us(), t0) < limit:
                pass
        de.value(0)

    def service(self, rtu):
        """One turn of the board's receive/reply loop for an RtuSlave."""
        uart = self.uart
        if uart.any():
            n = uart.readinto(self._rx)
            if n:
                rtu.feed(self._rx, time.ticks_us(), n)
        r = rtu.poll(time.ticks_us())
        if r is not None:
            self.send(r)
            rtu.sent()
            return True
        return False

    def deinit(self):
        self.de.value(0)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.deinit()
