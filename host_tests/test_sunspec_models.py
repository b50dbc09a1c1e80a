# SunSpec blocks (registers 40001-40178) against the model JSON pysunspec2
# ships (sunspec2/models/json), read from the installed package here.
import json
import os

import sunspec2

import regmap
from config import Config
from frontend import FrontEnd
from meter import Meter

_JSON = os.path.join(os.path.dirname(sunspec2.__file__), "models", "json")


def _model(n):
    with open(os.path.join(_JSON, "model_%d.json" % n)) as f:
        return json.load(f)["group"]["points"]


def _rows():
    return {r[0]: r for r in regmap.ROWS}


def _fmt(p):
    return "string(%d)" % (2 * p["size"]) if p["type"] == "string" else p["type"]


def test_common_model_1_at_40003_legacy_length_65_da_at_40069():
    rows = _rows()
    reg = 40003
    points = _model(1)
    assert points[-1]["type"] == "pad"  # the legacy 65-register block has no Pad
    for p in points[:-1]:
        r = rows[reg]
        assert r[7] == p["name"], (reg, r[7], p["name"])
        assert r[1] == _fmt(p), (reg, r[1], p)
        assert regmap.width(r[1]) == p["size"]
        reg += p["size"]
    assert reg == 40070
    assert rows[40069][7] == "DA" and rows[40069][5] == "R/W"


def test_meter_models_201_to_204_layout():
    rows = _rows()
    for n in (201, 202, 203, 204):
        reg = 40070
        for p in _model(n):
            r = rows[reg]
            name = r[7]
            if n == 201:
                name = regmap.SS_NAMES_201.get(name, name)
            assert name == p["name"], (n, reg, name, p["name"])
            assert r[1] == p["type"], (n, reg, r[1], p["type"])
            assert regmap.width(r[1]) == p["size"], (n, reg)
            assert r[2] == p.get("units", ""), (n, reg, r[2], p.get("units"))
            assert r[3] == p.get("sf", ""), (n, reg, r[3], p.get("sf"))
            reg += p["size"]
        assert reg == 40177  # end block follows at 40177-40178
        assert _u16(Meter(FrontEnd()), 40071) == len(range(40072, 40177))


def _u16(m, reg):
    out = bytearray(2)
    assert m.bank.read(reg - 1, 1, out, 0) == 0
    return out[0] << 8 | out[1]


def test_model_id_follows_system_type_and_length_105():
    for st, n in ((10, 201), (11, 201), (12, 202), (40, 203), (31, 204)):
        c = Config()
        c.apply({"system_type": st, "system_voltage": 240})
        m = Meter(FrontEnd(), c)
        assert _u16(m, 40070) == n
        assert _u16(m, 40071) == 105
        # sum of point sizes in the JSON is the L the model declares
        assert sum(p["size"] for p in _model(n)) - 2 == 105
