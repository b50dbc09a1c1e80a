# A model of the RP2040's PIO and DMA as the acquisition drivers use them
# (RP2040 datasheet 2.5 DMA, 3 PIO), for host tests on CPython and on the
# MicroPython unix port. It is the `rp2` module the driver's board hands in:
#   asm_pio   assembles a program written with MicroPython's PIO names into
#             an instruction list (any program; the interpreter below runs
#             wait, set, push, pull, mov, jmp, nop and their delays)
#   StateMachine  runs that list: `wait` reads the in_base Pin object's
#             value, `set pins` writes the set_base Pin, `push` goes to a
#             4-word RX FIFO (a full FIFO stalls the machine, as on chip)
#   DMA       channels with the real CTRL bit layout (pack_ctrl), TREQ
#             pacing (a PIO RX FIFO, an SPI's TX/RX, permanent), CHAIN_TO,
#             read/write rings, the TRANS_COUNT reload and the trigger
#             aliases AL2_WRITE_ADDR_TRIG / AL3_READ_ADDR_TRIG, on a memory
#             of Python buffers given fake addresses (never 256-aligned
#             unless asked, so a driver's alignment code is exercised)
# the ADC (RP2040 datasheet 4.9: CS.EN/START_MANY/AINSEL/RROBIN, FCS.EN/
# DREQ_EN/THRESH, a 4-deep FIFO, DREQ_ADC 36; its registers through
# `mem32`; convert(n) makes n conversions from per-channel code lists), and
# an SPI peripheral at a data-register address: bytes written there
# between the CS pin's fall and rise go to the device (the test's chip
# model: write_readinto(tx, rx), one frame), and its answer comes back
# through the SPI's RX FIFO, byte by byte, to whatever DMA channel drains it.
# Time is the state machines' own clock: each instruction takes 1 + delay
# cycles; a frame's push and CS cycles are kept for pacing checks.
# Everything hangs off one Chip (CHIP); reset() makes a fresh one.
from array import array

DMA_BASE = 0x50000000
_CH_STRIDE = 0x40
PIO_BASE = (0x50200000, 0x50300000)
TREQ_PERMANENT = 0x3F

# CTRL_TRIG fields: name -> (shift, bits)
_CTRL = {
    "enable": (0, 1), "high_pri": (1, 1), "size": (2, 2), "inc_read": (4, 1),
    "inc_write": (5, 1), "ring_size": (6, 4), "ring_sel": (10, 1), "chain_to": (11, 4),
    "treq_sel": (15, 6), "irq_quiet": (21, 1), "bswap": (22, 1), "sniff_en": (23, 1),
}


def unpack_ctrl(v):
    return {k: (v >> s) & ((1 << b) - 1) for k, (s, b) in _CTRL.items()}


# ---- the assembler ----------------------------------------------------------
class _Instr:
    def __init__(self, op, args):
        self.op = op
        self.args = args
        self.delay = 0
        self.side_value = None

    def __getitem__(self, delay):  # push(block)[2]
        self.delay = delay
        return self

    def side(self, v):
        self.side_value = v
        return self


class Program:
    def __init__(self, kw):
        self.kw = kw
        self.instrs = []
        self.labels = {}
        self.wrap_target = 0
        self.wrap = None

    def names(self):
        prog = self

        def emit(op):
            def f(*args):
                i = _Instr(op, args)
                prog.instrs.append(i)
                return i
            return f

        def label(name):
            prog.labels[name] = len(prog.instrs)

        def wrap_target():
            prog.wrap_target = len(prog.instrs)

        def wrap():
            prog.wrap = len(prog.instrs) - 1

        d = {k: emit(k) for k in ("wait", "set", "push", "pull", "mov", "jmp", "nop",
                                  "in_", "out", "irq", "word")}
        d.update(label=label, wrap_target=wrap_target, wrap=wrap,
                 reverse=lambda v: ("rev", v), invert=lambda v: ("inv", v))
        for k in ("pins", "pin", "gpio", "x", "y", "osr", "isr", "null", "pindirs", "pc",
                  "exec", "status", "block", "noblock", "iffull", "ifempty", "rel", "clear",
                  "x_dec", "y_dec", "not_x", "not_y", "x_not_y", "not_osre"):
            d[k] = k
        return d


def asm_pio(**kw):
    """Like rp2.asm_pio: runs the function once with the PIO names put in
    its module's globals, and returns the Program."""
    def deco(f):
        prog = Program(kw)
        names = prog.names()
        g = f.__globals__
        saved = {k: g[k] for k in names if k in g}
        g.update(names)
        try:
            f()
        finally:
            for k in names:
                del g[k]
            g.update(saved)
        if prog.wrap is None:
            prog.wrap = len(prog.instrs) - 1
        return prog
    return deco


class PIO:
    IN_LOW = 0
    IN_HIGH = 1
    OUT_LOW = 2
    OUT_HIGH = 3
    SHIFT_LEFT = 0
    SHIFT_RIGHT = 1
    JOIN_NONE = 0
    JOIN_TX = 1
    JOIN_RX = 2
    IRQ_SM0 = 0x100


# ---- the state machines -------------------------------------------------------
def _rev32(v):
    r = 0
    for _ in range(32):
        r = (r << 1) | (v & 1)
        v >>= 1
    return r


class _SM:
    FIFO = 4

    def __init__(self, chip, n):
        self.chip = chip
        self.n = n
        self.program = None
        self.on = False
        self.txq = []
        self.rxq = []
        self.dreq = (4 if n < 4 else 12) + (n & 3)
        self.rxf = PIO_BASE[n >> 2] + 0x20 + 4 * (n & 3)
        self.cycle = 0
        self.frame_pushes = []  # cycles of this frame's pushes (since CS fell)
        self.last_frame = None  # (push cycles, CS rise cycle) of the last whole frame
        self.stalled = ""
        self.traces = {}  # Chip.fast: state at DRDY -> the frame's effects
        self.rec = None
        self.runs = False  # no program yet
        self.kwargs = {}
        self.set_base = self.in_base = None
        self.restarts = 0
        self.pc = self.x = self.y = self.osr = self.isr = 0

    RUNS = ("wait", "set", "push", "pull", "mov", "jmp", "nop")

    def init(self, program, freq=-1, set_base=None, in_base=None, **kw):
        self.program = program
        self.traces = {}
        self.freq = freq
        self.set_base = set_base
        self.in_base = in_base
        self.kwargs = {"freq": freq}  # what init was given, for tests to check
        if set_base is not None:
            self.kwargs["set_base"] = set_base
        if in_base is not None:
            self.kwargs["in_base"] = in_base
        self.kwargs.update(kw)
        # a program using instructions this model does not run stays inert:
        # its FIFOs and settings are still there for a test to look at
        self.runs = all(i.op in self.RUNS for i in program.instrs) and \
            all(i.op != "jmp" or len(i.args) == 1 or i.args[0] == "x_dec" for i in program.instrs) \
            and all(i.op != "wait" or i.args[1:] == ("pin", 0) for i in program.instrs)
        self.on = False
        self.restart()
        self.restarts = 0
        self.txq = []
        self.rxq = []  # init flushes both FIFOs
        if set_base is not None and program.kw.get("set_init") == PIO.OUT_HIGH:
            self._set_pin(1)

    def restart(self):
        self.pc = 0
        self.x = self.y = self.osr = self.isr = 0
        self.restarts = getattr(self, "restarts", -1) + 1

    def active(self, v=None):
        if v is not None:
            self.on = bool(v)
            if self.on:
                self.chip.run()
        return 1 if self.on else 0

    # the FIFOs by the names host tests use
    @property
    def tx(self):
        return self.txq

    @tx.setter
    def tx(self, v):
        self.txq = v

    @property
    def rx(self):
        return self.rxq

    @rx.setter
    def rx(self, v):
        self.rxq = v

    def put(self, w, shift=0):
        self.txq.append((w << shift) & 0xFFFFFFFF)
        self.chip.run()

    def get(self, buf=None, shift=0):
        return (self.rxq.pop(0) & 0xFFFFFFFF) >> shift

    def rx_fifo(self):
        return len(self.rxq)

    def tx_fifo(self):
        return len(self.txq)

    def _set_pin(self, v):
        # a rising CS ends the SPI frame: the device answers while CS is
        # still low, then the pin goes high
        if self.rec is not None:
            self.rec.append(("pin", v, self.cycle))
        if v:
            if self.frame_pushes:
                self.last_frame = (self.frame_pushes, self.cycle)
            self.chip.pin_written(self.set_base, v, self)
            self.set_base.value(v)
        else:
            self.set_base.value(v)
            self.frame_pushes = []
            self.chip.pin_written(self.set_base, v, self)

    def _src(self, s):
        if isinstance(s, tuple):
            v = self._src(s[1])
            return _rev32(v) if s[0] == "rev" else (~v) & 0xFFFFFFFF
        return {"x": self.x, "y": self.y, "osr": self.osr, "isr": self.isr, "null": 0}[s]

    def step(self):
        """One instruction, or False if it stalls."""
        i = self.program.instrs[self.pc]
        op, a = i.op, i.args
        nxt = self.pc + 1
        if op == "wait":
            pol, src, idx = a
            if src != "pin" or idx != 0:
                raise NotImplementedError("wait %s %d" % (src, idx))
            if self.in_base.value() != pol:
                self.stalled = "wait"
                return False
        elif op == "set":
            dest, v = a
            if dest == "pins":
                self._set_pin(v & 1)
            elif dest == "x":
                self.x = v
            elif dest == "y":
                self.y = v
            else:
                raise NotImplementedError("set " + dest)
        elif op == "push":
            if len(self.rxq) >= self.FIFO:
                self.stalled = "push"
                return False
            self.rxq.append(self.isr)
            if self.rec is not None:
                self.rec.append(("push", self.isr, self.cycle))
            self.isr = 0
            self.frame_pushes.append(self.cycle)
        elif op == "pull":
            if not self.txq:
                self.stalled = "pull"
                return False
            self.osr = self.txq.pop(0)
        elif op == "mov":
            dest, src = a
            setattr(self, dest, self._src(src))
        elif op == "jmp":
            if len(a) == 1:
                nxt = self.program.labels[a[0]]
            elif a[0] == "x_dec":
                if self.x:
                    nxt = self.program.labels[a[1]]
                self.x = (self.x - 1) & 0xFFFFFFFF
            else:
                raise NotImplementedError("jmp " + a[0])
        elif op != "nop":
            raise NotImplementedError(op)
        self.stalled = ""
        self.cycle += 1 + i.delay
        self.pc = self.program.wrap_target if self.pc == self.program.wrap else nxt
        return True


# ---- DMA ----------------------------------------------------------------------
class DMA:
    """rp2.DMA on the Chip: claims the lowest free channel."""

    def __init__(self, chip=None):
        self.chip = chip or CHIP
        self.channel = self.chip.claim(self)
        self._read = self._write = 0
        self._count = self._reload = 0
        self._set_ctrl(self.pack_ctrl(enable=0))
        self.busy = False
        self.transfers = 0

    def pack_ctrl(self, default=None, **kw):
        v = default if default is not None else (
            (1 << 21) | (TREQ_PERMANENT << 15) | (1 << 5) | (1 << 4) | (2 << 2) | 1
            | (self.channel << 11))
        for k, f in kw.items():
            s, b = _CTRL[k]
            f = int(f)
            if f >> b:
                raise ValueError("bad field value")
            v = (v & ~(((1 << b) - 1) << s)) | (f << s)
        return v

    @staticmethod
    def unpack_ctrl(v):
        return unpack_ctrl(v)

    def _set_ctrl(self, v):
        self._ctrl = v
        c = unpack_ctrl(v)
        self.f = c
        self.size = c["size"]
        self.treq = c["treq_sel"]
        self.chain = c["chain_to"]

    def config(self, read=None, write=None, count=None, ctrl=None, trigger=False):
        if read is not None:
            self._read = self.chip.address(read)
        if write is not None:
            self._write = self.chip.address(write)
        if count is not None:
            self._reload = count
        if ctrl is not None:
            self._set_ctrl(ctrl)
        if trigger:
            self.trigger()

    @property
    def read(self):
        return self._read

    @property
    def write(self):
        return self._write

    @property
    def count(self):
        return self._count

    @property
    def ctrl(self):
        return self._ctrl

    def trigger(self, run=True):
        if self._ctrl & 1:
            self._count = self._reload
            self.busy = self._count > 0
            if run:
                self.chip.run()

    def active(self, v=None):
        if v is not None:
            if v:
                self.trigger()
            else:
                self.busy = False  # abort
        return self.busy

    def close(self):
        self.busy = False
        self.chip.release(self)

    def _step(self):
        c = self.f
        inc = 1 << c["size"]
        for side in ("read", "write"):
            if not c["inc_" + side]:
                continue
            a = getattr(self, "_" + side)
            if c["ring_size"] and c["ring_sel"] == (side == "write"):
                m = (1 << c["ring_size"]) - 1
                a = (a & ~m) | ((a + inc) & m)
            else:
                a += inc
            setattr(self, "_" + side, a)


class Chip:
    def __init__(self):
        self.channels = []
        self.sms = [_SM(self, n) for n in range(8)]
        self.mem = []  # (base, buffer, item size)
        self._next = 0x20001010  # 16-byte aligned, not 256-byte aligned
        self.spis = {}  # DR address -> _Spi
        self.fast = False  # replay frames from traces (fast host runs)
        self.adc = _Adc(self)
        self.mem32 = _Mem32(self)

    # memory: buffers at fake addresses
    def address(self, obj):
        if isinstance(obj, int):
            return obj
        for base, b, _w in self.mem:
            if b is obj:
                return base
        base = self._next
        n = len(bytes(obj))
        w = n // len(obj) if len(obj) else 1  # item size (MicroPython arrays have no .itemsize)
        self._next = (base + n + 31) & ~15
        self.mem.append((base, obj, w))
        return base

    def _find(self, addr):
        for base, b, w in self.mem:
            if base <= addr < base + w * len(b):
                return b, w, addr - base
        raise ValueError("DMA bus error at 0x%08x" % addr)

    def mem_read(self, addr, size):
        b, w, off = self._find(addr)
        if w == 1:
            v = 0
            for k in range(1 << size):
                v |= b[off + k] << (8 * k)
            return v
        word = b[off // w] & 0xFFFFFFFF
        return (word >> (8 * (off % w))) & ((1 << (8 << size)) - 1)

    def mem_write(self, addr, size, v):
        b, w, off = self._find(addr)
        if w == 1:
            for k in range(1 << size):
                b[off + k] = (v >> (8 * k)) & 0xFF
        elif size == 2 and w == 4 and off % 4 == 0:
            b[off // 4] = v
        elif size == 1 and w == 2 and off % 2 == 0:
            b[off // 2] = v & 0xFFFF
        else:
            raise NotImplementedError("narrow DMA write into a word array")

    # channels
    def claim(self, ch):
        for k, c in enumerate(self.channels):
            if c is None:
                self.channels[k] = ch
                return k
        if len(self.channels) >= 12 and self._reclaim() is None:  # the RP2040 has 12
            raise OSError(16)  # EBUSY, as rp2.DMA() raises
        return self.claim(ch) if len(self.channels) >= 12 else self._append(ch)

    def _append(self, ch):
        self.channels.append(ch)
        return len(self.channels) - 1

    def _reclaim(self):
        # rp2.DMA objects close (unclaim) when collected: channels whose
        # object only this chip still holds are free again (CPython, where
        # a test process makes board after board; MicroPython tests reset())
        import gc
        import sys
        gc.collect()
        count = getattr(sys, "getrefcount", None)
        if count is None:
            return None
        freed = None
        for k in range(len(self.channels)):
            if self.channels[k] is not None and count(self.channels[k]) <= 2:
                self.channels[k].busy = False
                self.channels[k] = None
                freed = k
        return freed

    def release(self, ch):
        self.channels[ch.channel] = None

    def sm(self, n):
        return self.sms[n]

    def attach_spi(self, dr, dreq_tx, dreq_rx, device, cs=None):
        """The SPI whose data register is at `dr`: bytes framed by the `cs`
        Pin object (None: by any pin a state machine sets) go to
        device.write_readinto(tx, rx). A new SPI at the same address (a new
        board in the same test process) frees the old one's channels: those
        on its data register and the control channels they chain to, as
        12 channels would not last a test session otherwise."""
        if dr in self.spis:
            for ch in list(self.channels):
                if ch is not None and dr in (ch._read, ch._write):
                    for c in (ch, self.channels[ch.chain]):
                        if c is not None:
                            c.busy = False
                            self.channels[c.channel] = None
        self.spis[dr] = _Spi(self, dr, dreq_tx, dreq_rx, device, cs)

    def pin_written(self, pin, v, sm):
        for spi in self.spis.values():
            if spi.cs is pin or spi.cs is None:
                spi.cs_changed(v)

    def drdy_pulse(self, drdy):
        """A conversion: DRDY low, the state machines run, DRDY high."""
        sm = self._frame_sm(drdy)
        if sm is None:
            drdy.value(0)
            self.run()
            drdy.value(1)
            self.run()
            return
        key = (sm.pc, sm.x, sm.y, sm.osr, sm.isr, len(sm.txq))
        tr = sm.traces.get(key)
        if tr is not None and self._replay(sm, tr):
            drdy.value(0)
            drdy.value(1)
            return
        # interpreted, and recorded for the next frame from the same state
        sm.rec = []
        c0 = sm.cycle
        drdy.value(0)
        self.run()
        drdy.value(1)
        self.run()
        rec, sm.rec = sm.rec, None
        if sm.stalled == "wait" and not sm.rxq and len(sm.txq) == key[5]:
            sm.traces[key] = ([(e[0], e[1], e[2] - c0) for e in rec],
                              (sm.pc, sm.x, sm.y, sm.osr, sm.isr), sm.cycle - c0)

    # ---- the fast path (Chip.fast): a frame replayed from its trace, the
    # bytes moved in bulk; the same effects as interpreting it, used only
    # where the channels are set up as a PIO -> SPI -> memory stream
    def _frame_sm(self, drdy):
        if not self.fast:
            return None
        for sm in self.sms:
            if sm.on and sm.runs and sm.in_base is drdy:
                return sm
        return None

    def _replay(self, sm, tr):
        effects, end, cycles = tr
        tx = None
        for ch in self.channels:
            if ch is not None and ch.busy and ch.treq == sm.dreq:
                tx = ch
        if tx is None or tx._read != sm.rxf or tx.size or tx._write not in self.spis \
                or tx.f["inc_write"] or tx._count <= len(effects):
            return False
        spi = self.spis[tx._write]
        c0 = sm.cycle
        for kind, v, c in effects:
            sm.cycle = c0 + c
            if kind == "push":
                spi.tx.append(v & 0xFF)
                tx._count -= 1
                tx.transfers += 1
                sm.frame_pushes.append(sm.cycle)
            else:
                sm._set_pin(v)
        sm.pc, sm.x, sm.y, sm.osr, sm.isr = end
        sm.cycle = c0 + cycles
        return True

    # the bus: peripheral registers and memory
    def _bus_read(self, addr, size):
        for sm in self.sms:
            if addr == sm.rxf:
                v = sm.rxq.pop(0)
                return (v >> (8 * (addr & 3))) & ((1 << (8 << size)) - 1)
        if addr in self.spis:
            return self.spis[addr].rx.pop(0)
        if addr == ADC_BASE + 0x0C:
            return self.adc.read(0x0C)
        return self.mem_read(addr, size)

    def _bus_write(self, addr, size, v):
        if addr in self.spis:
            self.spis[addr].tx.append(v & 0xFF)
            return
        if DMA_BASE <= addr < DMA_BASE + _CH_STRIDE * 16:
            ch = self.channels[(addr - DMA_BASE) // _CH_STRIDE]
            reg = (addr - DMA_BASE) % _CH_STRIDE
            if reg == 0x2C:  # AL2_WRITE_ADDR_TRIG
                ch._write = v
            elif reg == 0x3C:  # AL3_READ_ADDR_TRIG
                ch._read = v
            elif reg == 0x1C:  # AL1_TRANS_COUNT_TRIG
                ch._reload = v
            else:
                raise NotImplementedError("DMA register 0x%02x" % reg)
            ch.trigger(run=False)
            return
        self.mem_write(addr, size, v)

    def _ready(self, treq):
        if treq == TREQ_PERMANENT:
            return True
        if treq == DREQ_ADC:
            return self.adc.dreq()
        for sm in self.sms:
            if sm.dreq == treq:
                return bool(sm.rxq)
        for spi in self.spis.values():
            if treq == spi.dreq_rx:
                return bool(spi.rx)
            if treq == spi.dreq_tx:
                return True  # the TX FIFO drains as fast as anything fills it here
        raise NotImplementedError("TREQ %d" % treq)

    def run(self):
        """Until nothing moves: state machines step, DMA channels transfer."""
        moved = True
        while moved:
            moved = False
            for sm in self.sms:
                while sm.on and sm.runs and sm.step():
                    moved = True
                    self.run_dma()  # the DMA keeps up with every instruction
            moved = self.run_dma() or moved

    def run_dma(self):
        moved = False
        again = True
        while again:
            again = False
            for ch in self.channels:
                if ch is None or not ch.busy:
                    continue
                while ch.busy and self._ready(ch.treq):
                    v = self._bus_read(ch._read, ch.size)
                    self._bus_write(ch._write, ch.size, v)
                    ch._step()
                    ch.transfers += 1
                    ch._count -= 1
                    moved = again = True
                    if ch._count == 0:
                        ch.busy = False
                        if ch.chain != ch.channel:
                            self.channels[ch.chain].trigger(run=False)
        return moved


class _Spi:
    RX_FIFO = 8

    def __init__(self, chip, dr, dreq_tx, dreq_rx, device, cs):
        self.chip = chip
        self.dr = dr
        self.dreq_tx = dreq_tx
        self.dreq_rx = dreq_rx
        self.device = device
        self.cs = cs
        self.tx = []
        self.rx = []
        self.frames = 0
        self.dropped = 0  # bytes lost to a full RX FIFO (no DMA draining it)

    def cs_changed(self, v):
        if v and self.tx:
            txb = bytes(self.tx)
            rxb = bytearray(len(txb))
            self.device.write_readinto(txb, rxb)
            self.frames += 1
            self.tx = []
            i = self._bulk(rxb) if self.chip.fast else 0
            for b in rxb[i:]:
                if len(self.rx) >= self.RX_FIFO:
                    self.dropped += 1
                else:
                    self.rx.append(b)
                    self.chip.run_dma()  # a real SPI receives as it sends: the DMA drains as it goes


    def _bulk(self, rxb):
        # the received bytes straight into memory through the channel that
        # drains this SPI (byte transfers, write incrementing, no ring)
        chip = self.chip
        i = 0
        while i < len(rxb):
            ch = None
            for c in chip.channels:
                if c is not None and c.busy and c.treq == self.dreq_rx:
                    ch = c
            if ch is None or ch.size or ch._read != self.dr or not ch.f["inc_write"] \
                    or ch.f["inc_read"] or ch.f["ring_size"] or self.rx:
                return i
            b, w, off = chip._find(ch._write)
            k = min(len(rxb) - i, ch._count, len(b) - off)
            if w != 1 or k <= 0:
                return i
            b[off:off + k] = rxb[i:i + k]
            ch._write += k
            ch._count -= k
            ch.transfers += k
            i += k
            if ch._count == 0:
                ch.busy = False
                if ch.chain != ch.channel:
                    chip.channels[ch.chain].trigger(run=False)
                chip.run_dma()
        return i


ADC_BASE = 0x4004C000
DREQ_ADC = 36


class _Adc:
    FIFO = 4

    def __init__(self, chip):
        self.chip = chip
        self.cs = self.fcs = self.div = 0
        self.fifo = []
        self.codes = {}  # channel -> list of 12-bit codes, played in a loop
        self.pos = {}
        self.conversions = 0
        self.overflows = 0

    def set_codes(self, ch, codes):
        self.codes[ch] = codes
        self.pos[ch] = 0

    def read(self, off):
        if off == 0x00:
            return self.cs | 0x100  # READY: conversions are instant here
        if off == 0x08:
            n = len(self.fifo)
            return self.fcs | (n << 16) | (0x200 if n >= self.FIFO else 0) | (0x100 if not n else 0)
        if off == 0x0C:
            if not self.fifo:
                self.fcs |= 0x400  # UNDER
                return 0
            return self.fifo.pop(0)
        if off == 0x10:
            return self.div
        raise NotImplementedError("ADC register 0x%02x" % off)

    def write(self, off, v):
        if off == 0x00:
            self.cs = v & 0x1F700F  # RROBIN, AINSEL, START_MANY, START_ONCE, TS_EN, EN
        elif off == 0x08:
            self.fcs = v & 0x0F00000F
        elif off == 0x10:
            self.div = v & 0xFFFFFF
        else:
            raise NotImplementedError("ADC register 0x%02x" % off)

    def dreq(self):
        return bool(self.fcs & 0x8) and len(self.fifo) >= max(1, (self.fcs >> 24) & 0xF)

    def convert(self, n=1):
        """n conversions, if the ADC runs free (CS.EN and START_MANY)."""
        for _ in range(n):
            if self.cs & 0x9 != 0x9:
                return
            ch = (self.cs >> 12) & 7
            codes = self.codes.get(ch, (2048,))
            k = self.pos.get(ch, 0)
            self.pos[ch] = (k + 1) % len(codes)
            self.conversions += 1
            if self.fcs & 0x1:
                if len(self.fifo) < self.FIFO:
                    self.fifo.append(codes[k] & 0xFFF)
                else:
                    self.fcs |= 0x800  # OVER
                    self.overflows += 1
            rr = (self.cs >> 16) & 0x1F
            if rr:
                nxt = ch
                for _k in range(5):
                    nxt = (nxt + 1) % 5
                    if rr & (1 << nxt):
                        break
                self.cs = (self.cs & ~0x7000) | (nxt << 12)
            self.chip.run_dma()


class _Mem32:
    """machine.mem32 for the registers this model has (the ADC's)."""

    def __init__(self, chip):
        self.chip = chip

    def __getitem__(self, addr):
        if ADC_BASE <= addr < ADC_BASE + 0x24:
            return self.chip.adc.read(addr - ADC_BASE)
        raise NotImplementedError("mem32[0x%08x]" % addr)

    def __setitem__(self, addr, v):
        if ADC_BASE <= addr < ADC_BASE + 0x24:
            self.chip.adc.write(addr - ADC_BASE, v)
            return
        raise NotImplementedError("mem32[0x%08x]" % addr)


CHIP = Chip()


def reset():
    """A fresh chip (channels, state machines, memory, SPIs) for one test."""
    global CHIP
    CHIP = Chip()
    return CHIP


def StateMachine(n, program=None, **kw):
    sm = CHIP.sm(n)
    if program is not None:
        sm.init(program, **kw)
    return sm


def word_array(n):
    return array("I", bytes(4 * n))
