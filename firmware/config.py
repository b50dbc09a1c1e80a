# The meter's configuration: registers 130-154 (datasheet 'Modbus Point
# Map', 'Standard Modbus Default Settings'), the communication settings and
# passwords (no datasheet register; vendor block 7101-7103), and the channel
# calibration. Every change, from Modbus or the display, goes through
# Config.apply(): a refused change raises ConfigError with a short reason
# (fits a 16-character LCD line) and changes nothing; an accepted one is
# applied at once together with everything derived from it (135, 138-141,
# 145, error bit 15). Listeners (config.listeners) are called after each
# accepted change with the set of keys whose value changed (none: not
# called, so a write of the present value restarts and saves nothing).

from frontend import OVER_RANGE, V_NOMINAL_RANGE


class ConfigError(ValueError):
    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


SYSTEM_TYPES = (10, 11, 12, 31, 40)
# CTs per system type (datasheet 'Supported System Types')
PHASES = {10: 1, 11: 1, 12: 2, 31: 3, 40: 3}
BAUDS = (1200, 2400, 4800, 9600, 19200, 38400)
PARITY_NONE = 0  # register 7103: 0 = none, 1 = odd, 2 = even
PARITY_ODD = 1
PARITY_EVEN = 2
PULSE_WH = (10000, 1000, 100, 10)  # register 144's values
PULSE_MS = (500, 250, 100, 50, 25, 10)  # register 145, slowest first
# [decision] energy scale (141): the finest E for which the 32-bit
# kWh * 10^-E registers hold ENERGY_YEARS of running at the theoretical
# maximum power (135) before rolling over (SLong net: 2^31 - 1).
ENERGY_YEARS = 10
# [decision] SunSpec energies (acc32, TotWh_SF): Wh x 10^SF with the finest
# SF >= 0 whose 2^32 counts hold ACC32_YEARS at register 135's power; an
# acc32 rolls over by definition. The defaults (103.9 kW) give SF 0: 1 Wh,
# 4.7 years to the roll-over at full power.
ACC32_YEARS = 1
_HOURS_PER_YEAR = 8766
_SF_MIN = -4  # registers 138-141: -4 .. 4 (datasheet 'Range' column)
_SF_MAX = 4
_INT16_MAX = 32767

# Factory defaults: 'Standard Modbus Default Settings'.
DEFAULTS = {
    "system_type": 40,  # 130
    "ct_primary": 100,  # 131, A
    "ct_secondary": 1,  # 132, 1 = 1 V, 3 = 1/3 V
    "pt_ratio": 100,  # 133, ratio x 100
    "system_voltage": 600,  # 134, V L-L (L-N in type 10)
    "display_units": 1,  # 137, 1 = IEEE
    "pl_volts": 10,  # 142, % of 134
    "pl_imbal": 25,  # 143, %
    "pulse_wh": 1000,  # 144, Wh per pulse (1 kWh)
    "demand_n": 1,  # 149, sub-intervals per interval
    "demand_len": 900,  # 150, s (0 = sync-to-comms)
    "address": 1,  # 7101
    "baud": 19200,  # 7102
    "parity": PARITY_NONE,  # 7103
    "pw_setup": 0,  # five digits, no register
    "pw_reset": 0,
    "cal_gains": (1.0, 1.0, 1.0, 1.0, 1.0, 1.0),  # Va, Vb, Vc, Ia, Ib, Ic
    "cal_phases": (0.0, 0.0, 0.0),  # degrees, phases A, B, C
    # data logging (datasheet 'Standard Modbus Default Settings'; datalog.py)
    "log_page": 0,  # 158, 0-10; not kept over a power cycle (to_dict)
    "log_mode": 0,  # 159, bit 0 single-shot, bit 1 halt
}
# 169-178: log register pointers: base-1 registers 1-154, and 155-157 (the
# clock words, which are the datasheet's defaults for pointers 8-10: the
# addendum's '1-154' would refuse the factory setting) [decision]
LOG_PTR_MAX = 157
LOG_PTR_DEFAULTS = (3, 4, 5, 6, 29, 30, 31, 155, 156, 157)
for _i in range(10):
    DEFAULTS["log_ptr%d" % (_i + 1)] = LOG_PTR_DEFAULTS[_i]

# (key, low, high, reason) for the plain integer ranges
_RANGES = (
    ("ct_primary", 5, 32000, "CT RANGE"),  # 131 (the DSP's 5..32000 A)
    ("pt_ratio", 1, 32000, "PT RANGE"),  # 133: 0.01..320.00
    ("system_voltage", 82, 32000, "V RANGE"),  # 134
    ("display_units", 0, 1, "UNITS"),  # 137
    ("pl_volts", 1, 99, "PL VOLTS"),  # 142
    ("pl_imbal", 1, 99, "PL IMBAL"),  # 143
    ("demand_n", 1, 6, "DMD INTRV"),  # 149
    ("demand_len", 0, 32767, "DMD SEC"),  # 150 (1..9 refused below)
    ("address", 1, 247, "ADDR"),
    ("parity", 0, 2, "PARITY"),
    ("pw_setup", 0, 99999, "PASSWORD"),
    ("pw_reset", 0, 99999, "PASSWORD"),
    ("log_page", 0, 10, "LOG PAGE"),  # 158
    ("log_mode", 0, 3, "LOG MODE"),  # 159: other bits refused
) + tuple(("log_ptr%d" % (_i + 1), 1, LOG_PTR_MAX, "LOG PTR") for _i in range(10))  # 169-178
_DSP_KEYS = ("system_type", "ct_primary", "ct_secondary", "pt_ratio", "system_voltage")
_CAL_KEYS = ("cal_gains", "cal_phases")
# Counters kept in the store beside the settings, not settable: 152 and
# the calibration audit 7212-7217 (their stored ranges: nvcheck.NV_INTS).
_NV_INTS = ("power_ups", "cal_count", "cal_t0", "cal_t1", "cal_t2", "cal_pu", "cal_fails")


def _sf_for(maximum, lo=_SF_MIN, hi=_SF_MAX):
    # finest power of ten that still holds `maximum` in +-32767
    s = lo
    while s < hi and maximum > _INT16_MAX * 10.0 ** s:
        s += 1
    return s


def maxima(system_type, ct_primary, pt_ratio):
    """Largest measurable values (the +20 % over-range of frontend.py):
    (V L-N, V L-L, A per phase, W/var/VA total, A summed over phases)."""
    v_ln = V_NOMINAL_RANGE * OVER_RANGE * pt_ratio / 100.0
    v_ll = 2.0 * v_ln  # two terminals in anti-phase (split phase, type 12)
    i = OVER_RANGE * ct_primary
    n = PHASES[system_type]
    # types 11 (A-B) and 31 (against the artificial star point): bounded by L-L
    v_ph = v_ll if system_type in (11, 31) else v_ln
    return v_ln, v_ll, i, n * v_ph * i, n * i


def theoretical_max_power(system_type, ct_primary, system_voltage):
    # register 135 (addendum 'Energy pulse output'), in W
    if system_type in (31, 40):
        return 1.7320508075688772 * system_voltage * ct_primary
    return float(system_voltage * ct_primary)


def pulse_ms_for(pulse_wh, p_max_w):
    # slowest duration that keeps up: 1,800,000 * Wh / ms >= W; 0 if none
    for ms in PULSE_MS:
        if 1800000 * pulse_wh >= p_max_w * ms:
            return ms
    return 0


def derive(v):
    """Everything computed from the settable values (a dict like DEFAULTS)."""
    st = v["system_type"]
    v_ln, v_ll, i, p, i_sum = maxima(st, v["ct_primary"], v["pt_ratio"])
    pmax = theoretical_max_power(st, v["ct_primary"], v["system_voltage"])
    sf_w = _sf_for(p / 1000.0)  # native power registers are kW
    kwh = pmax / 1000.0 * _HOURS_PER_YEAR * ENERGY_YEARS
    sf_e = _SF_MIN
    while sf_e < _SF_MAX and kwh > 2147483647 * 10.0 ** sf_e:
        sf_e += 1
    reg135 = int(pmax / 1000.0 / 10.0 ** sf_w + 0.5)
    ss_e = 0  # TotWh_SF (ACC32_YEARS above)
    while ss_e < 10 and pmax * _HOURS_PER_YEAR * ACC32_YEARS > 4294967295 * 10.0 ** ss_e:
        ss_e += 1
    ms = pulse_ms_for(v["pulse_wh"], pmax)
    return {
        "max_power_w": pmax,
        "reg135": min(max(reg135, 1), _INT16_MAX),
        "sf_i": _sf_for(i),  # 138
        "sf_v": _sf_for(v_ll),  # 139 (L-L is the largest voltage)
        "sf_w": sf_w,  # 140
        "sf_e": sf_e,  # 141
        # SunSpec scale factors (meter model, SI units, sunssf -10..10)
        "ss_a_sf": _sf_for(i_sum, -10, 10),  # 'A' is the sum of the phases
        "ss_v_sf": _sf_for(v_ll, -10, 10),
        "ss_w_sf": _sf_for(p, -10, 10),  # W, VA and var
        "ss_e_sf": ss_e,  # Wh
        "pulse_ms": ms if ms else PULSE_MS[-1],  # 145
        "pulse_conf_err": ms == 0,  # register 146 bit 15
    }


class Config:
    def __init__(self):
        self.listeners = []
        for k in _NV_INTS:
            setattr(self, k, 0)  # 152 (counted by whoever boots the meter), 7212-7217
        self.cal_left = 0  # 7210-7211: seconds the calibration stays open
        self.cal_hold = 0  # seconds before another unlock is tried
        self._set(dict(DEFAULTS))

    def _set(self, v):
        d = derive(v)
        for k in v:
            setattr(self, k, v[k])
        for k in d:
            setattr(self, k, d[k])

    # names the Modbus layer reads (modbus_rtu.py / modbus_tcp.py)
    @property
    def modbus_address(self):
        return self.address

    @property
    def parity_char(self):
        return "NOE"[self.parity]

    def values(self):
        return {k: getattr(self, k) for k in DEFAULTS}

    def apply(self, changes):
        """Validate and apply {key: value}; ConfigError and no change on refusal."""
        v = self.values()
        for k in changes:
            if k not in DEFAULTS:
                raise ConfigError("UNKNOWN " + str(k)[:8])
            v[k] = changes[k]
        for k in v:
            if k in ("cal_gains", "cal_phases"):
                continue
            x = v[k]
            if not isinstance(x, int) or isinstance(x, bool):
                raise ConfigError("NOT INT")
        for k, lo, hi, why in _RANGES:
            if not lo <= v[k] <= hi:
                raise ConfigError(why)
        if v["system_type"] not in SYSTEM_TYPES:
            raise ConfigError("SYS TYPE")
        if v["ct_secondary"] not in (1, 3):
            raise ConfigError("CT V")
        if 0 < v["demand_len"] < 10:
            raise ConfigError("DMD SEC")
        if v["baud"] not in BAUDS:
            raise ConfigError("BAUD")
        if v["pulse_wh"] not in PULSE_WH:
            raise ConfigError("PULSE WH")
        # 134: refused when 134 / PT ratio is outside 82..660 V. Checked when
        # 134 is written (datasheet: set 133 first, then 134).
        if "system_voltage" in changes:
            vt = v["system_voltage"] * 100
            if not 82 * v["pt_ratio"] <= vt <= 660 * v["pt_ratio"]:
                raise ConfigError("V RANGE")
        v["cal_gains"] = _floats(v["cal_gains"], 6, 0.5, 2.0, "CAL GAIN")
        v["cal_phases"] = _floats(v["cal_phases"], 3, -10.0, 10.0, "CAL PHASE")
        # 144: a new pulse energy with no duration that keeps up is refused;
        # a 130/131/133/134 change that leaves none sets bit 15 instead.
        if "pulse_wh" in changes and changes["pulse_wh"] != self.pulse_wh:
            pmax = theoretical_max_power(v["system_type"], v["ct_primary"], v["system_voltage"])
            if not pulse_ms_for(v["pulse_wh"], pmax):
                raise ConfigError("PULSE CONF")
        keys = self.changed(v)
        self._set(v)
        # listeners hear of real changes only: a write of the present value
        # restarts nothing and saves nothing
        if keys:
            for fn in self.listeners:
                fn(keys)

    def changed(self, changes):
        """The keys of changes whose value differs from the present one."""
        out = set()
        for k in changes:
            x = changes[k]
            if k in _CAL_KEYS:
                x = tuple(x)
            if x != getattr(self, k, None):
                out.add(k)
        return out

    def dsp_changed(self, keys):
        for k in _DSP_KEYS:
            if k in keys:
                return True
        return False

    # ---- for the non-volatile store (loaded by nvcheck.config) --------------
    def to_dict(self):
        d = self.values()
        d["cal_gains"] = list(self.cal_gains)
        d["cal_phases"] = list(self.cal_phases)
        for k in _NV_INTS:
            d[k] = getattr(self, k)
        # [decision] 158 starts at 0 after a power cycle: a read session does
        # not survive it, and a forgotten page must not pause logging forever
        del d["log_page"]
        return d

    def count_power_up(self):
        self.power_ups = (self.power_ups + 1) & 0x7FFF  # 152: 0-32767, then 0

    def second(self):
        # once a measured second: the calibration seal's timers
        if self.cal_left:
            self.cal_left -= 1
        if self.cal_hold:
            self.cal_hold -= 1

    def factory_reset(self):
        self.apply(dict(DEFAULTS))


def _floats(seq, n, lo, hi, why):
    try:
        out = tuple(float(x) for x in seq)
    except (TypeError, ValueError):
        raise ConfigError(why) from None
    if len(out) != n:
        raise ConfigError(why)
    for x in out:
        if not lo <= x <= hi:
            raise ConfigError(why)
    return out
