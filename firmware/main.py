# Runs at boot on the board: the board module (board.py, written by
# tools/deploy.py) builds the hardware, the runtime runs the meter on it
# (firmware/runtime.py, docs/runtime.md).
#
# Big buffers first (docs/memory.md): make_hardware() allocates the
# front-end's ring and the DMA/PIO set-up while the heap is one free
# block; only then are the meter's ~30 modules loaded, whose bytecode and
# objects fragment it. A collection between the two steps returns what
# loading left behind before the runtime makes its own buffers.
import gc

import board

hw = board.make_hardware()
gc.collect()
from runtime import run  # noqa: E402

gc.collect()
run(hw)
