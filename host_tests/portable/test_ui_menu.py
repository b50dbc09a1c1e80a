# The menu state machine (firmware/ui_menu.py) driven by key events, against
# the real meter model (meter.Meter, its register bank and Config.apply).
# Portable: pytest on CPython and tools/mp_test.py under micropython.
from array import array

import micropython

from config import Config
from frontend import FrontEnd
from meter import Meter
from readings import (
    E_KINDS, E_TOTAL, E_WH_IMP, N_ENERGIES, N_READINGS, R_FREQ, R_P, R_P_TOT, R_VLL,
)
import ui_menu
from ui_menu import G_DOWN, G_HEART, G_UP, G_WRENCH, SETUP, TOP, Menu, fmt_value, frame_text

T = 1000  # key times: whole seconds, so the heart is on and no digit blinks


def _meter(**cfg):
    c = Config()
    if cfg:
        c.apply(cfg)
    return Meter(FrontEnd(), c, serial="SN42")


def _menu(m):
    u = Menu(m)
    u.tick(0)
    return u


def _u16(m, reg):
    b = bytearray(2)
    assert m.bank.read(reg - 1, 1, b, 0) == 0
    return b[0] << 8 | b[1]


def _keys(u, keys):
    for k in keys.split():
        u.event(k, T)


def _lines(u):
    return frame_text(u.frame())


def _digits(u, target):
    # type a number over the one being edited, digit by digit, leaving the
    # last digit to the right (confirm)
    for i in range(len(target)):
        want = ord(target[i]) - 48
        have = u.digits[u.cursor]
        n = (want - have) % 10
        for _ in range(n):
            u.event("up", T)
        u.event("right", T)


def _to_top(u, title):
    if u.sub:
        u.event("left", T)  # out of a group first
    for _ in range(len(TOP)):
        if _lines(u)[0].startswith(title):
            return
        u.event("down", T)
    raise AssertionError("no top-level screen " + title)


def _enter_setup(u, password="00000"):
    _to_top(u, "SETUP")
    u.event("right", T)
    assert _lines(u)[0].startswith("PASWD")
    _digits(u, password)


def _to_group(u, name):
    for _ in range(len(SETUP)):
        if SETUP[u.group][0] == name:
            return
        u.event("down", T)
    raise AssertionError("no setup group " + name)


def test_quick_setup_sequence_sets_the_registers():
    m = _meter()
    u = _menu(m)
    # 1-4: SETUP, password 00000 (default), exit to the right: S COM
    _keys(u, "up")  # up from the first screen wraps to SETUP, the last
    assert _lines(u)[0].startswith("SETUP")
    _keys(u, "right")
    assert _lines(u)[0].startswith("PASWD") and _lines(u)[1].endswith("00000")
    _keys(u, "right right right right right")
    assert _lines(u)[0].startswith("S COM")
    # 5: ADDR through its digits, BAUD, PAR, back to S COM
    _keys(u, "right")
    assert _lines(u)[0].startswith("ADDR") and _lines(u)[1].endswith("001")
    _digits(u, "017")
    assert _lines(u)[0].startswith("BAUD") and _lines(u)[1].endswith("19200")
    _keys(u, "up")
    assert _lines(u)[1].endswith("38400")
    _keys(u, "right")
    assert _lines(u)[0].startswith("PAR") and _lines(u)[1].endswith("NONE")
    _keys(u, "up right")
    assert _lines(u)[0].startswith("S COM")
    assert (_u16(m, 7101), _u16(m, 7102), _u16(m, 7103)) == (17, 38400, 1)
    # 6: S CT: CT V, CT SZ
    _keys(u, "down right")
    assert _lines(u)[0].startswith("CT V") and _lines(u)[1].endswith("1.00V")
    _keys(u, "up right")
    assert _lines(u)[0].startswith("CT SZ") and _lines(u)[1].endswith("00100")
    _digits(u, "00200")
    assert _lines(u)[0].startswith("S CT")
    # 7: S SYS: SYSTM
    _keys(u, "down right")
    assert _lines(u)[0].startswith("SYSTM") and _lines(u)[1].endswith("40")
    _keys(u, "down right")  # 40 -> 31
    assert _lines(u)[0].startswith("S SYS")
    # 8: S PT: RATIO 4.00
    _keys(u, "down right")
    assert _lines(u)[0].startswith("RATIO") and _lines(u)[1].endswith("001.00")
    _digits(u, "00400")
    assert _lines(u)[0].startswith("S PT")
    # 9: S V: VLL 2400 (600 V at the terminals through the 4:1 PT)
    _keys(u, "down right")
    assert _lines(u)[0].startswith("VLL") and _lines(u)[1].endswith("00600")
    _digits(u, "02400")
    assert _lines(u)[0].startswith("S V")
    # 10: leave SETUP
    _keys(u, "left")
    assert _lines(u)[0].startswith("SETUP")
    assert _u16(m, 130) == 31
    assert _u16(m, 131) == 200
    assert _u16(m, 132) == 3
    assert _u16(m, 133) == 400
    assert _u16(m, 134) == 2400
    assert m.config.address == 17 and m.config.baud == 38400 and m.config.parity == 1
    # the DSP follows (meter.py reconfigures it on every accepted change)
    assert m.dsp.valid >> R_VLL & 1 and not m.dsp.valid >> 0 & 1  # type 31: no L-N
    # 11: no wrench with no alert
    assert "W" not in _lines(u)[0][13:]


def _field(u, group, index=0):
    # open field `index` of a setup group, passing the ones before unchanged
    _to_group(u, group)
    u.event("right", T)
    while u.field < index:
        u.event("right", T)


def _refused(u, m, group, index, digits, reason):
    before = m.config.values()
    regs = [_u16(m, r) for r in (130, 131, 133, 134, 142, 143, 144, 149, 150, 7101)]
    _field(u, group, index)
    _digits(u, digits)
    line1, line2 = _lines(u)
    assert line2.strip() == reason, (group, digits, line2)
    assert m.config.values() == before
    assert [_u16(m, r) for r in (130, 131, 133, 134, 142, 143, 144, 149, 150, 7101)] == regs
    _keys(u, "left")  # dismiss the message: still in the field, configured value
    assert u.mode == ui_menu.MODE_FIELD and u.cursor == 0
    _keys(u, "left")  # leave the field to its group
    assert u.mode == ui_menu.MODE_SETUP


def test_each_refusal_shows_the_reason_and_changes_nothing():
    m = _meter()
    u = _menu(m)
    _enter_setup(u)
    _refused(u, m, "S COM", 0, "248", "ADDR")
    _refused(u, m, "S COM", 0, "000", "ADDR")
    _refused(u, m, "S CT", 1, "00004", "CT RANGE")
    _refused(u, m, "S CT", 1, "32001", "CT RANGE")
    _refused(u, m, "S PT", 0, "00000", "PT RANGE")
    _refused(u, m, "S V", 0, "00081", "V RANGE")
    _refused(u, m, "S V", 0, "00661", "V RANGE")  # 661 V at PT 1.00
    _refused(u, m, "S PL", 0, "00", "PL VOLTS")
    _refused(u, m, "S PL", 1, "00", "PL IMBAL")
    _refused(u, m, "S DMD", 0, "7", "DMD INTRV")
    _refused(u, m, "S DMD", 0, "0", "DMD INTRV")
    _refused(u, m, "S DMD", 1, "00005", "DMD SEC")
    _refused(u, m, "S DMD", 1, "40000", "DMD SEC")


def test_system_voltage_refused_after_pt_ratio():
    m = _meter()
    u = _menu(m)
    _enter_setup(u)
    _field(u, "S PT")
    _digits(u, "00400")  # 4.00: 134 must now be 328 .. 2640 V
    assert m.config.pt_ratio == 400
    _refused(u, m, "S V", 0, "00300", "V RANGE")
    _refused(u, m, "S V", 0, "02700", "V RANGE")
    _field(u, "S V")
    _digits(u, "00480")
    assert m.config.system_voltage == 480 and _u16(m, 134) == 480


def test_pulse_energy_skips_and_refuses_like_set_pulse():
    m = _meter(pulse_wh=10)
    u = _menu(m)
    _enter_setup(u)
    # 32000 A at 600 V: 33 MW; 10 and 100 Wh have no duration left
    _field(u, "S CT", 1)
    _digits(u, "32000")
    assert m.config.ct_primary == 32000 and m.config.pulse_wh == 10
    assert m.config.pulse_conf_err and _u16(m, 146) & 0x8000
    _field(u, "S PLS")
    assert _lines(u)[0].startswith("Wh/P") and _lines(u)[1].endswith(" 10")
    _keys(u, "up")  # jumps over 100 to 1000, the first with a solution
    assert _lines(u)[1].endswith(" 1000")
    _keys(u, "down")  # 100 has none: not allowed
    assert _lines(u)[1].strip() == "PULSE CONF"
    _keys(u, "left")  # dismiss
    assert _lines(u)[1].endswith(" 1000")
    _keys(u, "right")
    assert m.config.pulse_wh == 1000 and _u16(m, 144) == 1000
    assert _lines(u)[0].startswith("mS/P")
    assert _lines(u)[1].endswith("%d" % m.config.pulse_ms)
    _keys(u, "right")
    assert _lines(u)[0].startswith("S_PWR 10PPS")  # 50 ms: 10 pulses/s
    assert _lines(u)[1].strip() == "33255.38 kW"  # register 135
    _keys(u, "right")
    assert _lines(u)[0].startswith("S PLS")


def test_wrong_password_gets_nowhere():
    m = _meter()
    u = _menu(m)
    _enter_setup(u, "00001")
    assert u.mode == ui_menu.MODE_BROWSE
    assert _lines(u)[0].startswith("SETUP") and _lines(u)[1].strip() == "WRONG PASWD"
    u.tick(T + 2500)  # the message times out
    assert _lines(u)[1].strip() != "WRONG PASWD"
    # set passwords through S PWD, then only the new one opens
    _enter_setup(u)
    _field(u, "S PWD")
    _digits(u, "12345")
    _digits(u, "54321")
    assert m.config.pw_setup == 12345 and m.config.pw_reset == 54321
    _keys(u, "left")
    _enter_setup(u, "00000")
    assert u.mode == ui_menu.MODE_BROWSE
    _keys(u, "left")
    _enter_setup(u, "12345")
    assert u.mode == ui_menu.MODE_SETUP
    _keys(u, "left")
    # RESET takes the reset password, not the setup one
    _to_top(u, "RESET")
    _keys(u, "right")
    _digits(u, "12345")
    assert u.mode == ui_menu.MODE_BROWSE
    _keys(u, "left right")
    _digits(u, "54321")
    assert u.mode == ui_menu.MODE_RESET
    # leaving the password screen to the left goes back, nothing entered
    _keys(u, "left")
    _keys(u, "right left")
    assert u.mode == ui_menu.MODE_BROWSE


def test_leaving_setup_without_confirming_keeps_the_configuration():
    m = _meter()
    u = _menu(m)
    before = m.config.values()
    _enter_setup(u)
    _field(u, "S COM")
    _keys(u, "up up right up")  # ADDR 211 on the way, not confirmed
    _keys(u, "left left")  # back past the first digit: S COM
    assert u.mode == ui_menu.MODE_SETUP
    _field(u, "S SYS")
    _keys(u, "up up")
    _keys(u, "left")  # a choice: left cancels
    _field(u, "S DIS")
    _keys(u, "up")
    _keys(u, "left left")  # out of S DIS, out of SETUP
    assert u.mode == ui_menu.MODE_BROWSE
    assert m.config.values() == before
    # and inactivity leaves an edit the same way
    _enter_setup(u)
    _field(u, "S V")
    _keys(u, "up")
    u.tick(T + Menu.IDLE_MS)
    assert u.mode == ui_menu.MODE_BROWSE and u.top == 0
    assert m.config.values() == before


def _one_second(wh_imp):
    e = array("f", [0.0] * N_ENERGIES)
    e[E_KINDS * E_TOTAL + E_WH_IMP] = wh_imp * 3600.0
    e[E_WH_IMP] = wh_imp * 3600.0
    return e


def test_reset_energy_counts_in_register_147_like_modbus():
    m = _meter()
    u = _menu(m)
    m.energy.add(_one_second(5.0))
    assert _u16(m, 147) == 0 and m.energy.count(E_WH_IMP, E_TOTAL) > 0
    _to_top(u, "KWh^")
    assert _lines(u)[1].endswith("5.000 Wh")
    _to_top(u, "RESET")
    _keys(u, "right")
    _digits(u, "00000")
    assert _lines(u)[0].startswith("RESET") and _lines(u)[1].endswith("ENERG")
    _keys(u, "right")
    assert "RESET?" in _lines(u)[1]
    _keys(u, "left")  # no: nothing happens
    assert m.energy.count(E_WH_IMP, E_TOTAL) > 0 and _u16(m, 147) == 0
    _keys(u, "right right")
    assert _lines(u)[1].strip() == "DONE"
    assert m.energy.count(E_WH_IMP, E_TOTAL) == 0
    assert _u16(m, 147) == 1
    # the same count a Modbus 129 = 30078 keeps
    assert m.bank.write(128, [30078]) == 0
    assert _u16(m, 147) == 2


def test_reset_demand_sets_the_peaks_to_present_demand():
    m = _meter()
    u = _menu(m)
    m.demand.peak_imp[0] = 5000.0
    m.demand.peak_exp[0] = -300.0
    _to_top(u, "RESET")
    _keys(u, "right")
    _digits(u, "00000")
    _keys(u, "down")
    assert _lines(u)[1].endswith("DEMND")
    _keys(u, "right right")
    assert _lines(u)[1].strip() == "DONE"
    m.demand.add(array("f", [0.0] * N_ENERGIES))  # takes effect at the next second (129)
    assert m.demand.peak_imp[0] == 0.0 and m.demand.peak_exp[0] == 0.0
    assert _u16(m, 147) == 0  # not an energy reset


class _Invalid:
    """A model where nothing is valid: no readings yet, no energies."""

    def __init__(self, system_type):
        self.config = Config()
        self.config.apply({"system_type": system_type,
                           "system_voltage": 240 if system_type == 10 else 480})
        self.errors_value = 0

    def reading(self, i):
        return None

    def energy_wh(self, kind, phase):
        return None

    def demand_w(self, which, k):
        return None

    def pulses(self, n):
        return None

    def errors(self):
        return self.errors_value

    def wrench(self):
        return self.errors_value != 0

    def reset_energy(self):
        return None

    def reset_demand(self):
        return None

    def info(self, name):
        return "?"


def _walk_all(u):
    # every top-level screen and sub-screen, every setup group and field
    seen = []
    u.home()
    for _ in range(len(TOP)):
        kind, screens = TOP[u.top]
        f = u.frame()
        seen.append(f)
        if len(screens) > 1 and kind not in (ui_menu.GROUP_SETUP, ui_menu.GROUP_RESET):
            for _ in range(len(screens) - 1):
                u.event("right", T)
                seen.append(u.frame())
            u.event("left", T)
        u.event("down", T)
    _enter_setup(u)
    for _ in range(len(SETUP)):
        seen.append(u.frame())
        u.event("right", T)
        while u.mode == ui_menu.MODE_FIELD:
            seen.append(u.frame())
            u.tick(T + 500)  # the cursor digit blinks
            seen.append(u.frame())
            u.tick(T)
            i = u.field
            while u.mode == ui_menu.MODE_FIELD and u.field == i:
                u.event("right", T)  # through the digits, confirming no change
        u.event("down", T)
    u.event("left", T)
    for f in seen:
        assert len(f) == 2 and len(f[0]) == 16 and len(f[1]) == 16, f
    return seen


def test_every_screen_renders_for_every_system_type_all_invalid():
    for st in (10, 11, 12, 31, 40):
        for units in (0, 1):
            md = _Invalid(st)
            md.config.apply({"display_units": units})
            u = _menu(md)
            seen = _walk_all(u)
            values = [f[1].strip() for f in seen]
            assert "----" in values
            md.errors_value = 0xFF7F  # every alert on
            u2 = _menu(md)
            _to_top(u2, "ALERT")
            assert _lines(u2)[1].strip() == "6 ACTIVE"
            assert _lines(u2)[0][13] == "W"  # the wrench
            _walk_all(u2)


def _feed(m, values):
    r = array("f", [0.0] * N_READINGS)
    for i in range(N_READINGS):
        r[i] = 100.0 + i
    for k in values:
        r[k] = values[k]
    m.bank.refresh(r, m.dsp._valid_cfg | (1 << R_FREQ), 0)


def test_every_screen_renders_for_every_system_type_with_values():
    for st in (10, 11, 12, 31, 40):
        m = _meter(system_type=st, system_voltage=240 if st == 10 else 480)
        m.energy.add(_one_second(123456.0))
        _feed(m, {R_P_TOT: -12345.0})
        u = _menu(m)
        seen = _walk_all(u)
        assert len(seen) > 100
        # the summary title follows the number of phases
        u.home()
        assert frame_text(u.frame())[0].startswith("%dPHASE" % {10: 1, 11: 1, 12: 2}.get(st, 3))
        assert u.frame()[0][14] == chr(G_DOWN)  # exporting


def test_dashes_for_values_not_valid_in_the_system_type():
    m = _meter(system_type=10, system_voltage=240)
    _feed(m, {R_P: 1500.0})
    u = _menu(m)
    _to_top(u, "W TOT")
    _keys(u, "right")
    assert _lines(u)[0].startswith("W PH A") and _lines(u)[1].endswith("1500.000 W")
    _keys(u, "right")
    assert _lines(u)[0].startswith("W PH B") and _lines(u)[1].strip() == "----"
    _to_top(u, "VLL AVG")
    assert _lines(u)[1].strip() == "----"  # type 10 has no L-L voltage
    _to_top(u, "KWh^")
    _keys(u, "right right")
    assert _lines(u)[1].strip() == "----"  # no phase B energy in type 10


def test_iec_and_ieee_labels_follow_register_137():
    m = _meter()
    u = _menu(m)
    _to_top(u, "VLL AVG")
    _keys(u, "right")
    assert _lines(u)[0].startswith("VAB")
    assert m.bank.write(136, [0]) == 0  # 137 = 0: IEC, by Modbus
    assert _lines(u)[0].startswith("UAB")
    _keys(u, "left")
    assert _lines(u)[0].startswith("U AVG")
    _enter_setup(u)
    _field(u, "S DIS")
    assert _lines(u)[1].endswith("IEC")
    _keys(u, "down right")
    assert m.config.display_units == 1 and _u16(m, 137) == 1


def test_auto_ranging_keeps_the_most_resolution():
    W, WH = ui_menu.U_W, ui_menu.U_WH
    assert fmt_value(None, W) == "----"
    assert fmt_value(0.0, WH) == "0.000 Wh"
    assert fmt_value(999.0, W) == "999.000 W"
    assert fmt_value(9999.5, WH) == "9999.500 Wh"
    assert fmt_value(1234567.0, WH) == "1234567 Wh"
    assert fmt_value(12345678.0, WH) == "12345.68 kWh"
    assert fmt_value(-12345678.0, W) == "-12345.68 kW"
    assert fmt_value(9999999.6, W) == "10000.00 kW"  # rounding carried a digit
    assert fmt_value(123456789012.0, WH) == "123456.8 MWh"
    assert fmt_value(1.5e13, WH) == "15000.00 GWh"
    assert fmt_value(-0.0001, W) == "0.000 W"
    assert fmt_value(59.987, ui_menu.U_HZ) == "59.99 Hz"
    assert fmt_value(-0.5, ui_menu.U_PF) == "-0.500"


def test_heartbeat_arrows_and_wrench():
    m = _meter()
    _feed(m, {R_P_TOT: 1000.0})
    u = _menu(m)
    u.tick(0)
    assert u.frame()[0][15] == chr(G_HEART) and u.frame()[0][14] == chr(G_UP)
    u.tick(500)
    assert u.frame()[0][15] == " "
    u.tick(1000)
    assert u.frame()[0][15] == chr(G_HEART)
    assert u.frame()[0][13] == " "
    m.extra_errors = 0x0100  # phase loss A, from the alarm module
    m.bank.refresh(errors=m.errors())
    assert u.frame()[0][13] == chr(G_WRENCH)
    _to_top(u, "ALERT")
    assert _lines(u)[1].strip() == "1 ACTIVE"
    _keys(u, "right")
    assert _lines(u)[0].startswith("PLOSS") and _lines(u)[1].strip() == "A - -"
    _keys(u, "right right right right right")
    assert _lines(u)[0].startswith("PULSE") and _lines(u)[1].strip() == "OFF"
    m.extra_errors = 0x4000
    m.bank.refresh(errors=m.errors())
    assert _lines(u)[1].strip() == "OVERRUN"


def test_info_screens():
    m = _meter()
    u = _menu(m)
    _to_top(u, "INFO")
    _keys(u, "right")
    assert _lines(u)[0].startswith("MODEL") and _lines(u)[1].strip() == "S4100C"
    _keys(u, "right")
    assert _lines(u)[1].strip() == "V1.000"
    _keys(u, "right right")
    assert _lines(u)[0].startswith("SN") and _lines(u)[1].strip() == "SN42"
    _keys(u, "right")  # wraps to the first
    assert _lines(u)[0].startswith("MODEL")
    _keys(u, "left")
    assert _lines(u)[0].startswith("INFO")


def test_idle_returns_to_the_first_screen_and_messages_time_out():
    m = _meter()
    u = _menu(m)
    _keys(u, "down down right")
    assert u.top == 2 and u.sub == 1
    u.tick(T + Menu.IDLE_MS - 1)
    assert u.top == 2
    u.tick(T + Menu.IDLE_MS)
    assert u.top == 0 and u.sub == 0


def test_system_voltage_is_vln_in_type_10():
    m = _meter(system_type=10, system_voltage=240)
    u = _menu(m)
    _enter_setup(u)
    _field(u, "S V")
    assert _lines(u)[0].startswith("VLN") and _lines(u)[1].endswith("00240")
    _digits(u, "00120")
    assert m.config.system_voltage == 120 and _u16(m, 134) == 120


def test_browse_frame_reused_until_a_second_a_key_or_the_heart():
    # the loop asks for a frame every 250 ms; between seconds it is the same
    # one (nothing formatted, nothing allocated), a new second redraws it
    m = _meter()
    u = _menu(m)
    f = u.frame()
    assert u.frame() is f
    micropython.heap_lock()
    try:
        again = u.frame()
    finally:
        micropython.heap_unlock()
    assert again is f
    m.bank.refresh(errors=0)  # a snapshot: the values may have changed
    g = u.frame()
    assert g is not f and g == f
    u.tick(u.HEART_MS)  # the heart blinks
    assert u.frame() is not g
    h = u.frame()
    u.event("down", u.HEART_MS)  # the next screen
    assert u.top == 1 and u.frame() != h
