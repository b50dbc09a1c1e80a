# A behavioural model of an SPI F-RAM (CY15B104Q: 512 KB, 3-byte
# addresses) for the driver tests and the runtime test (CPython and the
# MicroPython unix port alike). It is the `spi` object the driver is handed
# (or a fake machine.SPI's device): write_readinto(tx, rx) carries the bytes
# of one transfer; chip select comes from `cs` (its own Pin, or a pin handed
# in through watch()), and a transaction is the bytes between its falling
# and rising edges. Modelled: WREN 0x06 sets the write-enable latch, WRITE
# 0x02 stores bytes only with the latch set (cleared when CS rises), READ
# 0x03 and RDSR 0x05 answer; addresses wrap at the end of the array as the
# chip does. cut_after = n: after n more data bytes of WRITEs (counted
# over however many), the power goes: the byte that would be the n+1-th is
# not stored and PowerCut is raised (the chip stores nothing more until CS
# has gone high again: a new Fram driver after the 'power cycle' does that).
WREN = 0x06
WRITE = 0x02
READ = 0x03
RDSR = 0x05


_PAGE = 4096


class PowerCut(Exception):
    pass


class Pin:
    def __init__(self, sim):
        self.sim = sim
        self.v = 1

    def value(self, v=None):
        if v is None:
            return self.v
        self.sim._edge(self.v, v)
        self.v = v

    def __call__(self, v=None):
        return self.value(v)


class FramSim:
    def __init__(self, size=524288, fill=0x00):
        # kept as 4 KB pages made on first write (no 512 KB block for the
        # MicroPython heap to find); None: every byte is `fill`
        self.pages = [None] * ((size + _PAGE - 1) // _PAGE)
        self.fill = fill
        self.size = size
        self.cs = Pin(self)
        self.wel = False
        self.cut_after = -1
        self.log = []  # (opcode, address, bytes out or in) of each transaction
        self.keep_log = True
        self.writes = 0
        self._op = None
        self._hdr = bytearray(3)  # the address bytes of READ/WRITE
        self._nhdr = 0
        self._addr = 0
        self._pos = 0
        self._dead = False
        self._data = None

    def watch(self, pin):
        """Take chip select from another pin object (e.g. the host fake's
        machine.Pin the board built): its value() now tells the model."""
        orig = pin.value
        sim = self

        def value(v=None):
            if v is None:
                return orig()
            old = orig()
            orig(v)
            sim._edge(old, 1 if v else 0)

        pin.value = value
        self.cs = pin

    def _edge(self, old, new):
        if old and not new:  # falling: a new transaction
            self._op = None
            self._nhdr = 0
            self._data = bytearray() if self.keep_log else None
        elif new and not old:  # rising: it ends
            if self._op is not None and self.keep_log:
                self.log.append((self._op, self._addr, bytes(self._data or b"")))
            if self._op == WRITE:
                self.wel = False
            self._op = None
            self._dead = False

    def write_readinto(self, tx, rx):
        self._xfer(tx, rx, len(tx))

    def _xfer(self, tx, rx, n):
        # n bytes of tx out, of rx in (either may be longer)
        if self.cs.value():
            for k in range(n):
                rx[k] = 0xFF  # not selected: MISO floats (pulled up)
            return
        i = 0
        while i < n and (self._op is None or ((self._op == READ or self._op == WRITE) and self._nhdr < 3)):
            rx[i] = 0xFF
            if self._op is None:
                self._op = tx[i]
                if self._op == WREN:
                    self.wel = True
            else:
                self._hdr[self._nhdr] = tx[i]
                self._nhdr += 1
                if self._nhdr == 3:
                    self._addr = ((self._hdr[0] << 16) | (self._hdr[1] << 8) | self._hdr[2]) % self.size
                    self._pos = self._addr
            i += 1
        if i == n:
            return
        op = self._op
        i0 = i
        if op == READ:
            p = self._pos
            while i < n:  # a page at a time: the start-up scan reads 4 KB reads
                pg = self.pages[p // _PAGE]
                o = p % _PAGE
                k = min(n - i, _PAGE - o, self.size - p)
                if pg is None:
                    for j in range(i, i + k):
                        rx[j] = self.fill
                elif k > 64:
                    rx[i:i + k] = pg[o:o + k]
                else:  # no slice: the driver's read path must allocate nothing
                    for j in range(k):
                        rx[i + j] = pg[o + j]
                i += k
                p = (p + k) % self.size
            if self._data is not None:
                self._data.extend(bytes(rx[i0:n]))
            self._pos = p
        elif op == WRITE:
            for k in range(i, n):
                rx[k] = 0xFF
            if self._data is not None:
                self._data.extend(bytes(tx[i:n]))
            if not self.wel or self._dead:
                return
            p = self._pos
            stop = n
            cut = self.cut_after
            if cut >= 0:
                if cut < n - i:
                    stop = i + cut
                    self.cut_after = -1
                else:
                    self.cut_after = cut - (n - i)
            for k in range(i, stop):
                self._put(p, tx[k])
                p = (p + 1) % self.size
            self._pos = p
            self.writes += 1
            if stop < n:
                self._dead = True
                raise PowerCut()
        elif op == RDSR:
            for k in range(i, n):
                rx[k] = 0x02 if self.wel else 0x00
        else:
            for k in range(i, n):
                rx[k] = 0xFF

    def _page(self, p):
        pg = self.pages[p // _PAGE]
        if pg is None:
            pg = self.pages[p // _PAGE] = bytearray(bytes([self.fill]) * _PAGE)
        return pg

    def _put(self, p, b):
        self._page(p)[p % _PAGE] = b

    # for tests: the chip's bytes, read and changed behind the driver's back
    def peek(self, addr, n):
        out = bytearray(n)
        for k in range(n):
            pg = self.pages[(addr + k) // _PAGE]
            out[k] = self.fill if pg is None else pg[(addr + k) % _PAGE]
        return bytes(out)

    def poke(self, addr, data):
        for k in range(len(data)):
            self._put(addr + k, data[k])

    def snapshot(self):
        return [None if pg is None else bytes(pg) for pg in self.pages]

    def restore(self, snap):
        self.pages = [None if pg is None else bytearray(pg) for pg in snap]

    # the rest of machine.SPI's interface, for a driver handed the model
    # (short transfers use preallocated buffers: the driver's read path is
    # checked under heap_lock())
    _sink = bytearray(64)
    _zeros = bytes(64)

    def write(self, buf):
        n = len(buf)
        self._xfer(buf, self._sink if n <= 64 else bytearray(n), n)

    def readinto(self, buf, write=0):
        n = len(buf)
        self._xfer(self._zeros if n <= 64 and write == 0 else bytes([write]) * n, buf, n)
