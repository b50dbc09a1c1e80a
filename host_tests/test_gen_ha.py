"""docs/home-assistant.yaml is generated from the register table and current;
every sensor points at a float register of the right unit. (No YAML library
in the pinned requirements: the sensor blocks are read line by line, which
also checks the generator's fixed layout.)"""

import gen_ha
import regmap

# The units Home Assistant's sensor accepts per device class (homeassistant/
# const.py and sensor/const.py DEVICE_CLASS_UNITS in 2024.3): a unit outside
# these is logged as invalid. UnitOfReactivePower was only 'var' and
# UnitOfApparentPower only 'VA' then.
HA_UNITS = {
    "power": {"W", "kW"},
    "reactive_power": {"var"},
    "apparent_power": {"VA"},
    "energy": {"Wh", "kWh", "MWh"},
    "voltage": {"V", "mV"},
    "current": {"A", "mA"},
    "frequency": {"Hz", "kHz", "MHz", "GHz"},
    "power_factor": {None, "%"},
}


def _sensors(text):
    out = []
    for line in text.splitlines():
        s = line.split("#", 1)[0].rstrip() if "address:" in line else line.rstrip()
        if s.startswith("      - name: "):
            out.append({"name": s[len("      - name: "):].strip('"')})
        elif s.startswith("        ") and out and ":" in s:
            k, v = s.strip().split(": ", 1)
            out[-1][k] = v
    return out


def test_home_assistant_yaml_is_current():
    assert gen_ha.main(["--check"]) == 0, "run python tools/gen_ha.py"


def test_sensors_are_float_registers():
    text = gen_ha.render()
    assert "\nmodbus:\n  - name: energy_meter\n" in text
    sensors = _sensors(text)
    rows = {r[0]: r for r in regmap.ROWS}
    assert len(sensors) == len(gen_ha.SENSORS)
    ids = set()
    for s in sensors:
        row = rows[int(s["address"]) + 1]
        assert row[1] == "Float" and s["data_type"] == "float32" and s["input_type"] == "holding"
        # a float's NaN is unavailable by itself; nan_value compares the decoded float (never equal)
        assert "nan_value" not in s
        assert s.get("unit_of_measurement") in HA_UNITS[s["device_class"]], s
        if row[2] in ("kVAR", "kVA"):
            assert s["scale"] == "1000"
        else:
            assert "scale" not in s
        ids.add(s["unique_id"])
        if s["device_class"] == "energy":
            assert s["unit_of_measurement"] == "kWh" and row[2] == "kWh"
            assert s["state_class"] in ("total", "total_increasing")
        if s["device_class"] == "power":
            assert s["unit_of_measurement"] == "kW" and row[2] == "kW"
        if s["device_class"] == "voltage":
            assert row[2] == "Volt"
    assert len(ids) == len(sensors)
