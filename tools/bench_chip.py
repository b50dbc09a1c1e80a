"""`make bench`, the chip section: the meter on the emulated Pico (issue 11).

The stock MicroPython v1.28.0 RPI_PICO firmware on rp2040js (tools/emu/,
`make emu`) with exactly what `make deploy BOARD=pico_ads131m06` copies,
main.py starting the meter at reset, and around it the reference board's
parts: the ADS131M06 at 2500 frames/s fed a 347/600 V wye at 80 A per phase,
PF 0.9 (tools/emu/frames.py), the F-RAM, the LCD backpack and a Modbus RTU
master on UART0 at wire timing (tools/emu/board.mjs).

Each run, for 19200 and for 38400 baud, does what a user would over Modbus:
150 = 10 s (demand sub-interval, so the data log writes a row every 10 s),
159 = 0 (circular log, running), 129 = 16640 (log reset), 7102 = the baud
(the slave switches after its reply; the master follows), reads them back,
then from WINDOW_FROM polls 125 registers (257-381) every 250 ms for 60
emulated seconds with the LCD on, reads 7301-7302 (frames billed as a gap)
at the end and stops the ADC so the ring drains.

Two firmwares on the filesystem, per baud:
  main     the user's main.py, untouched: CPU busy % of core 0 (cycles not
           in WFE), cycles per interrupt, Modbus latency, frames.
  probe    tools/emu/bench_main.py in its place (the same start-up) with
           tools/emu/bench_probe.py: heap after start (micropython.mem_info:
           free, largest free block), allocation per second, the worst
           turn, the time in each task, and every frame accounted
           (measured + billed + still in the ring = clocked by the chip).
The probe's own cost is the difference of the two runs' busy %.

Emulated figures are lower bounds: rp2040js models no XIP cache misses,
no exception stacking cycles and no bus contention.

    .venv/bin/python tools/bench_chip.py [--seconds 60] [--bauds 19200 38400]
        [--jobs N] [--out bench/chip.json]
    .venv/bin/python tools/bench_chip.py --print bench/chip.json
"""

import argparse
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EMU = os.path.join(ROOT, "tools", "emu")
for _d in (os.path.join(ROOT, "tools"), EMU):
    if _d not in sys.path:
        sys.path.append(_d)  # after boards/ in a test process: `import sim` stays the board

import chip  # noqa: E402

ADDR = 1
FS = 2500
WINDOW_FROM = 6.0  # s after reset: boot, set-up requests and their saves are behind
SETUP_AT = 3.0
POLL_EVERY = 0.25
POLL_START, POLL_COUNT = 256, 125  # registers 257-381
DRAIN_S = 2.5  # after the ADC stops: the ring drains, the probe reports (once a second)
NODE_TIMEOUT_S = 4 * 3600  # a guard against a hung emulator, not a speed target

TARGETS = {"busy_pct": 25.0, "heap_free": 65536, "heap_block": 16384, "alloc_per_s": 2048,
           "latency_p99_ms": 20.0, "kernel_pct": 3.0}
LOWER_BOUND = "emulated: a lower bound (no XIP cache misses, no exception stacking)"


def scenario(seconds):
    ph = {}
    for name, deg in (("A", 0.0), ("B", -120.0), ("C", 120.0)):
        ph[name] = {"v_rms": 347.0, "v_deg": deg, "i_rms": 80.0, "i_deg": deg - 25.84}
    return {"name": "make bench: 347/600 V wye, 80 A per phase, PF 0.9 lagging, 50 Hz",
            "config": {"system_type": 40, "ct_primary_a": 100, "ct_secondary_v": 1, "pt_ratio": 1.0,
                       "system_voltage_v": 600},
            "frontend": {"bits": 24, "noise_lsb": 0.5, "fs_hz": FS},
            "segments": [{"duration_s": seconds, "frequency_hz": 50.0, "phases": ph}]}


def fc03(start, count):
    return [ADDR, 3, start >> 8, start & 0xFF, count >> 8, count & 0xFF]


def fc06(reg, value):
    return [ADDR, 6, reg >> 8, reg & 0xFF, value >> 8, value & 0xFF]


def plan(baud, seconds, image, frames):
    t = SETUP_AT
    ev = []
    # addresses are register - 1 (Modbus PDU)
    for pdu in (fc06(149, 10), fc06(158, 0), fc06(128, 16640), fc06(7101, baud),
                fc03(149, 1), fc03(158, 1), fc03(7101, 1)):
        ev.append({"at": round(t, 3), "modbus": pdu, "setup": True})
        t += 0.35
    assert t < WINDOW_FROM
    end = WINDOW_FROM + seconds
    k = 0
    while WINDOW_FROM + k * POLL_EVERY < end - 1e-9:
        ev.append({"at": round(WINDOW_FROM + k * POLL_EVERY, 6), "modbus": fc03(POLL_START, POLL_COUNT)})
        k += 1
    ev.append({"at": end + 0.1, "modbus": fc03(7300, 2), "gap": True})  # 7301-7302
    return {"firmware": chip.FIRMWARE, "fs": image, "frames": frames, "fs_hz": FS,
            "seconds": end + DRAIN_S, "window_from": WINDOW_FROM, "window_to": end,
            "adc_stop_at": end + 0.3, "events": ev}


def images(workdir):
    """The user's image (what make deploy copies) and the probe's."""
    import deploy
    import mkfs

    stage = deploy.stage(chip.BOARD, build_dir=os.path.join(workdir, "stage"))
    user = os.path.join(workdir, "main.img")
    mkfs.build(stage, user)
    probe_stage = os.path.join(workdir, "stage_probe")
    shutil.rmtree(probe_stage, ignore_errors=True)
    shutil.copytree(stage, probe_stage)
    shutil.copy(os.path.join(EMU, "bench_main.py"), os.path.join(probe_stage, "main.py"))
    import build_mpy

    dst = os.path.join(probe_stage, "lib", "bench_probe.mpy")
    r = subprocess.run([build_mpy.mpy_cross(), "-march=armv6m", "-s", "bench_probe.py", "-o", dst,
                        os.path.join(EMU, "bench_probe.py")], capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError("mpy-cross bench_probe.py: " + r.stderr)
    probe = os.path.join(workdir, "probe.img")
    mkfs.build(probe_stage, probe)
    return user, probe


# ---- reading a run --------------------------------------------------------------

def _pct(sorted_vals, p):
    if not sorted_vals:
        return None
    k = max(0, min(len(sorted_vals) - 1, int(math.ceil(p / 100.0 * len(sorted_vals))) - 1))
    return sorted_vals[k]


def t35_ms(baud):
    return 1.75 if baud > 19200 else 3.5 * 11 * 1000.0 / baud


def _kv(text):
    out = {}
    for tok in text.split()[1:]:
        k, _, v = tok.partition("=")
        if "/" in v:
            a, b = v.split("/")
            out[k] = (int(a), int(b))
        else:
            try:
                out[k] = int(v)
            except ValueError:
                out[k] = v
    return out


def _heap(r, tag):
    """'@H tag' and the micropython.mem_info() lines after it."""
    text = r.get("usbOutput", "")
    i = text.find("@H " + tag)
    if i < 0:
        return None
    j = text.find("@H end", i)
    block = text[i:j if j > 0 else i + 2000]
    free = re.search(r"free=(\d+)", block)
    gc_free = re.search(r"GC: total: (\d+), used: (\d+), free: (\d+)", block)
    maxfree = re.search(r"max free sz: (\d+)", block)
    out = {"free": int(free.group(1)) if free else None}
    if gc_free:
        out.update(total=int(gc_free.group(1)), used=int(gc_free.group(2)))
    if maxfree:
        out["largest_free_block"] = 16 * int(maxfree.group(1))  # GC blocks of 16 bytes (rp2)
    return out


def failure(r):
    """Why a run measured nothing, or None."""
    if r.get("error"):
        return r["error"]
    if r.get("traceback"):
        out = r.get("usbOutput", "")
        tail = out[out.rfind("Traceback"):]
        lines = [ln for ln in tail.splitlines() if ln.strip() and not ln.startswith(">>>")]
        msg = next((ln for ln in lines[1:] if not ln.startswith(" ")), lines[-1] if lines else "")
        where = [ln.strip() for ln in lines if ln.startswith("  File")][-1:]
        return "did not run: %s%s" % (msg.strip(), (" (" + where[0] + ")") if where else "")
    if not r.get("cpu"):
        return "the run ended before its window"
    return None


def modbus_figures(r, baud):
    tx = [m for m in r.get("modbus", []) if not m.get("setup_only")]
    polls = [m for m in tx if m.get("req", "").replace(" ", "").lower().startswith(
        "".join("%02x" % b for b in fc03(POLL_START, POLL_COUNT)))]
    ok = [m for m in polls if m.get("crcOk") and m.get("firstByteMs") is not None]
    lat = sorted(m["firstByteMs"] - t35_ms(baud) for m in ok)
    return {"sent": len(polls), "answered_crc_ok": len(ok), "unanswered": len(polls) - len(ok),
            "latency_after_t35_ms": {"p50": _pct(lat, 50), "p99": _pct(lat, 99),
                                     "max": lat[-1] if lat else None, "min": lat[0] if lat else None},
            "baud_seen": sorted({m.get("baud") for m in ok})}


def _gap_register(r):
    for m in r.get("modbus", []):
        if m.get("req", "").replace(" ", "").lower().startswith("01031c840002") and m.get("regs"):
            hi, lo = m["regs"][:2]
            return (hi << 16) | lo
    return None


def cpu_figures(r):
    c = r["cpu"]
    per = {e["name"]: e for e in c["perException"]}
    clk = c["clkSys"]
    span = c["toS"] - c["fromS"]
    irq = [e for e in c["perException"] if e["name"] != "thread"]
    return {"busy_pct": c["busyPct"], "wfe_idle_pct": c["wfeIdlePct"], "clk_sys_hz": clk,
            "thread_pct": per.get("thread", {}).get("pct", 0.0),
            "interrupts": [{"name": e["name"], "pct": e["pct"], "per_s": round(e["entries"] / span, 1),
                            "cycles_each": e["perEntry"]} for e in irq if e["pct"] >= 0.01]}


def _alloc_rate(reps):
    """Bytes a second over the report intervals without a collection."""
    b = ms = 0
    for prev, p in zip(reps, reps[1:]):
        if p["alloc"] >= 0:
            b += p["alloc"]
            ms += p["t"] - prev["t"]
    return 1000.0 * b / ms if ms else None


def probe_figures(r, window):
    lines = r.get("lines", [])
    reps = [dict(_kv(x["text"]), at=x["s"], clocked=x["clocked"])
            for x in lines if x["text"].startswith("@B")]
    wrapped = next((_kv(x["text"]) for x in lines if x["text"].startswith("@W")), {})
    w0, w1 = window
    inwin = [p for p in reps if w0 + 1.0 <= p["at"] <= w1]
    out = {"wrapped": wrapped, "reports": len(reps), "heap_start": _heap(r, "start"),
           "heap_steady": _heap(r, "steady")}
    if not inwin:
        return out
    span_s = (inwin[-1]["at"] - inwin[0]["at"]) + 1.0
    tasks = {}
    for name in ("read_block", "samples", "second", "work", "modbus", "display", "health"):
        us = sum(p.get(name, (0, 0))[0] for p in inwin)
        n = sum(p.get(name, (0, 0))[1] for p in inwin)
        tasks[name] = {"pct": 100.0 * us / (span_s * 1e6), "calls_per_s": n / span_s,
                       "us_each": us / n if n else None}
    turns_us = sum(p["us"] for p in inwin)
    named = sum(tasks[k]["pct"] for k in ("read_block", "samples", "work", "modbus", "display", "health"))
    tasks["rest_of_turn"] = {"pct": 100.0 * turns_us / (span_s * 1e6) - named}
    tasks["kernel"] = {"pct": tasks["samples"]["pct"] - tasks["second"]["pct"]}
    out.update(
        tasks=tasks,
        turns_per_s=sum(p["n"] for p in inwin) / span_s,
        worst_turn_ms=max(p["worst"] for p in inwin) / 1000.0,
        worst_turn_any_ms=max(p["worst"] for p in reps[1:]) / 1000.0 if len(reps) > 1 else None,
        alloc_per_s=_alloc_rate(inwin),
        gc_runs=sum(p["gcs"] for p in inwin),
        heap_alloc_max=max(p["heap"] for p in inwin),
        caught_exceptions=inwin[-1]["err"],
    )
    # every frame the chip clocked out: measured + billed + still in the ring.
    # The last report comes after the ADC stopped (exact); the first one in
    # the window reads its counters up to ~5 ms (its print calls and a USB
    # frame) before the host samples the ADC's count: +-12 frames there.
    last, first = reps[-1], inwin[0]
    if r.get("adcStoppedS") and last["at"] > r["adcStoppedS"] + 0.5:
        def accounted(p):
            return p["fr"] + p["lost"] + p["av"]

        out["frames"] = {
            "clocked": last["clocked"] - first["clocked"],
            "measured": last["fr"] - first["fr"],
            "billed_by_driver": last["lost"] - first["lost"],
            "billed_register": last["gap"] - first["gap"],
            "overruns": last["ov"] - first["ov"], "crc_drops": last["crc"] - first["crc"],
            "unaccounted": (last["clocked"] - first["clocked"]) - (accounted(last) - accounted(first)),
            "usb_slack_frames": 12,
            # since boot (exact at the end): NULL frames clocked - accounted;
            # includes what the driver dropped before the runtime's first read
            "since_boot_unaccounted": r["adc"].get("commands", {}).get("null", 0) - accounted(last),
            "from_s": first["at"], "to_s": last["at"],
        }
    return out


def figures(r, baud, kind):
    f = {"baud": baud, "firmware": kind, "wall_s": r.get("wallSeconds"),
         "emulated_s": r.get("emulatedSeconds")}
    why = failure(r)
    if why:
        f["failed"] = why
        f["usb_tail"] = r.get("usbOutput", "")[-800:]
        if kind == "probe" and _heap(r, "start"):  # it got as far as the heap after start
            f["probe"] = {"heap_start": _heap(r, "start")}
        return f
    window = (r["plan"]["window_from"], r["plan"]["window_to"])
    f["cpu"] = cpu_figures(r)
    f["modbus"] = modbus_figures(r, baud)
    w = r.get("window", {})
    f["adc_window"] = {"conversions": w.get("conversions"), "clocked": w.get("clocked"),
                       "not_clocked": (w.get("conversions") or 0) - (w.get("clocked") or 0)}
    f["frames_gap_register_at_end"] = _gap_register(r)
    f["lcd_lines"] = r.get("lcd", {}).get("lines")
    f["fram_writes"] = r.get("fram", {}).get("writes")
    f["watchdog"] = r.get("watchdog")
    if kind == "probe":
        f["probe"] = probe_figures(r, window)
    return f


# ---- running ------------------------------------------------------------------

def _source():
    """The commit measured, and whether the working tree differed from it."""
    def git(*a):
        return subprocess.run(["git"] + list(a), capture_output=True, text=True, cwd=ROOT).stdout.strip()

    head = git("rev-parse", "--short", "HEAD")
    if not head:
        return os.environ.get("BENCH_SOURCE", "a tree outside git")
    dirty = git("status", "--porcelain", "--", "firmware", "boards")
    return head + (" + uncommitted firmware/boards changes" if dirty else "")


def reread(workdir, seconds, bauds):
    """The figures of runs already made in workdir (their result files)."""
    runs = {}
    for baud in bauds:
        for kind in ("main", "probe"):
            name = "%s_%d" % (kind, baud)
            path = os.path.join(workdir, name + ".result.json")
            if os.path.exists(path):
                with open(path) as fh:
                    runs[name] = figures(json.load(fh), baud, kind)
    return {"seconds": seconds, "bauds": list(bauds), "source": _source(), "note": LOWER_BOUND,
            "firmware": os.path.relpath(chip.FIRMWARE, ROOT),
            "poll": "FC03 %d registers from %d every %g s" % (POLL_COUNT, POLL_START + 1, POLL_EVERY),
            "runs": runs}


def run_all(seconds, bauds, jobs, workdir, kinds=("main", "probe")):
    problems = chip.missing_parts()
    if problems:
        return {"failed": "the emulated Pico cannot run: " + "; ".join(problems)}
    os.makedirs(workdir, exist_ok=True)
    user, probe = images(workdir)
    sc = os.path.join(workdir, "bench_scenario.json")
    with open(sc, "w") as fh:
        json.dump(scenario(int(WINDOW_FROM + seconds + DRAIN_S + 2)), fh)
    frames = chip.frames_file(sc, os.path.join(workdir, "bench.frames"))
    todo = []
    for baud in bauds:
        for kind in kinds:
            name = "%s_%d" % (kind, baud)
            p = plan(baud, seconds, user if kind == "main" else probe, frames)
            path = os.path.join(workdir, name + ".plan.json")
            with open(path, "w") as fh:
                json.dump(p, fh)
            todo.append((name, baud, kind, path, os.path.join(workdir, name + ".result.json")))
    running, results = [], {}
    t0 = time.time()
    while todo or running:
        while todo and len(running) < jobs:
            name, baud, kind, path, out = todo.pop(0)
            err = open(out + ".stderr", "w")
            proc = subprocess.Popen(["node", os.path.join(EMU, "bench_chip.mjs"), path, "--out", out],
                                    stdout=subprocess.DEVNULL, stderr=err, cwd=ROOT)
            running.append((proc, name, baud, kind, out, time.time()))
            print("  chip: started %s" % name, file=sys.stderr)
        time.sleep(1.0)
        for item in list(running):
            proc, name, baud, kind, out, started = item
            if proc.poll() is None and time.time() - started < NODE_TIMEOUT_S:
                continue
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            running.remove(item)
            if proc.returncode == 0 and os.path.exists(out):
                with open(out) as fh:
                    r = json.load(fh)
            else:
                with open(out + ".stderr") as fh:
                    r = {"error": "the emulator failed (exit %s): %s" % (proc.returncode, fh.read()[-1500:])}
            results[name] = figures(r, baud, kind)
            print("  chip: %s done after %.0f s wall" % (name, time.time() - started), file=sys.stderr)
    return {"seconds": seconds, "bauds": list(bauds), "wall_s": time.time() - t0, "source": _source(),
            "firmware": os.path.relpath(chip.FIRMWARE, ROOT), "note": LOWER_BOUND,
            "poll": "FC03 %d registers from %d every %g s" % (POLL_COUNT, POLL_START + 1, POLL_EVERY),
            "runs": results}


# ---- printing -----------------------------------------------------------------

def _ok(v, limit, le=True):
    if v is None:
        return "  ?  "
    return " ok " if (v <= limit if le else v >= limit) else "MISS"


def _f(v, fmt):
    return "-" if v is None else fmt % v


def _cell(runs, baud, path, fmt):
    """A figure from runs[kind_baud] by path ('main.cpu.busy_pct'), formatted."""
    kind, *keys = path.split(".")
    run = v = runs.get("%s_%d" % (kind, baud), {})
    for k in keys:
        v = v.get(k) if isinstance(v, dict) else None
    if v is None:
        return "failed" if run.get("failed") else "-"
    return fmt % v


def _frames_cell(runs, baud):
    fr = runs.get("probe_%d" % baud, {}).get("probe", {}).get("frames")
    m = runs.get("main_%d" % baud, {})
    if not fr and m.get("failed"):
        return "failed"
    gap = m.get("frames_gap_register_at_end")
    if fr:
        return "%d / %d" % (fr["billed_by_driver"], fr["unaccounted"])
    return "- / - (7301: %s)" % ("-" if gap is None else gap)


def print_summary(res, kernel_unicorn_pct=None):
    """One row a target: the figure at each baud rate beside it."""
    runs, bauds = res.get("runs", {}), res.get("bauds", [])
    rows = [
        ("CPU busy, core 0, main.py (%)", "<= 25", "main.cpu.busy_pct", "%.1f"),
        ("  probe run - main.py (points)", "", None, None),
        ("heap free after start (B)", ">= 65536", "probe.probe.heap_start.free", "%d"),
        ("largest free block (B)", ">= 16384", "probe.probe.heap_start.largest_free_block", "%d"),
        ("allocation, steady (B/s)", "<= 2048", "probe.probe.alloc_per_s", "%.0f"),
        ("worst main-loop turn (ms)", "", "probe.probe.worst_turn_ms", "%.1f"),
        ("Modbus p50 after t3.5 (ms)", "", "main.modbus.latency_after_t35_ms.p50", "%.2f"),
        ("Modbus p99 after t3.5 (ms)", "<= 20 @19200", "main.modbus.latency_after_t35_ms.p99", "%.2f"),
        ("frames lost / lost unbilled", "0 / 0", "frames", None),
        ("DSP in firmware: samples() (%)", "(kernel <= 3)", "probe.probe.tasks.kernel.pct", "%.2f"),
    ]
    print()
    hdr = "  %-34s %-13s" % ("chip figure (emulated: lower bounds)", "target") + "".join(
        " %14s" % ("%d baud" % b) for b in bauds)
    print(hdr)
    print("  " + "-" * (len(hdr) - 2))
    for label, target, path, fmt in rows:
        cells = []
        for b in bauds:
            if path == "frames":
                cells.append(_frames_cell(runs, b))
            elif path is None:
                m = runs.get("main_%d" % b, {}).get("cpu", {}).get("busy_pct")
                p = runs.get("probe_%d" % b, {}).get("cpu", {}).get("busy_pct")
                cells.append("-" if m is None or p is None else "%+.1f" % (p - m))
            else:
                cells.append(_cell(runs, b, path, fmt))
        print("  %-34s %-13s" % (label, target) + "".join(" %14s" % c for c in cells))
    if kernel_unicorn_pct is not None:
        print("  %-34s %-13s %14.2f  (the loop's armv6m code in unicorn, any baud)"
              % ("DSP kernel, armv6m emulated (%)", "<= 3", kernel_unicorn_pct))


def print_chip(res, kernel_unicorn_pct=None):
    if kernel_unicorn_pct is None:
        kernel_unicorn_pct = res.get("dsp_kernel_unicorn_pct")
    print()
    print("The chip: the meter on the emulated Pico (stock MicroPython v1.28.0, deploy path,"
          " main.py at reset)")
    print("  %s" % LOWER_BOUND)
    if res.get("failed"):
        print("  NOT MEASURED: %s" % res["failed"])
        return
    print("  %g emulated s per run, master: %s, LCD on, data log running (150 = 10 s); source %s"
          % (res["seconds"], res["poll"], res.get("source")))
    runs = res["runs"]
    for baud in res["bauds"]:
        m, p = runs.get("main_%d" % baud, {}), runs.get("probe_%d" % baud, {})
        print()
        print("  %d baud (set through register 7102)" % baud)
        for f in (m, p):
            if f.get("failed"):
                print("    %-5s %s" % (f["firmware"], f["failed"]))
        if "cpu" in m:
            c = m["cpu"]
            print("    CPU busy, core 0 (main.py)  %6.2f %%   target <= %g %%  %s"
                  % (c["busy_pct"], TARGETS["busy_pct"], _ok(c["busy_pct"], TARGETS["busy_pct"])))
            print("      thread mode (the loop) %6.2f %%" % c["thread_pct"])
            for e in c["interrupts"]:
                print("      %-22s %6.2f %%  %7.1f/s  %s cycles each" % (e["name"], e["pct"], e["per_s"],
                                                                       e["cycles_each"]))
        if "cpu" in p:
            d = p["cpu"]["busy_pct"] - m["cpu"]["busy_pct"] if "cpu" in m else None
            print("    CPU busy with the probe       %6.2f %%   (%s vs main.py; the probe's cost if > 0)"
                  % (p["cpu"]["busy_pct"], _f(d, "%+.2f points")))
        pr = p.get("probe", {})
        if pr.get("tasks"):
            t = pr["tasks"]
            print("    breakdown (probe, % of the core; calls/s; us each):")
            for k, label in (("read_block", "decode (read_block)"),
                             ("kernel", "DSP (samples - second's close)"),
                             ("second", "second's close (in samples)"), ("work", "once-a-second jobs (work)"),
                             ("modbus", "Modbus (rs485.service)"), ("display", "display (_display)"),
                             ("health", "health (_health)"), ("rest_of_turn", "rest of the turns")):
                x = t[k]
                print("      %-32s %6.2f %%  %s  %s" % (label, x["pct"], _f(x.get("calls_per_s"), "%7.1f/s"),
                                                      _f(x.get("us_each"), "%8.0f us")))
            print("      acquisition: the interrupts above (PIO/DMA, IO_BANK0, ...)")
            k = t["kernel"]["pct"]
            print("    app.samples() less the second's close %.2f %% (the kernel's target <= %g %% is for the"
                  " loop alone: see the unicorn figure)" % (k, TARGETS["kernel_pct"]))
            print("    worst main-loop turn        %7.1f ms  (in the window; %s ms over the whole run)"
                  % (pr["worst_turn_ms"], _f(pr.get("worst_turn_any_ms"), "%.1f")))
            print("    turns                       %7.1f /s" % pr["turns_per_s"])
            a = pr["alloc_per_s"]
            print("    allocation, steady state    %s B/s  target <= %d  %s   (%d collections in the window)"
                  % (_f(a, "%7.0f"), TARGETS["alloc_per_s"], _ok(a, TARGETS["alloc_per_s"]), pr["gc_runs"]))
        hs = pr.get("heap_start")
        if hs:
            print("    heap after start: free %s B (target >= %d %s), largest free block %s B"
                  " (target >= %d %s)"
                  % (hs.get("free"), TARGETS["heap_free"], _ok(hs.get("free"), TARGETS["heap_free"], False),
                     hs.get("largest_free_block"), TARGETS["heap_block"],
                     _ok(hs.get("largest_free_block"), TARGETS["heap_block"], False)))
        hst = pr.get("heap_steady")
        if hst:
            print("    heap, steady (after a collection): free %s B, largest free block %s B"
                  % (hst.get("free"), hst.get("largest_free_block")))
        for f in (m, p):
            mb = f.get("modbus")
            if not mb:
                continue
            lat = mb["latency_after_t35_ms"]
            print("    Modbus (%-5s) %d polls, %d answered: latency after t3.5 p50 %s ms, p99 %s ms,"
                  " max %s ms  target p99 <= %g ms  %s"
                  % (f["firmware"], mb["sent"], mb["answered_crc_ok"], _f(lat["p50"], "%.2f"),
                     _f(lat["p99"], "%.2f"), _f(lat["max"], "%.2f"), TARGETS["latency_p99_ms"],
                     _ok(lat["p99"], TARGETS["latency_p99_ms"]) if baud == 19200 else "(target at 19200)"))
        for f in (m, p):
            if "adc_window" not in f:
                continue
            aw = f["adc_window"]
            print("    frames (%-5s) in the window: %s converted, %s not clocked out by the chip;"
                  " register 7301-7302 (billed) = %s"
                  % (f["firmware"], aw["conversions"], aw["not_clocked"],
                     f.get("frames_gap_register_at_end")))
        fr = pr.get("frames")
        if fr:
            lost = fr["billed_by_driver"]
            print("    frames (probe, %.0f-%.0f s, ring drained): %d clocked = %d measured + %d billed"
                  " (%d overrun, %d CRC); unaccounted %d (+-%d: USB)  target 0 lost, 0 unbilled  %s"
                  % (fr["from_s"], fr["to_s"], fr["clocked"], fr["measured"], lost, fr["overruns"],
                     fr["crc_drops"], fr["unaccounted"], fr["usb_slack_frames"],
                     _ok(abs(fr["unaccounted"]) + lost, fr["usb_slack_frames"]) if lost == 0 else "MISS"))
            print("      since boot (exact): NULL frames clocked - accounted = %s"
                  " (frames before the runtime's first read count here)" % fr.get("since_boot_unaccounted"))
    print_summary(res, kernel_unicorn_pct)


def main():
    ap = argparse.ArgumentParser(description="the meter on the emulated Pico: chip figures for make bench")
    ap.add_argument("--seconds", type=float, default=60.0, help="emulated seconds of polling per run")
    ap.add_argument("--bauds", type=int, nargs="+", default=[19200, 38400])
    ap.add_argument("--jobs", type=int, default=max(1, min(4, os.cpu_count() or 1)))
    ap.add_argument("--kinds", nargs="+", default=["main", "probe"], choices=["main", "probe"])
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "chip.json"))
    ap.add_argument("--print", dest="show", default=None, help="print a results file and exit")
    ap.add_argument("--reread", action="store_true", help="read the runs already in --workdir again")
    a = ap.parse_args()
    if a.show:
        with open(a.show) as fh:
            print_chip(json.load(fh))
        return
    wd = a.workdir or tempfile.mkdtemp(prefix="bench-chip-")
    if a.reread:
        res = reread(wd, a.seconds, a.bauds)
    else:
        res = run_all(a.seconds, a.bauds, a.jobs, wd, tuple(a.kinds))
    try:  # the DSP loop's armv6m code in unicorn (requirements-bench.txt), as tools/bench.py prints it
        import thumb_emulate

        res["dsp_kernel_unicorn_pct"] = thumb_emulate.run()["core_pct_125mhz"]
    except ImportError:
        pass
    print_chip(res)
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as fh:
        json.dump(res, fh, indent=1)
    print("\nwritten:", os.path.relpath(a.out, ROOT))


if __name__ == "__main__":
    main()
