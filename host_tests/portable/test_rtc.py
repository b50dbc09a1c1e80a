# The clock (firmware/rtc.py) and registers 155-157 through the register
# bank: packing, carries, refusals of impossible dates, partial writes, a
# board RTC with and without a battery, the 'clock changed' bit (160 bit 5).
from config import Config
from datalog import DataLog, RamFlash
from frontend import FrontEnd
from meter import Meter
from rtc import Rtc, days_in, pack, valid


def _u16(m, reg):
    out = bytearray(2)
    assert m.bank.read(reg - 1, 1, out, 0) == 0
    return out[0] << 8 | out[1]


def _meter(flash=None, clock=None):
    c = Config()
    m = Meter(FrontEnd(), c)
    clock = clock if clock is not None else Rtc()
    dl = DataLog(m.bank, c, flash if flash is not None else RamFlash(), clock)
    m.bank.refresh()
    return m, dl, clock


class FakeRtc:
    # machine.RTC: datetime() -> (y, mo, d, weekday, h, mi, s, subsec)
    def __init__(self, dt):
        self.dt = tuple(dt)
        self.sets = 0

    def datetime(self, dt=None):
        if dt is None:
            return self.dt
        self.dt = tuple(dt)
        self.sets += 1


def test_starts_at_2000_01_01_and_packs_high_byte_first():
    c = Rtc()
    assert c.t == [0, 1, 1, 0, 0, 0] and c.changed
    assert c.words() == (0x0101, 0x0000, 0x0000)
    c.set(2024, 12, 31, 23, 58, 7)
    assert c.words() == (12 << 8 | 31, 24 << 8 | 23, 58 << 8 | 7)
    assert pack([199, 2, 28, 1, 2, 3]) == (0x021C, 199 << 8 | 1, 0x0203)


def test_tick_carries_through_months_years_and_leap_days():
    c = Rtc()
    c.set(2023, 12, 31, 23, 59, 59)
    c.tick(1)
    assert c.t == [24, 1, 1, 0, 0, 0]
    c.set(2024, 2, 28, 23, 59, 30)
    c.tick(31)
    assert c.t == [24, 2, 29, 0, 0, 1]  # 2024 is a leap year
    c.set(2100, 2, 28, 23, 59, 59)
    c.tick(1)
    assert c.t == [100, 3, 1, 0, 0, 0]  # 2100 is not
    c.set(2000, 2, 28, 12, 0, 0)
    c.tick(86400)
    assert c.t == [0, 2, 29, 12, 0, 0]  # 2000 is (divisible by 400)
    c.set(2000, 1, 1, 0, 0, 0)
    c.tick(366 * 86400 + 3661)  # a whole leap year and 1 h 1 min 1 s
    assert c.t == [1, 1, 1, 1, 1, 1]
    c.set(2199, 12, 31, 23, 59, 59)
    c.tick(1)
    assert c.t == [0, 1, 1, 0, 0, 0]  # year 199 + 1: back to 2000
    assert days_in(2023, 2) == 28 and days_in(2024, 2) == 29 and days_in(2024, 4) == 30


def test_impossible_dates_refused_and_nothing_changes():
    c = Rtc()
    c.set(2023, 6, 15, 10, 20, 30)
    c.changed = False
    before = c.words()
    bad = (
        (13 << 8 | 1, 23 << 8 | 0, 0),  # month 13
        (0 << 8 | 1, 23 << 8 | 0, 0),  # month 0
        (2 << 8 | 30, 24 << 8 | 0, 0),  # Feb 30
        (2 << 8 | 29, 23 << 8 | 0, 0),  # Feb 29 2023
        (4 << 8 | 31, 23 << 8 | 0, 0),  # Apr 31
        (1 << 8 | 0, 23 << 8 | 0, 0),  # day 0
        (1 << 8 | 1, 23 << 8 | 24, 0),  # hour 24
        (1 << 8 | 1, 23 << 8 | 0, 60 << 8),  # minute 60
        (1 << 8 | 1, 23 << 8 | 0, 60),  # second 60
        (1 << 8 | 1, 200 << 8, 0),  # year 200
    )
    for w in bad:
        assert c.check(0, list(w)) is None, w
        assert not c.write(0, list(w)), w
        assert c.words() == before and not c.changed
    assert not valid([23, 2, 29, 0, 0, 0]) and valid([24, 2, 29, 0, 0, 0])
    try:
        c.set(2023, 2, 29, 0, 0, 0)
        raise AssertionError("Feb 29 2023 accepted")
    except ValueError:
        pass


def test_partial_writes_checked_against_the_other_registers():
    c = Rtc()
    c.set(2023, 1, 31, 10, 20, 30)
    assert c.write(2, [5 << 8 | 6])  # 157 alone: minutes, seconds
    assert c.t == [23, 1, 31, 10, 5, 6]
    assert not c.write(0, [2 << 8 | 29])  # 155 alone: Feb 29 in 2023 refused
    assert c.write(0, [2 << 8 | 29, 24 << 8 | 10])  # with 156 (2024) together: fine
    assert c.t == [24, 2, 29, 10, 5, 6]
    assert not c.write(1, [23 << 8 | 10])  # back to 2023 alone: Feb 29 2023
    assert c.write(1, [25 << 8 | 0, 0]) is False  # 156-157 with Feb 29 2025: refused
    assert c.t == [24, 2, 29, 10, 5, 6]
    assert not c.write(2, [0, 0])  # beyond 157


def test_board_rtc_with_and_without_battery():
    hw = FakeRtc((2031, 7, 4, 4, 12, 30, 0, 0))
    kept = Rtc(hw, battery=True)  # battery-backed: its time is kept
    assert kept.t == [31, 7, 4, 12, 30, 0] and not kept.changed
    hw.dt = (2031, 7, 4, 4, 12, 30, 9, 0)
    kept.tick(1)  # read from the board clock, not counted
    assert kept.t == [31, 7, 4, 12, 30, 9]
    assert kept.write(0, [1 << 8 | 2, 40 << 8 | 3, 4 << 8 | 5]) and hw.dt[:3] == (2040, 1, 2)
    assert hw.dt[4:7] == (3, 4, 5) and kept.changed
    hw = FakeRtc((2031, 7, 4, 4, 12, 30, 0, 0))
    lost = Rtc(hw, battery=False)  # the RP2040's RTC: lost at power-off
    assert lost.t == [0, 1, 1, 0, 0, 0] and lost.changed and hw.dt[:3] == (2000, 1, 1)
    hw = FakeRtc((1999, 13, 1, 0, 0, 0, 0, 0))  # battery flat: nonsense
    c = Rtc(hw, battery=True)
    assert c.t == [0, 1, 1, 0, 0, 0] and c.changed


def test_modbus_write_155_157_and_refusal_exception_3():
    m, dl, clock = _meter()
    w = [3 << 8 | 14, 24 << 8 | 15, 9 << 8 | 26]
    assert m.bank.write(154, w) == 0
    assert [_u16(m, r) for r in (155, 156, 157)] == w
    assert clock.t == [24, 3, 14, 15, 9, 26]
    assert m.bank.write(154, [2 << 8 | 30, 24 << 8, 0]) == 3  # Feb 30
    assert m.bank.write(154, [3 << 8 | 14, 24 << 8 | 24]) == 3  # hour 24
    assert m.bank.write(156, [60 << 8]) == 3  # minute 60
    assert [_u16(m, r) for r in (155, 156, 157)] == w
    # a request spanning the clock and 158-159 is all or nothing
    assert m.bank.write(154, [1 << 8 | 1, 24 << 8, 0, 1, 7]) == 3  # 159 = 7 refused
    assert [_u16(m, r) for r in (155, 156, 157)] == w and m.config.log_page == 0
    assert m.bank.write(154, [1 << 8 | 1, 24 << 8, 0, 0, 1]) == 0
    assert _u16(m, 155) == 0x0101 and m.config.log_mode == 1


def test_clock_changed_bit_after_power_cycle_and_after_modbus_write():
    flash = RamFlash()
    m, dl, clock = _meter(flash)
    assert _u16(m, 160) & 0x20 and _u16(m, 160) & 0x10  # a start: clock reset, interrupted
    dl.subinterval_closed()
    m.bank.refresh()
    dl.subinterval_closed()
    m.bank.refresh()
    assert _u16(m, 160) & 0x30 == 0  # gone after the sub-interval after
    assert m.bank.write(154, [6 << 8 | 1, 25 << 8, 0]) == 0
    assert _u16(m, 160) & 0x20  # at once
    dl.subinterval_closed()
    m.bank.refresh()
    assert _u16(m, 160) & 0x20  # the previous sub-interval had the change
    dl.subinterval_closed()
    m.bank.refresh()
    assert _u16(m, 160) & 0x20 == 0
    # power cycle, no battery-backed clock: 2000-01-01 00:00:00 and bit 5
    m2, dl2, clock2 = _meter(flash)
    assert [_u16(m2, r) for r in (155, 156, 157)] == [0x0101, 0, 0]
    assert _u16(m2, 160) & 0x30 == 0x30
