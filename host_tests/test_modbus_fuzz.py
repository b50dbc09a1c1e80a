"""Hypothesis fuzz of the Modbus frame layers (CPython only).

Arbitrary byte streams with arbitrary timing fed to the RTU slave, and
arbitrary streams split arbitrarily fed to a TCP session, must never raise,
never answer a frame whose CRC is wrong (RTU), never reach the register bank
unless a well-formed write arrived, and never stall: a good request after
the noise (and, on RTU, a t3.5 silence) is answered."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from modbus_fakebank import FakeBank, FakeConfig
from modbus_pdu import ModbusPdu
from modbus_rtu import RtuSlave, crc16
from modbus_tcp import TcpSession

FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def with_crc(*b):
    f = bytes(b)
    c = crc16(f, len(f))
    return f + bytes([c & 0xFF, c >> 8])


class SpyPdu(ModbusPdu):
    """Records what reached the PDU layer, and checks every bank write came
    from a request that was allowed to reach it."""

    def __init__(self, bank, frame_of):
        super().__init__(bank)
        self.frame_of = frame_of  # n -> the whole frame as the transport holds it
        self.seen = []
        self.writes_allowed = 0
        inner = bank.write

        def write(addr, values):
            assert self.writes_allowed > 0, "bank.write without a valid write request"
            self.writes_allowed -= 1
            return inner(addr, values)

        bank.write = write

    def handle(self, req, n, out):
        frame = self.frame_of(n)
        self.seen.append(frame)
        if n >= 1 and req[0] in (0x06, 0x10):
            self.writes_allowed = 1
        r = super().handle(req, n, out)
        self.writes_allowed = 0
        return r


def rtu_slave(address, baud):
    cfg = FakeConfig(address, baud, "E")
    bank = FakeBank(cfg)
    holder = {}
    pdu = SpyPdu(bank, lambda n: bytes(holder["rtu"]._rx[:n + 3]))
    rtu = RtuSlave(pdu, cfg)
    holder["rtu"] = rtu
    return rtu, pdu, bank


chunks = st.lists(
    st.tuples(st.binary(min_size=0, max_size=300), st.integers(min_value=0, max_value=20000),
              st.booleans()),
    max_size=25)


def check_rtu_stream(rtu, pdu, events, t=0):
    replies = 0
    for data, gap, poll_first in events:
        t += gap
        if poll_first:
            r = rtu.poll(t)
            if r is not None:
                replies += 1
                assert crc16(r, len(r)) == 0 and r[0] == rtu.address
                rtu.sent()
        if data:
            rtu.feed(data, t)
    return t, replies


@FUZZ
@given(events=chunks, address=st.integers(1, 247), baud=st.sampled_from([1200, 9600, 19200, 38400]))
def test_rtu_noise_never_raises_or_replies_to_bad_crc(events, address, baud):
    rtu, pdu, bank = rtu_slave(address, baud)
    t, replies = check_rtu_stream(rtu, pdu, events)
    r = rtu.poll(t + 100_000)
    if r is not None:
        replies += 1
        rtu.sent()
    for frame in pdu.seen:
        assert crc16(frame, len(frame)) == 0, "a frame with a bad CRC reached the PDU layer"
        assert frame[0] in (0, address)
    answered = [f for f in pdu.seen if f[0] != 0]
    assert replies <= len(answered)
    # Not stalled: after a silence a good request is answered.
    t += 200_000
    rtu.feed(with_crc(rtu.address, 0x03, 0, 0, 0, 1), t)
    r = rtu.poll(t + rtu.t35)
    assert r is not None and bytes(r) == with_crc(rtu.address, 0x03, 2, 0, 1)


# Byte streams built from pieces of real frames (good and with one byte
# flipped) and noise, so the fuzzer reaches the PDU layer often.
def frame_piece(address):
    good = st.sampled_from([
        with_crc(address, 0x03, 0, 0, 0, 2),
        with_crc(address, 0x06, 0, 130, 0, 5),
        with_crc(0, 0x10, 0, 131, 0, 1, 2, 0, 6),
        with_crc(address, 0x10, 0x1B, 0xBC, 0, 1, 2, 0, address),
        with_crc(address, 0x2B, 0x0E, 1, 0),
        with_crc(address, 0x11),
    ])
    def flip(x):
        f, i, mask = x
        i %= len(f)
        return f[:i] + bytes([f[i] ^ mask]) + f[i + 1:]

    flipped = st.tuples(good, st.integers(0, 10), st.integers(1, 255)).map(flip)
    return st.one_of(good, flipped, st.binary(max_size=12))


@FUZZ
@given(data=st.data(), address=st.integers(1, 247))
def test_rtu_mixed_frames_and_noise(data, address):
    rtu, pdu, bank = rtu_slave(address, 9600)
    # Gaps: within a frame (< t1.5 incl. the character time), between
    # t1.5 and t3.5, and frame-ending silences (9600 baud: t3.5 = 4011 us).
    gap = st.one_of(st.integers(0, 8000), st.sampled_from([1146 * 8 + 5000, 1146 * 12 + 5000]))
    events = data.draw(st.lists(st.tuples(frame_piece(address), gap, st.booleans()), max_size=20))
    t, _ = check_rtu_stream(rtu, pdu, events)
    rtu.poll(t + 100_000)
    for frame in pdu.seen:
        assert crc16(frame, len(frame)) == 0
    assert all(b[0] in (130, 131, 7100) for b in bank.writes)


def tcp_session(address):
    cfg = FakeConfig(address)
    bank = FakeBank(cfg)
    holder = {}
    pdu = SpyPdu(bank, lambda n: bytes(holder["s"]._rx[:n + 7]))
    s = TcpSession(pdu, cfg)
    holder["s"] = s
    return s, pdu, bank


@FUZZ
@given(stream=st.binary(max_size=2000), cuts=st.lists(st.integers(0, 2000), max_size=20),
       address=st.integers(1, 247))
def test_tcp_noise_never_raises_and_only_well_formed_adus_reach_the_pdu(stream, cuts, address):
    s, pdu, bank = tcp_session(address)
    prev = 0
    replies = []
    for c in sorted(cuts) + [len(stream)]:
        replies += s.handle_stream(stream[prev:c])
        prev = max(prev, c)
    for adu in pdu.seen:
        assert adu[2:4] == b"\x00\x00"
        assert (adu[4] << 8 | adu[5]) == len(adu) - 6
        assert adu[6] in (0, 255, address)
    for r in replies:
        assert r[2:4] == b"\x00\x00" and (r[4] << 8 | r[5]) == len(r) - 6
    assert len(replies) <= len(pdu.seen)
    # Not stalled: a new connection (reset) is answered.
    s.reset()
    req = bytes([0, 9, 0, 0, 0, 6, address, 0x03, 0, 0, 0, 1])
    assert s.handle_stream(req) == [bytes([0, 9, 0, 0, 0, 5, address, 0x03, 2, 0, 1])]
