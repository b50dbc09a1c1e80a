# Every register of the datasheet's 'Modbus Point Map' against the one
# table (firmware/regmap.py): address, format and units are written here
# from the datasheet, not from regmap.
import regmap

# (register, format, units) as the datasheet lists them; per-phase triples
# expanded. Units '' where the datasheet has none.
_DS = [
    (1, "SLong", "kWh"), (3, "ULong", "kWh"), (5, "ULong", "kWh"),
    (7, "ULong", "kVARh"), (9, "ULong", "kVARh"), (11, "ULong", "kVARh"), (13, "ULong", "kVARh"),
    (15, "SLong", "kVAh"), (17, "ULong", "kVAh"), (19, "ULong", "kVAh"),
    (21, "SInt", "kW"), (22, "SInt", "kVAR"), (23, "UInt", "kVA"), (24, "SInt", "Ratio"),
    (25, "UInt", "Volt"), (26, "UInt", "Volt"), (27, "UInt", "Amp"), (28, "UInt", "Hz"),
    (29, "SInt", "kW"), (30, "SInt", "kVAR"), (31, "SInt", "kVA"),
    (32, "SInt", "kW"), (33, "SInt", "kVAR"), (34, "SInt", "kVA"),
    (35, "SInt", "kW"), (36, "SInt", "kVAR"), (37, "SInt", "kVA"),
    (38, "UInt", ""), (39, "ULong", ""), (41, "ULong", ""),
]
for _b, _u in ((43, "kWh"), (49, "kWh"), (55, "kVARh"), (61, "kVARh"), (67, "kVARh"), (73, "kVARh"),
               (79, "kVAh"), (85, "kVAh")):
    _DS += [(_b, "ULong", _u), (_b + 2, "ULong", _u), (_b + 4, "ULong", _u)]
for _b, _f, _u in ((91, "SInt", "kW"), (94, "SInt", "kVAR"), (97, "UInt", "kVA"), (100, "SInt", "Ratio"),
                   (103, "UInt", "Volt"), (106, "UInt", "Volt"), (109, "UInt", "Amp")):
    _DS += [(_b, _f, _u), (_b + 1, _f, _u), (_b + 2, _f, _u)]
_DS += [(112, "UInt", "")]
_DS += [(129, "UInt", ""), (130, "UInt", ""), (131, "UInt", "Amps"), (132, "UInt", ""), (133, "UInt", ""),
        (134, "UInt", ""), (135, "UInt", "kW"), (136, "UInt", ""), (137, "UInt", ""), (138, "SInt", ""),
        (139, "SInt", ""), (140, "SInt", ""), (141, "SInt", ""), (142, "UInt", "%"), (143, "UInt", "%"),
        (144, "UInt", "Wh"), (145, "UInt", "msec"), (146, "UInt", ""), (147, "UInt", ""),
        (148, "UInt", ""), (149, "UInt", ""), (150, "UInt", "Seconds"), (151, "UInt", ""),
        (152, "UInt", ""), (153, "UInt", ""), (154, "UInt", "")]
_FL = ["kWh", "kWh", "kWh", "kVARh", "kVARh", "kVARh", "kVARh", "kVAh", "kVAh", "kVAh", "kW", "kVAR",
       "kVA", "Ratio", "Volt", "Volt", "Amp", "Hz", "kW", "kVAR", "kVA", "kW", "kVAR", "kVA", "kW",
       "kVAR", "kVA", "", "", ""]  # 257 .. 315 step 2
_FL += ["kWh"] * 6 + ["kVARh"] * 12 + ["kVAh"] * 6 + ["kW"] * 3 + ["kVAR"] * 3 + ["kVA"] * 3
_FL += ["Ratio"] * 3 + ["Volt"] * 6 + ["Amp"] * 3 + [""]  # 317 .. 407
for _i, _u in enumerate(_FL):
    _DS.append((257 + 2 * _i, "Float", _u))
_DS += [(7001, "UInt", "")]
# R/W registers (datasheet R/W column), 129-154
_RW = (129, 130, 131, 132, 133, 134, 137, 142, 143, 144, 149, 150)


def _rows():
    return {r[0]: r for r in regmap.ROWS}


def test_point_map_rows_match_datasheet():
    rows = _rows()
    for reg, fmt, units in _DS:
        assert reg in rows, reg
        r = rows[reg]
        assert r[1] == fmt, (reg, r[1], fmt)
        assert r[2] == units, (reg, r[2], units)


def test_no_overlaps_and_all_inside_blocks():
    used = {}
    for r in regmap.ROWS:
        for k in range(regmap.width(r[1])):
            reg = r[0] + k
            assert reg not in used, (reg, used.get(reg))
            used[reg] = r
            assert any(a <= reg <= b for a, b in regmap.BLOCKS), reg
    # integer 1-112, config 129-178, floats 257-408, SunSpec 40001-40178 fully covered
    for a, b in ((1, 112), (129, 178), (257, 408), (40001, 40178), (7101, 7103)):
        for reg in range(a, b + 1):
            assert reg in used, reg


def test_rw_column_config_129_154():
    rows = _rows()
    for reg in range(129, 155):
        want = "R/W" if reg in _RW else "R"
        assert rows[reg][5] == want, (reg, rows[reg][5])


def test_scales_of_integer_registers():
    rows = _rows()
    for reg in (1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 43, 89):
        assert rows[reg][3] == "E"
    for reg in (21, 22, 23, 29, 30, 31, 32, 37, 91, 99, 135):
        assert rows[reg][3] == "W"
    for reg in (25, 26, 103, 108):
        assert rows[reg][3] == "V"
    for reg in (27, 109, 111):
        assert rows[reg][3] == "I"
    for reg in (24, 100, 102):
        assert rows[reg][3] == "0.0001"
    assert rows[28][3] == "0.01"


def test_decisions_documented():
    # every duplicated / mislabelled datasheet row has a written meaning
    keys = " ".join(d[0] for d in regmap.DECISIONS)
    for k in ("32-37", "43-54", "79-90", "365-388", "41-42", "40069", "155-178"):
        assert k in keys, k
