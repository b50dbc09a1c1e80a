# Energy accumulators (registers 1-20, 43-90) and demand (29-37, 149, 150,
# 129 = 21211 / 21212), fed energy arrays directly.
import math
from array import array

from demand import Demand
from energy import K_WH_NET, Energy
from readings import (
    E_KINDS, E_TOTAL, E_VAH_EXP, E_VAH_IMP, E_VARH_Q1, E_VARH_Q3, E_WH_EXP, E_WH_IMP, N_ENERGIES,
)

_T = E_KINDS * E_TOTAL


def _f32(x):
    a = array("f", [x])
    return a[0]


def test_energy_exact_over_two_days_vs_analytic_integral():
    # P(t) = 1500 + 1000 sin(2 pi t / 1 day) W: each second's exact integral
    # is handed over as float32 Ws (as the DSP does). 2 days of seconds.
    e = Energy()
    ws = array("f", [0.0] * N_ENERGIES)
    w = 2.0 * math.pi / 86400.0
    exact_q16 = 0  # sum of the float32 inputs, exactly, in units of 2^-16 Ws
    n = 2 * 86400
    for t in range(n):
        x = 1500.0 + 1000.0 * (math.cos(w * t) - math.cos(w * (t + 1))) / w
        ws[_T + E_WH_IMP] = x
        ws[E_WH_IMP] = 0.001  # phase A: a milli-watt-second a second, never lost
        v = ws[_T + E_WH_IMP]
        exact_q16 += int(v * 65536.0)  # a float32 above 256 is a multiple of 2^-16
        e.add(ws)
    got = e.count(E_WH_IMP, E_TOTAL)
    want = exact_q16 * 1000 // 65536
    assert abs(got - want) <= 1, (got, want)  # to the counter's resolution (1 mWs)
    analytic = 1500.0 * n * 1000.0  # the sine integrates to 0 over whole days
    assert abs(got - analytic) / analytic < 1e-7
    small = e.count(E_WH_IMP, 0)
    assert abs(small - n * _f32(0.001) * 1000.0) <= 1  # 172.8 Ws from 1 mWs steps
    assert abs(e.kwh(E_WH_IMP, E_TOTAL) - 1500.0 * n / 3.6e6) < 1e-6


def test_energy_net_monotonic_clear_counts_147():
    e = Energy()
    ws = array("f", [0.0] * N_ENERGIES)
    ws[_T + E_WH_IMP] = 10.0
    ws[_T + E_WH_EXP] = 25.0
    ws[_T + E_VARH_Q1] = -5.0  # negative or NaN never decrements
    ws[_T + E_VARH_Q3] = float("nan")
    for _ in range(4):
        e.add(ws)
    assert e.count(K_WH_NET, E_TOTAL) == -60000
    assert e.count(E_VARH_Q1, E_TOTAL) == 0 and e.count(E_VARH_Q3, E_TOTAL) == 0
    e.clear()
    e.clear()
    assert e.resets == 2 and e.count(E_WH_IMP, E_TOTAL) == 0
    d = e.to_dict()
    e2 = Energy()
    e2.from_dict(d)
    assert e2.resets == 2


def _sec(p=0.0, q=0.0):
    ws = array("f", [0.0] * N_ENERGIES)
    s = math.sqrt(p * p + q * q)
    if p >= 0:
        ws[_T + E_WH_IMP] = p
        ws[_T + E_VAH_IMP] = s
    else:
        ws[_T + E_WH_EXP] = -p
        ws[_T + E_VAH_EXP] = s
    if q >= 0:
        ws[_T + E_VARH_Q1] = q
    else:
        ws[_T + E_VARH_Q3] = -q
    return ws


def test_demand_block_register_149_is_1():
    d = Demand(10, 1)
    for k in range(1, 21):
        p = 100.0 * k
        for _ in range(10):
            d.add(_sec(p, -p / 2))
        assert abs(d.present[0] - p) < 1e-3 and abs(d.present[1] + p / 2) < 1e-3
        assert abs(d.present[2] - p * math.sqrt(1.25)) < 1e-2
    assert d.closed == 20 and abs(d.peak_imp[0] - 2000.0) < 1e-3


def test_demand_rolling_block_149_is_3_over_many_sub_intervals():
    d = Demand(15, 3)
    avgs = []
    for k in range(40):
        p = 1000.0 * math.sin(k * 0.7)  # imports and exports
        for i in range(15):
            d.add(_sec(p + (i - 7) * 10.0))  # varies inside; the mean is p
        avgs.append(p)
        last = avgs[-3:]
        assert abs(d.present[0] - sum(last) / len(last)) < 1e-2, k
        assert d.present[2] * d.present[0] >= 0  # apparent carries real's sign
    means = [sum(avgs[max(0, k - 2):k + 1]) / len(avgs[max(0, k - 2):k + 1]) for k in range(40)]
    assert abs(d.peak_imp[0] - max(means)) < 1e-2  # 32
    assert abs(d.peak_exp[0] - min(means)) < 1e-2  # 35
    assert d.peak_exp[0] < 0 < d.peak_imp[0]


def test_demand_sync_to_comms_150_is_0():
    d = Demand(0, 4)  # 149 ignored
    for k in range(12):
        n = 20 + 3 * k
        for _ in range(n):
            d.add(_sec(500.0 + k))
        before = d.closed
        d.sync()  # 129 = 21211: closes at the end of the next second
        assert d.closed == before
        d.add(_sec(500.0 + k))
        assert d.closed == before + 1
        assert abs(d.present[0] - (500.0 + k)) < 1e-3  # N = 1 in sync mode
    for _ in range(100000 // 1000):
        d.add(_sec(9999.0))
    assert abs(d.present[0] - 511.0) < 1e-3  # nothing closes without a sync


def test_demand_peak_reset_21212():
    d = Demand(10, 1)
    for p in (3000.0, -2000.0, 100.0):
        for _ in range(10):
            d.add(_sec(p))
    assert abs(d.peak_imp[0] - 3000.0) < 1e-3 and abs(d.peak_exp[0] + 2000.0) < 1e-3
    d.reset_peaks()
    assert abs(d.peak_imp[0] - 3000.0) < 1e-3  # takes effect at the end of the next second
    d.add(_sec(100.0))
    assert abs(d.peak_imp[0] - 100.0) < 1e-3 and abs(d.peak_exp[0] - 100.0) < 1e-3
    r = Demand(10, 1)
    r.from_dict(d.to_dict())
    assert r.peak_imp == d.peak_imp
