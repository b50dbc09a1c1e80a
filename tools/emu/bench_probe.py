# The bench's probe inside the emulated Pico (make bench only; never deployed
# to a meter). tools/bench_chip.py stages it as lib/bench_probe.mpy beside
# tools/emu/bench_main.py, which builds the runtime exactly as main.py does
# and then calls install(rt).
#
# install() wraps the runtime's per-task callables with ticks_us
# accumulators, without changing what they do or return:
#   read_block  source.read_block        frames from the ring, CRC and decode
#   samples     app.samples               DSP kernel (includes `second`)
#   second      meter.dsp.on_second       the second's close inside samples
#   work        meter.work                the closed second's jobs, spread
#   modbus      rs485.service             RTU receive, reply, DE
#   display     rt._display               menu frame + HD44780 over I2C
#   health      rt._health                fault check, watchdog feed
# and rt.step itself: turns, time in turns, the worst turn. Once a second
# (by ticks_ms, after a turn) the heap allocated since the last report
# (gc.mem_alloc(); -1 when a collection ran in between) and one line over
# USB:
#   @B t=<ms> s=<dsp seconds> fr=<frames measured> lost=<billed by driver>
#      gap=<frames_gap register> ov=<overruns> crc=<crc drops> av=<in ring>
#      n=<turns> us=<us in turns> worst=<us> alloc=<bytes> gcs=<0/1>
#      heap=<bytes allocated> err=<exceptions caught> <task>=<us>/<calls> ...
# and every HEAP_EVERY reports '@H steady' plus micropython.mem_info()
# after a collection. The line is formatted and printed outside the timed
# turn, and what printing allocates is left out of alloc; its CPU cost is
# the probe's overhead (tools/bench_chip.py compares busy % with main.py).
# Only fixed-arity wrappers: *args would allocate a tuple every call.
import gc

import micropython
from micropython import const
from time import ticks_diff, ticks_ms, ticks_us

NAMES = ("read_block", "samples", "second", "work", "modbus", "display", "health")
HEAP_EVERY = const(15)
_N = const(7)
acc = [0] * _N
calls = [0] * _N
# turn statistics, reset each report
_TURNS = const(0)
_US = const(1)
_WORST = const(2)
_ALLOC = const(3)
_GCS = const(4)
_PREV = const(5)  # gc.mem_alloc() after the last turn
_LAST = const(6)  # ticks_ms of the last report
_REPORTS = const(7)
st = [0] * 8


def _w0(f, k):
    def w():
        t = ticks_us()
        try:
            return f()
        finally:
            acc[k] += ticks_diff(ticks_us(), t)
            calls[k] += 1
    return w


def _w1(f, k):
    def w(a):
        t = ticks_us()
        try:
            return f(a)
        finally:
            acc[k] += ticks_diff(ticks_us(), t)
            calls[k] += 1
    return w


def _w2(f, k):
    def w(a, b):
        t = ticks_us()
        try:
            return f(a, b)
        finally:
            acc[k] += ticks_diff(ticks_us(), t)
            calls[k] += 1
    return w


def _wrap(obj, name, k, arity):
    f = getattr(obj, name, None) if obj is not None else None
    if f is None:
        return False
    try:
        setattr(obj, name, (_w0, _w1, _w2)[arity](f, k))
    except (AttributeError, TypeError):
        return False
    return True


def heap(tag):
    gc.collect()
    print("@H %s free=%d alloc=%d" % (tag, gc.mem_free(), gc.mem_alloc()))
    micropython.mem_info()
    print("@H end")


def _get(obj, name):
    v = getattr(obj, name, 0) if obj is not None else 0
    return v() if callable(v) else v


def install(rt):
    src = rt.source
    app = rt.app
    meter = rt.meter
    dsp = getattr(meter, "dsp", None)
    found = (
        _wrap(src, "read_block", 0, 2),
        _wrap(app, "samples", 1, 2),
        _wrap(dsp, "on_second", 2, 1),
        _wrap(meter, "work", 3, 0),
        _wrap(getattr(rt, "rs485", None), "service", 4, 1),
        _wrap(rt, "_display", 5, 1),
        _wrap(rt, "_health", 6, 1),
    )
    print("@W " + " ".join("%s=%d" % (NAMES[i], found[i]) for i in range(_N)))
    counters = getattr(meter, "counters", None)
    step = rt.step
    t0 = getattr(rt, "t0", 0)

    def report(now):
        # gc.mem_alloc() walks the whole heap (~2 ms): once a report, not
        # per turn. Less than at the last report: a collection ran between.
        m = gc.mem_alloc()
        d = m - st[_PREV]
        st[_ALLOC] = d if d >= 0 else -1
        st[_GCS] = 0 if d >= 0 else 1
        errs = getattr(rt, "errors", (0,))
        line = "@B t=%d s=%d fr=%d lost=%d gap=%d ov=%d crc=%d av=%d n=%d us=%d worst=%d alloc=%d gcs=%d " \
               "heap=%d err=%d" % (
                   ticks_diff(now, t0), _get(dsp, "seconds"), _get(rt, "frames"), _get(src, "lost"),
                   _get(counters, "frames_gap"), _get(src, "overruns"), _get(src, "crc_errors"),
                   _get(src, "available"), st[_TURNS], st[_US], st[_WORST], st[_ALLOC], st[_GCS],
                   m, sum(errs))
        print(line, end="")
        for i in range(_N):
            print(" %s=%d/%d" % (NAMES[i], acc[i], calls[i]), end="")
            acc[i] = 0
            calls[i] = 0
        print()
        for i in range(_PREV):
            st[i] = 0
        st[_REPORTS] += 1
        if st[_REPORTS] % HEAP_EVERY == 0:
            heap("steady")
        st[_PREV] = gc.mem_alloc()  # what the report allocated is not the meter's

    def timed_step():
        t = ticks_us()
        n = step()
        dt = ticks_diff(ticks_us(), t)
        st[_TURNS] += 1
        st[_US] += dt
        if dt > st[_WORST]:
            st[_WORST] = dt
        now = ticks_ms()
        if ticks_diff(now, st[_LAST]) >= 1000:
            st[_LAST] = now
            report(now)
        return n

    st[_LAST] = ticks_ms()
    st[_PREV] = gc.mem_alloc()
    rt.step = timed_step
