"""The Pico W board (boards/pico_w_ads131m06.py, issue 14): what `make
deploy` puts on it (and keeps off the plain Pico), its settings file, the
Wi-Fi station's back-off, and the reference runtime with the network
services loaded: it serves /api/readings over a real socket and loses no
frame (host_tests/test_runtime.py's bench: the reference board's fakes)."""

import importlib
import json
import os
import socket
import sys
import types

import deploy
import net
import pytest
import test_runtime as tr

W = "pico_w_ads131m06"


def test_deploy_puts_the_network_only_on_the_pico_w(tmp_path, monkeypatch):
    monkeypatch.setenv("METER_WIFI_SSID", "meter-net")
    monkeypatch.setenv("METER_MQTT_HOST", "10.0.0.2")
    monkeypatch.setattr(deploy, "NET_SETTINGS", str(tmp_path / "none.json"))
    w = deploy.stage(W, build_dir=str(tmp_path / "w"))
    lib = os.listdir(os.path.join(w, "lib"))
    for f in ("net.mpy", "net_mqtt.mpy", "net_ha.mpy", "net_http.mpy", "net_tcp.mpy", "net_view.mpy",
              "modbus_tcp.mpy", "net_page.html", "pico_ads131m06.mpy", W + ".mpy"):
        assert f in lib, f
    with open(os.path.join(w, "net.json")) as fh:
        s = json.load(fh)
    assert s["wifi_ssid"] == "meter-net" and s["mqtt_host"] == "10.0.0.2"
    assert s["page"] == "/lib/net_page.html"
    assert "net.json" in deploy.deploy_command("/dev/ttyACM0", w)
    # the plain Pico's heap has ~2.7 KB to spare: no network module on it
    plain = deploy.stage("pico_ads131m06", build_dir=str(tmp_path / "p"))
    lib = os.listdir(os.path.join(plain, "lib"))
    assert not [f for f in lib if f.startswith("net") or f == "modbus_tcp.mpy"], lib
    assert not os.path.exists(os.path.join(plain, "net.json"))
    assert "net.json" not in deploy.deploy_command("/dev/ttyACM0", plain)


def test_settings_come_from_the_local_file_then_the_environment(tmp_path):
    local = tmp_path / "net.local.json"
    local.write_text('{"wifi_ssid": "a", "mqtt_port": 1883, "http_port": 80}')
    s = deploy.net_settings(str(local), {"METER_MQTT_PORT": "8883", "METER_WIFI_PASSWORD": "pw"})
    assert s["wifi_ssid"] == "a" and s["mqtt_port"] == 8883 and s["wifi_password"] == "pw"
    assert s["http_port"] == 80
    local.write_text("{not json")
    with pytest.raises(SystemExit, match="not JSON"):
        deploy.net_settings(str(local), {})
    with pytest.raises(SystemExit, match="not a number"):
        deploy.net_settings(str(tmp_path / "none.json"), {"METER_MQTT_PORT": "x"})
    with open(os.path.join(deploy.ROOT, ".gitignore")) as fh:
        assert "net.local.json" in fh.read().split()  # credentials never committed


class FakeWlan:
    def __init__(self):
        self.connected = False
        self.connects = []
        self.active_calls = []

    def active(self, on):
        self.active_calls.append(on)

    def config(self, **kw):
        self.cfg = kw

    def connect(self, ssid, password):
        self.connects.append((ssid, password))

    def isconnected(self):
        return self.connected

    def ifconfig(self):
        return ("192.0.2.7", "255.255.255.0", "192.0.2.1", "192.0.2.1")


def fake_network():
    wlan = FakeWlan()
    mod = types.ModuleType("network")
    mod.STA_IF = 0
    mod.WLAN = lambda _if: wlan
    mod.hostname = lambda name: setattr(mod, "name", name)
    return mod, wlan


class Ticks:
    def __init__(self):
        self.t = 0

    def ticks_ms(self):
        return self.t

    def ticks_diff(self, a, b):
        return a - b

    def ticks_add(self, a, b):
        return a + b


def test_wifi_reconnects_with_a_doubling_back_off():
    board = importlib.import_module(W)
    mod, wlan = fake_network()
    clk = Ticks()
    link = board.WifiLink(mod, "ssid", "pw", "meter1", clock=clk)
    assert wlan.active_calls == [True] and mod.name == "meter1"
    asked = []
    for clk.t in range(0, 200001, 100):  # 200 s down
        link.poll(clk.t)
        if len(wlan.connects) > len(asked):
            asked.append(clk.t)
    # 5 s, doubling, at most 80 s between attempts
    gaps = [b - a for a, b in zip(asked, asked[1:])]
    assert gaps[:4] == [5000, 10000, 20000, 40000] and max(gaps) <= board.RETRY_MAX_MS, gaps
    wlan.connected = True
    clk.t += 1000
    link.poll(clk.t)
    assert link.up and link.connects == 1 and link.address() == "192.0.2.7"


def test_the_runtime_serves_the_api_from_the_pico_w_board_and_loses_no_frame(tmp_path, monkeypatch):
    mod, wlan = fake_network()
    wlan.connected = True
    monkeypatch.setitem(sys.modules, "network", mod)
    http_port = tr_free_port()
    settings = tmp_path / "net.json"
    settings.write_text(json.dumps({"wifi_ssid": "s", "http_port": http_port, "modbus_tcp_port": 0,
                                    "page": os.path.join(deploy.ROOT, "firmware", "net_page.html")}))
    monkeypatch.setattr(net, "SETTINGS_PATH", str(settings))
    board = importlib.import_module(W)
    monkeypatch.setattr(tr.board, "make_hardware", board.make_hardware)
    b = tr.Bench(tmp_path)
    rt = b.rt
    assert rt.services is not None and rt.hw.led.id == "LED"
    b.run(2.2)
    assert rt.services.http is not None, rt.services.last_error
    c = socket.create_connection(("127.0.0.1", http_port), timeout=2)
    c.sendall(b"GET /api/readings HTTP/1.1\r\nHost: meter\r\n\r\n")
    b.run(3.0)  # the loop serves it a step a turn (an answer is ~40 steps: docs/network.md)
    c.settimeout(2)
    reply = b""
    while True:
        got = c.recv(4096)
        if not got:
            break
        reply += got
    c.close()
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 200") and b"application/json" in head
    j = json.loads(body)
    assert j["readings"]["t"] >= 2 and j["readings"]["v_an"] is not None
    st = rt.status()
    assert st["lost"] == 0 and st["overruns"] == 0 and rt.services.errors == 0
    rt.services.close()


def tr_free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
