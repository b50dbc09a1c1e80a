# The whole firmware under the real MicroPython binary (run by tools/bench.py
# as `micropython tools/bench_runtime_mp.py`): heap after start and at steady
# state, the cost of each periodic task per second of running, and the
# Modbus RTU slave's processing time for a 125-register read, and each
# piece of the once-a-second work as the main loop runs it (meter.work()
# jobs, the display frame): time and bytes allocated per call (gc off,
# gc.mem_alloc() before and after), and the allocation of a second of
# running. Prints one JSON line. The unix port is 64-bit: its objects take
# about twice the RP2040's bytes (8-byte pointers and words instead of 4);
# a boxed float is 16 bytes on both.
import gc
import json
import sys
import time

_here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
sys.path[:] = [_here + "/../firmware", _here + "/../boards"] + \
    [p for p in sys.path if p not in ("", ".", _here)] + [_here]

from array import array  # noqa: E402


class Pin:
    def __init__(self):
        self.v = 0

    def value(self, v=None):
        if v is None:
            return self.v
        self.v = v


def us(t0):
    return time.ticks_diff(time.ticks_us(), t0)


def per_call(f, reps=10):
    # (us, bytes allocated) per call of f, garbage collection off
    gc.collect()
    gc.disable()
    a0 = gc.mem_alloc()
    t0 = time.ticks_us()
    for _ in range(reps):
        f()
    t = us(t0) / reps
    a = (gc.mem_alloc() - a0) // reps
    gc.enable()
    gc.collect()
    return t, a


def task_table(app, src, buf, block):
    # the loop's pieces (runtime.py step): the DSP's second close, then the
    # meter's jobs one at a time as the loop runs them, and a display frame
    import dsp_kernel as K

    m = app.meter
    d = m.dsp
    fs = src.frontend.fs
    # a second's sums, kept so the close can be repeated on the same data
    while d.st[K.ST_N] + block < fs:
        n = src.synth.fill(buf, block)
        K.accumulate(buf, 0, n, d.st, d.acc)
    st0 = array("i", d.st)
    acc0 = array("i", d.acc)
    last = d._last_cross
    hook = d.on_second

    def close():
        d.st[:] = st0
        d.acc[:] = acc0
        d._last_cross = last
        d._close_second()

    d.on_second = None
    out = {"dsp_close": per_call(close)}
    d.on_second = hook
    m.spread = True

    def job(k):
        def run():
            m._job = k
            m.work()
        return run

    for k, name in ((1, "job_energy_demand"), (2, "job_outputs_alarms"),
                    (3, "job_register_image"), (4, "job_save")):
        out[name] = per_call(job(k))
    m._job = 0
    out["display_frame"] = per_call(app.frame)
    out["pulse_tick"] = per_call(lambda: app.pulse.tick(0), 100)
    return out


def alloc_per_second(app, src, block, seconds=5):
    # bytes allocated per second of running the way the loop does: blocks
    # in, the second's jobs one a call, two display frames a second. The
    # blocks are synthesized first (the synthesizer's allocation is not
    # the firmware's) and replayed.
    m = app.meter
    m.spread = True
    fs = src.frontend.fs
    blocks = []
    for _ in range(fs // block):
        b = array("i", bytes(24 * block))
        src.synth.fill(b, block)
        blocks.append(b)
    gc.collect()
    gc.disable()
    a0 = gc.mem_alloc()
    for _ in range(seconds):
        for k in range(len(blocks)):
            app.samples(blocks[k], block)
            m.work()
            if k % (len(blocks) // 2) == 0:
                app.frame()
    a = (gc.mem_alloc() - a0) // seconds
    gc.enable()
    gc.collect()
    m.finish()
    m.spread = False
    return a


def main():
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    gc.collect()
    free0 = gc.mem_free()
    import scenario
    from sim import SynthSource

    sc = scenario.load(_here + "/scenarios/default.json")
    src = SynthSource(sc)
    gc.collect()
    free_tools = gc.mem_free()  # the synthesizer is the simulator's, not the firmware's
    from app import App
    from modbus_rtu import RtuSlave, crc16, timing_us
    import persist  # noqa: F401
    import nvstore  # noqa: F401

    gc.collect()
    free_code = gc.mem_free()  # the firmware's modules loaded: their code
    app = App(src.frontend, Pin(), Pin(), serial="BENCH")
    app.boot()
    rtu = RtuSlave(app.pdu, app.meter.config)
    fs = src.frontend.fs
    block = fs // 20
    buf = array("i", bytes(24 * block))
    gc.collect()
    heap_start = free_code - gc.mem_free()
    code_bytes = free_tools - free_code
    # steady state: run, then measure each periodic task on its own
    t_samples = 0
    t_tick = 0
    t_frame = 0
    n_blocks = 0
    ms = 0
    for _ in range(seconds * 20):
        n = src.synth.fill(buf, block)
        if n == 0:
            break
        t0 = time.ticks_us()
        app.samples(buf, n)
        t_samples += us(t0)
        ms += 50
        t0 = time.ticks_us()
        for k in range(10):
            app.tick(ms - 50 + 5 * k)
        t_tick += us(t0)
        t0 = time.ticks_us()
        app.frame()
        t_frame += us(t0)
        n_blocks += 1
    run_s = n_blocks / 20
    gc.collect()
    heap_steady = free_code - gc.mem_free()
    # the once-a-second parts, each timed alone
    m = app.meter
    d = m.dsp
    reps = 20
    t0 = time.ticks_us()
    for _ in range(reps):
        m.energy.add(d.energy)
        m.demand.add(d.energy)
    t_energy = us(t0) / reps
    t0 = time.ticks_us()
    for _ in range(reps):
        m.bank.refresh(d.readings, d.valid, m.errors())
    t_refresh = us(t0) / reps
    t0 = time.ticks_us()
    for _ in range(reps):
        app.alarms.update(d.readings, d.flags)
    t_alarms = us(t0) / reps
    t0 = time.ticks_us()
    persist_state = None
    try:
        from persist import state_of
        from nvstore import encode

        for _ in range(5):
            persist_state = encode(state_of(m))
        t_save_encode = us(t0) / 5
    except ImportError:
        t_save_encode = 0
    # Modbus: a 125-register read of 257.. (floats), frame in, reply out
    req = bytearray((1, 3, 0x01, 0x00, 0, 125, 0, 0))
    c = crc16(req, 6)
    req[6] = c & 0xFF
    req[7] = c >> 8
    tc, t15, t35 = timing_us(19200)
    t = 1000000
    rtu.feed(req, t)
    rtu.poll(t + t35)
    rtu.sent()
    reps = 200
    t0 = time.ticks_us()
    for _ in range(reps):
        t += 100000
        rtu.feed(req, t)
        r = rtu.poll(t + t35)
        rtu.sent()
    t_modbus = us(t0) / reps
    reply_len = len(r)
    tasks = task_table(app, src, buf, block)
    alloc_s = alloc_per_second(app, src, block)
    print(json.dumps({
        "seconds": run_s,
        "heap_free_at_start_of_process": free0,
        "heap_code_bytes": code_bytes,
        "heap_data_after_boot": heap_start,
        "heap_data_steady": heap_steady,
        "per_s_samples_us": t_samples / run_s,
        "per_s_tick_us": t_tick / run_s,
        "per_s_display_frame_us": t_frame / run_s,
        "per_s_energy_demand_us": t_energy,
        "per_s_register_refresh_us": t_refresh,
        "per_s_alarms_us": t_alarms,
        "save_encode_us": t_save_encode,
        "save_bytes": len(persist_state) if persist_state else 0,
        "modbus_read125_us": t_modbus,
        "modbus_reply_bytes": reply_len,
        "task_us": {k: round(v[0], 1) for k, v in tasks.items()},
        "task_alloc_bytes": {k: v[1] for k, v in tasks.items()},
        "alloc_bytes_per_s": alloc_s,
    }))


main()
