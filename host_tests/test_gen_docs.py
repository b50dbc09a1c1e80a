# docs/registers.md and docs/registers.csv are generated from regmap.py and
# must not be stale (tools/gen_docs.py --check).
import gen_docs


def test_register_docs_not_stale():
    assert gen_docs.main(["--check"]) == 0, "run `make docs`"


def test_csv_has_every_row():
    lines = gen_docs.render_csv().splitlines()
    import regmap
    assert len(lines) == len(regmap.ROWS) + 1
