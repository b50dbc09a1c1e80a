# The reference board with a Pico W: pico_ads131m06's wiring and drivers,
# plus the CYW43439 radio as a Wi-Fi station and the network services
# (firmware/net.py: Modbus TCP on 502, MQTT with Home Assistant discovery,
# the web page on 80; docs/network.md).
#
# Settings: /net.json on the board's filesystem, written by `make deploy
# BOARD=pico_w_ads131m06` (tools/deploy.py) from net.local.json or METER_*
# environment variables on the build machine, never from the repository:
#   {"wifi_ssid": ..., "wifi_password": ..., "hostname": ...,
#    "mqtt_host": ..., "mqtt_port": 1883, "mqtt_user": ..., ...}
# Without the file, or without the `network` module (a plain Pico, the
# emulated one), the board is the reference board: no network code loads.
#
# Pins: the radio owns GP23 (WL_ON), GP24 (WL_D), GP25 (WL_CS) and GP29
# (WL_CLK); the reference board uses none of them but GP25, its status LED,
# which on the Pico W is the radio's chip select: the LED here is the
# radio's WL_GPIO0 (machine.Pin("LED")), and the radio's driver takes GP25
# back when the interface is made active.
from pico_ads131m06 import (  # noqa: F401  (the board's constants, for tools and tests)
    CAL_GAINS,
    CAL_PHASE_DEG,
    FS,
    SYSTEM_TYPES,
    frontend,
)
from pico_ads131m06 import PINS as _PINS
from pico_ads131m06 import make_hardware as _reference_hardware

NAME = "pico_w_ads131m06"
DESCRIPTION = "three-phase reference board with a Pico W: Wi-Fi, Modbus TCP, MQTT, web page"
PINS = tuple(r for r in _PINS if r[0] != "Status LED") + (
    ("Status LED", "WL_GPIO0", "on the CYW43439 radio: machine.Pin('LED')"),
    ("Radio", "GP23 GP24 GP25 GP29", "CYW43439 WL_ON, WL_D, WL_CS, WL_CLK (owned by the radio driver)"),
)
RETRY_MS = 5000  # Wi-Fi reconnect back-off: 5 s doubling to 80 s
RETRY_MAX_MS = 80000
CHECK_MS = 500  # how often the link state is read


class WifiLink:
    """The station interface, polled by net.Network: connects without
    waiting (WLAN.connect returns at once; the radio's driver associates in
    the background), reads the link state every CHECK_MS, and asks again
    after a back-off while it is down."""

    def __init__(self, network, ssid, password, hostname=None, clock=None):
        if clock is None:
            import time as clock
        self.clock = clock
        if hostname:
            network.hostname(hostname)
        self.wlan = network.WLAN(network.STA_IF)
        self.wlan.active(True)
        self.wlan.config(pm=0xA11140)  # power saving off: answers within a turn, not a DTIM
        self.ssid = ssid
        self.password = password
        self.up = False
        self.connects = 0  # times the link came up
        self.attempts = 0
        self._backoff = RETRY_MS
        self._check = None  # the first poll checks and connects at once
        self._retry = None

    def poll(self, now):
        d = self.clock.ticks_diff
        if self._check is not None and d(now, self._check) < CHECK_MS:
            return
        self._check = now
        up = self.wlan.isconnected()
        if up and not self.up:
            self.connects += 1
            self._backoff = RETRY_MS
        self.up = up
        if not up and (self._retry is None or d(now, self._retry) >= 0):
            self.attempts += 1
            self.wlan.connect(self.ssid, self.password)
            self._retry = self.clock.ticks_add(now, self._backoff)
            self._backoff = min(2 * self._backoff, RETRY_MAX_MS)

    def address(self):
        return self.wlan.ifconfig()[0] if self.up else None


def make_hardware(ct_secondary=1, baud=9600):
    hw = _reference_hardware(ct_secondary, baud)
    hw.name = NAME
    hw.make_services = None
    try:
        import network
    except ImportError:  # a Pico without the radio: the reference board
        return hw
    import machine

    from net import load_settings

    settings = load_settings()
    if not settings.get("wifi_ssid"):
        return hw  # no settings file: no network code beyond this
    link = WifiLink(network, settings["wifi_ssid"], settings.get("wifi_password", ""),
                    settings.get("hostname"))
    hw.led = machine.Pin("LED", machine.Pin.OUT, value=0)
    hw.wifi = link

    def make_services(app):
        from net import Network

        return Network(app, settings, link)

    hw.make_services = make_services
    return hw
