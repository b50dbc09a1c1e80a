# Freeze the meter firmware and one board into a custom MicroPython build
# (frozen bytecode runs from flash and costs no RAM for its code):
#
#   cd micropython/ports/rp2
#   make BOARD=RPI_PICO FROZEN_MANIFEST=/path/to/this/manifest.py METER_BOARD=pico_ads131m06
#
# METER_BOARD (environment) picks the board module; `board.py` selecting it
# is generated into build/manifest/ and frozen too, as tools/deploy.py
# writes it onto the filesystem for an unfrozen install. firmware/main.py,
# when present, is frozen as `main` and runs at boot unless the filesystem
# has its own main.py.
# ruff: noqa: F821  (metadata, include, module, package: makemanifest's names)
import os

metadata(version="0.1.0", description="Three-phase energy meter firmware for the RP2040")

include("$(PORT_DIR)/boards/manifest.py")  # the port's own frozen modules

_here = os.path.dirname(os.path.abspath(__file__)) if "__file__" in globals() else os.getcwd()
_board = os.environ.get("METER_BOARD", "pico_ads131m06")

for _f in sorted(os.listdir(os.path.join(_here, "firmware"))):
    if _f.endswith(".py"):
        module(_f, base_path="firmware")  # relative to this manifest

module(_board + ".py", base_path="boards")
module("board_common.py", base_path="boards")  # shared by the RP2040 boards
package("drivers", base_path="boards")

_gen = os.path.join(_here, "build", "manifest")
os.makedirs(_gen, exist_ok=True)
with open(os.path.join(_gen, "board.py"), "w") as _fh:
    _fh.write("BOARD = %r\nfrom %s import *  # noqa: F401,F403\n" % (_board, _board))
module("board.py", base_path="build/manifest")
