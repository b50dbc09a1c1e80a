# What the network shows of the meter (MQTT state, /api/readings, the web
# page): the IEEE float registers 257+ read from the register image itself
# (RegisterBank.read, as a Modbus master would), so a value on the network
# is, to the last bit of its float32, the value Modbus holds for the same
# second. A register that reads QNaN (0x7FC00000: not valid in the system
# type, or no data) is JSON null. Loaded only by boards with a network
# (boards/pico_w_ads131m06.py) and the virtual meter's --mqtt/--http.
import struct

from micropython import const

# sensor kinds: Home Assistant MQTT sensor (unit, device_class, state_class)
K_P = const(0)
K_Q = const(1)
K_S = const(2)
K_PF = const(3)
K_V = const(4)
K_I = const(5)
K_F = const(6)
K_E = const(7)  # energy that only grows: import, export
K_ENET = const(8)  # net energy: may fall
KINDS = (
    ("kW", "power", "measurement"),
    ("kvar", "reactive_power", "measurement"),
    ("kVA", "apparent_power", "measurement"),
    (None, "power_factor", "measurement"),
    ("V", "voltage", "measurement"),
    ("A", "current", "measurement"),
    ("Hz", "frequency", "measurement"),
    ("kWh", "energy", "total_increasing"),
    ("kWh", "energy", "total"),
)

# (JSON key, float register, kind, entity name): regmap.py rows 257-406
SENSORS = (
    ("p", 277, K_P, "Power"), ("q", 279, K_Q, "Reactive power"),
    ("s", 281, K_S, "Apparent power"), ("pf", 283, K_PF, "Power factor"),
    ("v_ll", 285, K_V, "Voltage L-L"), ("v_ln", 287, K_V, "Voltage L-N"),
    ("i", 289, K_I, "Current"), ("f", 291, K_F, "Frequency"),
    ("e_imp", 259, K_E, "Energy import"), ("e_exp", 261, K_E, "Energy export"),
    ("e_net", 257, K_ENET, "Energy net"),
    ("p_a", 365, K_P, "Power A"), ("p_b", 367, K_P, "Power B"), ("p_c", 369, K_P, "Power C"),
    ("pf_a", 383, K_PF, "Power factor A"), ("pf_b", 385, K_PF, "Power factor B"),
    ("pf_c", 387, K_PF, "Power factor C"),
    ("v_an", 395, K_V, "Voltage A-N"), ("v_bn", 397, K_V, "Voltage B-N"),
    ("v_cn", 399, K_V, "Voltage C-N"),
    ("v_ab", 389, K_V, "Voltage A-B"), ("v_bc", 391, K_V, "Voltage B-C"),
    ("v_ca", 393, K_V, "Voltage C-A"),
    ("i_a", 401, K_I, "Current A"), ("i_b", 403, K_I, "Current B"), ("i_c", 405, K_I, "Current C"),
    ("e_imp_a", 317, K_E, "Energy import A"), ("e_imp_b", 319, K_E, "Energy import B"),
    ("e_imp_c", 321, K_E, "Energy import C"),
    ("e_exp_a", 323, K_E, "Energy export A"), ("e_exp_b", 325, K_E, "Energy export B"),
    ("e_exp_c", 327, K_E, "Energy export C"),
)

# the configuration shown read-only: (JSON key, Config attribute)
CONFIG = (("system_type", "system_type"), ("ct_primary", "ct_primary"),
          ("ct_secondary", "ct_secondary"), ("pt_ratio_x100", "pt_ratio"),
          ("system_voltage", "system_voltage"), ("modbus_address", "address"),
          ("baud", "baud"), ("demand_s", "demand_len"))


# The registers are read in three runs, one bank.read each (a read's cost
# is mostly per call, not per register): 257-292, 317-328, 365-406.
_RUNS = ((257, 36), (317, 12), (365, 42))
_RUN_BYTES = const(180)  # 2 x (36 + 12 + 42)


def _offset(reg):
    # the byte offset of float register `reg` in a StateBuild's buffer
    if reg < 317:
        return 2 * (reg - 257)
    if reg < 365:
        return 72 + 2 * (reg - 317)
    return 96 + 2 * (reg - 365)


class View:
    def __init__(self, meter):
        self.meter = meter

    @property
    def seconds(self):
        return self.meter.dsp.seconds

    def identity(self):
        # regtable.STRINGS order: vendor, model, options, version, serial
        return tuple(s.decode() for s in self.meter.bank._strings)

    def state_json(self):
        """One JSON object: the second, then every SENSORS value (at once)."""
        b = StateBuild(self)
        while not b.step():
            pass
        return b.text()

    def api_head(self):
        """/api/readings before its "readings" (the state): the identity,
        register 146's error bits, the configuration (read-only)."""
        m = self.meter
        c = m.config
        ident = self.identity()
        cfg = ",".join('"%s":%d' % (k, getattr(c, a)) for k, a in CONFIG)
        return '{"serial":"%s","firmware":"%s","errors":%d,"config":{%s},"readings":' % (
            ident[4], ident[3], m.errors(), cfg)

    def api_json(self):
        return self.api_head() + self.state_json() + "}"


class StateBuild:
    """A state message built over several polls, so no poll pays for all of
    it: first the three register runs (one bank.read a poll, as a Modbus
    master would read them), then STEP values a poll into JSON (the float
    formatting is the dear part on the RP2040). Begun again if the register
    image takes a new snapshot before it is complete, so the message is one
    second's. mask: bit i set when SENSORS[i] had a value (not QNaN), the
    set Home Assistant is told about."""

    STEP = 1  # a value a poll on the RP2040 (tools/bench_net_chip.py)

    def __init__(self, view):
        self.view = view
        self.buf = bytearray(_RUN_BYTES)
        self.start()

    def start(self):
        v = self.view
        self.gen = v.meter.bank.generation
        self.t = v.seconds
        self.parts = ['{"t":%d' % self.t]
        self.runs = 0  # register runs read
        self.i = 0  # SENSORS formatted
        self.mask = 0

    def step(self):
        """One bounded piece; True once the message is complete (and still
        that second's)."""
        v = self.view
        bank = v.meter.bank
        if bank.generation != self.gen:
            self.start()
            return False
        k = self.runs
        if k < len(_RUNS):
            first, count = _RUNS[k]
            bank.read(first - 1, count, self.buf, _offset(first))
            self.runs = k + 1
            return False
        n = len(SENSORS)
        i = self.i
        if i >= n:
            return True
        end = i + self.STEP if i + self.STEP < n else n
        parts = self.parts
        buf = self.buf
        while i < end:
            key, reg, _kind, _name = SENSORS[i]
            x = struct.unpack_from(">f", buf, _offset(reg))[0]
            if x == x:  # not QNaN; float32 holds 7 significant digits, %.7g prints them
                self.mask |= 1 << i
                parts.append(',"%s":%.7g' % (key, x))  # one format: each costs ~0.3 ms on the chip
            else:
                parts.append(',"%s":null' % key)
            i += 1
        self.i = i
        if i == n:
            parts.append("}")
            return True
        return False

    def text(self):
        return "".join(self.parts)
