# The meter on MQTT for Home Assistant (MQTT discovery, HA's MQTT sensor
# schema): on each new session
#   <prefix>/status                      "online", retained (the last will
#                                        sets "offline" when the meter drops)
#   homeassistant/sensor/<node>/<key>/config   one retained config a sensor
#                                        that has a value in the system type
# then every `period_s` measured seconds one JSON state message
#   <prefix>/state   {"t": second, "p": kW, ..., "e_imp": kWh, ...}
# (net_view.py: the float registers 257+, so MQTT, the web page and Modbus
# agree). Energy is in kWh, device_class energy, state_class
# total_increasing (import, export) or total (net): the units and classes
# HA's energy dashboard takes. A sensor whose register is QNaN in the system
# type (e.g. phase C on a single-phase meter) gets no config; if the set
# changes (system type changed) the configs are sent again and those gone
# are removed by an empty retained config, as HA's discovery prescribes.
# Discovery waits for the first measured second: before it every register
# is QNaN and the set is not known yet; the set is the one the state
# message about to go found (StateBuild.mask). A poll reads at most
# StateBuild.STEP registers or builds one config, and hands the client at
# most one message.
from net_mqtt import MqttClient
from net_view import KINDS, SENSORS, StateBuild

DISCOVERY = "homeassistant"


class HaPublisher:
    def __init__(self, view, host, port=1883, prefix=None, period_s=10, user=None, password=None,
                 clock=None):
        self.view = view
        ident = view.identity()
        self.serial = ident[4]
        self.version = ident[3]
        self.model = ident[1]
        self.vendor = ident[0]
        self.node = "meter_" + "".join(c if c.isalpha() or c.isdigit() else "_" for c in self.serial)
        self.prefix = prefix or self.node
        self.period_s = period_s
        self.status_topic = self.prefix + "/status"
        self.state_topic = self.prefix + "/state"
        self._tail = self._config_tail()
        self.client = MqttClient(host, port, self.node, will_topic=self.status_topic,
                                 will_msg=b"offline", user=user, password=password, clock=clock)
        self._session = 0  # client.connects when the session's first messages went
        self._mask = 0  # sensors whose configs are published
        self._want = 0  # the set to publish (valid sensors)
        self._next = -1  # next SENSORS index to (re)publish; -1: none pending
        self._last_t = None  # the second of the last state message
        self._build = None  # net_view.StateBuild under way
        self.states = 0

    def poll(self, now):
        c = self.client
        c.poll(now)
        if not (c.up and c.idle):
            return
        v = self.view
        if self._session != c.connects:
            self._session = c.connects
            self._next = -1
            self._build = None
            self._mask = 0  # a new session: configs again (the broker may have lost them)
            c.publish(self.status_topic, b"online", True)
            return
        if self._next >= 0:
            self._discovery_step()
            return
        b = self._build
        if b is None:
            if v.seconds >= 1 and self._due(v.seconds):
                self._build = StateBuild(v)  # its registers are read over the next polls
            return
        if not b.step():
            return
        if b.mask and b.mask != self._mask:
            # the set of sensors with a value is new: tell HA first
            self._want = b.mask
            self._next = 0
            return
        if c.publish(self.state_topic, b.text()):
            self._last_t = b.t
            self._build = None
            self.states += 1

    def _due(self, t):
        last = self._last_t
        return last is None or t - last >= self.period_s

    def _discovery_step(self):
        i = self._next
        n = len(SENSORS)
        while i < n:
            bit = 1 << i
            on = self._want & bit
            if on or self._mask & bit:  # new, or to be removed
                if not self.client.publish(self.config_topic(i),
                                           self.config_json(i) if on else b"", True):
                    return
                self._next = i + 1 if i + 1 < n else -1
                if i + 1 == n:
                    self._mask = self._want
                return
            i += 1
        self._next = -1
        self._mask = self._want

    def config_topic(self, i):
        return "%s/sensor/%s/%s/config" % (DISCOVERY, self.node, SENSORS[i][0])

    def config_json(self, i):
        key, reg, kind, name = SENSORS[i]
        unit, dev_class, state_class = KINDS[kind]
        u = ',"unit_of_measurement":"%s"' % unit if unit else ""
        return ('{"name":"%s","unique_id":"%s_%s","state_topic":"%s",'
                '"value_template":"{{ value_json.%s }}"%s,"device_class":"%s","state_class":"%s",') % (
            name, self.node, key, self.state_topic, key, u, dev_class, state_class) + self._tail

    def _config_tail(self):
        # what every config shares (availability, expiry, the device block):
        # made once, not formatted again for each of ~33 configs
        return ('"availability_topic":"%s","expire_after":%d,"device":{"identifiers":["%s"],'
                '"name":"Energy meter %s","manufacturer":"%s","model":"%s",'
                '"serial_number":"%s","sw_version":"%s"}}') % (
            self.status_topic, 3 * self.period_s + 30, self.node, self.serial, self.vendor,
            self.model, self.serial, self.version)

    def close(self):
        # a planned stop: say offline (as the will would), then DISCONNECT
        self.client.close(self.status_topic, b"offline")
