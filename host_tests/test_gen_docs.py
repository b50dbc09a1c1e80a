# docs/registers.md and docs/registers.csv are generated from regmap.py and
# must not be stale (tools/gen_docs.py --check).
import gen_docs


def test_register_docs_not_stale():
    assert gen_docs.main(["--check"]) == 0, "run `make docs`"


def test_csv_has_every_row():
    lines = gen_docs.render_csv().splitlines()
    import regmap
    assert len(lines) == len(regmap.ROWS) + 1


def test_regtable_codes_are_the_ones_registers_reads():
    # tools/regtable_gen.py writes the numbers firmware/registers.py decodes
    import regtable_gen as G
    import registers as R

    for name in ("READ", "EN", "DM", "CFG", "CONST", "QNAN", "CTR", "ERR", "RESETS", "SSID", "STR",
                 "RTC", "LOG", "CAL", "CMD", "SSEVT", "SSSF", "NV", "SEAL"):
        assert getattr(G, "S_" + name) == getattr(R, "_S_" + name), name
    for name in ("RAW", "PHYS", "FLOAT", "ENERGY", "STR"):
        assert getattr(G, "E_" + name) == getattr(R, "_E_" + name), name
    assert G.REC == R._REC and G.I_SUM == R._I_SUM
    assert R._UNIT_EXP == (0, -3, 2) and (G.U_ONE, G.U_KILO, G.U_PCT) == (0, 1, 2)
    assert R._POW10_0 == -G.POW10_MIN
    for name in ("UINT", "ULONG", "SLONG", "FLOAT", "UINT16", "ACC32", "BITFIELD32"):
        want = {"UINT": "UInt", "ULONG": "ULong", "SLONG": "SLong", "FLOAT": "Float", "UINT16": "uint16",
                "ACC32": "acc32", "BITFIELD32": "bitfield32"}[name]
        assert G.FMTS.index(want) == getattr(R, "_F_" + name), name


def test_regtable_reading_indices_are_readings_r():
    import readings
    import regtable_gen as G

    for name, i in G.READ_NAMES.items():
        assert getattr(readings, "R_" + name) == i, name


def test_regtable_has_every_row_once_in_register_order():
    import regmap
    import regtable

    regs = [regtable.ROWS[p] << 8 | regtable.ROWS[p + 1] for p in range(0, len(regtable.ROWS), 10)]
    assert regs == sorted(r[0] for r in regmap.ROWS)
    assert len(regtable.ROWS) == 10 * len(regmap.ROWS)
