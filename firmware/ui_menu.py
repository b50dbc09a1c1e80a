# The meter's own user interface (datasheet 'Quick Setup Instructions',
# 'User Interface (UI) Menu Abbreviations Defined', 'UI for Setup', 'Set
# Phase Loss', 'Set Pulse', 'Set Demand Interval', 'Set Display Units', 'Set
# Passwords'; addendum 'User interface'; menu tree in docs/ui.md).
#
# A state machine with no I/O: button events and time in, frames out.
#   menu.event(key, now_ms)   key: 'up', 'down', 'left', 'right'
#   menu.tick(now_ms)         heartbeat, message timeouts, inactivity
#   menu.frame()              (line1, line2): two 16-character strings; the
#                             characters chr(G_UP) .. chr(G_HEART) (0-3) are
#                             the CGRAM glyphs (ui_glyphs.py)
# Line 1: label in columns 0-12, wrench (col 13) while register 146 is not
# 0, import/export arrow (col 14) by the sign of the total real power, heart
# (col 15) blinking once a second. Line 2: the value, right-aligned.
#
# The model (MeterView below, or any object with the same methods) gives
# values and takes changes. Every setup edit goes through config.apply(),
# the same validation as a Modbus write; RESET goes through the register
# bank's register-129 write, the same path as a Modbus 129 = 30078 / 21212.
from micropython import const

from config import BAUDS, PHASES, PULSE_WH, SYSTEM_TYPES, ConfigError, pulse_ms_for
from energy import K_VAH_NET, K_WH_NET
from readings import (
    E_TOTAL, E_VAH_EXP, E_VAH_IMP, E_VARH_Q1, E_WH_EXP, E_WH_IMP, R_FREQ, R_I, R_I_AVG, R_P,
    R_P_TOT, R_PF, R_PF_TOT, R_Q, R_Q_TOT, R_S, R_S_TOT, R_VLL, R_VLL_AVG, R_VLN, R_VLN_AVG,
)

KEYS = ("up", "down", "left", "right")  # what event() takes

# CGRAM glyph codes (the characters 0-3 in a frame)
G_UP = const(0)  # import
G_DOWN = const(1)  # export
G_WRENCH = const(2)  # an alert is active
G_HEART = const(3)  # heartbeat
UP = "\x00"
DOWN = "\x01"
# what a text log or terminal shows for each glyph code
GLYPH_TEXT = ("^", "v", "W", "*")

WIDTH = const(16)
_LABEL_W = const(13)
DIGITS = 7  # significant digits of an auto-ranged value
DASHES = "----"

# register 146 bits (alarms.py)
_B_V_OVR = const(0x0007)
_B_I_OVR = const(0x0038)
_B_FERR = const(0x0040)
_B_PLOSS = const(0x0700)
_B_LOWPF = const(0x3800)
_B_OVERRUN = const(0x4000)
_B_CONF = const(0x8000)

# register 129 commands (registers.py)
CMD_CLEAR_ENERGY = const(30078)
CMD_PEAK_RESET = const(21212)

# ---- screens ----------------------------------------------------------------
# (kind, IEC label, IEEE label, a, b, unit)
_RD = const(0)  # a reading: a = readings.R_*
_EN = const(1)  # an energy: a = kind (readings.E_* / K_*_NET), b = phase (3 total)
_DM = const(2)  # demand: a = 0 present, 1 max import, 2 max export; b = 0 W, 1 VAR, 2 VA
_PU = const(3)  # pulse counter a (0, 1)
_AL = const(4)  # alert: a = register 146 mask, b = 0 per phase, 1 on/off, 2 pulse
_IN = const(5)  # info: a = name
_TI = const(6)  # a group's title screen (special groups)

# units
U_W = const(0)
U_VAR = const(1)
U_VA = const(2)
U_WH = const(3)
U_VARH = const(4)
U_VAH = const(5)
U_V = const(6)
U_A = const(7)
U_PF = const(8)
U_HZ = const(9)
U_N = const(10)
_UNIT = ("W", "VAR", "VA", "Wh", "VARh", "VAh", "V", "A", "", "Hz", "")
_AUTO = (True, True, True, True, True, True, False, False, False, False, False)
_MAXDEC = (3, 3, 3, 3, 3, 3, 1, 2, 3, 2, 0)
_PREFIX = ("", "k", "M", "G")

_PH = (" PH A", " PH B", " PH C")


def _per_phase(kind, iec, ieee, base, unit, total=None, tot_text=" TOT"):
    out = []
    if total is not None:
        out.append((kind, iec + tot_text, ieee + tot_text, total, 0, unit))
    for k in range(3):
        out.append((kind, iec + _PH[k], ieee + _PH[k], base + k, k, unit))
    return tuple(out)


def _energy(iec, ieee, kind, unit):
    out = []
    for ph, suffix in ((E_TOTAL, " TOT"), (0, _PH[0]), (1, _PH[1]), (2, _PH[2])):
        out.append((_EN, iec + suffix, ieee + suffix, kind, ph, unit))
    return tuple(out)


def _quadrants():
    out = []
    for q in range(4):
        n = " Q%d" % (q + 1)
        for ph, suffix in ((E_TOTAL, " TOT"), (0, " A"), (1, " B"), (2, " C")):
            out.append((_EN, "KQh" + n + suffix, "KVARh" + n + suffix, E_VARH_Q1 + q, ph, U_VARH))
    return tuple(out)


_SUMMARY = (
    (_RD, "P TOT", "W TOT", R_P_TOT, 0, U_W),
    (_RD, "Q TOT", "VAR TOT", R_Q_TOT, 0, U_VAR),
    (_RD, "S TOT", "VA TOT", R_S_TOT, 0, U_VA),
    (_RD, "PF TOT", "PF TOT", R_PF_TOT, 0, U_PF),
    (_RD, "U AVG", "VLL AVG", R_VLL_AVG, 0, U_V),
    (_RD, "V AVG", "VLN AVG", R_VLN_AVG, 0, U_V),
    (_RD, "A AVG", "A AVG", R_I_AVG, 0, U_A),
    (_RD, "HZ", "HZ", R_FREQ, 0, U_HZ),
)

_LL = (
    (_RD, "U AVG", "VLL AVG", R_VLL_AVG, 0, U_V),
    (_RD, "UAB", "VAB", R_VLL, 0, U_V),
    (_RD, "UBC", "VBC", R_VLL + 1, 0, U_V),
    (_RD, "UAC", "VAC", R_VLL + 2, 0, U_V),
)

_DEMAND = (
    (_DM, "D P", "D W", 0, 0, U_W),
    (_DM, "D Q", "D VAR", 0, 1, U_VAR),
    (_DM, "D S", "D VA", 0, 2, U_VA),
    (_DM, "MAX P" + UP, "M W" + UP, 1, 0, U_W),
    (_DM, "MAX Q" + UP, "M VAR" + UP, 1, 1, U_VAR),
    (_DM, "MAX S" + UP, "M VA" + UP, 1, 2, U_VA),
    (_DM, "MAX P" + DOWN, "M W" + DOWN, 2, 0, U_W),
    (_DM, "MAX Q" + DOWN, "M VAR" + DOWN, 2, 1, U_VAR),
    (_DM, "MAX S" + DOWN, "M VA" + DOWN, 2, 2, U_VA),
)

_ALERTS = (
    (_AL, "PLOSS", "PLOSS", _B_PLOSS, 0, 0),
    (_AL, "LOWPF", "LOWPF", _B_LOWPF, 0, 0),
    (_AL, "FERR", "FERR", _B_FERR, 1, 0),
    (_AL, "I OVR", "I OVR", _B_I_OVR, 0, 0),
    (_AL, "V OVR", "V OVR", _B_V_OVR, 0, 0),
    (_AL, "PULSE", "PULSE", _B_CONF | _B_OVERRUN, 2, 0),
)

_INFO = (
    (_IN, "MODEL", "MODEL", "MODEL", 0, 0),
    (_IN, "OS", "OS", "OS", 0, 0),
    (_IN, "RS", "RS", "RS", 0, 0),
    (_IN, "SN", "SN", "SN", 0, 0),
)

# group kinds
GROUP_DATA = const(0)
GROUP_ALERT = const(1)
GROUP_INFO = const(2)
GROUP_RESET = const(3)
GROUP_SETUP = const(4)
GROUP_PHASE = const(5)

class _Groups:
    """The top level, in up/down order: TOP[i] is (kind, screens). A data
    group's first screen is its top-level screen; right shows the others.
    The generated groups (per phase, energies, quadrants: ~64 screens with
    their joined labels, ~5 KB as tables) are built when shown and only the
    group on show is kept: the heap on a stock Pico is the scarce thing
    (docs/memory.md), a key press is not."""

    def __init__(self, specs):
        self._specs = specs  # (kind, builder or None, its args or the screens)
        self._i = -1
        self._group = None

    def __len__(self):
        return len(self._specs)

    def __getitem__(self, i):
        if i != self._i:
            kind, make, args = self._specs[i]
            self._group = (kind, make(*args) if make is not None else args)
            self._i = i
        return self._group


def _apparent():
    return (_energy("KSh" + UP, "KVAh" + UP, E_VAH_IMP, U_VAH)
            + _energy("KSh" + DOWN, "KVAh" + DOWN, E_VAH_EXP, U_VAH)
            + _energy("KSh n", "KVAh n", K_VAH_NET, U_VAH))


TOP = _Groups((
    (GROUP_PHASE, None, _SUMMARY),
    (GROUP_DATA, _per_phase, (_RD, "P", "W", R_P, U_W, R_P_TOT)),
    (GROUP_DATA, _per_phase, (_RD, "Q", "VAR", R_Q, U_VAR, R_Q_TOT)),
    (GROUP_DATA, _per_phase, (_RD, "S", "VA", R_S, U_VA, R_S_TOT)),
    (GROUP_DATA, _per_phase, (_RD, "PF", "PF", R_PF, U_PF, R_PF_TOT)),
    (GROUP_DATA, None, _LL),
    (GROUP_DATA, _per_phase, (_RD, "V", "VLN", R_VLN, U_V, R_VLN_AVG, " AVG")),
    (GROUP_DATA, _per_phase, (_RD, "A", "A", R_I, U_A, R_I_AVG, " AVG")),
    (GROUP_DATA, None, ((_RD, "HZ", "HZ", R_FREQ, 0, U_HZ),)),
    (GROUP_DATA, _energy, ("KPh" + UP, "KWh" + UP, E_WH_IMP, U_WH)),
    (GROUP_DATA, _energy, ("KPh" + DOWN, "KWh" + DOWN, E_WH_EXP, U_WH)),
    (GROUP_DATA, _energy, ("KPh n", "KWh n", K_WH_NET, U_WH)),
    (GROUP_DATA, _quadrants, ()),
    (GROUP_DATA, _apparent, ()),
    (GROUP_DATA, None, _DEMAND),
    (GROUP_DATA, None, ((_PU, "PULS1", "PULS1", 0, 0, U_N), (_PU, "PULS2", "PULS2", 1, 0, U_N))),
    (GROUP_ALERT, None, ((_TI, "ALERT", "ALERT", 0, 0, 0),) + _ALERTS),
    (GROUP_INFO, None, ((_TI, "INFO", "INFO", 0, 0, 0),) + _INFO),
    (GROUP_RESET, None, ((_TI, "RESET", "RESET", 0, 0, 0),)),
    (GROUP_SETUP, None, ((_TI, "SETUP", "SETUP", 0, 0, 0),)),
))

# ---- setup fields -------------------------------------------------------------
# (kind, label, config key, a, b)
_F_NUM = const(0)  # a = digits, b = decimals shown ('0.xx' when b == a)
_F_CHOICE = const(1)  # a = values, b = names
_F_RO = const(2)  # read only: key names what is shown
_F_PULSE = const(3)  # Wh/P: a choice that skips energies with no duration

_SYS_NAMES = ("1L+N  10", "2L    11", "2L+N  12", "3L    31", "3L+N  40")

SETUP = (
    ("S COM", "ADDR BAUD PAR", (
        (_F_NUM, "ADDR", "address", 3, 0),
        (_F_CHOICE, "BAUD", "baud", BAUDS, tuple(str(b) for b in BAUDS)),
        (_F_CHOICE, "PAR", "parity", (0, 1, 2), ("NONE", "ODD", "EVEN")),
    )),
    ("S CT", "CT V  CT SZ", (
        (_F_CHOICE, "CT V", "ct_secondary", (1, 3), ("1.00V", "0.33V")),
        (_F_NUM, "CT SZ", "ct_primary", 5, 0),
    )),
    ("S SYS", "SYSTM", (
        (_F_CHOICE, "SYSTM", "system_type", SYSTEM_TYPES, _SYS_NAMES),
    )),
    ("S PT", "RATIO", (
        (_F_NUM, "RATIO", "pt_ratio", 5, 2),
    )),
    ("S V", "SYSTEM VOLTS", (
        (_F_NUM, "VLL", "system_voltage", 5, 0),
    )),
    ("S PL", "VOLTS IMBAL", (
        (_F_NUM, "VOLTS", "pl_volts", 2, 2),
        (_F_NUM, "IMBAL", "pl_imbal", 2, 2),
    )),
    ("S PLS", "Wh/P mS/P", (
        (_F_PULSE, "Wh/P", "pulse_wh", tuple(sorted(PULSE_WH)), None),
        (_F_RO, "mS/P", "pulse_ms", 0, 0),
        (_F_RO, "S_PWR", "max_power_w", 0, 0),
    )),
    ("S DMD", "INTRV SEC", (
        (_F_NUM, "INTRV", "demand_n", 1, 0),
        (_F_NUM, "SEC", "demand_len", 5, 0),
    )),
    ("S DIS", "IEEE / IEC", (
        (_F_CHOICE, "UNITS", "display_units", (1, 0), ("IEEE", "IEC")),
    )),
    ("S PWD", "SETUP RESET", (
        (_F_NUM, "SETUP", "pw_setup", 5, 0),
        (_F_NUM, "RESET", "pw_reset", 5, 0),
    )),
)

_PW_DIGITS = const(5)
_RESET_ITEMS = ("ENERG", "DEMND")

# modes
MODE_BROWSE = const(0)
MODE_PASSWORD = const(1)
MODE_SETUP = const(2)  # on a setup group's title (S COM ...)
MODE_FIELD = const(3)  # editing a setup field
MODE_RESET = const(4)  # choosing ENERG / DEMND
MODE_CONFIRM = const(5)  # 'ENERG RESET?'


def _diff(a, b):
    # a - b for millisecond tick counts wrapping at 2**30 (time.ticks_ms on
    # the board) or not wrapping at all (simulated time)
    d = (a - b) & 0x3FFFFFFF
    return d - 0x40000000 if d & 0x20000000 else d


def _ndigits(s):
    n = 0
    for ch in s:
        if "0" <= ch <= "9":
            n += 1
    return n


def fmt_value(x, unit, units=1):
    """The text of a value with its unit ('----' when x is None): power and
    energy auto-range through k, M, G keeping the finest resolution that
    fits DIGITS digits."""
    if x is None or x != x:
        return DASHES
    name = _UNIT[unit]
    if unit == U_N:
        return "%d" % x
    maxdec = _MAXDEC[unit]
    for p in range(4 if _AUTO[unit] else 1):
        v = x / (1000.0 ** p)
        ip = int(abs(v))
        idig = len(str(ip)) if ip else 1
        dec = DIGITS - idig
        if dec < 0:
            continue
        if dec > maxdec:
            dec = maxdec
        s = ("%." + str(dec) + "f") % v
        if _ndigits(s) > DIGITS:  # rounding carried into another digit
            if dec == 0:
                continue
            s = ("%." + str(dec - 1) + "f") % v
        if s.startswith("-") and _ndigits(s) == s.count("0"):
            s = s[1:]  # no '-0.000'
        if name:
            s = s + " " + _PREFIX[p] + name
        return s
    return "OVER"


def _pad(s, w):
    s = s[:w]
    return s + " " * (w - len(s))


def _right(s):
    s = s[:WIDTH]
    return " " * (WIDTH - len(s)) + s


class Menu:
    HEART_MS = 500  # heart on for this long, then off as long
    MESSAGE_MS = 2000  # a refusal or confirmation stays this long
    IDLE_MS = 120000  # no key for this long: back to the first screen

    def __init__(self, model):
        if not hasattr(model, "reading"):
            model = MeterView(model)
        self.model = model
        self.cfg = model.config
        self.mode = MODE_BROWSE
        self.top = 0
        self.sub = 0
        self.group = 0  # setup group
        self.field = 0  # field in the setup group
        self.digits = bytearray(_PW_DIGITS)  # number being edited, most significant first
        self.nd = 0
        self.cursor = 0
        self.choice = 0
        self.pw_for = GROUP_SETUP
        self.item = 0  # RESET: 0 ENERG, 1 DEMND
        self.msg = None
        self._msg_until = 0
        self._now = 0
        self._last_key = None
        # the last browse frame and what it was made from: redrawn every
        # DISPLAY_MS, a screen changes only with a new second (the register
        # snapshot), a key, the heart's blink or the wrench; the same frame
        # is handed back otherwise (no strings formatted: no allocation)
        self._frame = None
        self._fkey = None
        self._generation = getattr(model, "generation", None)  # a model without it: no reuse

    # ---- time ---------------------------------------------------------------
    def tick(self, now_ms):
        self._now = now_ms
        if self._last_key is None:
            self._last_key = now_ms
        if self.msg is not None and _diff(now_ms, self._msg_until) >= 0:
            self.msg = None
        if _diff(now_ms, self._last_key) >= self.IDLE_MS:
            self._last_key = now_ms
            self.home()

    def home(self):
        # leaves SETUP / RESET (unconfirmed edits are dropped) to the first screen
        self.mode = MODE_BROWSE
        self.top = 0
        self.sub = 0
        self.msg = None

    def _message(self, text):
        self.msg = text
        self._msg_until = self._now + self.MESSAGE_MS

    # ---- keys -----------------------------------------------------------------
    def event(self, key, now_ms):
        self._now = now_ms
        self._last_key = now_ms
        if self.msg is not None:  # a key first dismisses the message
            self.msg = None
            return
        m = self.mode
        if m == MODE_BROWSE:
            self._browse(key)
        elif m == MODE_PASSWORD:
            if self._edit_digits(key):
                self._password_done()
        elif m == MODE_SETUP:
            self._setup_key(key)
        elif m == MODE_FIELD:
            self._field_key(key)
        elif m == MODE_RESET:
            if key in ("up", "down"):
                self.item ^= 1
            elif key == "right":
                self.mode = MODE_CONFIRM
            elif key == "left":
                self.mode = MODE_BROWSE
        elif m == MODE_CONFIRM:
            if key == "right":
                why = self.model.reset_energy() if self.item == 0 else self.model.reset_demand()
                self.mode = MODE_RESET
                self._message(why if why else "DONE")
            elif key == "left":
                self.mode = MODE_RESET

    def _browse(self, key):
        kind, screens = TOP[self.top]
        n = len(screens)
        if self.sub == 0:
            if key == "up":
                self.top = (self.top - 1) % len(TOP)
            elif key == "down":
                self.top = (self.top + 1) % len(TOP)
            elif key == "right":
                if kind == GROUP_SETUP or kind == GROUP_RESET:
                    self.pw_for = kind
                    self._start_digits(0, _PW_DIGITS)
                    self.mode = MODE_PASSWORD
                elif n > 1:
                    self.sub = 1
            return
        if key == "left":
            self.sub = 0
        elif key == "right" or key == "down":
            self.sub = self.sub + 1 if self.sub + 1 < n else 1
        elif key == "up":
            self.sub = self.sub - 1 if self.sub > 1 else n - 1

    def _start_digits(self, value, nd):
        self.nd = nd
        for i in range(nd - 1, -1, -1):
            self.digits[i] = value % 10
            value //= 10
        self.cursor = 0

    def _digits_value(self):
        v = 0
        for i in range(self.nd):
            v = v * 10 + self.digits[i]
        return v

    def _edit_digits(self, key):
        # True when the cursor leaves the last digit to the right (confirm);
        # leaving the first digit to the left cancels (mode changes here)
        c = self.cursor
        if key == "up":
            self.digits[c] = (self.digits[c] + 1) % 10
        elif key == "down":
            self.digits[c] = (self.digits[c] + 9) % 10
        elif key == "right":
            if c + 1 >= self.nd:
                return True
            self.cursor = c + 1
        elif key == "left":
            if c == 0:
                self._cancel()
            else:
                self.cursor = c - 1
        return False

    def _cancel(self):
        if self.mode == MODE_PASSWORD:
            self.mode = MODE_BROWSE
        else:  # a setup field: back to its group, configuration untouched
            self.mode = MODE_SETUP

    def _password_done(self):
        want = self.cfg.pw_setup if self.pw_for == GROUP_SETUP else self.cfg.pw_reset
        if self._digits_value() != want:
            self.mode = MODE_BROWSE
            self._message("WRONG PASWD")
            return
        if self.pw_for == GROUP_SETUP:
            self.mode = MODE_SETUP
            self.group = 0
        else:
            self.mode = MODE_RESET
            self.item = 0

    # ---- setup ------------------------------------------------------------------
    def _setup_key(self, key):
        if key == "up":
            self.group = (self.group - 1) % len(SETUP)
        elif key == "down":
            self.group = (self.group + 1) % len(SETUP)
        elif key == "right":
            self._open_field(0)
        elif key == "left":
            self.mode = MODE_BROWSE  # leave SETUP (password needed again)

    def _fields(self):
        return SETUP[self.group][2]

    def _open_field(self, i):
        fields = self._fields()
        if i >= len(fields):
            self.mode = MODE_SETUP
            return
        self.field = i
        self.mode = MODE_FIELD
        kind, _label, key, a, _b = fields[i]
        if kind == _F_NUM:
            self._start_digits(getattr(self.cfg, key), a)
        elif kind == _F_CHOICE or kind == _F_PULSE:
            v = getattr(self.cfg, key)
            self.choice = a.index(v) if v in a else 0

    def _field_key(self, key):
        kind, _label, name, a, _b = self._fields()[self.field]
        if kind == _F_NUM:
            if self._edit_digits(key):
                self._confirm(name, self._digits_value())
        elif kind == _F_RO:
            if key == "right":
                self._open_field(self.field + 1)
            elif key == "left":
                self.mode = MODE_SETUP
        else:
            n = len(a)
            if key == "up" or key == "down":
                if kind == _F_PULSE:  # smallest .. largest, no wrap
                    c = self.choice + (1 if key == "up" else -1)
                    if 0 <= c < n:
                        self.choice = self._pulse_step(a, c, key == "up")
                else:
                    self.choice = (self.choice + (1 if key == "up" else n - 1)) % n
            elif key == "right":
                self._confirm(name, a[self.choice])
            elif key == "left":
                self.mode = MODE_SETUP

    def _pulse_step(self, values, c, up):
        # 'Set Pulse': moving up jumps to the first energy that has a duration;
        # moving down to one that has none is not allowed
        pmax = self.cfg.max_power_w
        if up:
            for k in range(c, len(values)):
                if pulse_ms_for(values[k], pmax):
                    return k
            return self.choice
        if pulse_ms_for(values[c], pmax):
            return c
        self._message("PULSE CONF")
        return self.choice

    def _confirm(self, key, value):
        if value != getattr(self.cfg, key):
            try:
                self.cfg.apply({key: value})
            except ConfigError as e:
                self._message(e.reason)
                self._open_field(self.field)  # the configured value again
                return
        self._open_field(self.field + 1)

    # ---- frames -------------------------------------------------------------------
    def frame(self):
        if self.mode != MODE_BROWSE or self.msg is not None or self._generation is None:
            self._frame = None
            return self._make_frame()
        md = self.model
        k = self._fkey
        gen = self._generation()
        heart = (self._now // self.HEART_MS) & 1
        wr = md.wrench()
        if self._frame is not None and k[0] == self.top and k[1] == self.sub and k[2] == gen \
                and k[3] == heart and k[4] == wr:
            return self._frame
        self._frame = f = self._make_frame()
        self._fkey = (self.top, self.sub, gen, heart, wr)
        return f

    def _make_frame(self):
        m = self.mode
        units = self.cfg.display_units
        if m == MODE_BROWSE:
            kind, screens = TOP[self.top]
            scr = screens[self.sub]
            if kind == GROUP_PHASE and self.sub == 0:
                label = "%dPHASE " % PHASES[self.cfg.system_type] + scr[1 + units]
                text = self._screen_text(scr)
            else:
                label = scr[1 + units]
                text = self._screen_text(scr)
        elif m == MODE_PASSWORD:
            label = "PASWD"
            text = self._digits_text(0)
        elif m == MODE_SETUP:
            label = SETUP[self.group][0]
            text = SETUP[self.group][1]
        elif m == MODE_FIELD:
            kind, label, key, a, b = self._fields()[self.field]
            if key == "system_voltage" and self.cfg.system_type == 10:
                label = "VLN"
            if kind == _F_NUM:
                text = self._digits_text(b)
            elif kind == _F_RO:
                text = self._ro_text(key)
                if key == "max_power_w":  # S_PWR: and the most pulses per second
                    label = "S_PWR %dPPS" % (1000 // (2 * self.cfg.pulse_ms))
            elif kind == _F_PULSE:
                text = "%d" % a[self.choice]
            else:
                text = b[self.choice]
        elif m == MODE_RESET:
            label = "RESET"
            text = _RESET_ITEMS[self.item]
        else:
            label = _RESET_ITEMS[self.item]
            text = "RESET? >YES <NO"
        if self.msg is not None:
            text = self.msg
        return (_pad(label, _LABEL_W) + self._glyphs(), _right(text))

    def _glyphs(self):
        md = self.model
        w = chr(G_WRENCH) if md.wrench() else " "
        p = md.reading(R_P_TOT)
        a = " " if p is None or p == 0.0 else chr(G_UP) if p > 0.0 else chr(G_DOWN)
        h = chr(G_HEART) if (self._now // self.HEART_MS) & 1 == 0 else " "
        return w + a + h

    def _digits_text(self, dec):
        # the digit under the cursor blinks (with the heart)
        blank = (self._now // self.HEART_MS) & 1
        s = ""
        nd = self.nd
        if dec == nd:
            s = "0."
        for i in range(nd):
            if dec and i == nd - dec and dec != nd:
                s += "."
            s += "_" if (blank and i == self.cursor) else chr(48 + self.digits[i])
        return s

    def _ro_text(self, key):
        c = self.cfg
        if key == "pulse_ms":
            return "%d" % c.pulse_ms if not c.pulse_conf_err else "ConF"
        # S_PWR: register 135 (the maximum pulses per second, open >= closed,
        # go on line 1)
        return fmt_value(c.max_power_w, U_W)

    def _screen_text(self, scr):
        kind, _iec, _ieee, a, b, unit = scr
        md = self.model
        if kind == _RD:
            return fmt_value(md.reading(a), unit)
        if kind == _EN:
            return fmt_value(md.energy_wh(a, b), unit)
        if kind == _DM:
            return fmt_value(md.demand_w(a, b), unit)
        if kind == _PU:
            return fmt_value(md.pulses(a), unit)
        if kind == _AL:
            return self._alert_text(a, b)
        if kind == _IN:
            return md.info(a)
        # a title: ALERT counts active alerts; the others say what's inside
        if TOP[self.top][0] == GROUP_ALERT:
            e = md.errors()
            n = 0
            for al in _ALERTS:
                if e & al[3]:
                    n += 1
            return "%d ACTIVE" % n if n else "NONE"
        if TOP[self.top][0] == GROUP_INFO:
            return "MODEL OS RS SN"
        if TOP[self.top][0] == GROUP_RESET:
            return "ENERG DEMND"
        return "PASWD >"

    def _alert_text(self, mask, style):
        e = self.model.errors() & mask
        if not e:
            return "OFF"
        if style == 1:
            return "ON"
        if style == 2:
            return "ConF" if e & _B_CONF else "OVERRUN"
        s = ""
        low = mask & -mask
        for k in range(3):
            s += ("ABC"[k] if e & (low << k) else "-") + (" " if k < 2 else "")
        return s


def frame_text(frame):
    """A frame with the glyph codes replaced by printable characters (for a
    log file or a terminal)."""
    out = []
    for line in frame:
        s = ""
        for ch in line:
            o = ord(ch)
            s += GLYPH_TEXT[o] if o < len(GLYPH_TEXT) else ch
        out.append(s)
    return out


class MeterView:
    """What the menu reads from and does to the meter model (meter.Meter):
    the register bank's snapshot (the same values Modbus reads), energies,
    demand, pulse counters, register 146, and the register-129 commands."""

    def __init__(self, meter, alarms=None):
        self.meter = meter
        self.config = meter.config
        self.alarms = alarms  # alarms.Alarms, for a wrench beyond register 146
        self._buf = bytearray(32)

    def reading(self, i):
        bank = self.meter.bank
        r = bank.readings
        if r is None or not bank.valid >> i & 1:
            return None
        return r[i]

    def energy_wh(self, kind, phase):
        if phase < 3 and phase >= PHASES[self.config.system_type]:
            return None
        return self.meter.energy.count(kind, phase) / 3600000.0  # mWs -> Wh

    def demand_w(self, which, k):
        d = self.meter.demand
        return (d.present, d.peak_imp, d.peak_exp)[which][k]

    def pulses(self, n):
        c = self.meter.counters
        return c.pulses_imp if n == 0 else c.pulses_exp

    def register(self, reg):
        b = self._buf
        if self.meter.bank.read(reg - 1, 1, b, 0):
            return None
        return b[0] << 8 | b[1]

    def errors(self):
        # register 146 as the bank's snapshot holds it (what a read of 146
        # encodes), without a register read at every frame
        return self.meter.bank.errors & 0xFFFF

    def wrench(self):
        return self.errors() != 0 or (self.alarms is not None and self.alarms.wrench)

    def generation(self):
        # changes whenever the register bank takes a snapshot (each second,
        # each write or configuration change)
        return self.meter.bank.generation

    def _command(self, v):
        # the very path of a Modbus write of v to register 129
        if self.meter.bank.write(128, (v,)):
            return "REFUSED"
        return None

    def reset_energy(self):
        return self._command(CMD_CLEAR_ENERGY)

    def reset_demand(self):
        return self._command(CMD_PEAK_RESET)

    def info(self, name):
        import regtable

        if name == "MODEL":
            return regtable.PRODUCT
        v = regtable.FW_VERSION
        if name == "OS":
            return "V%d.%03d" % (v // 1000, v % 1000)
        if name == "RS":  # the system under the firmware: the MicroPython runtime
            import sys

            impl = sys.implementation
            tag = "MPY" if impl.name == "micropython" else "PY"
            return "%s %d.%d.%d" % ((tag,) + tuple(impl.version[:3]))
        # SN: the SunSpec serial-number string (registers 40053-40068)
        b = bytearray(32)
        self.meter.bank.read(40052, 16, b, 0)
        s = ""
        for x in b:
            if x == 0:
                break
            s += chr(x)
        return s[:WIDTH]
