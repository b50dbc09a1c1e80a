# Calibration registers 7201-7209 (regmap vendor block): read the
# configuration's cal_gains x 10000 and cal_phases in millidegrees, written
# through Config.apply (one validation path), all or nothing, persisted.
import struct

from config import Config
from frontend import FrontEnd
from meter import Meter
from persist import restore, state_of


def _meter():
    return Meter(FrontEnd(), Config(), serial="SN42")


def _regs(m, reg, n):
    out = bytearray(2 * n)
    assert m.bank.read(reg - 1, n, out, 0) == 0
    return struct.unpack(">%dH" % n, out)


def test_defaults_read_unity():
    m = _meter()
    assert _regs(m, 7201, 9) == (10000,) * 6 + (0,) * 3


def test_write_reaches_config_and_dsp():
    m = _meter()
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
    before = _regs(m, 7201, 9)
    for reg, v in ((7201, 4999), (7206, 20001), (7207, 10001), (7209, 0x10000 - 10001)):
        assert m.bank.write(reg - 1, (10000, v) if reg == 7206 else (v,)) == 3, reg
    assert _regs(m, 7201, 9) == before
    # a refused word anywhere in a request refuses all of it
    assert m.bank.write(7200, (11000, 11000, 11000, 11000, 11000, 11000, 0, 0, 20000)) == 3
    assert _regs(m, 7201, 9) == before
    # outside the block: illegal address
    assert m.bank.write(7209, (10000,)) == 2


def test_persisted_in_the_store_state():
    m = _meter()
    assert m.bank.write(7200, (10100, 10000, 10000, 9900, 10000, 10000, 250, 0, 0)) == 0
    st = state_of(m)
    m2 = _meter()
    restore(m2, st)
    assert _regs(m2, 7201, 9) == (10100, 10000, 10000, 9900, 10000, 10000, 250, 0, 0)
