"""The virtual meter's non-volatile store (--state DIR) seen from outside:
the scenario configures only a factory-fresh meter, the power-up counter
(register 152) counts starts, energy resumes after a power cut from the last
save (persist.SAVE_PERIOD_S) and never goes backwards, and a corrupt store
gives factory defaults with an alert instead of a crash."""

import time

from pymodbus.client import ModbusTcpClient
from simproc import Sim, wye, write_scenario

# Simulated seconds between saves: firmware/persist.py SAVE_PERIOD_S
SAVE_PERIOD_S = 60


def read(sim, addr, count):
    c = ModbusTcpClient("127.0.0.1", port=sim.tcp_port, timeout=3)
    for _ in range(50):
        if c.connect():
            break
        time.sleep(0.1)
    try:
        return c.read_holding_registers(addr, count=count, device_id=1).registers
    finally:
        c.close()


def float_kwh_import(sim):
    import struct

    r = read(sim, 258, 2)  # 259-260: Real Energy, Quadrants 1 & 4 Import (kWh, float)
    return struct.unpack(">f", struct.pack(">HH", *r))[0]


def test_scenario_configures_only_a_fresh_meter_and_power_ups_count(tmp_path):
    state = str(tmp_path / "state")
    a = write_scenario(tmp_path / "a.json", {"ct_primary_a": 200, "system_voltage_v": 480}, [wye(duration=5)])
    b = write_scenario(tmp_path / "b.json", {"ct_primary_a": 400, "system_voltage_v": 400}, [wye(duration=5)])
    sim = Sim(a, "--speed", "max", "--state", state)
    sim.wait_for("scenario complete")
    cfg = read(sim, 129, 6)  # 130-135
    e1 = float_kwh_import(sim)
    assert cfg[1] == 200 and cfg[4] == 480
    assert read(sim, 151, 1) == [1]  # 152: first start
    sim.stop()
    sim = Sim(b, "--speed", "max", "--state", state)
    sim.wait_for("scenario complete")
    cfg = read(sim, 129, 6)
    assert cfg[1] == 200 and cfg[4] == 480  # the stored configuration stands
    assert read(sim, 151, 1) == [2]
    e2 = float_kwh_import(sim)
    # The second run added to the first. Its terminals see scenario b's 400 A
    # CT while the meter keeps its stored 200 A setting, so it reads half the
    # current: 1.5 times the first run's energy in all.
    assert abs(e2 / e1 - 1.5) < 0.01, (e1, e2)
    sim.stop()


def test_power_cut_resumes_from_the_last_save(tmp_path):
    state = str(tmp_path / "state")
    sc = write_scenario(tmp_path / "s.json", {"ct_primary_a": 200, "system_voltage_v": 480},
                        [wye(duration=3600)])
    sim = Sim(sc, "--speed", "60", "--state", state)
    time.sleep(5)  # about 300 s of simulated running: several saves
    before = float_kwh_import(sim)
    sim.kill()  # no warning: host and firmware die at once
    sim = Sim(sc, "--speed", "1", "--state", state)
    try:
        after = float_kwh_import(sim)
        assert read(sim, 151, 1) == [2]  # 152 went up by one
        p_kw = 3 * 277.0 * 40.0 * 0.9 / 1000
        lost_s = (before - after) * 3600 / p_kw
        # at most one save period lost (plus the seconds between the read and
        # the kill), and never more than was there
        assert 0 <= lost_s <= SAVE_PERIOD_S + 15, (before, after, lost_s)
        assert after > 0
    finally:
        sim.stop()


def test_corrupt_store_gives_factory_defaults_and_an_alert(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    (state / "nv_a.bin").write_bytes(b"EMNV" + b"\xff" * 60)
    (state / "nv_b.bin").write_bytes(b"garbage")
    sc = write_scenario(tmp_path / "s.json", {"ct_primary_a": 200}, [wye(duration=3)])
    sim = Sim(sc, "--speed", "max", "--state", str(state))
    try:
        sim.wait_for("store was corrupt")
        sim.wait_for("scenario complete")
        assert read(sim, 130, 1) == [100]  # 131: factory default, not the scenario's
    finally:
        sim.stop()
