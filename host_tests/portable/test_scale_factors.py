# Registers 138-141 over the whole configuration range (CT 5..32000 A,
# PT 0.01..320): the +20 % over-range value fits +-32767 and one step finer
# would not. Maxima from the front end (frontend.py): 347 V L-N at the
# terminals x PT x 1.2, L-L up to twice that, 1.2 x CT.
from array import array

from config import PHASES, Config
from frontend import OVER_RANGE, V_NOMINAL_RANGE
from readings import N_READINGS, R_I, R_P_TOT, R_VLL

_CTS = (5, 7, 10, 27, 99, 100, 273, 1000, 2731, 5000, 27306, 32000)
_PTS = (1, 2, 10, 99, 100, 137, 1000, 5000, 27306, 32000)  # register 133 (x100)


def _finest(x, sf):
    assert x / 10.0 ** sf <= 32767, (x, sf)
    assert sf == -4 or x / 10.0 ** (sf - 1) > 32767, (x, sf)


def _changes(st, ct, pt):
    # a 134 that 134 / PT accepts (82..660 V), when one exists (PT >= 0.13)
    ch = {"system_type": st, "ct_primary": ct, "pt_ratio": pt}
    v = min(max(480 * pt // 100, (82 * pt + 99) // 100, 82), 32000)
    if v * 100 <= 660 * pt:
        ch["system_voltage"] = v
    return ch


def test_scale_factors_138_to_141_across_ct_and_pt():
    c = Config()
    for st in (10, 11, 12, 31, 40):
        for ct in _CTS:
            for pt in _PTS:
                c.apply(_changes(st, ct, pt))
                v_ln = V_NOMINAL_RANGE * OVER_RANGE * pt / 100.0
                i = OVER_RANGE * ct
                v_ph = 2 * v_ln if st in (11, 31) else v_ln
                _finest(i, c.sf_i)  # 138
                _finest(2 * v_ln, c.sf_v)  # 139
                _finest(PHASES[st] * v_ph * i / 1000.0, c.sf_w)  # 140, kW
                kwh10y = c.max_power_w / 1000.0 * 8766 * 10  # 141: 10 years at 135
                assert kwh10y / 10.0 ** c.sf_e <= 2147483647
                assert c.sf_e == -4 or kwh10y / 10.0 ** (c.sf_e - 1) > 2147483647
                assert -4 <= c.sf_e <= 4
                assert 1 <= c.reg135 <= 32767


def test_full_scale_readings_do_not_saturate_registers():
    from frontend import FrontEnd
    from meter import Meter
    for ct, pt in ((5, 1), (100, 100), (32000, 32000), (2731, 137)):
        c = Config()
        c.apply(_changes(40, ct, pt))
        m = Meter(FrontEnd(), c)
        r = array("f", [0.0] * N_READINGS)
        v_ln = V_NOMINAL_RANGE * OVER_RANGE * pt / 100.0
        r[R_I] = OVER_RANGE * ct
        r[R_VLL] = 2 * v_ln
        r[R_P_TOT] = 3 * v_ln * OVER_RANGE * ct
        m.bank.refresh(r, m.dsp._valid_cfg, 0)
        out = bytearray(2)
        for reg, sf in ((109, c.sf_i), (103, c.sf_v), (21, c.sf_w)):
            assert m.bank.read(reg - 1, 1, out, 0) == 0
            v = out[0] << 8 | out[1]
            assert v < 32767, (ct, pt, reg, v)
            assert v > 3276 or sf == -4, (ct, pt, reg, v)  # not a decade too coarse
