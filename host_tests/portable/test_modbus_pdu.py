# PDU layer (modbus_pdu.py) against a fake register bank: function codes,
# quantity limits and every exception code, named byte by byte.
from modbus_fakebank import FakeBank
from modbus_pdu import ModbusPdu


def run(req, bank=None):
    pdu = ModbusPdu(bank if bank is not None else FakeBank())
    out = bytearray(253)
    n = pdu.handle(bytes(req), len(req), out)
    return bytes(out[:n])


def test_read_holding_and_input_use_the_same_map():
    want = bytes([0x03, 4, 0x00, 0x01, 0x00, 0x08])
    assert run([0x03, 0, 0, 0, 2]) == want
    assert run([0x04, 0, 0, 0, 2]) == bytes([0x04]) + want[1:]


def test_read_125_registers_and_126_is_illegal_value():
    r = run([0x03, 0, 0, 0, 125])
    assert len(r) == 252 and r[:2] == bytes([0x03, 250])
    assert r[2 + 2 * 124:] == bytes([(124 * 7 + 1) >> 8, (124 * 7 + 1) & 0xFF])
    assert run([0x03, 0, 0, 0, 126]) == bytes([0x83, 0x03])
    assert run([0x03, 0, 0, 0, 0]) == bytes([0x83, 0x03])


def test_read_gap_beyond_end_and_wrong_length():
    assert run([0x03, 0, 199, 0, 2]) == bytes([0x83, 0x02])  # runs into the gap
    assert run([0x04, 0xFF, 0xFF, 0, 2]) == bytes([0x84, 0x02])  # past 0xFFFF
    assert run([0x03, 0, 0, 0]) == bytes([0x83, 0x03])  # truncated request
    assert run([0x03, 0, 0, 0, 1, 0]) == bytes([0x83, 0x03])


def test_read_bank_failure_is_exception_4():
    assert run([0x03, 0x23, 0x28, 0, 1]) == bytes([0x83, 0x04])  # 9000 raises


def test_unknown_function_is_exception_1():
    assert run([0x01, 0, 0, 0, 1]) == bytes([0x81, 0x01])
    assert run([0x05, 0, 0, 0xFF, 0]) == bytes([0x85, 0x01])
    assert run([0x83, 0, 0, 0, 1]) == bytes([0x83, 0x01])


def test_write_single_echoes_and_refusals():
    bank = FakeBank()
    assert run([0x06, 0, 130, 0x01, 0xF4], bank) == bytes([0x06, 0, 130, 0x01, 0xF4])
    assert bank.store[0] == 500
    assert run([0x06, 0, 130, 0x03, 0xE8], bank) == bytes([0x86, 0x03])  # 1000 refused
    assert run([0x06, 0, 10, 0, 1], bank) == bytes([0x86, 0x02])  # read-only
    assert run([0x06, 0x23, 0x28, 0, 1], bank) == bytes([0x86, 0x04])  # bank raised
    assert run([0x06, 0, 130, 0], bank) == bytes([0x86, 0x03])  # truncated
    assert bank.store[0] == 500


def test_write_multiple_123_and_124():
    bank = FakeBank()
    req = bytes([0x10, 0, 130, 0, 2, 4, 0, 7, 0, 9])
    assert run(req, bank) == bytes([0x10, 0, 130, 0, 2])
    assert bank.store[:2] == [7, 9]
    # 123 registers is a legal quantity (the bank then refuses the range).
    r = run(bytes([0x10, 0, 130, 0, 123, 246]) + bytes(246), bank)
    assert r == bytes([0x90, 0x02]) and bank.writes[-1][0] == 130 and len(bank.writes[-1][1]) == 123
    n = len(bank.writes)
    assert run(bytes([0x10, 0, 130, 0, 124, 248]) + bytes(248), bank) == bytes([0x90, 0x03])
    assert len(bank.writes) == n  # refused before the bank was asked


def test_write_multiple_byte_count_mismatch_and_atomicity():
    bank = FakeBank()
    assert run([0x10, 0, 130, 0, 2, 3, 0, 7, 0, 9], bank) == bytes([0x90, 0x03])
    assert run([0x10, 0, 130, 0, 2, 4, 0, 7, 0], bank) == bytes([0x90, 0x03])
    assert run([0x10, 0, 130, 0, 0, 0], bank) == bytes([0x90, 0x03])
    assert bank.writes == []
    # Second value refused: nothing written (the bank is atomic).
    assert run([0x10, 0, 130, 0, 2, 4, 0, 7, 0x27, 0x10], bank) == bytes([0x90, 0x03])
    assert bank.store[:2] == [0, 0]
    assert run([0x10, 0xFF, 0xFF, 0, 2, 4, 0, 7, 0, 9], bank) == bytes([0x90, 0x02])


def test_report_slave_id():
    r = run([0x11])
    assert r == bytes([0x11, 20, 0xF7, 0xFF]) + b"Test Meter RUNNING"
    assert run([0x11, 0]) == bytes([0x91, 0x03])


def test_read_device_identification_basic_stream():
    # conformity 0x81: basic objects, and individual access (code 04) is
    # answered (spec 6.21: bit 7 = individual access supported)
    r = run([0x2B, 0x0E, 0x01, 0x00])
    assert r == (bytes([0x2B, 0x0E, 0x01, 0x81, 0x00, 0x00, 3])
                 + bytes([0, 4]) + b"Acme" + bytes([1, 6]) + b"EM4100" + bytes([2, 7]) + b"V12.345")
    # Stream from object 1; an unknown start restarts at object 0 (spec 6.21).
    assert run([0x2B, 0x0E, 0x01, 0x01])[6:9] == bytes([2, 1, 6])
    assert run([0x2B, 0x0E, 0x01, 0x09])[6:8] == bytes([3, 0])


def test_read_device_identification_individual_and_errors():
    assert run([0x2B, 0x0E, 0x04, 0x02]) == bytes([0x2B, 0x0E, 0x04, 0x81, 0, 0, 1, 2, 7]) + b"V12.345"
    assert run([0x2B, 0x0E, 0x04, 0x03]) == bytes([0xAB, 0x02])  # no such object
    assert run([0x2B, 0x0E, 0x05, 0x00]) == bytes([0xAB, 0x03])  # bad read code
    assert run([0x2B, 0x0D, 0x01, 0x00]) == bytes([0xAB, 0x01])  # CANopen MEI
    assert run([0x2B, 0x0E, 0x01]) == bytes([0xAB, 0x03])


def test_empty_pdu_gets_no_reply():
    assert run([]) == b""


def test_bank_codes_01_and_06_pass_through_others_are_04():
    # registers.py answers a sealed calibration write 01 and a rate limit 06
    # (busy); a code outside 1-4 and 6 is the bank's bug: 04
    class Bank:
        code = 0

        def write(self, addr, values):
            return self.code

    b = Bank()
    for code, want in ((1, 1), (6, 6), (3, 3), (5, 4), (7, 4), (-1, 4)):
        b.code = code
        assert run([0x06, 0x1C, 0x22, 0x13, 0x88], b) == bytes([0x86, want]), code
        assert run([0x10, 0, 128, 0, 1, 2, 0x52, 0xDB], b) == bytes([0x90, want]), code
