# Diagnostics: register 146 (error bitmap), phase loss 142 and imbalance 143
# per system type 130, low PF, SunSpec events 40175, the N.C. alarm contact.
# Runs under CPython (pytest) and MicroPython (tools/mp_test.py).
from array import array

import alarms
from alarms import AlarmContact, Alarms, imbalance_mask, loss_mask
from readings import F_FREQ, N_READINGS, R_I, R_PF, R_S, R_VLL, R_VLN

A, B, C = 1, 2, 4
LN_480 = 277.128  # 480 / sqrt(3)


def volts(an=0.0, bn=0.0, cn=0.0, ab=0.0, bc=0.0, ca=0.0):
    # [AN, BN, CN, AB, BC, CA]: the same offsets as readings R_VLN, R_VLL
    return [an, bn, cn, ab, bc, ca]


def wye(lost=0, vln=LN_480):
    # a 480 V Y service with the phases in `lost` disconnected (read 0 V L-N;
    # an L-L voltage with one end lost reads the other end's L-N)
    v = [0.0 if lost & (1 << k) else vln for k in range(3)]
    ll = []
    for j in range(3):
        a, b = v[j], v[(j + 1) % 3]
        if a and b:
            ll.append(vln * 1.7320508)
        else:
            ll.append(a or b)
    return volts(v[0], v[1], v[2], ll[0], ll[1], ll[2])


def test_register_142_worked_example_480v_10pct():
    # 'if the System voltage is set to 480 V L-L ... less than 249 V ... less
    # than 432 V': type 40, 142 = 10
    assert loss_mask(40, 480, 10, wye()) == 0
    assert loss_mask(40, 480, 10, volts(249.5, 277, 277, 480, 480, 480)) == 0
    assert loss_mask(40, 480, 10, volts(249.3, 277, 277, 480, 480, 480)) == A
    assert loss_mask(40, 480, 10, volts(277, 277, 277, 432.1, 480, 480)) == 0
    assert loss_mask(40, 480, 10, volts(277, 277, 277, 431.9, 480, 480)) == A | B
    # type 31 (no N): only L-L, same 432 V
    assert loss_mask(31, 480, 10, volts(0, 0, 0, 432.1, 480, 480)) == 0
    assert loss_mask(31, 480, 10, volts(0, 0, 0, 480, 431.9, 480)) == B | C
    # type 12 (split phase, 2L + 1n): L-N nominal is 134 / 2
    assert loss_mask(12, 480, 10, volts(216.1, 216.1, 0, 432.1)) == 0
    assert loss_mask(12, 480, 10, volts(215.9, 240, 0, 480)) == A
    # type 10: 134 is L-N itself, 277 V -> 249.3 V
    assert loss_mask(10, 277, 10, volts(249.4)) == 0
    assert loss_mask(10, 277, 10, volts(249.2)) == A
    # type 11 (2L): AB against 134
    assert loss_mask(11, 480, 10, volts(0, 0, 0, 432.1)) == 0
    assert loss_mask(11, 480, 10, volts(0, 0, 0, 431.9)) == A | B


def test_phase_loss_truth_table_type_40():
    # every set of lost phases names exactly those phases
    for lost in range(8):
        assert loss_mask(40, 480, 10, wye(lost)) == lost, lost
    # L-N low alone (L-L fine) names the phase
    for lost in range(8):
        v = volts(*[200.0 if lost & (1 << k) else 277.0 for k in range(3)], 480, 480, 480)
        assert loss_mask(40, 480, 10, v) == lost, lost
    # L-L low alone: as type 31
    for low, want in _DELTA_TABLE:
        v = volts(277, 277, 277, *[300.0 if low & (1 << j) else 480.0 for j in range(3)])
        assert loss_mask(40, 480, 10, v) == want, low


# low L-L pairs (AB = 1, BC = 2, CA = 4) -> phases named (A = 1, B = 2, C = 4)
_DELTA_TABLE = (
    (0, 0),
    (1, A | B),  # AB alone: both ends
    (2, B | C),
    (4, C | A),
    (1 | 2, B),  # AB and BC: B, the shared phase
    (1 | 4, A),
    (2 | 4, C),
    (7, A | B | C),
)


def test_phase_loss_truth_table_type_31():
    for low, want in _DELTA_TABLE:
        v = volts(0, 0, 0, *[300.0 if low & (1 << j) else 480.0 for j in range(3)])
        assert loss_mask(31, 480, 10, v) == want, low
    # a lost phase A in a delta: AB and CA sag to about half
    assert loss_mask(31, 480, 10, volts(0, 0, 0, 240, 480, 240)) == A
    # L-N readings are not looked at in type 31
    assert loss_mask(31, 480, 10, volts(1, 1, 1, 480, 480, 480)) == 0


def test_phase_loss_truth_table_type_12():
    # (AN low, BN low, AB low) -> phases
    table = (
        (0, 0, 0, 0),
        (1, 0, 0, A),
        (0, 1, 0, B),
        (1, 1, 0, A | B),
        (0, 0, 1, A | B),  # AB low, neither L-N: both ends
        (1, 0, 1, A),  # AB explained by A
        (0, 1, 1, B),
        (1, 1, 1, A | B),
    )
    for an, bn, ab, want in table:
        v = volts(100.0 if an else 120.0, 100.0 if bn else 120.0, 0.0, 200.0 if ab else 240.0)
        assert loss_mask(12, 240, 10, v) == want, (an, bn, ab)
    # phase C is never tested in type 12
    assert loss_mask(12, 240, 10, volts(120, 120, 0, 240, 0, 0)) == 0


def test_phase_loss_truth_table_types_10_11():
    for an, want in ((120.0, 0), (108.1, 0), (107.9, A), (0.0, A)):
        # B, C and L-L are ignored in type 10
        assert loss_mask(10, 120, 10, volts(an, 0, 0, 0, 0, 0)) == want
    for ab, want in ((240.0, 0), (216.1, 0), (215.9, A | B), (0.0, A | B)):
        assert loss_mask(11, 240, 10, volts(0, 0, 0, ab, 0, 0)) == want


def test_register_142_other_thresholds():
    # 142 = 25 %: 480 V -> 360 V L-L, 207.8 V L-N
    assert loss_mask(40, 480, 25, volts(208, 208, 208, 361, 361, 361)) == 0
    assert loss_mask(40, 480, 25, volts(207.5, 208, 208, 361, 361, 361)) == A
    assert loss_mask(40, 480, 25, volts(208, 208, 208, 361, 359, 361)) == B | C


def test_imbalance_register_143_per_type():
    # (max - min) / max above 143 (default 25 %)
    # type 40, L-N: 207 / 277 is 25.3 % down, 208 / 277 is 24.9 %
    assert imbalance_mask(40, 25, volts(277, 277, 207, 480, 480, 480)) == C
    assert imbalance_mask(40, 25, volts(277, 277, 208, 480, 480, 480)) == 0
    # type 40, L-L: CA 25.2 % below AB and BC -> both ends of CA
    assert imbalance_mask(40, 25, volts(277, 277, 277, 480, 480, 359)) == C | A
    assert imbalance_mask(40, 25, volts(277, 277, 277, 480, 480, 361)) == 0
    # a lost phase in a Y: both groups name it
    assert imbalance_mask(40, 25, wye(B)) == B
    # type 31: L-L only (L-N ignored)
    for low, want in _DELTA_TABLE[:-1]:  # all three 'low' is balanced again
        v = volts(1, 277, 277, *[350.0 if low & (1 << j) else 480.0 for j in range(3)])
        assert imbalance_mask(31, 25, v) == want, low
    assert imbalance_mask(31, 25, volts(0, 0, 0, 350, 350, 350)) == 0
    # type 12: just L-N compared (AB ignored)
    assert imbalance_mask(12, 25, volts(120, 89, 0, 100)) == B
    assert imbalance_mask(12, 25, volts(89, 120, 0, 240)) == A
    assert imbalance_mask(12, 25, volts(120, 91, 0, 10)) == 0
    # types 10 and 11: imbalance not tested
    assert imbalance_mask(10, 25, volts(120, 0, 0, 0, 0, 0)) == 0
    assert imbalance_mask(11, 25, volts(200, 0, 50, 240, 0, 0)) == 0
    # a tighter 143 = 5 %: 3 % apart is fine, 6 % is not
    assert imbalance_mask(40, 5, volts(277, 269, 277, 480, 480, 480)) == 0
    assert imbalance_mask(40, 5, volts(277, 260, 277, 480, 480, 480)) == B
    # no voltage at all: nothing to compare (the 142 test reports it)
    assert imbalance_mask(40, 25, volts()) == 0


def readings(v6, pf=(1.0, 1.0, 1.0), s=(0.0, 0.0, 0.0)):
    r = array("f", [0.0] * N_READINGS)
    for k in range(3):
        r[R_VLN + k] = v6[k]
        r[R_VLL + k] = v6[3 + k]
        r[R_PF + k] = pf[k]
        r[R_S + k] = s[k]
        r[R_I + k] = 10.0
    return r


def test_error_bitmap_register_146_bits():
    al = Alarms(40, 480, 10, 25)
    assert al.alarm_active  # closed until the first second
    ok = readings(wye())
    assert al.update(ok, 0) == 0
    assert not al.alarm_active and not al.wrench and al.sunspec_events == 0
    # bits 0-6 straight from the DSP flags
    assert al.update(ok, 0x7F) == 0x7F
    assert al.sunspec_events == alarms.M_EVENT_OVER_VOLTAGE | alarms.M_EVENT_OVER_CURRENT
    assert al.wrench and not al.alarm_active
    assert al.update(ok, F_FREQ) == 0x40 and al.sunspec_events == 0
    # bits 8-10: phase C lost
    bm = al.update(readings(wye(C)), 0)
    assert bm == 0x0400
    assert al.alarm_active and al.wrench
    assert al.sunspec_events == alarms.M_EVENT_POWER_FAILURE | alarms.M_EVENT_UNDER_VOLTAGE
    # imbalance alone (nothing below 142's threshold): Power_Failure only
    # (CA is 26.7 % below AB and BC but above 432 V)
    bm = al.update(readings(volts(277, 277, 277, 600, 600, 440)), 0)
    assert bm == 0x0500  # C and A, the ends of CA
    assert al.loss == 0 and al.imbalance == C | A
    assert al.sunspec_events == alarms.M_EVENT_POWER_FAILURE
    assert al.alarm_active
    # bits 14, 15 from the pulse output; no SunSpec event, wrench on
    assert al.update(ok, 0, pulse_overrun=True) == 0x4000
    assert al.wrench and not al.alarm_active and al.sunspec_events == 0
    assert al.update(ok, 0, pulse_config_error=True) == 0x8000
    # other alerts (store fell back to defaults): wrench only
    assert al.update(ok, 0, other_alert=True) == 0
    assert al.wrench


def test_low_pf_bits_11_to_13():
    al = Alarms(40, 480, 10, 25)
    ok = wye()
    s = (1000.0, 1000.0, 1000.0)
    assert al.update(readings(ok, (0.49, 0.9, 1.0), s), 0) == 0x0800
    assert al.sunspec_events == alarms.M_EVENT_LOW_PF
    assert not al.alarm_active  # low PF is not a phase-loss alarm
    # sign ignored: -0.9 (export) is fine, -0.3 is low
    assert al.update(readings(ok, (-0.9, -0.3, 0.5), s), 0) == 0x1000
    # no load (S = 0): never low
    assert al.update(readings(ok, (0.0, 0.1, 0.2), (0.0, 0.0, 1.0)), 0) == 0x2000
    # phases without a CT are not tested: type 12 has A and B, type 10 A
    al.configure(12, 240, 10, 25)
    v12 = volts(120, 120, 0, 240)
    assert al.update(readings(v12, (0.1, 0.1, 0.1), s), 0) == 0x1800
    al.configure(10, 120, 10, 25)
    assert al.update(readings(volts(120), (0.1, 0.1, 0.1), s), 0) == 0x0800


def test_flags_of_unused_inputs_ignored():
    # over-range on inputs the system type does not use: not reported
    al = Alarms(10, 120, 10, 25)
    assert al.update(readings(volts(120)), 0x7F) == 0x49  # V A, I A, freq
    al.configure(11, 240, 10, 25)
    assert al.update(readings(volts(0, 0, 0, 240)), 0x7F) == 0x4B  # V A, B; I A
    al.configure(12, 240, 10, 25)
    assert al.update(readings(volts(120, 120, 0, 240)), 0x7F) == 0x5B
    al.configure(31, 480, 10, 25)
    assert al.update(readings(volts(0, 0, 0, 480, 480, 480)), 0x7F) == 0x7F


def test_every_type_no_voltage_is_phase_loss():
    # meter powered from a separate supply, service dead: all tested phases
    for st, want in ((10, 0x100), (11, 0x300), (12, 0x300), (31, 0x700), (40, 0x700)):
        al = Alarms(st, 480 if st != 10 else 277, 10, 25)
        bm = al.update(readings(volts()), F_FREQ)
        assert bm == want | 0x40, (st, hex(bm))
        assert al.alarm_active


def test_configure_validates():
    al = Alarms()
    for bad in ((20, 480, 10, 25), (40, 480, 0, 25), (40, 480, 10, 100)):
        try:
            al.configure(*bad)
            raise AssertionError(bad)
        except ValueError:
            pass


class LevelPin:
    def __init__(self):
        self.level = None

    def value(self, v=None):
        if v is None:
            return self.level
        self.level = v


def test_alarm_contact_nc():
    # closed = alarm; closed at power-up before the first readings; open only
    # while powered and no phase loss
    pin = LevelPin()
    c = AlarmContact(pin)
    assert c.closed and pin.level == 1
    al = Alarms(40, 480, 10, 25)
    c.set(al.alarm_active)
    assert pin.level == 1
    al.update(readings(wye()), 0)
    c.set(al.alarm_active)
    assert not c.closed and pin.level == 0
    al.update(readings(wye(A)), 0)
    c.set(al.alarm_active)
    assert c.closed and pin.level == 1
    c.set(False)
    c.deinit()
    assert c.closed and pin.level == 1
    # a board whose driver closes the contact with a low level
    pin2 = LevelPin()
    c2 = AlarmContact(pin2, closed_level=0)
    assert pin2.level == 0
    c2.set(False)
    assert pin2.level == 1
