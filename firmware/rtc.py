# The real-time clock behind registers 155-157 (addendum 'Real-time clock
# and data logging'): two bytes each, the first named in the high byte:
#   155 Month/Day   156 Year/Hour   157 Minutes/Seconds
# year 0-199 counts from 2000. Kept as separate fields (no seconds-since-
# epoch: 200 years of seconds is beyond MicroPython's small ints).
#
# Time source, one of:
#   - none (hw=None): tick(n) adds n seconds; the runtime calls it once per
#     DSP second (Meter.clock), so the clock runs on metered time;
#   - a board clock object with the machine.RTC interface (datetime() ->
#     (year, month, day, weekday, hour, minute, second, subsecond),
#     datetime(tuple) sets it): tick() re-reads it, a Modbus write sets it.
#     battery=False (the RP2040's own RTC: keeps time only while powered):
#     it is reset at start like no clock at all; battery=True (an external
#     battery-backed RTC): its time is kept if it is a valid 2000-2199 date.
# After a start without a battery-backed time the clock restarts at
# 2000-01-01 00:00:00 and `changed` is set (log status 160 bit 5); a Modbus
# write sets it too. The data log takes and clears it.
#
# Writes (write(index, words), index 0 = register 155): the written words
# replace their fields, the others keep their present value, and the whole
# date is checked: an impossible one (month 13, Feb 30, Feb 29 in a common
# year, hour 24, minute or second 60, year 200) is refused and changes
# nothing. So one 0x10 write of 155-157 sets everything at once; a single
# 157 write sets minutes and seconds only; a date change that is only valid
# together with a year change (Feb 29) must write 155 and 156 together.

from micropython import const

Y, MO, D, H, MI, S = 0, 1, 2, 3, 4, 5  # field indices
YEAR0 = const(2000)
_YEARS = const(200)
DEFAULT = (0, 1, 1, 0, 0, 0)  # 2000-01-01 00:00:00
_MDAYS = b"\x1f\x1c\x1f\x1e\x1f\x1e\x1f\x1f\x1e\x1f\x1e\x1f"


def leap(year):  # full year
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def days_in(year, month):
    if month == 2 and leap(year):
        return 29
    return _MDAYS[month - 1]


def valid(t):
    """t: (year 0-199, month, day, hour, minute, second)."""
    y, mo, d, h, mi, s = t
    return (0 <= y < _YEARS and 1 <= mo <= 12 and 1 <= d <= days_in(YEAR0 + y, mo)
            and 0 <= h <= 23 and 0 <= mi <= 59 and 0 <= s <= 59)


def pack(t):
    """(155, 156, 157) words of a time tuple."""
    return (t[MO] << 8 | t[D], t[Y] << 8 | t[H], t[MI] << 8 | t[S])


def unpack(w):
    return [w[1] >> 8, w[0] >> 8, w[0] & 0xFF, w[1] & 0xFF, w[2] >> 8, w[2] & 0xFF]


class Rtc:
    def __init__(self, hw=None, battery=False):
        self.hw = hw
        self.battery = battery
        self.t = list(DEFAULT)
        self.changed = False  # 160 bit 5 until the data log takes it
        self.writes = 0
        kept = False
        if hw is not None and battery:
            kept = self._read_hw()
        if not kept:
            self._set(DEFAULT)

    def _read_hw(self):
        dt = self.hw.datetime()
        t = [dt[0] - YEAR0, dt[1], dt[2], dt[4], dt[5], dt[6]]
        if not valid(t):
            return False
        self.t = t
        return True

    def _set(self, t):
        for i in range(6):
            self.t[i] = t[i]
        self.changed = True
        if self.hw is not None:
            y, mo, d, h, mi, s = t
            # weekday is ignored by machine.RTC on setting (computed or unused)
            self.hw.datetime((YEAR0 + y, mo, d, 0, h, mi, s, 0))

    # ---- running -------------------------------------------------------
    def tick(self, n=1):
        """n more seconds (a board clock is read instead)."""
        if self.hw is not None:
            self._read_hw()
            return
        t = self.t
        s = t[S] + n
        if s < 60:
            t[S] = s
            return
        t[S] = s % 60
        m = t[MI] + s // 60
        t[MI] = m % 60
        h = t[H] + m // 60
        t[H] = h % 24
        days = h // 24
        while days:
            dim = days_in(YEAR0 + t[Y], t[MO])
            if t[D] + days <= dim:
                t[D] += days
                break
            days -= dim - t[D] + 1
            t[D] = 1
            t[MO] += 1
            if t[MO] > 12:
                t[MO] = 1
                t[Y] = (t[Y] + 1) % _YEARS  # after 2199: back to 2000

    def words(self):
        return pack(self.t)

    def word(self, i):
        t = self.t
        if i == 0:
            return t[MO] << 8 | t[D]
        if i == 1:
            return t[Y] << 8 | t[H]
        return t[MI] << 8 | t[S]

    # ---- setting (Modbus 155-157) ----------------------------------------
    def check(self, index, words):
        """The time that writing words at 155 + index would give, or None
        when it is impossible (see the top of this file)."""
        if index < 0 or index + len(words) > 3:
            return None
        w = list(self.words())
        for k in range(len(words)):
            if not 0 <= words[k] <= 0xFFFF:
                return None
            w[index + k] = words[k]
        t = unpack(w)
        return t if valid(t) else None

    def write(self, index, words):
        """True when set; False (nothing changed) when refused."""
        t = self.check(index, words)
        if t is None:
            return False
        self._set(t)
        self.writes += 1
        return True

    def set(self, year, month, day, hour, minute, second):
        """Full year (2000-2199). ValueError when impossible."""
        t = (year - YEAR0, month, day, hour, minute, second)
        if not valid(t):
            raise ValueError("impossible date/time")
        self._set(t)

    def take_changed(self):
        c = self.changed
        self.changed = False
        return c
