"""The meter's web page and /api/readings (issue 14), served by the
firmware's own net_http.py in the virtual meter (tools/sim.py --http), read
by a real headless browser (Debian's chromium, installed by `make
net-deps`) and checked against Modbus TCP.

Scenario: 277/480 V wye (system type 40), 200 A CTs, 40 A at PF 0.9
lagging, 60 Hz, in real time (--speed 1): one measured second a second."""

import json
import math
import os
import re
import struct
import subprocess
import time
import urllib.error
import urllib.request

import pytest
from netproc import chromium_binary, require, wait_port
from pymodbus.client import ModbusTcpClient
from simproc import ROOT, Sim, free_port, write_scenario, wye

V, I, PF, F = 277.0, 40.0, 0.9, 60.0
P_KW = 3 * V * I * PF / 1000
ARTEFACTS = os.path.join(ROOT, "build", "net")
# the float registers /api/readings shows (firmware/net_view.py SENSORS)
FLOAT_KEYS = {"e_net": 257, "e_imp": 259, "e_exp": 261, "p": 277, "q": 279, "s": 281, "pf": 283,
              "v_ll": 285, "v_ln": 287, "i": 289, "f": 291, "p_a": 365, "p_b": 367, "p_c": 369,
              "pf_a": 383, "v_ab": 389, "v_an": 395, "v_cn": 399, "i_a": 401, "i_c": 405,
              "e_imp_a": 317, "e_exp_c": 327}
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def meter(tmp_path_factory):
    d = tmp_path_factory.mktemp("sim")
    sc = write_scenario(d / "wye.json", {"system_type": 40, "ct_primary_a": 200, "system_voltage_v": 480},
                        [wye(V, I, math.degrees(math.acos(PF)), F, 300)])
    port = free_port()
    sim = Sim(sc, "--http", str(port))
    sim.http_port = port
    sim.url = "http://127.0.0.1:%d" % port
    wait_port(port, 10, "the meter's web server")
    yield sim
    sim.stop()


def get(url, method="GET"):
    req = urllib.request.Request(url, method=method, data=b"x" if method == "POST" else None)
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.headers.get("Content-Type"), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read()


def api(meter):
    status, ctype, body = get(meter.url + "/api/readings")
    assert status == 200 and ctype == "application/json"
    return json.loads(body)


def wait_measured(meter, seconds, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        j = api(meter)
        if j["readings"]["t"] >= seconds:
            return j
        time.sleep(0.2)
    raise AssertionError("the meter did not reach second %d within %d s" % (seconds, timeout))


def modbus_float(client, reg):
    r = client.read_holding_registers(reg - 1, count=2, device_id=1)
    assert not r.isError(), r
    return struct.unpack(">f", struct.pack(">HH", *r.registers))[0]


def test_api_readings_agrees_with_the_modbus_float_registers_at_the_same_second(meter):
    wait_measured(meter, 2)
    c = ModbusTcpClient("127.0.0.1", port=meter.tcp_port, timeout=2)
    assert c.connect()
    try:
        for _attempt in range(10):  # a second may close between the reads: then again
            before = api(meter)
            regs = {k: modbus_float(c, r) for k, r in FLOAT_KEYS.items()}
            after = api(meter)
            if before["readings"]["t"] == after["readings"]["t"]:
                break
        else:
            pytest.fail("no API/Modbus/API read within one second in 10 tries")
    finally:
        c.close()
    rd = after["readings"]
    for k, v in regs.items():
        # the API prints the float32 with 7 significant digits
        assert rd[k] == pytest.approx(v, rel=1e-6, abs=1e-9), (k, rd[k], v)
    assert rd["p"] == pytest.approx(P_KW, rel=1e-3)
    assert after["serial"] == "SIM-0001" and after["firmware"] == "1.000"
    assert after["config"]["system_type"] == 40 and after["config"]["ct_primary"] == 200


def test_the_page_in_headless_chromium_shows_live_values_and_refreshes(meter, tmp_path):
    exe = require(chromium_binary(), "chromium")
    wait_measured(meter, 2)
    os.makedirs(ARTEFACTS, exist_ok=True)

    def chromium(profile, *args):
        # a new empty profile each run (no state from an earlier one)
        r = subprocess.run([exe] + CHROMIUM_FLAGS + ["--user-data-dir=%s" % (tmp_path / profile)]
                           + list(args) + [meter.url + "/"], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr[-2000:]
        return r.stdout

    # 3.5 s of the page's own time: it fetches /api/readings once a second
    dom = chromium("dom", "--dump-dom", "--virtual-time-budget=3500")
    updates = int(re.search(r'id="n">(\d+)<', dom).group(1))
    assert updates >= 2, "the page refreshed its values %d times" % updates
    second = int(re.search(r'id="t">(\d+)<', dom).group(1))
    assert second >= 2
    p = float(re.search(r'id="p">([-\d.]+)<', dom).group(1))
    assert p == pytest.approx(P_KW, rel=2e-3)  # printed with 3 decimals
    i_a = float(re.search(r'id="i_a">([-\d.]+)<', dom).group(1))
    assert i_a == pytest.approx(I, rel=1e-3)
    assert "SIM-0001" in dom and ">none<" in dom  # no alarms in this scenario
    shot = os.path.join(ARTEFACTS, "page.png")
    if os.path.exists(shot):
        os.remove(shot)
    chromium("shot", "--screenshot=%s" % shot, "--window-size=800,900", "--virtual-time-budget=2500")
    with open(shot, "rb") as fh:
        assert fh.read(8) == b"\x89PNG\r\n\x1a\n"


def test_nothing_on_the_network_changes_the_meter(meter):
    before = api(meter)["config"]
    status, _ctype, body = get(meter.url + "/api/readings", "POST")
    assert status == 405 and b"read-only" in body
    assert get(meter.url + "/nothing")[0] == 404
    assert api(meter)["config"] == before
