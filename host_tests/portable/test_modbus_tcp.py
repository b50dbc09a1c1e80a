# Modbus TCP (modbus_tcp.py): MBAP parsing, stream reassembly, unit ids.
from modbus_fakebank import FakeBank, FakeConfig
from modbus_pdu import ModbusPdu
from modbus_tcp import TcpSession


def session(address=1):
    cfg = FakeConfig(address)
    bank = FakeBank(cfg)
    return TcpSession(ModbusPdu(bank), cfg), bank


def adu(tid, unit, pdu, proto=0):
    n = len(pdu) + 1
    return bytes([tid >> 8, tid & 0xFF, proto >> 8, proto & 0xFF, n >> 8, n & 0xFF, unit]) + bytes(pdu)


READ = [0x03, 0x00, 0x00, 0x00, 0x02]
READ_REPLY = [0x03, 4, 0x00, 0x01, 0x00, 0x08]


def test_read_holding_registers():
    s, _ = session()
    req = bytes([0x12, 0x34, 0, 0, 0, 6, 0x01, 0x03, 0, 0, 0, 2])
    assert s.handle_stream(req) == [bytes([0x12, 0x34, 0, 0, 0, 7, 0x01, 0x03, 4, 0, 1, 0, 8])]


def test_split_across_reads_byte_by_byte():
    s, _ = session()
    req = adu(7, 1, READ)
    got = []
    for i in range(len(req)):
        got += s.handle_stream(req[i:i + 1])
    assert got == [adu(7, 1, READ_REPLY)]
    got = s.handle_stream(req[:3]) + s.handle_stream(req[3:9]) + s.handle_stream(req[9:])
    assert got == [adu(7, 1, READ_REPLY)]


def test_several_requests_in_one_read_and_a_partial_tail():
    s, _ = session()
    w = adu(2, 1, [0x06, 0, 130, 0, 5])
    data = adu(1, 1, READ) + w + adu(3, 1, [0x11])[:5]
    assert s.handle_stream(data) == [adu(1, 1, READ_REPLY), w]
    r = s.handle_stream(adu(3, 1, [0x11])[5:])
    assert r == [adu(3, 1, [0x11, 20, 0xF7, 0xFF] + list(b"Test Meter RUNNING"))]


def test_unit_id_own_address_0_and_255():
    s, bank = session(address=17)
    assert s.handle_stream(adu(1, 17, READ)) == [adu(1, 17, READ_REPLY)]
    assert s.handle_stream(adu(2, 255, READ)) == [adu(2, 255, READ_REPLY)]
    assert s.handle_stream(adu(3, 0, READ)) == [adu(3, 0, READ_REPLY)]
    assert s.handle_stream(adu(4, 1, [0x06, 0, 130, 0, 5])) == []
    assert s.ignored == 1 and bank.writes == []


def test_exceptions_over_tcp():
    s, _ = session()
    assert s.handle_stream(adu(9, 1, [0x03, 0, 0, 0, 126])) == [adu(9, 1, [0x83, 0x03])]
    assert s.handle_stream(adu(9, 1, [0x2B, 0x0E, 0x04, 0x07])) == [adu(9, 1, [0xAB, 0x02])]


def test_bad_protocol_or_length_is_dropped():
    s, bank = session()
    assert s.handle_stream(adu(1, 1, [0x06, 0, 130, 0, 5], proto=1)) == []
    assert s.bad_headers == 1
    assert s.handle_stream(bytes([0, 1, 0, 0, 0, 1, 1, 3])) == []  # length 1
    assert s.handle_stream(bytes([0, 1, 0, 0, 1, 0, 1, 3])) == []  # length 256
    assert s.bad_headers == 3 and bank.writes == []
    # The stream recovers at the next well-formed request.
    assert s.handle_stream(adu(5, 1, READ)) == [adu(5, 1, READ_REPLY)]


def test_largest_request_and_reply():
    s, _ = session()
    r = s.handle_stream(adu(1, 1, [0x04, 0, 0, 0, 125]))
    assert len(r) == 1 and len(r[0]) == 7 + 252 and r[0][4:6] == bytes([0, 253])
    req = adu(2, 1, [0x10, 0, 130, 0, 123, 246] + [0] * 246)
    assert req[4:6] == bytes([0, 253])
    assert s.handle_stream(req) == [adu(2, 1, [0x90, 0x02])]
