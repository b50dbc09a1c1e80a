"""Which functions get their call frame from the heap on the board.

MicroPython (the stock rp2 firmware: no pystack) gives a bytecode function
its frame (locals + value stack + exception stack) on the C stack only when
that state is at most 11 words (py/objfun.c, VM_MAX_STATE_ON_STACK); a
bigger frame is allocated from the GC heap at every call and freed at the
return. Such a call allocates nothing for good, so mem_alloc() deltas and
heap_lock() tests cannot see it (under heap_lock it falls back to the C
stack), but on the chip each call is a search of the allocation table for
a free run of 5-9 blocks: with the heap fragmented after start-up it
scanned most of the table (~35 000 cycles a call, measured on the emulated
Pico: docs/runtime.md 'Frames from the heap'). So the functions the loop
calls every turn must keep their state within 11 words.

    python tools/frame_check.py firmware/rs485.py ...   # every function's state
    python tools/frame_check.py --hot                     # the per-turn list, checked

The .mpy files are made with the board's mpy-cross (-march=armv6m) and
read here: header, qstr and constant tables, then the raw-code tree; the
bytecode prelude's signature gives n_state and n_exc_stack
(docs/reference/mpyfiles.rst, py/bc.h's prelude encoding).
"""

import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORD = 4  # RP2040: 32-bit words
EXC_WORDS = 3  # mp_exc_stack_t on the rp2 build: 3 words (its fun_bc_call multiplies by 3)
STACK_FRAME_MAX = 11 * WORD  # py/objfun.c VM_MAX_STATE_ON_STACK

# The functions the main loop calls every turn, or every block (~40 times a
# second): each must keep its frame off the heap. (path, simple name)
HOT = (
    ("firmware/runtime.py", "step"),
    ("firmware/runtime.py", "run"),
    ("firmware/runtime.py", "nap_ms"),
    ("firmware/runtime.py", "_wait"),
    ("firmware/runtime.py", "_nap"),
    ("firmware/runtime.py", "_modbus"),
    ("firmware/runtime.py", "_serve"),
    ("firmware/runtime.py", "_acquire"),
    ("firmware/runtime.py", "_short"),
    ("firmware/runtime.py", "_block"),
    ("firmware/runtime.py", "_bill_lost"),
    ("firmware/runtime.py", "_flag_clipped"),
    ("firmware/runtime.py", "_second_beat"),
    ("firmware/runtime.py", "_second_job"),
    ("firmware/runtime.py", "_keys"),
    ("firmware/runtime.py", "_idle_work"),
    ("firmware/meter.py", "process"),
    ("firmware/app.py", "samples"),
    ("firmware/dsp.py", "process"),
    ("firmware/dsp.py", "_feed"),
    ("firmware/dsp.py", "_accumulate"),
    ("firmware/rs485.py", "service"),
    ("firmware/rs485.py", "_take_events"),
    ("firmware/rs485.py", "release"),
    ("firmware/rs485.py", "release_due_us"),
    ("firmware/rs485.py", "ready"),
    ("firmware/rs485.py", "rx_idle"),
    ("firmware/modbus_rtu.py", "reply"),
    ("firmware/pulse.py", "tick"),
    ("firmware/pulse.py", "due_in"),
    ("boards/drivers/ads131m06.py", "available"),
    ("boards/drivers/ads131m06.py", "_poll"),
    ("boards/drivers/ads131m06.py", "read_block"),
    ("boards/drivers/ads131m06.py", "_head_at"),
    ("boards/drivers/ads131m06.py", "_claim"),
    ("boards/drivers/ads131m06.py", "_decode_into"),
    ("boards/drivers/ads131m06.py", "_lapped"),
    ("boards/drivers/ads131m06.py", "_account"),
    ("boards/drivers/framering.py", "lost"),
    ("boards/drivers/rs485_pio.py", "event"),
    ("boards/drivers/rs485_pio.py", "pending"),
    ("boards/drivers/buttons.py", "poll"),
)

_KINDS = ("bytecode", "native", "viper", "asm")


class Reader:
    def __init__(self, data):
        self.data = data
        self.pos = 0

    def byte(self):
        b = self.data[self.pos]
        self.pos += 1
        return b

    def uint(self):
        u = 0
        while True:
            b = self.byte()
            u = (u << 7) | (b & 0x7F)
            if not b & 0x80:
                return u

    def skip(self, n):
        self.pos += n


def prelude(code, pos=0):
    """(n_state, n_exc_stack, simple-name qstr index) of a bytecode prelude."""
    z = code[pos]
    pos += 1
    s = (z >> 3) & 0xF
    e = (z >> 2) & 1
    n = 0
    while z & 0x80:
        z = code[pos]
        pos += 1
        s |= (z & 0x30) << (2 * n)
        e |= (z & 0x02) << n
        n += 1
    # the size section (xIIIIIIC bytes), then the info section: its first
    # vuint is the function's simple name
    while code[pos] & 0x80:
        pos += 1
    pos += 1
    q = 0
    while True:
        b = code[pos]
        pos += 1
        q = (q << 7) | (b & 0x7F)
        if not b & 0x80:
            break
    return s + 1, e, q


def _skip_obj(r):
    t = r.byte()
    if t <= 4:  # fun table, None, False, True, Ellipsis
        return
    n = r.uint()
    if t == 10:  # tuple
        for _ in range(n):
            _skip_obj(r)
        return
    if t == 6 and n == 0:  # empty bytes: its terminator
        r.skip(1)
        return
    r.skip(n)
    if t in (5, 6):  # str, bytes: NUL terminated
        r.skip(1)


def _raw_code(r, qstrs, out):
    kind_len = r.uint()
    kind = _KINDS[kind_len & 3]
    children = kind_len & 4
    size = kind_len >> 3
    code = r.data[r.pos:r.pos + size]
    r.skip(size)
    flags = 0
    if kind == "bytecode":
        s, e, q = prelude(code)
        out.append((qstrs[q], s, e))
    elif kind == "native":
        s, e, q = prelude(code, r.uint())  # the prelude's offset in the code
        out.append((qstrs[q], None, None))  # native frames are on the C stack
    else:
        flags = r.uint()
        if kind == "asm":
            r.uint()
            r.uint()
        if kind == "viper":
            if flags & 0x20:
                r.uint()  # rodata size
            if flags & 0x40:
                r.uint()  # bss size
    if children:
        for _ in range(r.uint()):
            _raw_code(r, qstrs, out)
    if kind == "viper" and flags & 0x10:  # relocations follow the children
        while True:
            op = r.byte()
            if op == 0xFF:
                break
            if op & 1:
                r.uint()
            op >>= 1
            if op <= 5 and op & 1:
                r.uint()


def functions(mpy):
    """[(simple name, n_state or None for native code, n_exc_stack)] of an .mpy."""
    r = Reader(mpy)
    if r.byte() != ord("M") or r.byte() != 6:
        raise ValueError("not a version 6 .mpy file")
    feat = r.byte()
    r.byte()
    if feat & 0x40:
        r.uint()
    n_q = r.uint()
    n_obj = r.uint()
    qstrs = []
    for _ in range(n_q):
        n = r.uint()
        if n & 1:
            qstrs.append("<static qstr %d>" % (n >> 1))
            continue
        n >>= 1
        qstrs.append(mpy[r.pos:r.pos + n].decode())
        r.skip(n + 1)
    for _ in range(n_obj):
        _skip_obj(r)
    out = []
    _raw_code(r, qstrs, out)
    return out


def state_bytes(n_state, n_exc):
    return (n_state + EXC_WORDS * n_exc) * WORD


def compile_mpy(path):
    if os.path.join(ROOT, "tools") not in sys.path:
        sys.path.insert(0, os.path.join(ROOT, "tools"))
    import build_mpy

    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "x.mpy")
        p = subprocess.run([build_mpy.mpy_cross(), "-march=armv6m", "-o", out, path],
                           capture_output=True, text=True)
        if p.returncode:
            raise RuntimeError("mpy-cross %s: %s" % (path, p.stderr))
        with open(out, "rb") as f:
            return f.read()


_STATIC = {}


def _static_name(tag, names):
    # a name in the firmware's static qstr table is stored as its index:
    # find which of `names` it is by compiling a one-line probe of each
    if not _STATIC:
        with tempfile.TemporaryDirectory() as d:
            for n in sorted(set(names)):
                src = os.path.join(d, "probe.py")
                with open(src, "w") as f:
                    f.write("def %s():\n    pass\n" % n)
                q = functions(compile_mpy(src))[1][0]
                _STATIC[q] = n
    return _STATIC.get(tag, tag)


def frames(path, names=()):
    """{simple name: [state bytes or None (native)]} of a source file;
    `names`: function names to resolve if they are static qstrs."""
    res = {}
    for name, s, e in functions(compile_mpy(os.path.join(ROOT, path))):
        if name.startswith("<static"):
            name = _static_name(name, names or [n for _, n in HOT])
        res.setdefault(name, []).append(None if s is None else state_bytes(s, e))
    return res


def hot_report():
    """[(path, name, [state bytes])] for HOT; missing names give []."""
    cache = {}
    out = []
    for path, name in HOT:
        if path not in cache:
            cache[path] = frames(path)
        out.append((path, name, cache[path].get(name, [])))
    return out


def main(argv):
    if argv == ["--hot"]:
        bad = 0
        for path, name, sizes in hot_report():
            worst = max((s for s in sizes if s is not None), default=0)
            heap = worst > STACK_FRAME_MAX
            bad += heap or not sizes
            print("%-32s %-16s %s%s" % (path, name, sizes or "MISSING",
                                       "  HEAP FRAME" if heap else ""))
        return 1 if bad else 0
    for path in argv:
        for name, sizes in sorted(frames(path).items()):
            for s in sizes:
                tag = "native" if s is None else "%d B%s" % (s, " heap" if s > STACK_FRAME_MAX else "")
                print("%s %s %s" % (path, name, tag))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
