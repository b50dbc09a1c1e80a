# SPI F-RAM (Infineon/Cypress CY15B104Q: 4 Mbit = 512 KB, SPI mode 0,
# up to 40 MHz): the reference board's NV store and data log (docs/storage.md
# 'F-RAM'). The board hands in the SPI bus (mode 0: polarity 0, phase 0, MSB
# first) and the chip-select pin; this module never builds them and never
# imports machine.
#
# Commands used (datasheet 'SPI commands'): WREN 0x06 (sets the write-enable
# latch; the chip clears it when a WRITE ends), WRITE 0x02 + 3-byte address
# + data, READ 0x03 + 3-byte address then data out, RDSR 0x05 (status).
# An F-RAM write has no erase and no write delay: the bytes are stored as
# they are clocked in, so nothing here waits and nothing needs interrupts
# off (unlike the RP2040's own flash). Endurance 10^14 writes a byte.
#
# Fram        read(addr, buf), write(addr, data), fill(addr, n, value)
# FramSlots   the nvstore backend interface: read(slot), write(slot, data)
# FramBlocks  the block-device protocol datalog.BlockFlash uses
#             (readblocks/writeblocks with an offset, ioctl 4/5/6)
from micropython import const

WREN = const(0x06)
WRITE = const(0x02)
READ = const(0x03)
RDSR = const(0x05)
SIZE = const(524288)  # CY15B104Q
_U32 = const(0xFFFFFFFF)
_FILL = const(64)  # bytes per SPI write when filling


class Fram:
    def __init__(self, spi, cs, size=SIZE):
        self.spi = spi
        self.cs = cs
        self.size = size
        self._cmd = bytearray(4)  # opcode + 24-bit address, reused
        self._one = bytearray(1)
        self._fill = bytearray(_FILL)
        cs.value(1)

    def _check(self, addr, n):
        if addr < 0 or n < 0 or addr + n > self.size:
            raise ValueError("F-RAM address out of range")

    def _start(self, op, addr):
        c = self._cmd
        c[0] = op
        c[1] = (addr >> 16) & 0xFF
        c[2] = (addr >> 8) & 0xFF
        c[3] = addr & 0xFF
        self.cs.value(0)
        self.spi.write(c)

    def _wren(self):
        b = self._one
        b[0] = WREN
        self.cs.value(0)
        self.spi.write(b)
        self.cs.value(1)

    def read(self, addr, buf):
        """Fill buf (a bytearray or memoryview) from addr. Allocates nothing."""
        self._check(addr, len(buf))
        self._start(READ, addr)
        try:
            self.spi.readinto(buf)
        finally:
            self.cs.value(1)

    readinto = read

    def write(self, addr, data):
        self._check(addr, len(data))
        self._wren()
        self._start(WRITE, addr)
        try:
            self.spi.write(data)
        finally:
            self.cs.value(1)  # ends the write; the chip clears its WEL

    def fill(self, addr, n, value=0xFF):
        """n bytes from addr set to value (one WRITE, a 64-byte buffer)."""
        self._check(addr, n)
        f = self._fill
        for i in range(_FILL):
            f[i] = value
        mv = memoryview(f)
        self._wren()
        self._start(WRITE, addr)
        try:
            while n > 0:
                k = _FILL if n > _FILL else n
                self.spi.write(mv[:k])
                n -= k
        finally:
            self.cs.value(1)

    def probe(self):
        """True when a chip answers: two complementary patterns written to
        the last 4 bytes (scratch, outside every region in use) read back.
        A missing chip reads all 1s or all 0s and fails both."""
        addr = self.size - 4
        b = bytearray(4)
        for pattern in (b"\xa5\x5a\x0f\xf0", b"\x5a\xa5\xf0\x0f"):
            self.write(addr, pattern)
            self.read(addr, b)
            if b != pattern:
                return False
        return True

    def status(self):
        """The status register (RDSR): bit 1 WEL, bits 2-3 block protect."""
        b = self._one
        b[0] = RDSR
        self.cs.value(0)
        try:
            self.spi.write(b)
            self.spi.readinto(b)
        finally:
            self.cs.value(1)
        return b[0]


class FramSlots:
    """nvstore's two slots in F-RAM: slot k at base + k * slot_size holds a
    u32 little-endian length, then that many bytes. A length of 0 or
    0xFFFFFFFF reads as missing (never written, or cleared by format());
    a longer one than the slot holds (a damaged header) reads as the whole
    slot, which nvstore then finds bad (present, not good: fallback or
    corrupt, never silently empty). The header is written after the data,
    so a write cut short leaves the slot's old length over mixed bytes:
    nvstore's CRC marks it bad and keeps the other slot's record."""

    def __init__(self, fram, base, slot_size):
        self.fram = fram
        self.base = base
        self.slot_size = slot_size
        self.cap = slot_size - 4  # bytes of data a slot holds
        self._hdr = bytearray(4)
        fram._check(base, 2 * slot_size)

    def _addr(self, slot):
        if slot not in (0, 1):
            raise ValueError("slot")
        return self.base + slot * self.slot_size

    def read(self, slot):
        a = self._addr(slot)
        h = self._hdr
        self.fram.read(a, h)
        n = h[0] | h[1] << 8 | h[2] << 16 | h[3] << 24
        if n == 0 or n == _U32:
            return None
        if n > self.cap:
            n = self.cap
        buf = bytearray(n)
        self.fram.read(a + 4, buf)
        return buf

    def write(self, slot, data):
        a = self._addr(slot)
        n = len(data)
        if n > self.cap:
            raise OSError(27)  # EFBIG: nvstore counts an error, keeps the old record
        self.fram.write(a + 4, data)
        h = self._hdr
        h[0] = n & 0xFF
        h[1] = (n >> 8) & 0xFF
        h[2] = (n >> 16) & 0xFF
        h[3] = (n >> 24) & 0xFF
        self.fram.write(a, h)

    def format(self):
        """Both slots missing (a new board's F-RAM holds whatever it holds)."""
        for s in (0, 1):
            self.fram.fill(self._addr(s), 4, 0)


class FramBlocks:
    """nblocks blocks of block_size bytes from base, as a MicroPython block
    device with the extended interface (what datalog.BlockFlash uses).
    Erase (ioctl 6) fills the block with 0xFF, the state datalog takes for
    erased: on F-RAM that is just a 4 KB write (~2 ms at 16 MHz)."""

    def __init__(self, fram, base, nblocks, block_size=4096):
        self.fram = fram
        self.base = base
        self.nblocks = nblocks
        self.block_size = block_size
        fram._check(base, nblocks * block_size)

    def _addr(self, block, offset, n):
        bs = self.block_size
        o = block * bs + offset
        if block < 0 or offset < 0 or o + n > self.nblocks * bs:
            raise ValueError("block out of range")
        return self.base + o

    def readblocks(self, block, buf, offset=0):
        self.fram.read(self._addr(block, offset, len(buf)), buf)

    def writeblocks(self, block, buf, offset=0):
        # no erase needed: F-RAM stores bytes as they are written
        self.fram.write(self._addr(block, offset or 0, len(buf)), buf)

    def ioctl(self, op, arg):
        if op == 4:  # block count
            return self.nblocks
        if op == 5:  # block size
            return self.block_size
        if op == 6:  # erase a block: 0xFF, datalog's erased state
            self.fram.fill(self._addr(arg, 0, self.block_size), self.block_size, 0xFF)
            return 0
        return 0  # 1 init, 2 deinit, 3 sync: nothing to do
