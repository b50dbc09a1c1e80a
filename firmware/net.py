# The meter's network services, built from a settings dict (the Pico W's
# /net.json written by tools/deploy.py; the virtual meter's --mqtt/--http)
# and polled from the main loop: runtime.py calls poll(now_ms) once in a
# turn without a long task, and each poll serves ONE service (round robin),
# so a turn spends at most one service's bounded step on the network.
#   mqtt_host, mqtt_port (1883), mqtt_user, mqtt_password, mqtt_prefix,
#   mqtt_period_s (10)             -> net_ha.HaPublisher (absent: no MQTT)
#   http_port (80, 0: off)         -> net_http.HttpServer
#   modbus_tcp_port (502, 0: off)  -> net_tcp.ModbusTcpServer
#   page                           the web page's path on the filesystem
# `link` is an optional first service (the board's Wi-Fi station); the
# others start only once link.up is true (a socket needs an interface).
from net_view import View

SETTINGS_PATH = "/net.json"


def load_settings(path=None):
    """The settings file as a dict; {} when there is none (no network)."""
    import json

    path = path or SETTINGS_PATH
    try:
        with open(path) as f:
            s = json.load(f)
    except (OSError, ValueError):
        return {}
    return s if isinstance(s, dict) else {}


class Network:
    def __init__(self, app, settings, link=None, clock=None, host="0.0.0.0"):
        self.app = app
        self.settings = settings
        self.link = link
        self.clock = clock
        self.host = host
        self.view = View(app.meter)
        self.services = []
        self.mqtt = self.http = self.modbus = None
        self.errors = 0
        self.last_error = None
        self._i = 0
        self._started = False

    def start(self):
        self._started = True  # once: a port that cannot be bound is not retried each turn
        s = self.settings
        v = self.view
        if s.get("mqtt_host"):
            from net_ha import HaPublisher

            self.mqtt = HaPublisher(v, s["mqtt_host"], int(s.get("mqtt_port", 1883)),
                                    s.get("mqtt_prefix"), int(s.get("mqtt_period_s", 10)),
                                    s.get("mqtt_user"), s.get("mqtt_password"),
                                    _clock3(self.clock))
            self.services.append(self.mqtt)
        port = int(s.get("http_port", 80))
        if port:
            from net_http import HttpServer

            self.http = HttpServer(v, s.get("page", "/lib/net_page.html"), port, self.clock, self.host)
            self.services.append(self.http)
        port = int(s.get("modbus_tcp_port", 502))
        if port:
            from net_tcp import ModbusTcpServer

            self.modbus = ModbusTcpServer(self.app.pdu, self.app.meter.config, port, self.clock,
                                          self.host)
            self.services.append(self.modbus)

    def poll(self, now):
        link = self.link
        try:
            if link is not None:
                link.poll(now)
                if not link.up:
                    return
            if not self._started:
                self.start()
            sv = self.services
            if sv:
                i = self._i % len(sv)
                self._i = i + 1
                sv[i].poll(now)
        except Exception as e:  # a network fault never stops the meter
            self.errors += 1
            self.last_error = e

    def status(self):
        """0: no network configured, 1: link down, 2: link up, 3: MQTT
        connected too (the code the display and the status show)."""
        if not self.settings:
            return 0
        if self.link is not None and not self.link.up:
            return 1
        return 3 if self.mqtt is not None and self.mqtt.client.up else 2

    def close(self):
        if self.mqtt is not None:
            self.mqtt.close()
        for s in (self.http, self.modbus):
            if s is not None:
                s.close()


def _clock3(clock):
    if clock is None:
        return None
    return clock.ticks_ms, clock.ticks_diff, clock.ticks_add
