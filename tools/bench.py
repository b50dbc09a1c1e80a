"""`make bench`: accuracy and speed of the meter, printed and written to
bench/results.json.

(a) Accuracy (tools/bench_influence.py, docs/accuracy.md): the IEC 62053-22
    class 0.2S points (1-120 % of In at PF 1, 0.5 ind, 0.8 cap, import and
    export) and influence tests (frequency +-2 % and every 0.05 Hz from 45
    to 65 Hz, voltage +-10 %, 10 % V5 / 40 % I5, a phase-fired current,
    crest factor 3, reversed phase sequence, one and two phases
    interrupted, 30 LSB noise with calibrated gain, phase and offset
    errors) through the firmware DSP behind the board's front-end path
    (ADS131M06 frame decode at 2500 and 2520/s, a 16-bit converter, the
    onboard ADC), beside issue 12's targets; the float32 once-a-second path
    against double; the certificate bench/accuracy.png and the table
    bench/accuracy.csv. The DSP's integer path is bit-identical under
    CPython and MicroPython (host_tests/test_cross_runtime.py), so it runs
    here under CPython, two points at a time.
(b) DSP speed under the real `micropython` binary (tools/bench_dsp_mp.py).
(c) Modbus RTU: request-to-response turnaround and transactions per second
    for a 125-register read at 19200 and 38400 baud, beside the wire-time
    limit for the same frames; the slave's processing time is measured under
    `micropython`, and a pymodbus client on the virtual meter's
    pseudo-terminal gives an end-to-end figure (no wire time there).
(d) The whole firmware under `micropython` (tools/bench_runtime_mp.py): heap
    after start and at steady state, the per-second cost of every periodic
    task, and the .mpy sizes for the RP2040 (mpy-cross -march=armv6m).
(e) The chip (tools/bench_chip.py, also bench/chip.json): the deploy path on
    the stock firmware in the emulated Pico for --chip-seconds at 19200 and
    38400 baud with a master polling 125 registers every 250 ms, the LCD on
    and the log running: CPU busy % and its breakdown, heap after start,
    allocation, worst turn, Modbus latency, frames lost/billed, each beside
    its target (issue 11). Emulated figures are lower bounds.
"""

import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# boards/ before tools/: `import sim` is the board, not tools/sim.py
sys.path[0:0] = [os.path.join(ROOT, sub) for sub in ("host_tests/fakes", "firmware", "boards", "tools")]

import bench_influence  # noqa: E402

def speed(seconds):
    mp = os.path.join(os.path.dirname(sys.executable), "micropython")
    out = subprocess.run([mp, os.path.join(ROOT, "tools", "bench_dsp_mp.py"), str(seconds)],
                         capture_output=True, text=True, check=True)
    s = json.loads(out.stdout.strip().splitlines()[-1])
    s["rtf_kernel"] = s["kernel_us_per_s"] / 1e6
    s["rtf_dsp"] = s["dsp_us_per_s"] / 1e6
    s["rtf_float"] = s["float_us_per_s"] / 1e6
    s["float_over_fixed"] = s["float_us_per_s"] / s["dsp_us_per_s"]
    # RP2040: the compiled Thumb code of the loop, counted (tools/thumb_count.py)
    # and run in an emulator over a second of frames (tools/thumb_emulate.py)
    import thumb_count
    import thumb_emulate

    s["rp2040"] = thumb_count.count()
    s["rp2040_emulated"] = thumb_emulate.run()
    s["host_bytecode_over_viper"] = s["ref_bytecode_ns_per_iter"] / s["ref_viper_ns_per_iter"]
    return s


def print_speed(s):
    print()
    print("DSP speed under micropython (this host, %d-bit words), fs = %d, 6 channels"
          % (s["word_bits"], s["fs"]))
    print("  per-sample kernel : %8.1f us per second of signal (real-time factor %.2e)"
          % (s["kernel_us_per_s"], s["rtf_kernel"]))
    print("  whole DSP         : %8.1f us per second of signal (real-time factor %.2e)"
          % (s["dsp_us_per_s"], s["rtf_dsp"]))
    print("  once-a-second step: %8.1f us" % s["close_second_us"])
    print("  plain float impl. : %8.1f us per second of signal (real-time factor %.2e)"
          % (s["float_us_per_s"], s["rtf_float"]))
    print("  float / fixed     : %8.1f x" % s["float_over_fixed"])
    print("  DSP object heap   : %8d bytes" % s["dsp_heap_bytes"])
    e = s["rp2040_emulated"]
    print("  RP2040, the loop's armv6m code run in an emulator over %d frames (results %s CPython's):"
          % (e["frames"], "identical to" if e["matches_cpython"] else "DIFFERENT from"))
    print("    %.0f cycles a frame = %.0f cycles a channel-sample = %.2f %% of a 125 MHz core"
          " (target: 250, 3 %%)" % (e["cycles_per_frame"], e["cycles_per_sample"], e["core_pct_125mhz"]))
    t = s["rp2040"]
    cyc = t["loop_cycles_all_paths"]
    print("    static: %d instructions in the loop, %d cycles if every branch's code ran in one frame"
          % (t["loop_instructions"], cyc))


def runtime(seconds):
    mp = os.path.join(os.path.dirname(sys.executable), "micropython")
    out = subprocess.run([mp, os.path.join(ROOT, "tools", "bench_runtime_mp.py"), str(seconds)],
                         capture_output=True, text=True, check=True)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    import build_mpy

    sizes, failures = build_mpy.build()
    r["mpy_sizes"] = sizes
    r["mpy_total"] = sum(sizes.values())
    acq = subprocess.run([mp, os.path.join(ROOT, "tools", "bench_acq_mp.py")],
                         capture_output=True, text=True, check=True)
    r["acquisition"] = json.loads(acq.stdout.strip().splitlines()[-1])
    return r


def modbus_wire(r):
    """Wire time of a 125-register read (8-byte request, 255-byte reply) and
    the RTU silences around it, at 11 bits a character (Modbus serial 2.5.1)."""
    rows = []
    for baud in (19200, 38400):
        t_char = 11.0 / baud
        t35 = 3.5 * t_char if baud <= 19200 else 0.00175
        req, rep = 8 * t_char, r["modbus_reply_bytes"] * t_char
        proc = r["modbus_read125_us"] / 1e6
        limit = req + t35 + rep + t35  # the bus can do no better
        ours = limit + proc
        rows.append(dict(baud=baud, request_ms=req * 1e3, reply_ms=rep * 1e3, t35_ms=t35 * 1e3,
                         processing_ms=proc * 1e3, turnaround_ms=(t35 + proc) * 1e3,
                         tps=1.0 / ours, tps_wire_limit=1.0 / limit))
    return rows


def pty_tps(n=200):
    """End to end on the virtual meter: pymodbus over the pseudo-terminal."""
    import time

    from pymodbus.client import ModbusSerialClient

    p = subprocess.Popen([sys.executable, os.path.join(ROOT, "tools", "sim.py"), "--headless", "--speed",
                          "max", "--scenario", os.path.join(ROOT, "tools", "scenarios", "default.json")],
                         stdout=subprocess.PIPE, text=True)
    try:
        path = p.stdout.readline().strip().split(": ", 1)[1]
        while "scenario complete" not in p.stdout.readline():
            pass
        c = ModbusSerialClient(port=path, baudrate=19200, timeout=2)
        c.connect()
        c.read_holding_registers(256, count=125, device_id=1)
        t0 = time.perf_counter()
        for _ in range(n):
            c.read_holding_registers(256, count=125, device_id=1)
        dt = time.perf_counter() - t0
        c.close()
        return dict(transactions=n, tps=n / dt, ms_each=1e3 * dt / n)
    finally:
        p.terminate()
        p.wait()


def print_runtime(r, wire, pty):
    print()
    print("Modbus RTU, 125-register read (8-byte request, %d-byte reply)" % r["modbus_reply_bytes"])
    print("  slave processing under micropython (this host): %.1f us" % r["modbus_read125_us"])
    for w in wire:
        print("  %5d baud: request %.2f ms + t3.5 %.2f ms + reply %.1f ms; turnaround %.2f ms;"
              " %.2f transactions/s (wire-time limit %.2f/s)"
              % (w["baud"], w["request_ms"], w["t35_ms"], w["reply_ms"], w["turnaround_ms"], w["tps"],
                 w["tps_wire_limit"]))
    if pty:
        print("  virtual meter, pymodbus on the pseudo-terminal (no wire time): %.0f transactions/s,"
              " %.2f ms each" % (pty["tps"], pty["ms_each"]))
    print()
    print("Whole firmware under micropython (64-bit unix port: about twice the RP2040's bytes)")
    print("  heap, data objects after boot : %7d bytes (target < 65536)" % r["heap_data_after_boot"])
    print("  heap, data objects steady     : %7d bytes" % r["heap_data_steady"])
    print("  heap, module code (from .py)  : %7d bytes (frozen into flash by manifest.py)"
          % r["heap_code_bytes"])
    print("  per second of running:")
    for k, label in (("per_s_samples_us", "samples in: DSP, meter model, outputs"),
                     ("per_s_energy_demand_us", "  of which energy + demand"),
                     ("per_s_register_refresh_us", "  of which register image refresh"),
                     ("per_s_alarms_us", "  of which alarms"),
                     ("per_s_tick_us", "pulse contact + display ticks (200/s)"),
                     ("per_s_display_frame_us", "display frames (20/s)")):
        print("    %-40s %8.1f us" % (label, r[k]))
    a = r["acquisition"]
    print("    ADS131M06 frames into the ring: PIO + DMA, no CPU per frame")
    print("    frame CRC check and decode                         %8.1f us  (%.2f us a frame)"
          % (a["per_s_decode_us"], a["decode_us_per_frame"]))
    print("  an LCD frame through the HD44780 driver: %.1f us, %.0f I2C bytes" % (a["lcd_show_us"],
                                                                                a["lcd_show_i2c_bytes"]))
    print("  NV record: %d bytes, encoded in %.0f us (every 60 s)" % (r["save_bytes"], r["save_encode_us"]))
    print("  .mpy for the RP2040: %d files, %d bytes" % (len(r["mpy_sizes"]), r["mpy_total"]))
    for name, size in sorted(r["mpy_sizes"].items(), key=lambda x: -x[1])[:8]:
        print("    %-36s %6d" % (name, size))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--jobs", type=int, default=2, help="accuracy workers (at most 2)")
    ap.add_argument("--seconds", type=int, default=20, help="seconds of signal for the speed run")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results.json"))
    ap.add_argument("--skip-accuracy", action="store_true")
    ap.add_argument("--chip-seconds", type=float, default=60.0,
                    help="emulated seconds of Modbus polling per chip run (0: no chip section)")
    ap.add_argument("--chip-jobs", type=int, default=max(1, min(4, os.cpu_count() or 1)))
    a = ap.parse_args()
    results = {}
    if not a.skip_accuracy:
        rows, f32 = bench_influence.accuracy(jobs=a.jobs)
        bench_influence.print_rows(rows)
        bench_influence.print_float32(f32)
        out_dir = os.path.dirname(a.out)
        os.makedirs(out_dir, exist_ok=True)
        bench_influence.write_csv(rows, os.path.join(out_dir, "accuracy.csv"))
        bench_influence.plot_certificate(rows, os.path.join(out_dir, "accuracy.png"))
        print("written: bench/accuracy.csv, bench/accuracy.png")
        results["accuracy"] = {"points": rows, "summary": bench_influence.summary(rows), "float32": f32}
    s = speed(a.seconds)
    print_speed(s)
    results["dsp_speed"] = s
    r = runtime(a.seconds)
    wire = modbus_wire(r)
    pty = pty_tps()
    print_runtime(r, wire, pty)
    results["runtime"] = r
    results["modbus"] = {"wire": wire, "virtual_meter_pty": pty}
    if a.chip_seconds > 0:
        import tempfile

        import bench_chip

        chip = bench_chip.run_all(a.chip_seconds, (19200, 38400), a.chip_jobs,
                                  tempfile.mkdtemp(prefix="bench-chip-"))
        bench_chip.print_chip(chip, s["rp2040_emulated"]["core_pct_125mhz"])
        results["chip"] = chip
        os.makedirs(os.path.dirname(a.out), exist_ok=True)
        with open(os.path.join(os.path.dirname(a.out), "chip.json"), "w") as f:
            json.dump(chip, f, indent=1)
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(results, f, indent=1)
    print("\nwritten:", os.path.relpath(a.out, ROOT))


if __name__ == "__main__":
    main()
