"""make bench's chip section, the parts that need no emulator: the probe
(tools/emu/bench_probe.py) under the real micropython binary around a
runtime-shaped object, and tools/bench_chip.py reading what the probe and
the emulator print (a failed boot, mem_info, the per-second lines)."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if os.path.join(ROOT, "tools") not in sys.path:  # after boards/ (conftest): `import sim` is the board
    sys.path.append(os.path.join(ROOT, "tools"))

import bench_chip  # noqa: E402

MICROPYTHON = os.path.join(os.path.dirname(sys.executable), "micropython")

# A runtime with the attributes the probe wraps; each task returns its
# argument and records that it ran, so wrapping must pass both through.
FAKE_RUNTIME = r"""
import sys, time
sys.path.insert(0, %(emu)r)
ran = []
class Src:
    lost = 3
    overruns = 2
    crc_errors = 1
    def available(self): return 7
    def read_block(self, buf, n): ran.append('read'); return n
class Dsp:
    seconds = 0
    def __init__(self): self.on_second = lambda d: ran.append('second')
class Meter:
    def __init__(self):
        self.dsp = Dsp()
        class C: frames_gap = 5
        self.counters = C()
    def work(self): ran.append('work'); return 9
class App:
    def __init__(self, meter): self.meter = meter
    def samples(self, buf, n):
        ran.append('samples'); self.meter.dsp.on_second(self.meter.dsp); return n
class RS485:
    def service(self, rtu): ran.append('modbus'); return rtu
class Rt:
    def __init__(self):
        self.source = Src(); self.meter = Meter(); self.app = App(self.meter); self.rs485 = RS485()
        self.frames = 0; self.errors = [0, 0, 0]; self.t0 = time.ticks_ms()
    def _display(self, now): ran.append('display')
    def _health(self, now): ran.append('health')
    def step(self):
        n = self.source.read_block(None, 128)
        self.app.samples(None, n)
        self.frames += n
        self.meter.work()
        assert self.rs485.service(41) == 41
        self._display(0)
        self._health(0)
        time.sleep_ms(120)
        return n
import bench_probe
rt = Rt()
bench_probe.install(rt)
for _ in range(10):
    assert rt.step() == 128
print('ran', len(ran))
"""


def test_probe_wraps_every_task_and_reports_each_second_under_micropython():
    code = FAKE_RUNTIME % {"emu": os.path.join(ROOT, "tools", "emu")}
    p = subprocess.run([MICROPYTHON, "-c", code], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr + p.stdout
    lines = p.stdout.splitlines()
    assert lines[0] == "@W read_block=1 samples=1 second=1 work=1 modbus=1 display=1 health=1"
    assert lines[-1] == "ran 70"  # 7 tasks a turn, 10 turns, nothing skipped
    reports = [bench_chip._kv(x) for x in lines if x.startswith("@B")]
    assert reports, p.stdout
    b = reports[0]
    assert (b["lost"], b["ov"], b["crc"], b["av"], b["gap"]) == (3, 2, 1, 7, 5)
    assert b["fr"] == 128 * b["n"]  # turns up to and including the reporting one
    # the 120 ms sleep is inside step (sleep_ms counts whole ms: up to 1 ms short on ticks_us)
    assert b["worst"] >= 119000 and b["us"] >= 119000 * b["n"]
    for task in ("read_block", "samples", "second", "work", "modbus", "display", "health"):
        assert b[task][1] == b["n"], task
    assert b["samples"][0] >= b["second"][0]


MEMORY_ERROR_BOOT = (
    "Traceback (most recent call last):\r\n  File \"main.py\", line 7, in <module>\r\n"
    "  File \"runtime.py\", line 130, in __init__\r\n"
    "MemoryError: memory allocation failed, allocating 3072 bytes\r\n"
    "MicroPython v1.28.0 on 2026-12-02; Raspberry Pi Pico with RP2040\r\n>>> ")


def test_a_boot_that_fails_is_reported_with_its_error_not_a_crash():
    why = bench_chip.failure({"traceback": True, "usbOutput": MEMORY_ERROR_BOOT})
    assert why.startswith("did not run: MemoryError: memory allocation failed, allocating 3072 bytes")
    assert "runtime.py" in why
    f = bench_chip.figures({"traceback": True, "usbOutput": MEMORY_ERROR_BOOT, "plan": {}}, 19200, "main")
    assert f["failed"] == why and "cpu" not in f


def test_heap_after_start_is_read_from_mem_info():
    out = ("@H start free=73744 alloc=172144\r\nstack: 516 out of 7936\r\n"
           "GC: total: 245888, used: 172224, free: 73664\r\n"
           " No. of 1-blocks: 1854, 2-blocks: 474, max blk sz: 482, max free sz: 2235\r\n@H end\r\n")
    h = bench_chip._heap({"usbOutput": out}, "start")
    assert h == {"free": 73744, "total": 245888, "used": 172224, "largest_free_block": 2235 * 16}


def test_allocation_rate_skips_intervals_with_a_collection():
    reps = [{"t": 0, "alloc": 0}, {"t": 1000, "alloc": 1500}, {"t": 2000, "alloc": -1},
            {"t": 3000, "alloc": 500}]
    assert bench_chip._alloc_rate(reps) == 1000.0  # (1500 + 500) B over 2 s


def test_latency_is_measured_from_the_end_of_t35():
    assert abs(bench_chip.t35_ms(19200) - 2.005) < 0.001
    assert bench_chip.t35_ms(38400) == 1.75
    poll = " ".join("%02x" % b for b in bench_chip.fc03(bench_chip.POLL_START, bench_chip.POLL_COUNT))
    t35 = bench_chip.t35_ms(19200)
    r = {"modbus": [{"req": poll + " aa bb", "crcOk": True, "firstByteMs": t35 + k, "baud": 19200}
                    for k in range(100)]}
    m = bench_chip.modbus_figures(r, 19200)
    assert m["sent"] == 100 and m["answered_crc_ok"] == 100
    assert abs(m["latency_after_t35_ms"]["p50"] - 49) < 1e-9
    assert abs(m["latency_after_t35_ms"]["p99"] - 98) < 1e-9
