# Meter: the DSP's second feeds energy, demand and the register image;
# configuration changes reach the DSP and demand at once.
from array import array

from frontend import FrontEnd
from meter import Meter


def _u16(m, reg):
    out = bytearray(2)
    assert m.bank.read(reg - 1, 1, out, 0) == 0
    return out[0] << 8 | out[1]


def test_second_refreshes_image_and_error_bitmap_146():
    m = Meter(FrontEnd(bits=16, fs=2520))
    seen = []
    m.on_second = seen.append
    buf = array("i", [0] * (6 * 1260))
    assert m.process(buf) == 0
    assert m.process(buf) == 1
    assert seen == [m] and m.energy.seconds == 1
    assert _u16(m, 146) & 0x40  # bit 6: no voltage to measure frequency
    assert _u16(m, 28) == 0x8000  # frequency QNAN
    assert _u16(m, 21) == 0  # no power
    assert _u16(m, 106) == 0  # 0 V on A-N (valid in type 40)


def test_config_change_reaches_dsp_and_demand():
    m = Meter(FrontEnd())
    assert m.bank.write(129, [12, 400, 3, 100, 240]) == 0  # 130-134
    d = m.dsp
    assert (d.system_type, d.ct_primary, d.ct_secondary, d.pt_ratio) == (12, 400, 3, 1.0)
    m.config.apply({"demand_len": 0})
    assert m.demand.sub_len == 0 and m.demand.n == 1
    m.config.apply({"cal_gains": (1.01, 1.0, 1.0, 1.0, 1.0, 1.0)})
    assert abs(m.dsp.gain[0] - 1.01) < 1e-6


def test_spread_second_runs_one_job_a_call():
    # the board's loop (runtime.py) sets spread: the DSP's second leaves
    # its follow-up work as jobs, one per work() call, in order; the image
    # shows the second only after its job ran
    m = Meter(FrontEnd(bits=16, fs=2520))
    m.spread = True
    order = []
    m.on_second = lambda _m: order.append("outputs")
    m.after_second = lambda _m: order.append("after")
    buf = array("i", [0] * (6 * 1260))
    m.process(buf)
    assert m.process(buf) == 1 and m.busy
    assert m.energy.seconds == 0 and order == []
    assert _u16(m, 146) == 0  # the image is not refreshed yet
    assert m.work() and m.energy.seconds == 1  # 1: energy and demand
    assert m.work() and order == ["outputs"]  # 2: pulse, alarms
    assert m.work() and _u16(m, 146) & 0x40  # 3: the image (bit 6: no frequency)
    assert not m.work() and order == ["outputs", "after"]  # 4: e.g. the save
    assert not m.busy and not m.work()


def test_spread_jobs_left_over_finish_before_the_next_second():
    # a loop that never ran work() (stalled): the next second runs them first
    m = Meter(FrontEnd(bits=16, fs=2520))
    m.spread = True
    buf = array("i", [0] * (6 * 1260))
    for _ in range(4):
        m.process(buf)
    assert m.energy.seconds == 1 and m.busy
    m.finish()
    assert m.energy.seconds == 2 and not m.busy
