# Freeze the meter firmware and one board into a custom MicroPython build
# (frozen bytecode runs from flash and costs no RAM for its code):
#
#   cd micropython/ports/rp2
#   make BOARD=RPI_PICO FROZEN_MANIFEST=/path/to/this/manifest.py METER_BOARD=pico_ads131m06
#
# METER_BOARD (environment) picks the board module; `board.py` selecting it
# is generated into build/manifest/ and frozen too, as tools/deploy.py
# writes it onto the filesystem for an unfrozen install.
#
# The freezer: MicroPython v1.28.0's tools/mpy-tool.py aligns frozen armv6m
# viper code to 2 bytes, and a viper function at an address = 2 mod 4 reads
# wrong constants. tools/freezer_check.py reads the mpy-tool.py of the tree
# being built ($(MPY_DIR)) and refuses, naming the one-line fix, until that
# tree has it.
#
# main.py is NOT frozen: a frozen main.py runs at every boot whatever the
# filesystem holds (pyexec_file_if_exists looks in the frozen modules
# first), so the meter could never be stopped or replaced without
# reflashing. The frozen image boots to the REPL; copying firmware/main.py
# onto the filesystem (mpremote fs cp firmware/main.py :main.py) starts the
# meter at every boot, from the frozen modules (docs/memory.md 'The frozen
# build').
# ruff: noqa: F821  (metadata, include, package, module: makemanifest's names)
import os
import sys

metadata(version="0.1.0", description="Three-phase energy meter firmware for the RP2040")

_here = os.path.dirname(os.path.abspath(__file__)) if "__file__" in globals() else os.getcwd()
sys.path.insert(0, os.path.join(_here, "tools"))
import freezer_check  # noqa: E402

freezer_check.require(freezer_check.mpy_dir(include))

include("$(PORT_DIR)/boards/manifest.py")  # the port's own frozen modules

_board = os.environ.get("METER_BOARD", "pico_ads131m06")
# host-only modules (tools/deploy.py HOST_ONLY): main.py (see above),
# regmap.py (the table's texts; the board reads regtable.py)
_HOST_ONLY = ("main.py", "regmap.py")
# the network modules only for a board with a radio (tools/deploy.py NET_BOARDS)
_NET_BOARDS = {"pico_w_ads131m06": ("pico_ads131m06",)}
_net = _board in _NET_BOARDS

for _f in sorted(os.listdir(os.path.join(_here, "firmware"))):
    if _f.endswith(".py") and _f not in _HOST_ONLY and \
            (_net or not (_f == "modbus_tcp.py" or _f.startswith("net"))):
        module(_f, base_path="firmware")  # relative to this manifest

module(_board + ".py", base_path="boards")
for _b in _NET_BOARDS.get(_board, ()):
    module(_b + ".py", base_path="boards")  # the board module it builds on
module("board_common.py", base_path="boards")  # shared by the RP2040 boards
package("drivers", base_path="boards")

_gen = os.path.join(_here, "build", "manifest")
os.makedirs(_gen, exist_ok=True)
with open(os.path.join(_gen, "board.py"), "w") as _fh:
    _fh.write("BOARD = %r\nfrom %s import *  # noqa: F401,F403\n" % (_board, _board))
module("board.py", base_path="build/manifest")
