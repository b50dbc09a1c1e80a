# RTU framing (modbus_rtu.py): CRC, addressing, broadcast, timing rules and
# the allocation-free read path, with explicit timestamps in microseconds.
import micropython

from modbus_fakebank import FakeBank, FakeConfig
from modbus_pdu import ModbusPdu
from modbus_rtu import RtuSlave, crc16, stop_bits, timing_us


def with_crc(*b):
    f = bytes(b)
    c = crc16(f, len(f))
    return f + bytes([c & 0xFF, c >> 8])


def slave(address=1, baud=19200, parity="N"):
    cfg = FakeConfig(address, baud, parity)
    bank = FakeBank(cfg)
    changes = []

    def on_change(b, p, s):
        changes.append((b, p, s))

    rtu = RtuSlave(ModbusPdu(bank), cfg, on_change)
    return rtu, bank, changes


def exchange(rtu, frame, t=1000):
    rtu.feed(frame, t)
    r = rtu.poll(t + rtu.t35)
    if r is not None:
        r = bytes(r)
        rtu.sent()
    return r


def test_crc16_modbus_spec_example():
    f = bytes([0x01, 0x03, 0x00, 0x00, 0x00, 0x0A])
    assert crc16(f, 6) == 0xCDC5  # sent C5 CD, low byte first
    assert crc16(bytes([0x01, 0x03, 0x00, 0x00, 0x00, 0x0A, 0xC5, 0xCD]), 8) == 0
    assert crc16(bytes([0x01, 0x83, 0x02]), 3) == 0xF1C0


def test_read_holding_known_frame():
    rtu, _, _ = slave()
    r = exchange(rtu, bytes([0x01, 0x03, 0x00, 0x00, 0x00, 0x0A, 0xC5, 0xCD]))
    data = b""
    for a in range(10):
        v = a * 7 + 1
        data += bytes([v >> 8, v & 0xFF])
    assert r == with_crc(0x01, 0x03, 20, *data)


def test_exception_replies_on_the_wire():
    rtu, _, _ = slave()
    gap = with_crc(0x01, 0x03, 0x00, 0xC8, 0x00, 0x01)  # register 201: in the fake's gap
    assert exchange(rtu, gap) == bytes([0x01, 0x83, 0x02, 0xC0, 0xF1])
    assert exchange(rtu, with_crc(0x01, 0x01, 0, 0, 0, 1)) == bytes([0x01, 0x81, 0x01, 0x81, 0x90])
    assert exchange(rtu, with_crc(0x01, 0x03, 0, 0, 0, 126)) == with_crc(0x01, 0x83, 0x03)
    assert exchange(rtu, with_crc(0x01, 0x03, 0x23, 0x28, 0, 1)) == with_crc(0x01, 0x83, 0x04)


def test_125_register_read_is_a_256_byte_limit_frame():
    rtu, _, _ = slave()
    r = exchange(rtu, with_crc(0x01, 0x04, 0, 0, 0, 125))
    assert len(r) == 255 and r[:3] == bytes([0x01, 0x04, 250]) and crc16(r, len(r)) == 0


def test_123_register_write_frame_fits_and_124_is_refused():
    rtu, bank, _ = slave()
    f = with_crc(0x01, 0x10, 0, 130, 0, 123, 246, *bytes(246))
    assert len(f) == 255
    assert exchange(rtu, f) == with_crc(0x01, 0x90, 0x02)  # bank: range not writable
    f = with_crc(0x01, 0x10, 0, 130, 0, 124, 248, *bytes(248))
    assert len(f) == 257  # beyond the 256-byte ADU: dropped without a reply
    assert exchange(rtu, f) is None
    assert rtu.discarded == 1 and len(bank.writes) == 1


def test_wrong_address_and_bad_crc_are_silent():
    rtu, bank, _ = slave(address=17)
    assert exchange(rtu, with_crc(0x01, 0x03, 0, 0, 0, 1)) is None
    assert exchange(rtu, with_crc(0x12, 0x06, 0, 130, 0, 5)) is None
    good = with_crc(0x11, 0x06, 0, 130, 0, 5)
    assert exchange(rtu, good[:-1] + bytes([good[-1] ^ 1])) is None
    assert rtu.crc_errors == 1 and rtu.ignored == 2 and bank.writes == []
    assert exchange(rtu, good) == good  # 0x06 echoes
    assert bank.store[0] == 5


def test_broadcast_write_is_carried_out_without_reply():
    rtu, bank, _ = slave(address=5)
    assert exchange(rtu, with_crc(0x00, 0x06, 0, 131, 0, 42)) is None
    assert bank.store[1] == 42
    assert exchange(rtu, with_crc(0x00, 0x10, 0, 132, 0, 1, 2, 0, 43)) is None
    assert bank.store[2] == 43
    # A broadcast read is not executed and not answered.
    assert exchange(rtu, with_crc(0x00, 0x03, 0, 0, 0, 1)) is None
    assert exchange(rtu, with_crc(0x00, 0x11)) is None
    assert len(bank.writes) == 2


def test_garbage_between_frames_is_tolerated():
    rtu, _, _ = slave()
    t = 1000
    rtu.feed(b"\xff\x00\x13\x37garbage", t)
    assert rtu.poll(t + rtu.t35) is None
    # Garbage directly in front of a frame (no t3.5 gap) spoils that frame...
    req = with_crc(0x01, 0x03, 0, 0, 0, 1)
    rtu.feed(b"\x55\xaa", t + 10000)
    rtu.feed(req, t + 10000 + len(req) * rtu.t_char)
    assert rtu.poll(t + 30000) is None
    # ...the next one after a silence is answered.
    assert exchange(rtu, req, t + 40000) == with_crc(0x01, 0x03, 2, 0, 1)


def test_a_frame_ended_by_the_next_one_is_still_answered():
    rtu, _, _ = slave()
    req = with_crc(0x01, 0x03, 0, 1, 0, 1)
    rtu.feed(req, 1000)
    rtu.feed(req, 1000 + rtu.t35 + len(req) * rtu.t_char)  # poll() came late
    assert bytes(rtu.poll(1000 + rtu.t35 + len(req) * rtu.t_char + 1)) == with_crc(1, 3, 2, 0, 8)
    rtu.sent()
    assert bytes(rtu.poll(10 ** 6)) == with_crc(1, 3, 2, 0, 8)


def feed_bytes(rtu, frame, t0, tc, gap_at=-1, gap=0):
    # One byte per call, stamped at its stop bit; an extra silence before
    # byte gap_at.
    t = t0
    for i in range(len(frame)):
        t += tc + (gap if i == gap_at else 0)
        rtu.feed(frame[i], t)
    return t


def test_timing_at_9600_baud():
    assert timing_us(9600) == (1146, 1719, 4011)  # 11 bits: 1145.8, 1718.75, 4010.4 us
    rtu, _, _ = slave(baud=9600)
    req = with_crc(0x01, 0x03, 0, 0, 0, 1)
    reply = with_crc(0x01, 0x03, 2, 0, 1)
    tc = rtu.t_char
    # Back to back: answered once t3.5 has passed, not before.
    t = feed_bytes(rtu, req, 0, tc)
    assert rtu.poll(t + 4010) is None
    assert bytes(rtu.poll(t + 4011)) == reply
    rtu.sent()
    # A silence of 1.5 characters inside the frame is allowed...
    t = feed_bytes(rtu, req, 100000, tc, gap_at=3, gap=1719)
    assert bytes(rtu.poll(t + 4011)) == reply
    rtu.sent()
    # ...more than 1.5 (here 2) invalidates the frame (spec 2.5.1.1).
    t = feed_bytes(rtu, req, 200000, tc, gap_at=3, gap=2 * tc)
    assert rtu.poll(t + 4011) is None and rtu.discarded == 1
    # 3.5 characters inside splits it into two frames, both bad.
    t = feed_bytes(rtu, req, 300000, tc, gap_at=3, gap=4011)
    assert rtu.poll(t + 4011) is None
    assert rtu.ignored == 1 and rtu.crc_errors == 1  # a 3-byte runt, then 00 00 01 ..


def test_timing_at_38400_baud_is_fixed():
    assert timing_us(38400) == (287, 750, 1750)
    assert timing_us(19200) == (573, 860, 2006)
    rtu, _, _ = slave(baud=38400)
    req = with_crc(0x01, 0x03, 0, 0, 0, 1)
    t = feed_bytes(rtu, req, 0, rtu.t_char)
    assert rtu.poll(t + 1100) is None  # 3.5 chars would be 1003 us: not used
    assert rtu.poll(t + 1749) is None
    assert rtu.poll(t + 1750) is not None
    rtu.sent()
    t = feed_bytes(rtu, req, 10000, rtu.t_char, gap_at=4, gap=750)
    assert rtu.poll(t + 1750) is not None
    rtu.sent()
    t = feed_bytes(rtu, req, 20000, rtu.t_char, gap_at=4, gap=760)
    assert rtu.poll(t + 1750) is None


def test_chunked_feed_counts_characters():
    # 8 bytes read from a FIFO at once, stamped when the last arrived: the
    # silence before them is measured from the first byte's start.
    rtu, _, _ = slave(baud=9600)
    req = with_crc(0x01, 0x03, 0, 0, 0, 1)
    rtu.feed(req[:3], 0)
    rtu.feed(req[3:], 5 * rtu.t_char + 1000)  # 1000 us of silence < t1.5
    assert rtu.poll(5 * rtu.t_char + 1000 + rtu.t35) is not None
    buf = bytearray(16)
    buf[:8] = req
    rtu.sent()
    rtu.feed(buf, 100000, 8)  # buffer + count, as the board passes it
    assert rtu.poll(100000 + rtu.t35) is not None


def test_comm_change_applies_after_the_reply_was_sent():
    rtu, bank, changes = slave(address=1, baud=19200, parity="N")
    assert stop_bits("N") == 2 and stop_bits("E") == 1
    # 0x10 to registers 7101-7103: address 9, 9600 baud, even parity.
    req = with_crc(0x01, 0x10, 0x1B, 0xBC, 0, 3, 6, 0, 9, 0x25, 0x80, 0, 2)
    rtu.feed(req, 1000)
    r = rtu.poll(1000 + rtu.t35)
    assert bytes(r) == with_crc(0x01, 0x10, 0x1B, 0xBC, 0, 3)  # from the old address
    assert rtu.baud == 19200 and rtu.address == 1 and changes == []
    assert rtu.poll(10 ** 5) is None and changes == []  # not before sent()
    rtu.sent()
    assert changes == [(9600, "E", 1)]
    assert rtu.address == 9 and rtu.t35 == 4011
    assert exchange(rtu, with_crc(0x01, 0x03, 0, 0, 0, 1), 200000) is None
    assert exchange(rtu, with_crc(0x09, 0x03, 0, 0, 0, 1), 300000) == with_crc(0x09, 0x03, 2, 0, 1)


def test_change_by_broadcast_or_other_transport_applies_when_idle():
    rtu, bank, changes = slave()
    assert exchange(rtu, with_crc(0x00, 0x06, 0x1B, 0xBE, 0, 1)) is None
    assert changes == [(19200, "O", 1)]
    bank.config.baud = 4800  # e.g. written over Modbus TCP
    assert rtu.poll(10 ** 6) is None and changes[-1] == (4800, "O", 1)


def test_the_meters_config_told_of_a_change_applies_it_when_idle():
    # the meter's own Config calls its listeners on every change (config.py
    # apply()): the slave looks at address, baud and parity only then, not
    # on every quiet loop turn
    from config import Config

    cfg = Config()
    changes = []
    rtu = RtuSlave(ModbusPdu(FakeBank(cfg)), cfg, lambda *a: changes.append(a))
    assert rtu.poll(0) is None and rtu.address == 1 and changes == []
    cfg.apply({"address": 7, "baud": 9600, "parity": 1})  # e.g. from the front panel
    assert rtu.poll(10 ** 6) is None
    assert rtu.address == 7 and changes == [(9600, "O", 1)] and rtu.t35 == 4011
    assert rtu.poll(2 * 10 ** 6) is None and len(changes) == 1


def test_read_request_end_to_end_allocates_nothing():
    rtu, _, _ = slave()
    req = with_crc(0x01, 0x03, 0, 0, 0, 125)
    assert exchange(rtu, req, 0) is not None  # warm up: caches the reply view
    t1 = 100000
    t2 = t1 + rtu.t35
    micropython.heap_lock()
    try:
        rtu.feed(req, t1)
        r = rtu.poll(t2)
        rtu.sent()
    finally:
        micropython.heap_unlock()
    assert len(r) == 255 and r[2] == 250 and crc16(r, 255) == 0


# ---- framing measured on the wire (an RX-pin watcher: firmware/rs485.py) ----
def test_wire_framed_request_is_answered_at_its_t35_event():
    rtu, _, _ = slave()
    req = with_crc(0x01, 0x03, 0, 0, 0, 1)
    rtu.receive(req[:3], 3)  # bytes as the loop read them: no timestamps
    rtu.receive(req[3:], 5)
    assert rtu.reply() is None  # no silence reported yet: the frame is open
    rtu.silence(True)  # the watcher: t3.5 of silence after the 8th character
    assert bytes(rtu.reply()) == with_crc(0x01, 0x03, 2, 0, 1)
    rtu.sent()


def test_wire_silence_over_t15_spoils_the_frame():
    rtu, _, _ = slave()
    req = with_crc(0x01, 0x03, 0, 0, 0, 1)
    rtu.receive(req, 3)
    rtu.silence(False)  # a character came after > t1.5, < t3.5
    rtu.receive(req[3:], 5)
    rtu.silence(True)
    assert rtu.reply() is None and rtu.discarded == 1 and rtu.crc_errors == 0
    rtu.receive(req, 8)  # the next frame is clean again
    rtu.silence(True)
    assert rtu.reply() is not None


def test_wire_bytes_the_uart_lost_drop_the_frame():
    rtu, _, _ = slave()
    req = with_crc(0x01, 0x03, 0, 0, 0, 1)
    rtu.receive(req, 7)
    rtu.lost()
    rtu.silence(True)
    assert rtu.reply() is None and rtu.discarded == 1


def test_wire_frame_over_256_bytes_is_dropped():
    rtu, _, _ = slave()
    big = bytes(200)
    rtu.receive(big, 200)
    rtu.receive(big, 57)
    rtu.silence(True)
    assert rtu.reply() is None and rtu.discarded == 1


def test_wire_path_allocates_nothing():
    rtu, _, _ = slave()
    req = with_crc(0x01, 0x03, 0, 0, 0, 125)
    rtu.receive(req, 8)
    rtu.silence(True)
    assert rtu.reply() is not None  # warm up: caches the reply view
    rtu.sent()
    micropython.heap_lock()
    try:
        rtu.receive(req, 8)
        rtu.silence(True)
        r = rtu.reply()
        rtu.sent()
    finally:
        micropython.heap_unlock()
    assert len(r) == 255 and crc16(r, 255) == 0
