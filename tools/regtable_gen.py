"""Compile firmware/regmap.py (the one register table, with its texts) into
firmware/regtable.py: the compact form the board carries. Every row becomes
one 10-byte record in one bytes constant, so nothing is built at run time
and regmap.py itself never goes onto the board (its rows, names and
descriptions took ~56 KB of a Pico's heap as .mpy).

A record (big-endian register first, sorted by register):
    0-1  register (base 1)      2  width in registers    3  FMT index
    4    source (S_*)           5  a                      6  b
         (a 32-bit const row: a, b index its high and low half in CONSTS)
    7    encoding (E_*)         8  SCALES index           9  1 if writable
firmware/registers.py reads the records; the S_*/E_*/U_* numbers below are
the ones it declares (host_tests/test_gen_docs.py checks they agree).
Written by tools/gen_docs.py with the docs; `--check` finds it stale.
"""

import os
import struct
import sys
import textwrap

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "firmware"))

import regmap  # noqa: E402

PATH = os.path.join(ROOT, "firmware", "regtable.py")
REC = 10

# value sources
S_READ, S_EN, S_DM, S_CFG, S_CONST, S_QNAN, S_CTR, S_ERR, S_RESETS = range(9)
S_SSID, S_STR, S_RTC, S_LOG, S_CAL, S_CMD, S_SSEVT, S_SSSF, S_NV, S_SEAL = range(9, 19)
# encodings
E_RAW, E_PHYS, E_FLOAT, E_ENERGY, E_STR = range(5)
# unit factors (b of rd/dm rows): the register's unit over the DSP's
U_ONE, U_KILO, U_PCT = range(3)  # x 10^0, 10^-3, 10^2
_UNIT = {"kW": U_KILO, "kVAR": U_KILO, "kVA": U_KILO, "Pct": U_PCT}
I_SUM = 255  # rd.I_SUM: the sum of the valid phase currents

FMTS = ("UInt", "SInt", "ULong", "SLong", "Float", "uint16", "int16", "uint32", "sunssf", "acc32",
        "bitfield32", "string")
STRINGS = ("mn", "md", "opt", "vr", "sn")

# readings.R_* (firmware/readings.py; checked against it by the test)
READ_NAMES = {"VLN": 0, "VLL": 3, "I": 6, "P": 9, "Q": 12, "S": 15, "PF": 18, "P_TOT": 21, "Q_TOT": 22,
              "S_TOT": 23, "PF_TOT": 24, "VLL_AVG": 25, "VLN_AVG": 26, "I_AVG": 27, "FREQ": 28}
PHASE = {"A": 0, "B": 1, "C": 2, "T": 3, "AB": 0, "BC": 1, "CA": 2}
# readings.E_* and energy.K_*_NET
EN_KINDS = {"wh_imp": 0, "wh_exp": 1, "q1": 2, "q2": 3, "q3": 4, "q4": 5, "vah_imp": 6, "vah_exp": 7,
            "wh_net": 8, "vah_net": 9}
DM = ("p", "q", "s")
# scale -> fixed power of ten, or the configuration attribute holding it
SCALE_OF = {
    "": 0, "1": 0, "100": 0, "0.01": -2, "0.001": -3, "0.0001": -4, "E": "sf_e", "W": "sf_w",
    "V": "sf_v", "I": "sf_i", "A_SF": "ss_a_sf", "V_SF": "ss_v_sf", "W_SF": "ss_w_sf",
    "VA_SF": "ss_w_sf", "VAR_SF": "ss_w_sf", "Hz_SF": -2, "PF_SF": -2, "TotWh_SF": "ss_e_sf",
    "TotVAh_SF": "ss_e_sf", "TotVArh_SF": "ss_e_sf",
}


class _Table:
    def __init__(self):
        self.names = []
        self.ctrs = []
        self.consts = []
        self.scales = []

    def _index(self, lst, v):
        if v not in lst:
            lst.append(v)
        return lst.index(v)

    def name(self, v):
        return self._index(self.names, v)

    def ctr(self, v):
        return self._index(self.ctrs, v)

    def const(self, v):
        return self._index(self.consts, v)

    def scale(self, s):
        return self._index(self.scales, SCALE_OF[s])


def _fmt(fmt):
    return FMTS.index("string" if fmt.lower().startswith("string(") else fmt)


def _record(t, row):
    reg, fmt, units, scale, src, rw, _nv, _name, _desc = row
    key, _, rest = src.partition(".")
    enc = E_RAW
    a = b = 0
    writable = rw == regmap.RW
    if key == "rd":
        s = S_READ
        if rest == "I_SUM":
            a = I_SUM
        elif rest in READ_NAMES:
            a = READ_NAMES[rest]
        else:
            base, _, ph = rest.partition(".")
            a = READ_NAMES[base] + PHASE[ph]
        b = _UNIT.get(units, U_ONE)
        enc = E_FLOAT if fmt == "Float" else E_PHYS
    elif key == "en":
        s = S_EN
        kind, _, ph = rest.partition(".")
        a, b = EN_KINDS[kind], PHASE[ph]
        enc = E_FLOAT if fmt == "Float" else E_ENERGY
    elif key == "dm":
        s = S_DM
        q, _, pk = rest.partition("_pk_")
        a = DM.index(q) + (0 if not pk else 3 if pk == "imp" else 6)
        b = _UNIT.get(units, U_ONE)
        enc = E_FLOAT if fmt == "Float" else E_PHYS
    elif key == "cfg":
        s, a = S_CFG, t.name(rest)
    elif key == "const":
        v = int(rest, 16) if rest.startswith("0x") else int(rest)
        s, a = S_CONST, t.const(v)
        if regmap.width(fmt) == 2:
            # two 16-bit halves: the board encodes small ints only (no
            # long-int arithmetic, nothing allocated on a read)
            a, b = t.const(v >> 16), t.const(v & 0xFFFF)
    elif key == "fw":
        s, a = S_CONST, t.const(regmap.FW_VERSION)
    elif key == "qnan":
        s = S_QNAN
    elif key == "ctr":
        s, a = S_CTR, t.ctr(rest)
        enc = E_FLOAT if fmt == "Float" else E_RAW
    elif key == "st":
        s = S_ERR if rest == "errors" else S_RESETS
    elif key == "ss":
        if rest == "ID":
            s = S_SSID
        elif rest == "Evt":
            s = S_SSEVT
        else:
            s, a = S_SSSF, t.scale(rest)
    elif key == "id":
        s, a, enc = S_STR, STRINGS.index(rest), E_STR
    elif key == "cmd":
        s = S_CMD
    elif key == "rtc":
        s, a = S_RTC, int(rest)
    elif key == "cal":
        kind, _, ch = rest.partition(".")
        s, a, b = S_CAL, 0 if kind == "gain" else 1, int(ch)
    elif key == "log":
        s, a = S_LOG, int(rest)
    elif key == "nv":
        s, a = S_NV, int(rest)
    elif key == "seal":
        s = S_SEAL
    else:
        raise ValueError("register %d: unknown source %r" % (reg, src))
    w = regmap.width(fmt)
    return bytes((reg >> 8, reg & 0xFF, w, _fmt(fmt), s, a, b, enc, t.scale(scale), int(writable)))


def compile_rows(rows=None):
    """(records bytes, names, counters, consts, scales) of the table."""
    t = _Table()
    recs = sorted(_record(t, row) for row in (rows if rows is not None else regmap.ROWS))
    return b"".join(recs), tuple(t.names), tuple(t.ctrs), tuple(t.consts), tuple(t.scales)


POW10_MIN = -16


def pow10():
    # one constant table for every runtime: the board's float32 and CPython's
    # double give the same scaled registers
    return b"".join(struct.pack("<f", 10.0 ** n) for n in range(POW10_MIN, -POW10_MIN + 1))


def _tuple(name, items):
    # NAME = (...) wrapped under the line length
    body = textwrap.wrap(", ".join(repr(x) for x in items) + ",", 96, break_long_words=False)
    return ["%s = (" % name] + ["    " + x for x in body] + [")"]


def _hex(data):
    return 'b"' + "".join("\\x%02x" % x for x in data) + '"'


def _bytes_lines(data, per=REC, label=None):
    # one record (or `per` bytes) a line, \xNN escaped: reviewable diffs
    out = []
    for i in range(0, len(data), per):
        chunk = data[i:i + per]
        out.append("    " + _hex(chunk) + ("  # %d" % label(chunk) if label else ""))
    return out


def render():
    recs, names, ctrs, consts, scales = compile_rows()
    lines = [
        "# Generated by tools/gen_docs.py (tools/regtable_gen.py) from firmware/regmap.py;",
        "# do not edit. The register table as the board carries it: one 10-byte record",
        "# a row (layout in tools/regtable_gen.py), read by firmware/registers.py.",
        "# fmt: off",
        "FW_VERSION = %d" % regmap.FW_VERSION,
        "VENDOR = %r" % regmap.VENDOR,
        "PRODUCT = %r" % regmap.PRODUCT,
        "MODEL = %r" % regmap.MODEL,
        "ID_STRING = (%r\n             %r)" % (regmap.ID_STRING[:40], regmap.ID_STRING[40:]),
        "BLOCKS = %r" % (regmap.BLOCKS,),
        "GAP_WORD = %d" % regmap.GAP_WORD,
        "LOG_WINDOW = %r" % (regmap.LOG_WINDOW,),
        "LOG_WORD = %d" % regmap.LOG_WORD,
        "SS_MODEL_BY_TYPE = %r" % (tuple(sorted(regmap.SS_MODEL_BY_TYPE.items())),),
    ]
    lines += _tuple("NAMES", names) + _tuple("CTRS", ctrs) + _tuple("CONSTS", consts)
    lines += _tuple("SCALES", scales)
    lines += ["# float32 of 10^n, n = -16..16, little-endian: the scale factors reads multiply by",
              "POW10 = ("] + _bytes_lines(pow10(), 16) + [")"]
    lines += ["ROWS = ("] + _bytes_lines(recs, REC, lambda r: r[0] << 8 | r[1]) + [")", "# fmt: on", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.stdout.write(render())
