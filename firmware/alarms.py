# Diagnostics from one second's readings: the error bitmap (register 146),
# the SunSpec event word (40175-40176, M_EVENT_*), the alarm contact and the
# display's wrench, all from the same state.
#
# Phase loss (registers 130, 134, 142, 143; datasheet 'Set Phase Loss' and
# 'Supported System Types'):
#   threshold  a voltage is lost when it is below (100 - 142) % of its
#              nominal: L-L against register 134; L-N against 134 / sqrt(3)
#              (type 40), 134 / 2 (type 12, split phase) or 134 itself
#              (type 10, where 134 is L-N). 480 V, 10 % -> 432 V L-L and
#              249.4 V L-N (datasheet, register 142). The UI text's '600 V,
#              0.10 -> 60 V' contradicts register 142's worked example; we
#              follow the register (the fraction is the allowed drop).
#   imbalance  the fractional difference between two voltages of a group is
#              |a - b| / max(a, b); the group is imbalanced when its largest
#              such difference, (max - min) / max, is above register 143.
#              Each voltage below max x (100 - 143) % is 'low'. Groups: type
#              12 the L-N pair AN, BN; type 31 the L-L voltages; type 40 both
#              the L-N and the L-L voltages; types 10 and 11 none.
# Which phase a low voltage points at (bits 8-10): a low L-N voltage names
# its phase, and a low L-L pair with an end so named is explained by it. Of
# the L-L pairs left (types 31, 40), a phase whose two pairs are both low is
# named; a low pair still unexplained names both its ends (as does the
# single pair AB of types 11 and 12 when no L-N test names a phase). So in a
# delta a lost phase A (AB and CA low, BC normal) sets bit 8 only, and in a
# Y lost A and B (BC and CA low too) set bits 8 and 9, not C's.
#
# Low power factor (bits 11-13): a phase with a CT, with load (S > 0: the DSP
# zeroes S below its no-load threshold) and |PF| < 0.5. The sign is ignored:
# PF is signed like P, and a good export PF (-0.9, e.g. solar) is not low,
# while -0.3 is (cross-wired phases give |PF| near 0.5 or below either way).
#
# Over range (bits 0-5) and frequency (bit 6) come from the DSP's flags
# (readings.F_*), kept only for inputs the system type uses; bit 7 is
# reserved (0); bits 14 (pulse overrun) and 15 (pulse configuration error)
# come from the pulse output.
import math

from micropython import const

from readings import R_PF, R_S, R_VLL, R_VLN

# register 146 bits
B_V_OVR_A = const(0x0001)
B_I_OVR_A = const(0x0008)
B_FREQ = const(0x0040)
B_LOSS_A = const(0x0100)
B_LOW_PF_A = const(0x0800)
B_PULSE_OVERRUN = const(0x4000)
B_PULSE_CONFIG = const(0x8000)
_V_OVR = const(0x0007)
_I_OVR = const(0x0038)
_LOSS = const(0x0700)
_LOW_PF = const(0x3800)

# SunSpec M_EVENT_* (40175-40176, bitfield32)
M_EVENT_POWER_FAILURE = const(0x00000004)  # any phase-loss bit (8-10)
M_EVENT_UNDER_VOLTAGE = const(0x00000008)  # a voltage below register 142's threshold
M_EVENT_LOW_PF = const(0x00000010)  # bits 11-13
M_EVENT_OVER_CURRENT = const(0x00000020)  # bits 3-5
M_EVENT_OVER_VOLTAGE = const(0x00000040)  # bits 0-2

SQRT3 = 1.7320508075688772

# Per system type (register 130), datasheet 'Supported System Types':
# (L-N voltages tested, L-L pairs tested (0 AB, 1 BC, 2 CA), L-N nominal as a
#  divisor of 134 (0: none), imbalance on L-N, imbalance on L-L,
#  voltage inputs (mask A=1), CT phases (mask))
_TYPES = {
    10: ((0,), (), 1.0, False, False, 0b001, 0b001),
    11: ((), (0,), 0.0, False, False, 0b011, 0b001),
    12: ((0, 1), (0,), 2.0, True, False, 0b011, 0b011),
    31: ((), (0, 1, 2), 0.0, False, True, 0b111, 0b111),
    40: ((0, 1, 2), (0, 1, 2), SQRT3, True, True, 0b111, 0b111),
}
# ends of the L-L pairs as phase masks: AB, BC, CA
_PAIR = (0b011, 0b110, 0b101)


def _name(ln_low, ll_low, pairs):
    # ln_low: phase mask of low L-N; ll_low: mask of low pairs (bit = pair)
    mask = ln_low
    # pairs with an end already named are explained
    for j in pairs:
        if mask & _PAIR[j]:
            ll_low &= ~(1 << j)
    if len(pairs) == 3:
        named = 0
        for k in range(3):
            # phase k's pairs: k - 1 (ends k - 1, k) and k (ends k, k + 1)
            if ll_low & (1 << k) and ll_low & (1 << ((k + 2) % 3)):
                named |= 1 << k
        mask |= named
    for j in pairs:
        if ll_low & (1 << j) and not mask & _PAIR[j]:
            mask |= _PAIR[j]
    return mask


def loss_mask(system_type, system_voltage, pct, r, ln_at=R_VLN, ll_at=R_VLL):
    """Phases (mask, A = 1) with a voltage below register 142's threshold.
    r holds L-N A, B, C at ln_at and L-L AB, BC, CA at ll_at (volts)."""
    ln, pairs, div, _imb_ln, _imb_ll, _vin, _ct = _TYPES[system_type]
    keep = (100 - pct) / 100.0
    ln_low = 0
    if ln:
        th = system_voltage / div * keep
        for k in ln:
            if r[ln_at + k] < th:
                ln_low |= 1 << k
    ll_low = 0
    th = system_voltage * keep
    for j in pairs:
        if r[ll_at + j] < th:
            ll_low |= 1 << j
    return _name(ln_low, ll_low, pairs)


def _below_top(r, at, idx, keep):
    # mask of the voltages r[at + k], k in idx, below keep x the largest
    top = 0.0
    for k in idx:
        if r[at + k] > top:
            top = r[at + k]
    low = 0
    for k in idx:
        if r[at + k] < top * keep:
            low |= 1 << k
    return low


def imbalance_mask(system_type, pct, r, ln_at=R_VLN, ll_at=R_VLL):
    """Phases (mask) named by register 143's imbalance test: a voltage below
    (100 - pct) % of the largest of its group."""
    ln, pairs, _div, imb_ln, imb_ll, _vin, _ct = _TYPES[system_type]
    keep = (100 - pct) / 100.0
    ln_low = _below_top(r, ln_at, ln, keep) if imb_ln else 0
    if imb_ll:
        ll_low = _below_top(r, ll_at, pairs, keep)
    else:
        ll_low = 0
        pairs = ()
    return _name(ln_low, ll_low, pairs)


def events(bitmap, under_voltage=False):
    # SunSpec M_EVENT_* word from register 146 (+ whether a voltage is below
    # the 142 threshold, as against imbalance alone)
    ev = 0
    if bitmap & _LOSS:
        ev |= M_EVENT_POWER_FAILURE
        if under_voltage:
            ev |= M_EVENT_UNDER_VOLTAGE
    if bitmap & _LOW_PF:
        ev |= M_EVENT_LOW_PF
    if bitmap & _I_OVR:
        ev |= M_EVENT_OVER_CURRENT
    if bitmap & _V_OVR:
        ev |= M_EVENT_OVER_VOLTAGE
    return ev


class Alarms:
    LOW_PF = 0.5  # register 146 bits 11-13

    def __init__(self, system_type=40, system_voltage=600, loss_pct=10, imbalance_pct=25):
        self.error_bitmap = 0  # register 146
        self.sunspec_events = 0  # 40175-40176
        self.alarm_active = True  # N.C. contact closed until the first second
        self.wrench = False
        self.loss = 0  # phase masks (A = 1) behind bits 8-10
        self.imbalance = 0
        self.low_pf = 0
        self.configure(system_type, system_voltage, loss_pct, imbalance_pct)

    def configure(self, system_type, system_voltage, loss_pct, imbalance_pct):
        # registers 130, 134, 142, 143 (validated by the configuration path)
        if system_type not in _TYPES:
            raise ValueError("system type must be 10, 11, 12, 31 or 40")
        if not (1 <= loss_pct <= 99 and 1 <= imbalance_pct <= 99):
            raise ValueError("phase loss thresholds are 1-99 %")
        self.system_type = system_type
        self.system_voltage = system_voltage
        self.loss_pct = loss_pct
        self.imbalance_pct = imbalance_pct

    def update(self, r, flags, pulse_overrun=False, pulse_config_error=False, other_alert=False):
        """r: one second's readings (readings.R_*); flags: the DSP's F_* bits.
        other_alert: anything else that should show the wrench (e.g. the NV
        store fell back to defaults). Returns register 146."""
        st = self.system_type
        _ln, _pairs, _div, _a, _b, vin, ct = _TYPES[st]
        bm = flags & (B_FREQ | (vin * B_V_OVR_A) | (ct * B_I_OVR_A))
        loss = loss_mask(st, self.system_voltage, self.loss_pct, r)
        imb = imbalance_mask(st, self.imbalance_pct, r)
        self.loss = loss
        self.imbalance = imb
        bm |= (loss | imb) * B_LOSS_A
        lpf = 0
        for k in range(3):
            if ct & (1 << k) and r[R_S + k] > 0.0 and math.fabs(r[R_PF + k]) < self.LOW_PF:
                lpf |= 1 << k
        self.low_pf = lpf
        bm |= lpf * B_LOW_PF_A
        if pulse_overrun:
            bm |= B_PULSE_OVERRUN
        if pulse_config_error:
            bm |= B_PULSE_CONFIG
        self.error_bitmap = bm
        self.sunspec_events = events(bm, loss != 0)
        # the contact indicates phase loss (142 and 143 alike)
        self.alarm_active = (bm & _LOSS) != 0
        self.wrench = bm != 0 or bool(other_alert)
        return bm


class AlarmContact:
    # The N.C. alarm output: closed = alarm. Closed from construction (power-
    # up, before the first second's readings) and after deinit(); open only
    # while powered with no phase-loss alarm (datasheet 'Solid-State Pulse
    # Output'). closed_level: the pin level that closes the contact.
    def __init__(self, pin, closed_level=1):
        self._pin = pin
        self._closed = 1 if closed_level else 0
        self.closed = True
        pin.value(self._closed)

    def set(self, alarm_active):
        self.closed = bool(alarm_active)
        self._pin.value(self._closed if self.closed else 1 - self._closed)

    def deinit(self):
        self.set(True)
