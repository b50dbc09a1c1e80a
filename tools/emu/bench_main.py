# main.py for `make bench` only (tools/bench_chip.py stages it in place of
# firmware/main.py, with lib/bench_probe.mpy; never deployed to a meter).
# It starts the meter as firmware/main.py does (the board's hardware
# first, a collection, the runtime, a collection), then reports the heap
# after start ('@H start' + micropython.mem_info()), loads the probe
# (tools/emu/bench_probe.py) around the runtime's tasks and runs the same
# loop. Keep the start-up in step with firmware/main.py.
import gc

import micropython

import board

hw = board.make_hardware()
gc.collect()
from runtime import Runtime  # noqa: E402

gc.collect()
rt = Runtime(hw)
gc.collect()
print("@H start free=%d alloc=%d" % (gc.mem_free(), gc.mem_alloc()))
micropython.mem_info()
print("@H end")
import bench_probe  # noqa: E402

bench_probe.install(rt)
rt.run()
