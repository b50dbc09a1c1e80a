# The live register image the Modbus server answers from. Built from the
# one table in regmap.py: refresh() re-encodes every register from the
# configuration, energy, demand, counters and the DSP's last readings into a
# back buffer and swaps it in, so a read always sees one second's
# consistent snapshot; read() only copies words and allocates nothing.
#
# Encoding (datasheet 'Modbus Point Map Overview', addendum): 32-bit values
# most significant register first; IEEE 754 floats; QNAN (0x8000,
# 0x7FC00000) for values not valid in the system type; SunSpec 'not
# implemented' (int16/sunssf 0x8000, uint16 0xFFFF, acc32 0, bitfield32
# 0xFFFFFFFF) in the SunSpec blocks; native energies kWh x 10^E (register
# 141), SunSpec ones Wh x 10^TotWh_SF.

import struct

import micropython
from micropython import const

import regmap
from alarms import events
from compat import ptr8  # noqa: F401  (viper cast; a no-op on CPython)
from config import PHASES, ConfigError
from energy import K_VAH_NET, K_WH_NET, MWS_PER_KWH, MWS_PER_WH, scaled
from readings import (
    E_VAH_EXP, E_VAH_IMP, E_VARH_Q1, E_VARH_Q2, E_VARH_Q3, E_VARH_Q4, E_WH_EXP, E_WH_IMP,
    R_FREQ, R_I, R_I_AVG, R_P, R_P_TOT, R_PF, R_PF_TOT, R_Q, R_Q_TOT, R_S, R_S_TOT, R_VLL,
    R_VLL_AVG, R_VLN, R_VLN_AVG,
)

# Modbus exception codes returned by read() and write()
OK = const(0)
ILLEGAL_ADDRESS = const(2)
ILLEGAL_VALUE = const(3)
DEVICE_FAILURE = const(4)

# register 129 commands
CMD_CLEAR_ENERGY = const(30078)
CMD_DEMAND_SYNC = const(21211)
CMD_PEAK_RESET = const(21212)
CMD_CLEAR_PULSES = const(16498)
CMD_RESET_LOG = const(16640)
_CMD_REG = const(129)

# value sources (regmap 'src' prefixes)
_S_READ = const(0)
_S_EN = const(1)
_S_DM = const(2)
_S_CFG = const(3)
_S_CONST = const(4)
_S_QNAN = const(5)
_S_CTR = const(6)
_S_ERR = const(7)
_S_RESETS = const(8)
_S_SS = const(9)
_S_STR = const(10)
_S_RTC = const(11)  # 155-157: bank.clock (rtc.py)
_S_LOG = const(12)  # 160-168: bank.datalog (datalog.py)
_S_CAL = const(13)  # 7201-7209: cfg.cal_gains x 10000, cfg.cal_phases x 1000
_I_SUM = const(-1)

# encodings
_E_RAW = const(0)  # integer as is (masked to the width)
_E_PHYS = const(1)  # physical value -> scaled, rounded, clamped 16-bit
_E_FLOAT = const(2)
_E_ENERGY = const(3)  # mWs count -> scaled 32-bit integer
_E_STR = const(4)

_READ_NAMES = {
    "P_TOT": R_P_TOT, "Q_TOT": R_Q_TOT, "S_TOT": R_S_TOT, "PF_TOT": R_PF_TOT,
    "VLL_AVG": R_VLL_AVG, "VLN_AVG": R_VLN_AVG, "I_AVG": R_I_AVG, "FREQ": R_FREQ,
    "I_SUM": _I_SUM,
}
_READ_BASES = {"VLN": R_VLN, "VLL": R_VLL, "I": R_I, "P": R_P, "Q": R_Q, "S": R_S, "PF": R_PF}
_PHASE = {"A": 0, "B": 1, "C": 2, "T": 3, "AB": 0, "BC": 1, "CA": 2}
_EN_KINDS = {
    "wh_imp": E_WH_IMP, "wh_exp": E_WH_EXP, "q1": E_VARH_Q1, "q2": E_VARH_Q2, "q3": E_VARH_Q3,
    "q4": E_VARH_Q4, "vah_imp": E_VAH_IMP, "vah_exp": E_VAH_EXP, "wh_net": K_WH_NET,
    "vah_net": K_VAH_NET,
}
_DM = ("p", "q", "s")
# scale -> fixed power of ten, or the config attribute holding it
_SCALES = {
    "": 0, "1": 0, "100": 0, "0.01": -2, "0.001": -3, "0.0001": -4, "E": "sf_e", "W": "sf_w", "V": "sf_v",
    "I": "sf_i", "A_SF": "ss_a_sf", "V_SF": "ss_v_sf", "W_SF": "ss_w_sf", "VA_SF": "ss_w_sf",
    "VAR_SF": "ss_w_sf", "Hz_SF": -2, "PF_SF": -2, "TotWh_SF": "ss_e_sf", "TotVAh_SF": "ss_e_sf",
    "TotVArh_SF": "ss_e_sf",
}
_UNIT_FACTOR = {"kW": 0.001, "kVAR": 0.001, "kVA": 0.001, "Pct": 100.0}


@micropython.viper
def _copy(dst: ptr8, doff: int, src: ptr8, soff: int, n: int):
    i = 0
    while i < n:
        dst[doff + i] = src[soff + i]
        i += 1


@micropython.viper
def _fill(dst: ptr8, doff: int, words: int, hi: int, lo: int):
    i = 0
    while i < words:
        dst[doff + 2 * i] = hi
        dst[doff + 2 * i + 1] = lo
        i += 1


class RegisterBank:
    def __init__(self, config, energy, demand, counters, serial="0"):
        self.cfg = config
        self.energy = energy
        self.demand = demand
        self.counters = counters
        self.readings = None  # the DSP's array('f'), readings.R_*
        self.valid = 0
        self.errors = 0  # register 146
        # a phase-loss alarm with a voltage below the 142 threshold (not only
        # imbalance): SunSpec's Under_Voltage event (alarms.events)
        self.under_voltage = False
        self.on_command = None  # called with a 129 value after it ran
        self.on_log_reset = None  # 129 = 16640 (DataLog.reset)
        self.clock = None  # rtc.Rtc behind 155-157 (set by DataLog)
        self.datalog = None  # datalog.DataLog: 160-168, 8000-13760, takes rows
        nwords = 0
        blocks = []
        for first, last in regmap.BLOCKS:
            blocks.append((first, last, nwords))
            nwords += last - first + 1
        self._blocks = blocks
        self._img = bytearray(2 * nwords)
        self._back = bytearray(2 * nwords)
        self._entries = []
        self._log_entries = []  # 160-168: re-encoded after a row is taken
        self._writable = {}
        ver = regmap.FW_VERSION
        vs = "%d.%03d" % (ver // 1000, ver % 1000)
        strings = {"mn": regmap.VENDOR, "md": regmap.MODEL, "opt": "", "vr": vs, "sn": str(serial)}
        for row in regmap.ROWS:
            self._compile(row, strings)
        self._id = bytes([247, 0xFF]) + (regmap.ID_STRING + vs).encode()
        self._objects = (regmap.VENDOR.encode(), regmap.PRODUCT.encode(), ("V" + vs).encode())
        # gaps inside blocks read GAP_WORD in both buffers; refresh never
        # writes them
        for buf in (self._img, self._back):
            for w in range(nwords):
                buf[2 * w] = regmap.GAP_WORD >> 8
                buf[2 * w + 1] = regmap.GAP_WORD & 0xFF
        self.refresh()

    # ---- building ------------------------------------------------------------
    def _word(self, reg):
        for first, last, base in self._blocks:
            if first <= reg <= last:
                return base + reg - first
        raise ValueError("register %d is in no block" % reg)

    def _compile(self, row, strings):
        reg, fmt, units, scale, src, rw, _nv, _name, _desc = row
        w = regmap.width(fmt)
        key, _, rest = src.partition(".")
        enc = _E_RAW
        a = b = 0
        if key == "rd":
            s = _S_READ
            if rest in _READ_NAMES:
                a = _READ_NAMES[rest]
            else:
                base, _, ph = rest.partition(".")
                a = _READ_BASES[base] + _PHASE[ph]
            b = _UNIT_FACTOR.get(units, 1.0)
            enc = _E_FLOAT if fmt == "Float" else _E_PHYS
        elif key == "en":
            s = _S_EN
            kind, _, ph = rest.partition(".")
            a = _EN_KINDS[kind]
            b = _PHASE[ph]
            enc = _E_FLOAT if fmt == "Float" else _E_ENERGY
        elif key == "dm":
            s = _S_DM
            q, _, pk = rest.partition("_pk_")
            a = _DM.index(q) + (0 if not pk else 3 if pk == "imp" else 6)
            b = _UNIT_FACTOR.get(units, 1.0)
            enc = _E_FLOAT if fmt == "Float" else _E_PHYS
        elif key == "cfg":
            s = _S_CFG
            a = rest
            getattr(self.cfg, a)  # fails here, at build, if the table names a missing key
            if rw == regmap.RW:
                self._writable[reg] = a
        elif key == "const":
            s = _S_CONST
            a = int(rest, 16) if rest.startswith("0x") else int(rest)
        elif key == "qnan":
            s = _S_QNAN
        elif key == "ctr":
            s = _S_CTR
            a = rest
            enc = _E_FLOAT if fmt == "Float" else _E_RAW
        elif key == "st":
            s = _S_ERR if rest == "errors" else _S_RESETS
        elif key == "ss":
            s = _S_SS
            a = rest
        elif key == "id":
            s = _S_STR
            a = strings[rest].encode()
            enc = _E_STR
        elif key == "fw":
            s = _S_CONST
            a = regmap.FW_VERSION
        elif key == "cmd":
            s = _S_CONST
            self._writable[reg] = None
        elif key == "rtc":
            s = _S_RTC
            a = int(rest)
            self._writable[reg] = a  # an int: clock word index
        elif key == "cal":
            s = _S_CAL
            kind, _, ch = rest.partition(".")
            a = 0 if kind == "gain" else 1
            b = int(ch)
            self._writable[reg] = (a, b)  # a tuple: a calibration word
        elif key == "log":
            s = _S_LOG
            a = int(rest)
        else:
            raise ValueError("register %d: unknown source %r" % (reg, src))
        e = (2 * self._word(reg), w, fmt, s, a, b, enc, _SCALES[scale])
        self._entries.append(e)
        if s == _S_LOG:
            self._log_entries.append(e)

    # ---- refresh ----------------------------------------------------------------
    def refresh(self, readings=None, valid=None, errors=None):
        """Re-encode every register; with arguments, from these DSP results."""
        if readings is not None:
            self.readings = readings
        if valid is not None:
            self.valid = valid
        if errors is not None:
            self.errors = errors
        buf = self._back
        self._encode(buf, self._entries)
        dl = self.datalog
        if dl is not None and dl.due:
            # end of a sub-interval: the log row is this image's values
            dl.take(buf)
            self._encode(buf, self._log_entries)
        self._back = self._img
        self._img = buf

    def _encode(self, buf, entries):
        cfg = self.cfg
        nph = PHASES[cfg.system_type]
        for off, w, fmt, s, a, b, enc, sc in entries:
            exp = sc if isinstance(sc, int) else getattr(cfg, sc)
            v = self._value(s, a, b, nph)
            if v is None:
                _put_absent(buf, off, fmt)
            elif enc == _E_RAW:
                _put_int(buf, off, w, v)
            elif enc == _E_PHYS:
                x = v * b / (10.0 ** exp)
                lo = 0 if fmt == "UInt" else -32767
                x = int(x + 0.5) if x >= 0 else -int(0.5 - x)
                _put_int(buf, off, 1, lo if x < lo else 32767 if x > 32767 else x)
            elif enc == _E_FLOAT:
                if s == _S_EN:
                    v = v / MWS_PER_KWH
                struct.pack_into(">f", buf, off, v * b if s != _S_EN and s != _S_CTR else v)
            elif enc == _E_ENERGY:
                base = MWS_PER_WH if fmt == "acc32" else MWS_PER_KWH
                _put_int(buf, off, 2, scaled(v, base, exp))
            else:  # _E_STR
                n = 2 * w
                for i in range(n):
                    buf[off + i] = v[i] if i < len(v) else 0

    def _value(self, s, a, b, nph):
        if s == _S_READ:
            r = self.readings
            if r is None:
                return None
            if a == _I_SUM:
                if not self.valid >> R_I_AVG & 1:
                    return None
                t = 0.0
                for k in range(3):
                    if self.valid >> (R_I + k) & 1:
                        t += r[R_I + k]
                return t
            return r[a] if self.valid >> a & 1 else None
        if s == _S_EN:
            if b < 3 and b >= nph:
                return None  # a phase this system type does not have
            return self.energy.count(a, b)
        if s == _S_DM:
            d = self.demand
            return (d.present, d.peak_imp, d.peak_exp)[a // 3][a % 3]
        if s == _S_CFG:
            return int(getattr(self.cfg, a))
        if s == _S_CONST:
            return a
        if s == _S_QNAN:
            return None
        if s == _S_CTR:
            return getattr(self.counters, a) & 0xFFFFFFFF
        if s == _S_ERR:
            return self.errors & 0xFFFF
        if s == _S_RTC:
            c = self.clock
            return 0 if c is None else c.word(a)
        if s == _S_LOG:
            d = self.datalog
            return 0 if d is None else d.reg(a)
        if s == _S_CAL:
            if a == 0:
                return int(self.cfg.cal_gains[b] * 10000.0 + 0.5)
            x = self.cfg.cal_phases[b] * 1000.0
            return int(x + 0.5) if x >= 0 else -int(0.5 - x)
        if s == _S_RESETS:
            return self.energy.resets
        if s == _S_SS:
            cfg = self.cfg
            if a == "ID":
                return regmap.SS_MODEL_BY_TYPE[cfg.system_type]
            if a == "Evt":
                return events(self.errors, self.under_voltage)
            sc = _SCALES[a]
            return (sc if isinstance(sc, int) else getattr(cfg, sc)) & 0xFFFF
        return a  # _S_STR: bytes

    # ---- the Modbus layer's interface ------------------------------------------
    def read(self, addr, count, out, off):
        """Copy `count` registers from protocol address `addr` (register
        addr + 1) big-endian into `out` at `off`. 0, or 2 (illegal data
        address) without writing when any of them is in no block."""
        if count < 1:
            return ILLEGAL_ADDRESS
        reg = addr + 1
        end = reg + count - 1
        if regmap.LOG_WINDOW[0] <= reg and end <= regmap.LOG_WINDOW[1]:
            dl = self.datalog
            if dl is None:
                _fill(out, off, count, regmap.LOG_WORD >> 8, regmap.LOG_WORD & 0xFF)
            else:
                dl.read_window(reg - regmap.LOG_WINDOW[0], count, out, off)
            return OK
        for first, last, base in self._blocks:
            if first <= reg and end <= last:
                _copy(out, off, self._img, 2 * (base + reg - first), 2 * count)
                return OK
        return ILLEGAL_ADDRESS

    def write(self, addr, values):
        """Write registers addr+1 .. (values: ints 0..65535). 0 ok; 2 when
        any of them is not writable; 3 when a value is refused; 4 on an
        internal failure. All or nothing."""
        reg = addr + 1
        changes = {}
        cmds = []
        clk = -1  # first clock word index written, -1 none
        for i in range(len(values)):
            r = reg + i
            if r not in self._writable:
                return ILLEGAL_ADDRESS
            v = values[i]
            if not 0 <= v <= 0xFFFF:
                return ILLEGAL_VALUE
            key = self._writable[r]
            if isinstance(key, int):  # 155-157, consecutive in one request
                if clk < 0:
                    clk = i
                continue
            if isinstance(key, tuple):  # 7201-7209: one validation path, Config.apply
                gains, phases = _cal_change(self.cfg, changes)
                if key[0] == 0:
                    gains[key[1]] = v / 10000.0
                else:
                    phases[key[1]] = (v - 0x10000 if v & 0x8000 else v) / 1000.0
                continue
            if key is None:  # 129
                if v not in (CMD_CLEAR_ENERGY, CMD_DEMAND_SYNC, CMD_PEAK_RESET, CMD_CLEAR_PULSES,
                             CMD_RESET_LOG):
                    return ILLEGAL_VALUE
                cmds.append(v)
            else:
                changes[key] = v
        if clk >= 0:
            # 155-157: checked before anything changes (all or nothing)
            n = 0
            while clk + n < len(values) and isinstance(self._writable[reg + clk + n], int):
                n += 1
            words = values[clk:clk + n]
            if self.clock is None:
                return ILLEGAL_ADDRESS
            if self.clock.check(self._writable[reg + clk], words) is None:
                return ILLEGAL_VALUE
        try:
            if changes:
                self.cfg.apply(changes)
            if clk >= 0:
                self.clock.write(self._writable[reg + clk], words)
            for v in cmds:
                self.command(v)
            self.refresh()
        except ConfigError:
            return ILLEGAL_VALUE
        except Exception:
            return DEVICE_FAILURE
        return OK

    def command(self, v):
        """Register 129 (also for the display's RESET menu)."""
        if v == CMD_CLEAR_ENERGY:
            self.energy.clear()
        elif v == CMD_DEMAND_SYNC:
            self.demand.sync()
        elif v == CMD_PEAK_RESET:
            self.demand.reset_peaks()
        elif v == CMD_CLEAR_PULSES:
            self.counters.clear()
        elif v == CMD_RESET_LOG:
            if self.on_log_reset is not None:
                self.on_log_reset()
        else:
            raise ConfigError("BAD CMD")
        if self.on_command is not None:
            self.on_command(v)

    def slave_id(self):
        # 0x11 payload after the byte count: ID byte 247, run status 0xFF, ID string
        return self._id

    def device_id_objects(self):
        # 0x2B/0x0E basic objects 0x00 vendor, 0x01 product code, 0x02 revision
        return self._objects


def _cal_change(cfg, changes):
    # the calibration lists of this write, started from the present values
    if "cal_gains" not in changes:
        changes["cal_gains"] = list(cfg.cal_gains)
        changes["cal_phases"] = list(cfg.cal_phases)
    return changes["cal_gains"], changes["cal_phases"]


def _put_int(buf, off, w, v):
    if w == 2:
        v &= 0xFFFFFFFF
        buf[off] = v >> 24
        buf[off + 1] = (v >> 16) & 0xFF
        buf[off + 2] = (v >> 8) & 0xFF
        buf[off + 3] = v & 0xFF
    else:
        v &= 0xFFFF
        buf[off] = v >> 8
        buf[off + 1] = v & 0xFF


def _put_absent(buf, off, fmt):
    # QNAN (native) or SunSpec 'not implemented'
    if fmt == "Float":
        _put_int(buf, off, 2, 0x7FC00000)
    elif fmt in ("ULong", "SLong"):
        _put_int(buf, off, 2, 0x80000000)
    elif fmt == "acc32":
        _put_int(buf, off, 2, 0)
    elif fmt == "bitfield32":
        _put_int(buf, off, 2, 0xFFFFFFFF)
    elif fmt == "uint16":
        _put_int(buf, off, 1, 0xFFFF)
    else:  # UInt, SInt, int16, sunssf
        _put_int(buf, off, 1, 0x8000)
