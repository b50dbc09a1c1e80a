"""The virtual meter on MQTT (issue 14): tools/sim.py --mqtt runs the
firmware's own net_ha.py / net_mqtt.py against a real Mosquitto broker, and
the tests subscribe as Home Assistant would (host_tests/mqtt_sub.py).

Scenario: a 277/480 V wye (system type 40), 200 A CTs, 40 A per phase at
PF 0.9 lagging, 60 Hz; state every 2 s of measured time (--mqtt-period 2).
Expected values are the scenario's analytic ones, within the accuracy the
meter is held to elsewhere (test_sim_clients.py: 0.1 % for P, S, V, I,
PF; 0.5 % for Q and energy)."""

import json
import math

import pytest
from mqtt_sub import Subscriber
from netproc import Broker
from simproc import Sim, free_port, write_scenario, wye

V, I, PF, F = 277.0, 40.0, 0.9, 60.0
LAG = math.degrees(math.acos(PF))
P_KW = 3 * V * I * PF / 1000
Q_KVAR = 3 * V * I * math.sin(math.radians(LAG)) / 1000
PREFIX = "test/meter"
STATE = PREFIX + "/state"
STATUS = PREFIX + "/status"
NODE = "meter_SIM_0001"

# Home Assistant's MQTT sensor (integrations/sensor.mqtt, MQTT discovery):
# the configuration keys a discovered sensor may carry (full names), the
# device block's keys, and per device_class the units HA accepts
# (homeassistant.components.sensor DEVICE_CLASS_UNITS) and state classes.
HA_SENSOR_KEYS = {
    "availability", "availability_mode", "availability_template", "availability_topic", "device",
    "device_class", "enabled_by_default", "encoding", "entity_category", "entity_picture",
    "expire_after", "force_update", "icon", "json_attributes_template", "json_attributes_topic",
    "last_reset_value_template", "name", "object_id", "default_entity_id", "options",
    "payload_available", "payload_not_available", "platform", "qos", "state_class", "state_topic",
    "suggested_display_precision", "unique_id", "unit_of_measurement", "value_template",
}
HA_DEVICE_KEYS = {"configuration_url", "connections", "hw_version", "identifiers", "manufacturer",
                  "model", "model_id", "name", "serial_number", "suggested_area", "sw_version",
                  "via_device"}
HA_UNITS = {
    "power": {"mW", "W", "kW", "MW", "GW", "TW", "BTU/h"},
    "reactive_power": {"mvar", "var", "kvar"},
    "apparent_power": {"mVA", "VA", "kVA"},
    "power_factor": {None, "%"},
    "voltage": {"µV", "mV", "V", "kV", "MV"},
    "current": {"mA", "A"},
    "frequency": {"Hz", "kHz", "MHz", "GHz"},
    "energy": {"J", "kJ", "MJ", "GJ", "mWh", "Wh", "kWh", "MWh", "GWh", "TWh", "cal", "kcal",
               "Mcal", "Gcal"},
}
# energy sensors: HA's energy dashboard takes state_class total or total_increasing
HA_STATE_CLASSES = {"measurement", "total", "total_increasing"}


def near(got, want, rel):
    return abs(got - want) <= rel * abs(want)


def near_energy(kwh, seconds):
    """Import energy against P x the meter's seconds: within 0.5 %, plus two
    periods at 50 Hz, since the meter's second ticks once a whole-cycle
    window and the first window after power-on is cut short (docs/dsp.md)."""
    want = P_KW * seconds / 3600
    return abs(kwh - want) <= 5e-3 * want + P_KW * 0.04 / 3600


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    b = Broker(tmp_path_factory.mktemp("mqtt"), free_port())
    yield b
    b.stop()


def start_meter(tmp_path, broker, seconds=120):
    sc = write_scenario(tmp_path / "wye.json", {"system_type": 40, "ct_primary_a": 200,
                                                "system_voltage_v": 480},
                        [wye(V, I, LAG, F, seconds)])
    return Sim(sc, "--speed", "4", "--mqtt", "127.0.0.1:%d" % broker.port, "--mqtt-prefix", PREFIX,
               "--mqtt-period", "2")


@pytest.fixture(scope="module")
def meter(broker, tmp_path_factory):
    sim = start_meter(tmp_path_factory.mktemp("sim"), broker)
    yield sim
    sim.stop()


def configs(msgs):
    return {t: p for t, p, _r in msgs if t.startswith("homeassistant/") and t.endswith("/config")}


def states(msgs):
    return [json.loads(p) for t, p, _r in msgs if t == STATE]


def test_discovery_configs_follow_home_assistants_mqtt_sensor_schema(broker, meter):
    sub = Subscriber(broker.port, ["homeassistant/#", PREFIX + "/#"])
    try:
        msgs = sub.wait(lambda m: len(configs(m)) >= 32 and states(m), 30, "32 discovery configs and a state")
    finally:
        sub.close()
    cfgs = configs(msgs)
    # retained: a subscriber that comes later (HA restarting) gets them all
    late = Subscriber(broker.port, ["homeassistant/#"], client_id=b"late")
    try:
        kept = late.wait(lambda m: len(m) >= len(cfgs), 10, "the retained configs")
    finally:
        late.close()
    assert all(r for _t, _p, r in kept) and set(configs(kept)) == set(cfgs)
    state = states(msgs)[-1]
    energy = set()
    for topic, payload in cfgs.items():
        parts = topic.split("/")
        # <discovery prefix>/<component>/<node_id>/<object_id>/config
        assert len(parts) == 5 and parts[:3] == ["homeassistant", "sensor", NODE], topic
        c = json.loads(payload)
        assert set(c) <= HA_SENSOR_KEYS, set(c) - HA_SENSOR_KEYS
        dc = c["device_class"]
        assert dc in HA_UNITS, dc
        assert c.get("unit_of_measurement") in HA_UNITS[dc], (topic, c.get("unit_of_measurement"))
        assert c["state_class"] in HA_STATE_CLASSES
        if dc == "energy":
            energy.add(parts[3])
            assert c["unit_of_measurement"] == "kWh"
            assert c["state_class"] in ("total", "total_increasing")
        else:
            assert c["state_class"] == "measurement"
        assert c["state_topic"] == STATE and c["availability_topic"] == STATUS
        assert c["unique_id"] == "%s_%s" % (NODE, parts[3])
        # the template names a key the state message carries
        key = c["value_template"].split("value_json.")[1].split()[0]
        assert key == parts[3] and key in state
        d = c["device"]
        assert set(d) <= HA_DEVICE_KEYS
        assert d["identifiers"] == [NODE] and d["serial_number"] == "SIM-0001"
        assert d["sw_version"] == "1.000"  # register 7001 = 1000: 'V1.000'
    assert {"e_imp", "e_exp", "e_imp_a", "e_exp_c"} <= energy
    for k in ("e_imp", "e_exp"):
        assert json.loads(cfgs["homeassistant/sensor/%s/%s/config" % (NODE, k)])["state_class"] == \
            "total_increasing"
    # a wye meter (system type 40) has every phase
    assert {"p_a", "p_b", "p_c", "v_an", "v_ca", "i_c", "pf_b"} <= {t.split("/")[3] for t in cfgs}


def test_state_values_match_the_scenario(broker, meter):
    sub = Subscriber(broker.port, [STATE, STATUS])
    try:
        msgs = sub.wait(lambda m: [s for s in states(m) if s["t"] >= 6], 30, "a state at t >= 6 s")
        assert (STATUS, b"online", True) in msgs, "availability: 'online', retained"
    finally:
        sub.close()
    s = [s for s in states(msgs) if s["t"] >= 6][0]
    assert near(s["p"], P_KW, 1e-3) and near(s["q"], Q_KVAR, 5e-3), (s["p"], s["q"])
    assert near(s["s"], math.hypot(P_KW, Q_KVAR), 1e-3) and near(s["pf"], PF, 1e-3)
    assert near(s["v_ln"], V, 1e-3) and near(s["v_ll"], V * math.sqrt(3), 1e-3)
    assert near(s["i"], I, 1e-3) and abs(s["f"] - F) < 0.01
    for ph in "abc":
        assert near(s["p_" + ph], P_KW / 3, 1e-3) and near(s["i_" + ph], I, 1e-3)
        assert near(s["v_%sn" % ph], V, 1e-3)
    # energy: kWh, everything measured since second 0
    assert near_energy(s["e_imp"], s["t"]), (s["e_imp"], s["t"])
    assert s["e_exp"] == 0


def test_last_will_marks_the_meter_offline_when_it_is_killed(broker, meter, tmp_path):
    meter.stop()  # one meter (one client id) on the broker at a time
    sim = start_meter(tmp_path, broker)
    sub = Subscriber(broker.port, [STATUS, STATE], client_id=b"will-watch")
    try:
        sub.wait(lambda m: states(m), 30, "a state message")
        sim.kill()  # power cut: no DISCONNECT, the broker publishes the will
        sub.messages.clear()
        msgs = sub.wait(lambda m: (STATUS, b"offline", True) in m or (STATUS, b"offline", False) in m,
                        10, "'offline' on %s" % STATUS)
        assert [p for t, p, _r in msgs if t == STATUS][-1] == b"offline"
    finally:
        sub.close()
        sim.stop()


def test_a_broker_restart_costs_no_reading(broker, meter, tmp_path):
    meter.stop()
    sim = start_meter(tmp_path, broker)
    try:
        sub = Subscriber(broker.port, [STATE])
        before = states(sub.wait(lambda m: states(m), 30, "a state before the restart"))[-1]
        sub.close()
        broker.stop()
        broker.start()  # the meter's back-off: 1 s, 2 s, 4 s ...
        sub = Subscriber(broker.port, [STATE])
        after = states(sub.wait(lambda m: [s for s in states(m) if s["t"] > before["t"] + 4], 30,
                                "states after the restart"))
        sub.close()
    finally:
        sim.stop()
    s = [s for s in after if s["t"] > before["t"] + 4][0]
    # the meter measured through the outage: energy is every second's,
    # before and after, and the period holds
    for x in (before, s):
        assert near_energy(x["e_imp"], x["t"]), x
    assert near_energy(s["e_imp"] - before["e_imp"], s["t"] - before["t"])
    ts = [x["t"] for x in after]
    assert all(b - a == 2 for a, b in zip(ts, ts[1:])), ts  # --mqtt-period 2, none skipped
