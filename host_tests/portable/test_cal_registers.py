# Calibration registers 7201-7209 (regmap vendor block): read the
# configuration's cal_gains x 10000 and cal_phases in millidegrees, written
# through Config.apply (one validation path), all or nothing, persisted;
# sealed: writable only after the SETUP password is written to 7210-7211
# (docs/registers.md 7210-7217), every change counted and stamped.
import struct

from config import Config
from frontend import FrontEnd
from meter import Meter
from persist import restore, state_of


def _meter():
    return Meter(FrontEnd(), Config(), serial="SN42")


def _unlock(m, password=0):
    # 7210-7211: the SETUP password as a ULong, both words in one request
    return m.bank.write(7209, (password >> 16, password & 0xFFFF))


def _seconds(m, n):
    # n measured seconds as far as the seal and the demand commands see them
    # (app.App calls config.second() each second, Demand.add counts them)
    for _ in range(n):
        m.config.second()
        m.demand.seconds += 1
    m.bank.refresh()  # the image refresh that closes a second


def _regs(m, reg, n):
    out = bytearray(2 * n)
    assert m.bank.read(reg - 1, n, out, 0) == 0
    return struct.unpack(">%dH" % n, out)


def test_defaults_read_unity():
    m = _meter()
    assert _regs(m, 7201, 9) == (10000,) * 6 + (0,) * 3


def test_write_reaches_config_and_dsp():
    m = _meter()
    assert _unlock(m) == 0
    vals = (10123, 9877, 10000, 10500, 9500, 10001, 500, 0x10000 - 1250, 9999)
    assert m.bank.write(7200, vals) == 0
    c = m.config
    assert c.cal_gains == (1.0123, 0.9877, 1.0, 1.05, 0.95, 1.0001)
    assert c.cal_phases == (0.5, -1.25, 9.999)
    assert m.dsp.gain == list(c.cal_gains) and m.dsp.phase_deg == list(c.cal_phases)
    assert _regs(m, 7201, 9) == vals
    # a subset: only phase B's correction
    assert m.bank.write(7207, (0x10000 - 300,)) == 0
    assert c.cal_phases == (0.5, -0.3, 9.999) and c.cal_gains[0] == 1.0123


def test_refused_values_change_nothing():
    m = _meter()
    assert _unlock(m) == 0
    before = _regs(m, 7201, 9)
    for reg, v in ((7201, 4999), (7206, 20001), (7207, 10001), (7209, 0x10000 - 10001)):
        assert m.bank.write(reg - 1, (10000, v) if reg == 7206 else (v,)) == 3, reg
    assert _regs(m, 7201, 9) == before
    # a refused word anywhere in a request refuses all of it
    assert m.bank.write(7200, (11000, 11000, 11000, 11000, 11000, 11000, 0, 0, 20000)) == 3
    assert _regs(m, 7201, 9) == before
    # 7210 is the unlock (two words): one word alone is an illegal address
    assert m.bank.write(7209, (10000,)) == 2
    assert m.bank.write(7217, (0,)) == 2  # 7218: outside the block


def test_persisted_in_the_store_state():
    m = _meter()
    assert _unlock(m) == 0
    assert m.bank.write(7200, (10100, 10000, 10000, 9900, 10000, 10000, 250, 0, 0)) == 0
    st = state_of(m)
    m2 = _meter()
    restore(m2, st)
    assert _regs(m2, 7201, 9) == (10100, 10000, 10000, 9900, 10000, 10000, 250, 0, 0)


def test_sealed_write_is_exception_1_and_changes_nothing():
    # the attack: 7204-7206 = 5000 halved the measured power
    m = _meter()
    before = _regs(m, 7201, 17)
    assert _regs(m, 7210, 2) == (0, 0)  # sealed
    assert m.bank.write(7203, (5000, 5000, 5000)) == 1
    assert m.config.cal_gains == (1.0,) * 6
    # an unlock in the same request does not open it
    assert m.bank.write(7200, (5000,) * 6 + (0, 0, 0, 0, 0)) == 1
    assert _regs(m, 7201, 17) == before


def test_unlock_opens_for_300_s_then_seals():
    m = _meter()
    m.config.apply({"pw_setup": 41000})
    assert _unlock(m, 41000) == 0
    assert _regs(m, 7210, 2) == (0, 300)
    _seconds(m, 299)
    assert _regs(m, 7210, 2) == (0, 1)
    assert m.bank.write(7203, (10100,)) == 0
    _seconds(m, 1)
    assert _regs(m, 7210, 2) == (0, 0)
    assert m.bank.write(7203, (10200,)) == 1
    assert m.config.cal_gains[3] == 1.01
    # a value over 99999 seals at once
    assert _unlock(m, 41000) == 0
    assert m.bank.write(7209, (0xFFFF, 0xFFFF)) == 0
    assert _regs(m, 7210, 2) == (0, 0) and m.bank.write(7203, (10200,)) == 1


def test_wrong_password_is_exception_3_counted_and_holds_unlocks_10_s():
    m = _meter()
    m.config.apply({"pw_setup": 12345})
    assert _unlock(m, 12346) == 3
    assert _regs(m, 7217, 1) == (1,) and _regs(m, 7210, 2) == (0, 0)
    # within 10 s even the right password is busy (06), not compared, not counted
    assert _unlock(m, 12345) == 6
    _seconds(m, 9)
    assert _unlock(m, 12345) == 6
    _seconds(m, 1)
    assert _regs(m, 7217, 1) == (1,)
    assert _unlock(m, 12345) == 0 and _regs(m, 7210, 2) == (0, 300)


def test_change_counted_and_stamped_in_7212_7216():
    from rtc import Rtc

    m = _meter()
    m.bank.clock = Rtc()  # 155-157 (app.App hands the meter its clock)
    m.config.power_ups = 7  # 152
    assert _regs(m, 7212, 5) == (0, 0, 0, 0, 0)
    assert _unlock(m) == 0
    assert m.bank.write(7200, (10000,) * 6) == 0  # the present values: no change
    assert _regs(m, 7212, 1) == (0,)
    assert m.bank.write(154, (0x0315, 0x1A0E, 0x2A07)) == 0  # clock: 2026-03-21 14:42:07
    assert m.bank.write(7203, (10100, 10000)) == 0
    assert _regs(m, 7212, 5) == (1, 0x0315, 0x1A0E, 0x2A07, 7)
    assert m.bank.write(7206, (0x10000 - 250,)) == 0
    assert _regs(m, 7212, 1) == (2,)
    # counted and kept in the store, not cleared by a reset of the energy
    st = state_of(m)
    assert m.bank.write(128, (30078,)) == 0
    m2 = _meter()
    restore(m2, st)
    assert _regs(m2, 7212, 6) == (2, 0x0315, 0x1A0E, 0x2A07, 7, 0)
