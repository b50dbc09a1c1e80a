# Runs at boot on the board: the board module (board.py, written by
# tools/deploy.py or frozen by manifest.py) builds the hardware, the
# runtime runs the meter on it (firmware/runtime.py, docs/runtime.md).
import board
from runtime import run

run(board.make_hardware())
