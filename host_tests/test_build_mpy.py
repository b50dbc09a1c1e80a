# .mpy files name their source as the board imports it (tracebacks show
# drivers/ads131m06.py, not the build machine's path); the deploy stage
# leaves the host-only modules off the board.
import os
import subprocess

import build_mpy
import deploy

ROOT = build_mpy.ROOT


def test_source_names_are_paths_under_the_import_root():
    assert build_mpy.source_name(os.path.join(ROOT, "firmware", "app.py")) == "app.py"
    assert build_mpy.source_name(os.path.join(ROOT, "boards", "drivers", "ads131m06.py")) == \
        "drivers/ads131m06.py"
    assert build_mpy.source_name(os.path.join(ROOT, "boards", "pico_onboard.py")) == "pico_onboard.py"


def test_mpy_carries_the_relative_name_not_the_build_path(tmp_path):
    src = os.path.join(ROOT, "boards", "drivers", "buttons.py")
    dst = str(tmp_path / "buttons.mpy")
    subprocess.run([build_mpy.mpy_cross(), "-march=armv6m", "-s", build_mpy.source_name(src), "-o", dst, src],
                   check=True)
    data = open(dst, "rb").read()
    assert b"drivers/buttons.py" in data and ROOT.encode() not in data


def test_stage_leaves_host_only_modules_off_the_board(tmp_path):
    out = deploy.stage("pico_ads131m06", build_dir=str(tmp_path / "st"))
    lib = os.listdir(os.path.join(out, "lib"))
    assert "regtable.mpy" in lib and "registers.mpy" in lib
    for f in deploy.HOST_ONLY:
        assert f[:-3] + ".mpy" not in lib, f
    assert os.path.exists(os.path.join(out, "main.py")) and os.path.exists(os.path.join(out, "board.py"))
    with open(os.path.join(out, "lib", "app.mpy"), "rb") as fh:
        assert ROOT.encode() not in fh.read()
