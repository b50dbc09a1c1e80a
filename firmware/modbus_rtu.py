# Modbus RTU framing (Modbus over Serial Line v1.02, section 2.5) around the
# PDU layer in modbus_pdu.py. No I/O here: whoever owns the line (the board's
# UART loop, the simulator's pseudo-terminal, a test) drives it with
#
#   rtu.feed(data, now_us[, n])  bytes as they arrive (an int, or a buffer and
#                                optionally how many of its bytes), stamped
#                                with the time the last of them arrived
#   r = rtu.poll(now_us)         ends a frame after t3.5 of silence, returns
#                                the reply to send (a memoryview) or None
#   rtu.receive(buf, n)          bytes whose framing the caller measured on
#   rtu.silence(end)             the wire (a watcher of the RX pin): a
#                                silence > t1.5 followed by more characters
#                                (end False) spoils the frame, one >= t3.5
#                                (end True) ends it; rtu.lost() when the
#                                UART dropped bytes the wire carried
#   r = rtu.reply()              the reply to send (poll() without timing)
#   rtu.sent()                   after the reply's last stop bit has left:
#                                only then is a changed address, baud or
#                                parity applied (issue 4), calling
#                                on_comm_change(baud, parity, stop_bits) so
#                                the board re-inits its UART.
#
# Decisions:
# * Character format: 8 data bits, 1 start bit, parity as configured ('N',
#   'E', 'O') and, with no parity, 2 stop bits: spec 2.5.1 requires 11 bits
#   per character in every mode. Receivers check only the first stop bit, so
#   masters sending 8N1 are still understood. All timing uses 11 bit times.
# * Timing (spec 2.5.1.1): t1.5 and t3.5 are 1.5 and 3.5 character times up
#   to 19200 baud and fixed at 750 us and 1750 us above it. Timestamps are
#   the end of a character (its stop bit); a chunk of k bytes fed with one
#   timestamp is taken as k back-to-back characters ending at now_us, so the
#   silence before it is (now - previous) - k * t_char. Silence >= t3.5 ends
#   a frame; a silence > t1.5 inside a frame marks it bad (the whole frame is
#   then dropped at its t3.5). CHECK_T15 = False turns the 1.5-character rule
#   off for a link whose timestamps are too coarse (a polled FIFO).
# * Addresses: our own (1-247) is answered; 0 is broadcast: 0x06 and 0x10
#   are carried out with no reply, anything else is ignored; any other
#   address, a bad CRC, a frame under 4 bytes or over 256 bytes (spec 2.5.1:
#   the RTU ADU is at most 256 bytes) is dropped without a reply.
# * Frame path allocation: none. The receive and transmit buffers are made
#   once, the CRC is a viper loop over a 256-entry table, and the memoryview
#   poll() returns is cached per length, so a master repeating the same
#   request gets the same object back (one small allocation when the reply
#   length changes).

import time

import micropython
from array import array
from micropython import const

from compat import ptr8, ptr16  # noqa: F401  (viper casts; no-ops on CPython)
from modbus_pdu import FC_WRITE_MULTIPLE, FC_WRITE_SINGLE

ADU_MAX = const(256)
BITS_PER_CHAR = const(11)
_FAST_BAUD = const(19200)  # above this, fixed t1.5 / t3.5
_FAST_T15_US = const(750)
_FAST_T35_US = const(1750)
_BCAST = const(0)

_IDLE = const(0)  # no frame in progress
_RECV = const(1)  # collecting a frame
_DISCARD = const(2)  # frame NOK (t1.5 or overrun): wait for t3.5, drop it


def _crc_table():
    # CRC-16/MODBUS: reflected polynomial 0xA001, initial 0xFFFF.
    t = array("H", [0] * 256)
    for i in range(256):
        c = i
        for _ in range(8):
            if c & 1:
                c = (c >> 1) ^ 0xA001
            else:
                c >>= 1
        t[i] = c
    return t


_CRC_TABLE = _crc_table()


@micropython.viper
def crc16(buf: ptr8, n: int) -> int:
    # Over a whole frame including its CRC (low byte first) the result is 0.
    t = ptr16(_CRC_TABLE)
    crc = 0xFFFF
    i = 0
    while i < n:
        crc = (crc >> 8) ^ t[(crc ^ buf[i]) & 0xFF]
        i += 1
    return crc


def timing_us(baud):
    """(t_char, t1.5, t3.5) in microseconds, rounded up, for 11-bit chars."""
    tc = (BITS_PER_CHAR * 1_000_000 + baud - 1) // baud
    if baud > _FAST_BAUD:
        return tc, _FAST_T15_US, _FAST_T35_US
    return (tc, (BITS_PER_CHAR * 1_500_000 + baud - 1) // baud,
            (BITS_PER_CHAR * 3_500_000 + baud - 1) // baud)


def stop_bits(parity):
    # Spec 2.5.1: no parity -> 2 stop bits, keeping 11 bits per character.
    return 2 if parity == "N" else 1


class RtuSlave:
    CHECK_T15 = True

    def __init__(self, pdu, config, on_comm_change=None):
        self.pdu = pdu
        self.config = config
        self.on_comm_change = on_comm_change
        self._rx = bytearray(ADU_MAX)
        self._rx_pdu = memoryview(self._rx)[1:]
        self._tx = bytearray(ADU_MAX)
        self._txmv = memoryview(self._tx)
        self._tx_pdu = self._txmv[1:]
        # Broadcast writes produce a response nobody sends; it goes here so
        # a reply still waiting in _tx is not overwritten.
        self._scratch = bytearray(8)
        self._out = None
        self._out_len = -1
        self._tx_len = 0
        self._n = 0
        self._state = _IDLE
        self._last = 0
        self._awaiting_sent = False
        # Counters (diagnostics, tests).
        self.frames = 0  # frames with a good CRC addressed to us or broadcast
        self.crc_errors = 0
        self.ignored = 0  # other addresses, broadcast non-writes, runts
        self.discarded = 0  # t1.5 violations and oversized frames
        c = config
        self.address = c.modbus_address
        self.baud = 0
        self.parity = None
        self._set_line(c.baud, c.parity_char)
        # reply() looks for a change made elsewhere on every quiet loop turn
        # (~0.2 ms on the chip each time); a Config that tells its listeners
        # of every change (config.py apply()) lets it look only after one
        self._cfg_dirty = False
        ls = getattr(c, "listeners", None)
        self._cfg_told = ls is not None
        if ls is not None:
            ls.append(self._config_changed)

    @property
    def stop_bits(self):
        return stop_bits(self.parity)

    def _set_line(self, baud, parity):
        self.baud = baud
        self.parity = parity
        self.t_char, self.t15, self.t35 = timing_us(baud)
        self._state = _IDLE
        self._n = 0

    def feed(self, data, now_us, n=-1):
        if isinstance(data, int):
            k = 1
        else:
            k = len(data) if n < 0 else n
            if k <= 0:
                return
        st = self._state
        if st != _IDLE:
            silence = time.ticks_diff(now_us, self._last) - k * self.t_char
            if silence >= self.t35:
                # The previous frame ended (poll() was not called in time);
                # finish it before these bytes start the next one.
                self._end_frame()
                st = _IDLE
            elif st == _RECV and silence > self.t15 and self.CHECK_T15:
                st = _DISCARD
                self.discarded += 1
        self._last = now_us
        if st == _IDLE:
            st = _RECV
            self._n = 0
        if st == _RECV:
            i = self._n
            if i + k > ADU_MAX:
                st = _DISCARD
                self.discarded += 1
            else:
                rx = self._rx
                if k == 1 and isinstance(data, int):
                    rx[i] = data & 0xFF
                else:
                    for j in range(k):
                        rx[i + j] = data[j]
                self._n = i + k
        self._state = st

    # ---- framing measured on the wire (the board's RX-pin watcher) ----------
    def receive(self, data, n):
        st = self._state
        if st == _IDLE:
            st = _RECV
            self._n = 0
        if st == _RECV:
            i = self._n
            if i + n > ADU_MAX:
                st = _DISCARD
                self.discarded += 1
            else:
                rx = self._rx
                for j in range(n):
                    rx[i + j] = data[j]
                self._n = i + n
        self._state = st

    def silence(self, end):
        if end:
            self._end_frame()
        elif self._state == _RECV:
            # > t1.5 inside the frame and more characters came (spec 2.5.1.1)
            self._state = _DISCARD
            self.discarded += 1

    def lost(self):
        # the UART dropped characters the wire carried (break, overrun)
        if self._state == _RECV:
            self._state = _DISCARD
            self.discarded += 1

    def poll(self, now_us):
        if self._state != _IDLE and time.ticks_diff(now_us, self._last) >= self.t35:
            self._end_frame()
        return self.reply()

    def reply(self):
        n = self._tx_len
        if n:
            self._tx_len = 0
            self._awaiting_sent = True
            if n != self._out_len:
                self._out = self._txmv[:n]
                self._out_len = n
            return self._out
        if self._state == _IDLE and not self._awaiting_sent and \
                (self._cfg_dirty or not self._cfg_told):
            # A change made through another transport (Modbus TCP, the
            # front panel) takes effect when the line is quiet.
            self._check_config()
        return None

    def sent(self):
        self._awaiting_sent = False
        self._check_config()

    def _config_changed(self, keys):
        self._cfg_dirty = True

    def _check_config(self):
        self._cfg_dirty = False
        c = self.config
        a = c.modbus_address
        if a != self.address and 1 <= a <= 247:
            self.address = a
        b = c.baud
        p = c.parity_char
        if (b != self.baud or p != self.parity) and b > 0:
            self._set_line(b, p)
            cb = self.on_comm_change
            if cb is not None:
                cb(b, p, stop_bits(p))

    def _end_frame(self):
        st = self._state
        n = self._n
        self._state = _IDLE
        self._n = 0
        if st != _RECV:
            return
        rx = self._rx
        if n < 4:  # address, function, CRC: anything shorter is noise
            self.ignored += 1
            return
        addr = rx[0]
        if addr != self.address and addr != _BCAST:
            self.ignored += 1
            return
        if crc16(rx, n) != 0:
            self.crc_errors += 1
            return
        self.frames += 1
        if addr == _BCAST:
            # Spec 2.1: a broadcast request is a write, executed by every
            # slave, never answered.
            fc = rx[1]
            if fc == FC_WRITE_SINGLE or fc == FC_WRITE_MULTIPLE:
                self.pdu.handle(self._rx_pdu, n - 3, self._scratch)
            else:
                self.ignored += 1
            return
        r = self.pdu.handle(self._rx_pdu, n - 3, self._tx_pdu)
        if r <= 0:
            return
        tx = self._tx
        tx[0] = addr
        c = crc16(tx, r + 1)
        tx[r + 1] = c & 0xFF  # CRC low byte first (spec 2.5.1.2)
        tx[r + 2] = c >> 8
        self._tx_len = r + 3
