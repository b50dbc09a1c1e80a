"""The display through the virtual meter: a --keys script sets the CT size
from the SETUP menu (Quick Setup step 6), the change reaches register 131
over Modbus, and --lcd-log holds every frame the LCD showed."""

from pymodbus.client import ModbusTcpClient
from simproc import Sim, wye, write_scenario

# up: SETUP; right: PASWD; 5 x right: password 00000 -> S COM;
# down right: S CT -> CT V; right: keep 1.00V -> CT SZ 00100;
# right right up right right right: 00200, confirmed past the last digit;
# left: back out of SETUP
KEYS = "up right right right right right right down right right right right up right right right left"


def test_quick_setup_of_the_ct_size_from_the_keys(tmp_path):
    log = tmp_path / "lcd.txt"
    sc = write_scenario(tmp_path / "s.json", {"ct_primary_a": 100}, [wye(duration=8)])
    sim = Sim(sc, "--speed", "max", "--keys", KEYS, "--lcd-log", str(log))
    try:
        sim.wait_for("scenario complete")
        c = ModbusTcpClient("127.0.0.1", port=sim.tcp_port, timeout=3)
        assert c.connect()
        try:
            assert c.read_holding_registers(130, count=1, device_id=1).registers == [200]  # 131
        finally:
            c.close()
    finally:
        sim.stop()
    lines = log.read_text().split("\n")
    frames = list(zip(lines[0::2], lines[1::2]))
    assert all(len(a) == 16 and len(b) == 16 for a, b in frames)
    assert any(a.startswith("PASWD") for a, _ in frames)
    assert any(a.startswith("CT SZ") and b.endswith("00200") for a, b in frames)
    assert any(a.startswith("S CT") for a, _ in frames)


def test_bad_key_names_are_refused(tmp_path):
    import subprocess
    import sys

    from simproc import ROOT

    sc = write_scenario(tmp_path / "s.json", {}, [wye(duration=1)])
    r = subprocess.run([sys.executable, ROOT + "/tools/sim.py", "--headless", "--scenario", sc, "--keys",
                        "up sideways"], capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and "sideways" in r.stderr


def test_bad_scenario_file_is_refused_with_the_key_named(tmp_path):
    import subprocess
    import sys

    from simproc import ROOT

    bad = tmp_path / "bad.json"
    bad.write_text('{"segments": [{"duration_s": 1, "phases": {"A": {"v_rms": 230, "v_deg": 0,'
                   ' "i_rms": 5, "i_deg": 0, "vrms": 1}}}]}')
    r = subprocess.run([sys.executable, ROOT + "/tools/sim.py", "--headless", "--scenario", str(bad)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0
    assert "segments[0].phases.A" in r.stderr and "vrms" in r.stderr
    assert "modbus-rtu" not in r.stdout  # nothing was started


def test_runtime_cpython_runs_the_same_firmware(tmp_path):
    # --runtime cpython (for debugging) serves the same registers
    sc = write_scenario(tmp_path / "s.json", {"ct_primary_a": 200}, [wye(duration=3)])
    sim = Sim(sc, "--speed", "max", runtime="cpython")
    try:
        sim.wait_for("scenario complete")
        c = ModbusTcpClient("127.0.0.1", port=sim.tcp_port, timeout=3)
        assert c.connect()
        try:
            assert c.read_holding_registers(130, count=1, device_id=1).registers == [200]  # 131
            assert c.read_holding_registers(27, count=1, device_id=1).registers == [6000]  # 28: 60.00 Hz
        finally:
            c.close()
    finally:
        sim.stop()
