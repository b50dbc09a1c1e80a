# Configuration (registers 130-154, comm settings, passwords): factory
# defaults ('Standard Modbus Default Settings'), derived values (135,
# 138-141, 145, bit 15) and refusals that change nothing.
from config import Config, ConfigError
from nvcheck import config as load  # a stored configuration, checked at start


def _refused(c, changes, reason=None):
    before = c.to_dict()
    try:
        c.apply(changes)
    except ConfigError as e:
        assert reason is None or e.reason == reason, (changes, e.reason)
        assert len(e.reason) <= 16
        assert c.to_dict() == before, changes
        return
    raise AssertionError("accepted %r" % (changes,))


def test_defaults_standard_modbus_default_settings():
    c = Config()
    assert c.system_type == 40 and c.ct_primary == 100 and c.ct_secondary == 1
    assert c.pt_ratio == 100 and c.system_voltage == 600 and c.display_units == 1
    assert c.pl_volts == 10 and c.pl_imbal == 25 and c.pulse_wh == 1000
    assert c.demand_n == 1 and c.demand_len == 900
    assert c.address == 1 and c.baud == 19200 and c.parity == 0
    assert c.pw_setup == 0 and c.pw_reset == 0
    # 135: the datasheet's '104 kW' (sqrt(3) x 600 V x 100 A)
    assert abs(c.max_power_w - 103923.05) < 0.1
    assert c.reg135 * 10 ** c.sf_w == 103.92 or abs(c.reg135 * 10.0 ** c.sf_w - 103.92) < 0.01
    assert c.pulse_ms == 500 and not c.pulse_conf_err  # 145


def test_register_135_formula_by_system_type():
    c = Config()
    c.apply({"system_type": 10, "system_voltage": 240})  # 134 is L-N: V x I
    assert abs(c.max_power_w - 24000) < 1e-6
    c.apply({"system_type": 11})
    assert abs(c.max_power_w - 24000) < 1e-6
    c.apply({"system_type": 12})
    assert abs(c.max_power_w - 24000) < 1e-6
    c.apply({"system_type": 31})
    assert abs(c.max_power_w - 1.7320508 * 24000) < 0.1


def test_refusals_leave_config_unchanged():
    c = Config()
    _refused(c, {"system_type": 20}, "SYS TYPE")  # 130
    _refused(c, {"ct_primary": 4}, "CT RANGE")  # 131
    _refused(c, {"ct_primary": 32001}, "CT RANGE")
    _refused(c, {"ct_secondary": 2}, "CT V")  # 132
    _refused(c, {"pt_ratio": 0}, "PT RANGE")  # 133
    _refused(c, {"pt_ratio": 32001}, "PT RANGE")
    _refused(c, {"system_voltage": 81}, "V RANGE")  # 134
    _refused(c, {"system_voltage": 661}, "V RANGE")  # 661 / 1.00 > 660
    _refused(c, {"pt_ratio": 1000, "system_voltage": 800}, "V RANGE")  # 80 V at the terminals
    _refused(c, {"display_units": 2}, "UNITS")  # 137
    _refused(c, {"pl_volts": 0}, "PL VOLTS")  # 142
    _refused(c, {"pl_volts": 100}, "PL VOLTS")
    _refused(c, {"pl_imbal": 0}, "PL IMBAL")  # 143
    _refused(c, {"pulse_wh": 5}, "PULSE WH")  # 144
    _refused(c, {"demand_n": 0}, "DMD INTRV")  # 149
    _refused(c, {"demand_n": 7}, "DMD INTRV")
    _refused(c, {"demand_len": 9}, "DMD SEC")  # 150
    _refused(c, {"demand_len": 32768}, "DMD SEC")
    _refused(c, {"address": 0}, "ADDR")
    _refused(c, {"address": 248}, "ADDR")
    _refused(c, {"baud": 57600}, "BAUD")
    _refused(c, {"parity": 3}, "PARITY")
    _refused(c, {"pw_setup": 100000}, "PASSWORD")
    _refused(c, {"pw_reset": -1}, "PASSWORD")
    _refused(c, {"system_type": "40"}, "NOT INT")  # wrong type
    _refused(c, {"ct_primary": 100.0}, "NOT INT")
    _refused(c, {"reg135": 5})  # read-only derived value
    _refused(c, {"sf_e": 0})
    _refused(c, {"nonsense": 1})
    _refused(c, {"cal_gains": (1.0,) * 5}, "CAL GAIN")
    _refused(c, {"cal_phases": (0.0, 11.0, 0.0)}, "CAL PHASE")
    # one bad value refuses the whole change
    _refused(c, {"ct_primary": 200, "pl_volts": 0}, "PL VOLTS")
    assert c.ct_primary == 100


def test_accepted_change_is_atomic_with_derived_values():
    c = Config()
    seen = []
    c.listeners.append(seen.append)
    c.apply({"ct_primary": 5000, "system_voltage": 480})
    assert seen == [{"ct_primary", "system_voltage"}]
    assert abs(c.max_power_w - 1.7320508 * 480 * 5000) < 1.0
    assert c.sf_i == 0  # 1.2 x 5000 A = 6000 fits at 1 A
    assert c.reg135 * 10.0 ** c.sf_w * 1000 > 0.99 * c.max_power_w


def test_134_checked_against_pt_ratio():
    c = Config()
    c.apply({"pt_ratio": 1000})  # 133 first (datasheet), 134 may then be out of range
    c.apply({"system_voltage": 4160})  # 416 V at the terminals
    assert c.system_voltage == 4160
    _refused(c, {"system_voltage": 6700}, "V RANGE")  # 670 V at the terminals


def test_144_refused_without_duration_and_bit_15_on_other_changes():
    c = Config()
    c.apply({"ct_primary": 32000, "pt_ratio": 32000, "system_voltage": 32000})
    # 1.77 GW: 1,800,000 x Wh / 10 ms keeps up only with 10000 Wh and below 1.8 GW
    assert c.pulse_wh == 1000 and c.pulse_conf_err and c.pulse_ms == 10
    _refused(c, {"pulse_wh": 100}, "PULSE CONF")
    c.apply({"pulse_wh": 10000})
    assert not c.pulse_conf_err and c.pulse_ms == 10
    c2 = Config()
    c2.apply({"pulse_wh": 10})  # 1.8e6 x 10 / 100 ms = 180 kW >= 104 kW
    assert c2.pulse_ms == 100
    c2.apply({"ct_primary": 32000})  # 131 leaves no duration: accepted, bit 15, 144 kept
    assert c2.pulse_wh == 10 and c2.pulse_conf_err


def test_to_dict_from_dict_round_trip():
    c = Config()
    c.apply({"system_type": 31, "ct_primary": 400, "address": 17, "baud": 9600, "parity": 2,
             "pw_setup": 12345, "cal_gains": (1.01, 1.0, 1.0, 0.99, 1.0, 1.0)})
    c.count_power_up()
    d = c.to_dict()
    c2 = Config()
    assert load(c2, d) is True
    assert c2.to_dict() == d


def test_from_dict_checks_every_field_as_a_modbus_write():
    # a stored field a Modbus write would refuse keeps its default; the
    # others are taken (134 checked against the stored 133, in any order)
    d = Config().to_dict()
    d.update({"system_type": 31, "ct_primary": 1, "pt_ratio": 1000, "system_voltage": 4160,
              "address": 300, "pw_setup": 54321, "cal_gains": [1.01, 1, 1, 1, 1, 9.0]})
    c = Config()
    assert load(c, d) is False
    assert c.system_type == 31 and c.pt_ratio == 1000 and c.system_voltage == 4160
    assert c.pw_setup == 54321
    assert c.ct_primary == 100 and c.address == 1  # 131 = 1, 7101 = 300: refused
    assert c.cal_gains == (1.0,) * 6  # 7206 = 9.0 is outside 0.5-2.0


def test_stored_counters_out_of_range_152_and_7212_7217():
    # 152: 0-32767 (a bad one reads 0 and counts on); the calibration audit
    # only grows, so a bad count reads its top, never fewer than there were
    for pu, want in ((-7, 0), (32768, 0), (1.5, 0), (True, 0), (32767, 32767), (0, 0)):
        d = Config().to_dict()
        d["power_ups"] = pu
        c = Config()
        assert load(c, d) is (pu == want and not isinstance(pu, bool)), pu
        assert c.power_ups == want, pu
    d = Config().to_dict()
    d.update({"cal_count": -1, "cal_fails": 10 ** 12, "cal_t0": 70000})
    c = Config()
    assert load(c, d) is False
    assert (c.cal_count, c.cal_fails, c.cal_t0) == (65535, 65535, 0)


def test_power_up_counter_152_wraps_at_32767():
    # docs/storage.md and the datasheet's range 0-32767
    c = Config()
    c.power_ups = 32766
    c.count_power_up()
    assert c.power_ups == 32767
    c.count_power_up()
    assert c.power_ups == 0


def test_a_write_of_the_present_value_tells_no_listener():
    # the store saves on a listener call: an unchanged value saves nothing,
    # and 150 written with its value does not restart the demand interval
    c = Config()
    seen = []
    c.listeners.append(seen.append)
    c.apply({"demand_len": 900, "system_type": 40, "cal_gains": [1.0] * 6})
    assert seen == []
    c.apply({"demand_len": 900, "system_type": 31})
    assert seen == [{"system_type"}]


def test_sunspec_energy_sf_gives_1_wh_at_the_defaults():
    # TotWh_SF (40124): the finest SF >= 0 whose acc32 holds a year at 135
    c = Config()
    assert c.ss_e_sf == 0  # 103.9 kW x 8766 h = 9.1e8 Wh < 2^32
    assert 2 ** 32 / c.max_power_w / 8766 > 4.7  # years to the roll-over at full power
    c.apply({"system_type": 10, "system_voltage": 480, "ct_primary": 1000})  # 480 kW
    assert c.ss_e_sf == 0
    c.apply({"ct_primary": 1100})  # 528 kW: 4.6e9 Wh a year
    assert c.ss_e_sf == 1
    c.apply({"system_type": 40, "ct_primary": 32000, "pt_ratio": 32000, "system_voltage": 32000})
    assert c.ss_e_sf == 4  # 1.77 GW: 1.6e13 Wh a year, 3600 x 2^32
