# Data logging (firmware/datalog.py) through the register bank: rows at
# sub-interval closes, circular wrap, single-shot stop, halt, pointers,
# paged reads while logging goes on (read collisions 1 and 2, nothing
# lost), 129 = 16640, the ring rebuilt at start, power cuts at every byte.
from array import array

import micropython

import datalog as DL
from config import Config
from datalog import DEPTH, PER, REC, DataLog, PowerCut, RamFlash
from frontend import FrontEnd
from meter import Meter
from readings import E_KINDS, E_TOTAL, E_WH_IMP, N_ENERGIES, N_READINGS, R_FREQ
from rtc import Rtc


def _meter(flash=None, **cfg):
    c = Config()
    if cfg:
        c.apply(cfg)
    m = Meter(FrontEnd(), c)
    clock = Rtc()
    flash = flash if flash is not None else RamFlash()
    dl = DataLog(m.bank, c, flash, clock)
    m.demand.on_close = dl.subinterval_closed
    m.bank.refresh()
    return m, dl, clock, flash


def _u16(m, reg):
    out = bytearray(2)
    assert m.bank.read(reg - 1, 1, out, 0) == 0
    return out[0] << 8 | out[1]


def _u32(m, reg):
    return _u16(m, reg) << 16 | _u16(m, reg + 1)


def _window(m, k0, n):
    out = bytearray(2 * n)
    assert m.bank.read(7999 + k0, n, out, 0) == 0
    return [out[2 * i] << 8 | out[2 * i + 1] for i in range(n)]


def _page(m, page, n=None, resume=True):
    """Buffer `page` newest first, as a master reads it (blocks of 125), then
    158 = 0 again unless resume=False."""
    n = DEPTH if n is None else n
    assert m.bank.write(157, [page]) == 0
    got = []
    k = 0
    while k < n:
        c = min(125, n - k)
        got += _window(m, k, c)
        k += c
    if resume:
        assert m.bank.write(157, [0]) == 0
    return got


class _Poked:
    """The bank as the data log reads it, with register 3 (logged by
    pointer 1) reading v."""

    def __init__(self, bank, v):
        self.bank = bank
        self.v = v

    def word(self, reg):
        return self.v if reg == 3 and self.v is not None else self.bank.word(reg)


def _close(m, dl, v=None):
    """A fast sub-interval close: the row is taken from the registers as
    they read now, register 3 reading v."""
    dl.subinterval_closed()
    dl.take(_Poked(m.bank, v))


def _second(m, clock, kwh_per_s=0.0):
    ws = array("f", [0.0] * N_ENERGIES)
    ws[E_KINDS * E_TOTAL + E_WH_IMP] = kwh_per_s * 3.6e6
    clock.tick(1)
    m.energy.add(ws)
    m.demand.add(ws)
    m.bank.refresh()


def test_defaults_and_pointer_refusals():
    m, dl, clock, fl = _meter()
    assert _u16(m, 158) == 0 and _u16(m, 159) == 0
    assert [_u16(m, r) for r in range(169, 179)] == [3, 4, 5, 6, 29, 30, 31, 155, 156, 157]
    assert _u16(m, 161) == 0 and _u16(m, 162) == 0 and _u16(m, 163) == 0
    for bad in (0, 158, 200, 40001):
        assert m.bank.write(168, [bad]) == 3, bad
    assert m.bank.write(168, [1, 2, 3, 4, 5, 6, 7, 8, 9, 0]) == 3  # all or nothing
    assert _u16(m, 169) == 3
    assert m.bank.write(168, [154]) == 0 and m.bank.write(177, [155]) == 0
    assert _u16(m, 169) == 154
    assert m.bank.write(157, [11]) == 3 and m.bank.write(158, [4]) == 3  # 158 0-10, 159 bits 0-1
    assert m.bank.write(159, [0]) == 2 and m.bank.write(160, [0]) == 2  # 160, 161 read-only
    # 158 is not kept over a power cycle; 159 and the pointers are
    assert m.bank.write(157, [3, 1]) == 0
    d = m.config.to_dict()
    assert "log_page" not in d and d["log_mode"] == 1 and d["log_ptr1"] == 154
    assert _window(m, 0, 3) == [0x8000] * 3  # nothing logged yet


def test_rows_at_each_close_through_the_meter_with_time_and_energy():
    m, dl, clock, fl = _meter(demand_len=10)
    for _ in range(35):
        _second(m, clock, 0.01)  # 0.01 kWh per second: 36 kW
    assert _u16(m, 161) == 3
    e = m.config.sf_e
    imp = _page(m, 1, 4, False), _page(m, 2, 4)
    got = [imp[0][k] << 16 | imp[1][k] for k in range(3)]
    assert got == [round(0.3 / 10 ** e), round(0.2 / 10 ** e), round(0.1 / 10 ** e)]
    assert imp[0][3] == 0x8000 and imp[1][3] == 0x8000  # not yet written
    assert _u32(m, 164) == got[0]  # newest entry's energy
    demand = _page(m, 5, 3)  # register 29, kW x 10^W
    assert demand == [round(36.0 / 10 ** m.config.sf_w)] * 3
    mins = _page(m, 10, 3)  # 157: minutes/seconds of each row, 10 s apart
    assert mins == [30, 20, 10]
    assert [_u16(m, r) for r in (166, 167, 168)] == [0x0101, 0, 30]
    assert _page(m, 8, 1) == [0x0101]
    assert _window(m, 0, 2) == [0x8000, 0x8000]  # page 0: all 0x8000
    out = bytearray(4)
    assert m.bank.read(13759, 1, out, 0) == 0 and out[:2] == b"\x80\x00"  # 13760


def test_sync_to_comms_closes_log_too():
    m, dl, clock, fl = _meter(demand_len=0)
    for _ in range(5):
        _second(m, clock)
    assert _u16(m, 161) == 0
    assert m.bank.write(128, [21211]) == 0
    _second(m, clock)
    assert _u16(m, 161) == 1 and _u16(m, 168) == 6


def test_circular_wraps_keeping_the_newest_5760():
    m, dl, clock, fl = _meter()
    n = DEPTH + 2 * PER + 17
    for i in range(n):
        _close(m, dl, i)
    assert _u16(m, 161) == n
    got = _page(m, 1)  # register 3 MSR: i
    assert got == list(range(n - 1, n - 1 - DEPTH, -1))
    assert _window(m, DEPTH, 1) == [0x8000]  # 13760
    assert _u16(m, 160) & 1 == 0
    dl.count = 32766
    _close(m, dl, 1)
    _close(m, dl, 2)
    assert _u16(m, 161) == 32767  # saturates
    # the ring is rebuilt from flash at start
    m2, dl2, _, _ = _meter(fl)
    assert _u16(m2, 161) == 32767
    assert _page(m2, 1, 3) == [2, 1, n - 1]


def test_single_shot_stops_when_full_and_sets_bit_0():
    m, dl, clock, fl = _meter()
    assert m.bank.write(158, [1]) == 0  # 159 bit 0
    for i in range(DEPTH + 5):
        _close(m, dl, i)
    assert _u16(m, 160) & 1
    assert _u16(m, 161) == DEPTH + 5  # the count goes on (Veris)
    got = _page(m, 1)
    assert got[0] == DEPTH - 1 and got[-1] == 0  # the first 5760 kept
    assert m.bank.write(157, [0]) == 0
    assert m.bank.write(128, [16640]) == 0  # reset: restarts logging
    assert _u16(m, 160) & 1 == 0 and _u16(m, 161) == 0
    _close(m, dl, 77)
    assert _page(m, 1, 2) == [77, 0x8000]


def test_halt_logs_nothing():
    m, dl, clock, fl = _meter()
    _close(m, dl, 1)
    assert m.bank.write(158, [2]) == 0  # halt
    for i in range(5):
        _close(m, dl, 10 + i)
    assert _u16(m, 161) == 1
    assert m.bank.write(158, [0]) == 0
    _close(m, dl, 2)
    assert _page(m, 1, 3) == [2, 1, 0x8000]


def test_pointer_change_takes_effect_at_the_next_row_and_interrupts():
    m, dl, clock, fl = _meter()
    _close(m, dl, 5)
    _close(m, dl, 6)
    assert _u16(m, 160) & 0x10 == 0
    assert m.bank.write(168, [28]) == 0  # buffer 1: frequency
    assert _u16(m, 160) & 0x10  # logging interrupted (configuration change)
    r = array("f", [0.0] * N_READINGS)
    r[R_FREQ] = 60.01
    m.bank.refresh(r, 1 << R_FREQ, 0)  # register 28 reads 6001 (0.01 Hz)
    _close(m, dl)
    assert _page(m, 1, 3) == [6001, 6, 5]


def test_page_reads_hold_rows_read_collisions_1_and_2_nothing_lost():
    m, dl, clock, fl = _meter()
    for i in range(3):
        _close(m, dl, i)
    assert _page(m, 1, 4, False) == [2, 1, 0, 0x8000]  # page 1 selected: paused
    _close(m, dl, 3)  # a sub-interval ends while reading: held
    assert _u16(m, 160) & 0x06 == 0x02  # read collision 1
    assert _window(m, 0, 4) == [2, 1, 0, 0x8000]  # the view does not move
    assert _u16(m, 161) == 3
    _close(m, dl, 4)
    _close(m, dl, 5)
    assert _u16(m, 160) & 0x06 == 0x06  # read collision 2
    assert _page(m, 2, 2, False) == [0, 0]  # another page: still paused (4 = 0)
    assert _page(m, 1, 2, False) == [2, 1]
    assert m.bank.write(157, [0]) == 0  # resume: the held rows are published
    assert _u16(m, 161) == 6 and _u16(m, 160) & 0x06 == 0x06
    assert _page(m, 1, 7) == [5, 4, 3, 2, 1, 0, 0x8000]
    _close(m, dl, 6)  # the first sub-interval with page 0 clears them
    assert _u16(m, 160) & 0x06 == 0
    assert _page(m, 1, 8) == [6, 5, 4, 3, 2, 1, 0, 0x8000]
    # held rows are on flash already: a power cut during a read loses none
    _close(m, dl, 7)
    _close(m, dl, 8)
    m2, dl2, _, _ = _meter(fl)
    assert _page(m2, 1, 4) == [8, 7, 6, 5]


def test_reset_129_16640_empties_and_survives_power_cycle():
    m, dl, clock, fl = _meter()
    for i in range(10):
        _close(m, dl, i)
    assert m.bank.write(128, [16640]) == 0
    assert _u16(m, 161) == 0 and _u16(m, 160) & 0x08 and _u32(m, 164) == 0
    assert _page(m, 1, 2) == [0x8000, 0x8000]
    m2, dl2, _, _ = _meter(fl)
    assert _u16(m2, 161) == 0 and _page(m2, 1, 1) == [0x8000]
    _close(m2, dl2, 42)
    assert _u16(m2, 161) == 1 and _page(m2, 1, 2) == [42, 0x8000]
    _close(m2, dl2)
    _close(m2, dl2)
    assert _u16(m2, 160) & 0x08 == 0


def test_power_cut_at_every_byte_of_a_row_loses_at_most_that_row():
    base = RamFlash()
    m, dl, clock, fl = _meter(base)
    for i in range(PER - 3):
        _close(m, dl, 100 + i)
    snap = base.snapshot()
    want = _page(m, 1, PER - 3)
    for cut in range(REC + 1):
        fl = RamFlash()
        fl.restore(snap)
        m, dl, clock, _ = _meter(fl)
        fl.cut_after = cut
        try:
            _close(m, dl, 999)
            assert cut == REC  # a cut after the last byte: the row is complete
        except PowerCut:
            pass
        m, dl, clock, _ = _meter(fl)  # power back
        got = _page(m, 1, PER - 2)
        if cut == REC:
            assert got == [999] + want[:PER - 3], cut
            continue
        if cut == 0:  # nothing programmed: no trace of the row
            assert got == want + [0x8000], cut
            continue
        assert got[1:] == want, cut  # every older row intact
        assert got[0] == 0x8000, cut  # the row being written is lost
        assert _u16(m, 161) == PER - 3
        _close(m, dl, 555)  # logging goes on
        got = _page(m, 1, PER)
        assert got[0] == 555 and got[1] == 0x8000 and got[2:PER - 1] == want, cut
        assert dl.errors == 0


def test_power_cut_while_erasing_a_sector():
    base = RamFlash()
    m, dl, clock, fl = _meter(base)
    for i in range(PER):  # sector 0 full: the next row erases sector 1
        _close(m, dl, i)
    snap = base.snapshot()
    for cut in (0, 1, 2047, 4095):
        fl = RamFlash()
        fl.restore(snap)
        fl.poke(DL.SECT, bytes(range(64)))  # old data in sector 1
        m, dl, clock, _ = _meter(fl)
        fl.cut_after = cut
        try:
            _close(m, dl, 999)
        except PowerCut:
            pass
        m, dl, clock, _ = _meter(fl)
        assert _page(m, 1, PER + 1) == list(range(PER - 1, -1, -1)) + [0x8000], cut
        _close(m, dl, 1000)
        assert _page(m, 1, 2) == [1000, PER - 1], cut


def test_window_read_allocates_nothing():
    m, dl, clock, fl = _meter()
    for i in range(3):
        _close(m, dl, i)
    assert m.bank.write(157, [1]) == 0
    out = bytearray(260)
    micropython.heap_lock()
    try:
        a = m.bank.read(7999, 125, out, 0)
        b = m.bank.read(159, 9, out, 0)  # 160-168
    finally:
        micropython.heap_unlock()
    assert (a, b) == (0, 0)
    assert m.bank.read(7999, 125, out, 0) == 0 and out[:6] == b"\x00\x02\x00\x01\x00\x00"
