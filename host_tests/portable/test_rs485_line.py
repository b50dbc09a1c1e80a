# RS-485 half duplex (firmware/rs485.py) on a simulated line and clock
# (rs485_wire.py): transmit never blocks, DE follows the wire, requests are
# framed by the silences on the wire (the RX-pin watcher), not by when the
# loop read them. Timing rules: Modbus over Serial Line v1.02, 2.5.1.1.
import micropython

from modbus_fakebank import FakeBank, FakeConfig
from modbus_pdu import ModbusPdu
from modbus_rtu import RtuSlave, crc16
from rs485 import RS485
from rs485_wire import FakeDeTimer, FakeWatcher, Line, NoTxdoneUart, Pin, SimClock, WireUart


def with_crc(*b):
    f = bytes(b)
    c = crc16(f, len(f))
    return f + bytes([c & 0xFF, c >> 8])


READ_125 = with_crc(0x01, 0x03, 0, 0, 0, 125)  # reply: 255 bytes, the largest ADU
READ_1 = with_crc(0x01, 0x03, 0, 0, 0, 1)
REPLY_1 = with_crc(0x01, 0x03, 2, 0, 1)


class Link:
    def __init__(self, baud=19200, watcher=True, echo=False, uart=WireUart, de_timer=False, **uart_kw):
        self.clock = SimClock(1000)
        self.line = Line(self.clock, baud, echo)
        self.de = Pin(self.clock)
        self.uart = uart(self.line, self.de, **uart_kw)
        self.watcher = FakeWatcher(self.line) if watcher else None
        self.cfg = FakeConfig(1, baud, "N")
        self.rtu = RtuSlave(ModbusPdu(FakeBank(self.cfg)), self.cfg)
        self.de_timer = FakeDeTimer(self.clock, self.de) if de_timer else None
        self.bus = RS485(self.uart, self.de, baud, watcher=self.watcher, clock=self.clock,
                         de_timer=self.de_timer)

    def run(self, us, turn_us):
        """The main loop for us microseconds: service() once a turn."""
        end = self.clock.us + us
        while self.clock.us < end:
            self.bus.service(self.rtu)
            self.clock.advance(turn_us)

    def replies(self):
        return [w[0] for w in self.uart.writes]


# ---- transmit --------------------------------------------------------------
def test_send_queues_the_reply_with_de_high_and_returns_at_once():
    k = Link(19200)
    reply = bytes(range(255))
    t = k.clock.us
    k.bus.send(reply)
    assert k.uart.writes == [(reply, t, 1)]  # DE was high when the bytes were queued
    assert k.clock.us == t and k.bus.sending and k.de.value() == 1


def test_de_drops_on_the_first_turn_after_the_last_stop_bit():
    k = Link(19200)
    k.bus.send(bytes(255))
    wire = k.bus.wire_us(255)  # 146.1 ms: 573 us a character, rounded up
    assert 0 <= wire - 255 * 11 * 1_000_000 / 19200 < 255
    k.clock.advance(wire - 1)
    assert k.bus.release() is True and k.de.value() == 1
    k.clock.advance(1)
    assert k.bus.release() is False and k.de.value() == 0
    assert k.de.history == [0, 1, 0]


def test_release_due_tells_a_sleeping_loop_when_to_wake():
    k = Link(19200)
    assert k.bus.release_due_us() == -1
    k.bus.send(bytes(10))
    assert k.bus.release_due_us() == k.bus.wire_us(10)
    k.clock.advance(k.bus.wire_us(10) + 5)
    assert k.bus.release_due_us() == 0 and k.bus.release() is False
    assert k.bus.release_due_us() == -1


def test_de_waits_for_txdone_after_the_wire_time():
    k = Link(38400, txdone_late_us=300)  # the shift register still busy
    k.bus.send(bytes(20))
    k.clock.advance(k.bus.wire_us(20))
    assert k.bus.release() is True
    k.clock.advance(300)
    assert k.bus.release() is False and k.de.value() == 0 and k.bus.stuck == 0


def test_a_stuck_uart_lets_go_of_the_bus_at_twice_the_wire_time():
    k = Link(38400, stuck=True)
    k.bus.send(bytes(20))
    limit = 2 * k.bus.wire_us(20) + RS485.STUCK_MARGIN_US
    k.clock.advance(limit - 1)
    assert k.bus.release() is True
    k.clock.advance(1)
    assert k.bus.release() is False and k.de.value() == 0 and k.bus.stuck == 1


def test_a_uart_without_txdone_is_timed_by_the_wire_alone():
    k = Link(9600, uart=NoTxdoneUart)
    k.bus.send(bytes(10))
    k.clock.advance(k.bus.wire_us(10) - 1)
    assert k.bus.release() is True
    k.clock.advance(1)
    assert k.bus.release() is False and k.de.value() == 0


def test_de_is_high_exactly_while_the_reply_is_on_the_wire():
    # loop turns of 1 ms: DE rises before the first start bit and falls at
    # the first turn after the last stop bit, never before
    k = Link(19200)
    end = k.line.put(READ_125)
    k.run(200_000, 1000)
    (reply, t_write, de), = k.uart.writes
    assert len(reply) == 255 and de == 1
    assert t_write >= end + k.rtu.t35  # answered only after the request's t3.5
    last_stop = t_write + 255 * k.line.char_us()  # 146.1 ms of wire
    (up, t_up), (down, t_down) = k.de.edges
    assert up == 1 and t_up <= t_write and down == 0
    assert last_stop <= t_down < last_stop + 1000


def test_the_reply_is_answered_with_loop_turns_of_25_ms():
    k = Link(19200)
    k.line.put(READ_1)
    k.run(60_000, 25_000)
    assert k.replies() == [REPLY_1]


# ---- DE by a PIO timer (boards/drivers/rs485_pio.DeTimer) --------------------
def test_pio_de_falls_at_the_wire_time_whatever_the_turn():
    k = Link(19200, de_timer=True)
    k.line.put(READ_125)
    k.run(200_000, 30_000)  # turns of 30 ms: DE still falls on time
    (reply, t_write, de), = k.uart.writes
    assert len(reply) == 255 and de == 1  # up before the bytes were queued
    (up, t_up), (down, t_down) = k.de.edges
    assert t_up <= t_write and t_down == t_write + k.bus.wire_us(255)
    assert not k.bus.sending and k.bus.stuck == 0 and k.bus.tx_late == 0


def test_pio_de_then_the_loop_still_waits_for_txdone():
    # a TX interrupt served late: the UART shifts after the PIO dropped DE;
    # a new baud or listening again waits for the last stop bit
    k = Link(38400, de_timer=True, txdone_late_us=400)
    k.bus.send(bytes(20))
    k.clock.advance(k.bus.wire_us(20))
    assert k.bus.release() is True and k.de.value() == 0 and k.bus.tx_late == 1
    k.clock.advance(400)
    assert k.bus.release() is False and k.bus.tx_late == 1


def test_pio_de_that_never_finishes_is_aborted():
    k = Link(38400, de_timer=True)
    k.de_timer.hold = True
    k.bus.send(bytes(20))
    k.clock.advance(2 * k.bus.wire_us(20) + RS485.STUCK_MARGIN_US - 1)
    assert k.bus.release() is True and k.de.value() == 1
    k.clock.advance(1)
    assert k.bus.release() is False and k.de.value() == 0
    assert k.de_timer.aborts == 1 and k.bus.stuck == 1


# ---- receive: framing by the wire -----------------------------------------
def test_a_request_paced_by_the_wire_is_answered_whatever_the_turn():
    # each turn length lands the loop somewhere else inside the request
    for turn in (300, 1000, 2500, 7000, 13000, 40000):
        k = Link(19200)
        k.line.put(READ_1, 1000 + turn // 3)
        k.run(100_000, turn)
        assert k.replies() == [REPLY_1], turn
        assert k.rtu.crc_errors == 0 and k.rtu.discarded == 0


def test_without_a_watcher_a_turn_inside_the_request_splits_it():
    # the poll fallback (virtual meter, host): bytes stamped when read; a
    # turn longer than t3.5 that ends inside the request cuts it in two
    k = Link(19200, watcher=False)
    k.line.put(READ_1, 11000 - 2300)  # the turn at 11 ms reads bytes 0-3 ...
    k.run(60_000, 10_000)
    assert k.replies() == []
    # ... with turns shorter than t3.5 it is answered; t1.5 is not judged
    # (a turn's length is no character's silence)
    for turn in (700, 1700):
        k = Link(19200, watcher=False)
        k.line.put(READ_1, 1000 + turn // 2)
        k.run(60_000, turn)
        assert k.replies() == [REPLY_1] and k.rtu.CHECK_T15 is False


def test_a_3_ms_silence_inside_a_request_splits_it_at_19200():
    k = Link(19200)
    assert k.rtu.t35 == 2006  # 3.5 x 11 bits
    k.line.put(READ_125, gap_at=4, gap_us=3000)
    k.run(100_000, 5000)
    assert k.replies() == []
    assert k.rtu.crc_errors == 2 and k.rtu.frames == 0  # 01 03 00 00 | 00 7d crc


def test_a_silence_over_t15_inside_a_request_spoils_it():
    k = Link(19200)
    k.line.put(READ_1, gap_at=3, gap_us=1000)  # t1.5 = 860 us < 1 ms < t3.5
    k.run(60_000, 5000)
    assert k.replies() == [] and k.rtu.discarded == 1
    k.line.put(READ_1, 70_000, gap_at=3, gap_us=800)  # under t1.5: fine
    k.run(60_000, 5000)
    assert k.replies() == [REPLY_1]


def test_fixed_timing_above_19200():
    k = Link(38400)
    k.line.put(READ_1, gap_at=3, gap_us=1700)  # t3.5 is 1750 us above 19200
    k.run(40_000, 3000)
    assert k.replies() == [] and k.rtu.discarded == 1
    k.line.put(READ_1, 50_000, gap_at=3, gap_us=1800)
    k.run(40_000, 3000)
    assert k.replies() == [] and k.rtu.crc_errors == 1 and k.rtu.ignored == 1  # 3-byte runt


def test_back_to_back_requests_each_answered():
    # the second starts t3.5 after the first's reply has left the wire
    k = Link(38400)
    k.line.put(READ_1)
    k.run(20_000, 4000)
    k.line.put(READ_125)
    k.run(120_000, 4000)
    assert k.replies() == [REPLY_1, k.replies()[1]] and len(k.replies()[1]) == 255


def test_our_own_echo_while_de_is_high_is_not_a_request():
    # a transceiver whose receiver stays on hears the reply: dropped at DE fall
    k = Link(19200, echo=True)
    k.line.put(READ_1)
    k.run(50_000, 3000)
    assert k.replies() == [REPLY_1] and k.watcher.resets >= 2
    k.line.put(READ_1, k.clock.us + 5000)
    k.run(50_000, 3000)
    assert k.replies() == [REPLY_1, REPLY_1]
    assert k.rtu.frames == 2 and k.rtu.crc_errors == 0 and k.rtu.ignored == 0


def test_a_byte_the_uart_dropped_costs_only_its_frame():
    k = Link(19200)
    k.uart.drop = (2,)  # the wire carried it, the UART lost it (a break)
    k.line.put(READ_1)
    k.line.put(READ_1, k.line.free_us + 5000)
    k.run(60_000, 4000)
    assert k.replies() == [REPLY_1]  # the first is dropped, the split stays right
    assert k.rtu.discarded == 1


def test_a_lost_event_merges_two_frames_then_the_count_resyncs():
    k = Link(19200)
    k.watcher.lose = (0,)  # the first END never reached the loop (FIFO full)
    k.line.put(READ_1)
    k.line.put(READ_1, k.line.free_us + 3000)
    k.line.put(READ_1, k.line.free_us + 60_000)
    k.run(150_000, 30_000)
    assert k.replies() == [REPLY_1]  # the merged pair fails its CRC, the third is answered
    assert k.rtu.crc_errors == 1


def test_baud_change_reaches_the_watcher():
    k = Link(19200)
    k.bus.set_baud(38400)
    assert k.watcher.bauds == [19200, 38400] and k.bus.char_us == 287


def test_service_path_allocates_nothing():
    k = Link(19200)
    k.line.put(READ_125)
    k.run(200_000, 2000)  # warm up: the reply view is cached
    k.uart.record = k.de.record = False  # the fakes' own logs allocate
    k.line.put(READ_125, k.clock.us + 3000)
    micropython.heap_lock()
    try:
        k.run(200_000, 2000)
    finally:
        micropython.heap_unlock()
    assert k.rtu.frames == 2 and not k.bus.sending


def test_an_idle_line_costs_the_loop_no_allocation():
    # service() runs every loop turn: on a quiet line it must not feed the
    # collector (a fragmented heap makes every allocation slow on the chip)
    for watcher in (True, False):
        k = Link(19200, watcher=watcher)
        k.bus.service(k.rtu)  # the first turn may set up (CHECK_T15 off without a watcher)
        micropython.heap_lock()
        try:
            for _ in range(50):
                k.bus.service(k.rtu)
                k.bus.release_due_us()
                k.clock.advance(5000)
        finally:
            micropython.heap_unlock()
        assert k.uart.writes == []
