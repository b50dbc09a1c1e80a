# Data logging (datasheet 'Data Logging'; addendum 'Real-time clock and data
# logging'; registers 158-178 and the buffer window 8000-13760). See
# docs/logging.md for the decisions and the flash-wear figure.
#
# Ten buffers of DEPTH entries, one per log register pointer (169-178). At
# the end of every demand sub-interval (Demand.on_close, sync-to-comms closes
# included) one ROW is taken: the ten pointed-to registers' words from the
# freshly refreshed register image, plus the time (155-157) and the import
# energy (3-4) of that moment. All ten buffers advance together because a
# row holds all ten.
#
# Flash: rows are 40-byte records programmed one at a time into a ring of
# NSECT 4 KB sectors of erased flash (RawFlash interface below); a sector is
# erased just before its first slot is written. Record:
#   0  u32  seq: row number, +1 per record, never reused
#   4  10 x u16  the ten values (buffer 1 first)
#   24 3 x u16  time words 155, 156, 157
#   30 u16  bit 15: reset marker (129 = 16640); bits 0-14: entries since the
#           last reset, saturating at 32767 (register 161)
#   32 u32  import energy, registers 3-4 (164-165)
#   36 u32  CRC-32 of bytes 0-35
# little-endian. Slot of seq s: s mod SLOTS. SLOTS - PER >= DEPTH, so erasing
# a sector never takes a row of the newest DEPTH. At start the ring is
# rebuilt from the CRC-good records: the newest seq is the head, the newest
# reset marker starts the visible log. A power cut while programming a
# record leaves that one record bad (it reads 0x8000: the entry being
# written is lost) and nothing else; a cut while erasing leaves only rows
# older than the newest DEPTH.
#
# Reading (158): a page 1-10 selects a buffer and pauses logging: the view
# (8000 + k = k-th newest, 161, 164-168) is frozen at the newest row
# published before the pause. Rows of sub-intervals that end meanwhile are
# written to flash at once (so a power cut loses none of them) but held:
# published when the page goes back to 0. 160 bit 1: one row held (read
# collision 1); bit 2: more than one (read collision 2). Both clear at the
# first sub-interval that ends with page 0. No row is ever lost to reading.

import struct

from micropython import const

from nvstore import crc32

N_BUF = const(10)
DEPTH = const(5760)
REC = const(40)
SECT = const(4096)
PER = const(102)  # records per sector (4080 of 4096 bytes)
NSECT = const(58)
SLOTS = const(5916)  # NSECT * PER
REGION = const(237568)  # NSECT * SECT: flash the log needs
WORD_EMPTY = const(0x8000)  # entries not yet written, 13760, page 0
_CRC_AT = const(36)
_MARK = const(0x8000)
_CNT_MAX = const(32767)

# register 159
MODE_SINGLE = const(1)
MODE_HALT = const(2)
# register 160
ST_FULL = const(0x01)
ST_COLL1 = const(0x02)
ST_COLL2 = const(0x04)
ST_RESET = const(0x08)
ST_INTERRUPTED = const(0x10)
ST_CLOCK = const(0x20)

# configuration keys whose change interrupts logging (160 bit 4): the log
# setup, the logging interval, and what changes the scale of logged values
_INTERRUPT_KEYS = ("log_mode", "demand_len", "demand_n", "system_type", "ct_primary",
                   "ct_secondary", "pt_ratio", "system_voltage") + tuple(
    "log_ptr%d" % i for i in range(1, N_BUF + 1))
PTR_KEYS = tuple("log_ptr%d" % i for i in range(1, N_BUF + 1))


# ---- flash regions ----------------------------------------------------------
# Interface: size, readinto(off, buf), prog(off, data) (NOR: only clears
# bits of erased flash), erase(sector) (SECT bytes to 0xFF).

class PowerCut(Exception):
    pass


class RamFlash:
    """For tests and a simulator without --state: NOR semantics, kept as
    4 KB sectors allocated on first program (no 232 KB block for the heap
    to find). cut_after = n makes the next prog or erase stop after n bytes
    and raise PowerCut."""

    def __init__(self, size=REGION):
        self.size = size
        self.sectors = [None] * ((size + SECT - 1) // SECT)  # None: erased
        self.cut_after = -1
        self.progs = 0
        self.erases = 0

    def readinto(self, off, buf):
        sec = self.sectors[off // SECT]
        o = off % SECT
        n = len(buf)
        if sec is None:
            for i in range(n):
                buf[i] = 0xFF
        elif n > 64:  # the start-up scan
            buf[:] = sec[o:o + n]
        else:
            for i in range(n):  # no slice: the Modbus read path allocates nothing
                buf[i] = sec[o + i]

    def _cut(self, n):
        c = self.cut_after
        if c < 0 or c >= n:
            return n
        return c

    def prog(self, off, data):
        k = off // SECT
        sec = self.sectors[k]
        if sec is None:
            sec = self.sectors[k] = bytearray(b"\xff" * SECT)
        o = off % SECT
        n = self._cut(len(data))
        for i in range(n):
            sec[o + i] &= data[i]
        self.progs += 1
        if n < len(data):
            self.cut_after = -1
            raise PowerCut()

    def erase(self, sector):
        n = self._cut(SECT)
        self.erases += 1
        if n == SECT:
            self.sectors[sector] = None
            return
        sec = self.sectors[sector]
        if sec is not None:
            for i in range(n):
                sec[i] = 0xFF
        self.cut_after = -1
        raise PowerCut()

    # for tests
    def snapshot(self):
        return [None if x is None else bytes(x) for x in self.sectors]

    def restore(self, snap):
        self.sectors = [None if x is None else bytearray(x) for x in snap]

    def poke(self, off, data):
        k = off // SECT
        if self.sectors[k] is None:
            self.sectors[k] = bytearray(b"\xff" * SECT)
        self.sectors[k][off % SECT:off % SECT + len(data)] = data


class FileFlash:
    """The simulator's flash: one file of `size` bytes (0xFF when new)
    written in place. For the host only: on littlefs an in-place write
    rewrites the file's tail (docs/logging.md); the board uses BlockFlash."""

    def __init__(self, path, size=REGION):
        self.size = size
        try:
            f = open(path, "r+b")
        except OSError:
            f = open(path, "w+b")
        f.seek(0, 2)
        have = f.tell()
        if have < size:
            blank = b"\xff" * 4096
            while have < size:
                n = min(4096, size - have)
                f.write(blank[:n])
                have += n
            f.flush()
        self.f = f

    def readinto(self, off, buf):
        self.f.seek(off)
        self.f.readinto(buf)

    def prog(self, off, data):
        f = self.f
        f.seek(off)
        old = bytearray(len(data))
        f.readinto(old)
        for i in range(len(data)):
            old[i] &= data[i]
        f.seek(off)
        f.write(old)
        f.flush()

    def erase(self, sector):
        f = self.f
        f.seek(sector * SECT)
        f.write(b"\xff" * SECT)
        f.flush()

    def close(self):
        self.f.close()


class BlockFlash:
    """A raw flash region handed in by the board, as a MicroPython block
    device with the extended interface (readblocks/writeblocks with an
    offset, ioctl 6 = erase), e.g. rp2.Flash over a region outside the
    littlefs filesystem. Its block size must be SECT."""

    def __init__(self, bdev):
        self.bdev = bdev
        if bdev.ioctl(5, 0) != SECT:
            raise ValueError("block size must be 4096")
        self.size = bdev.ioctl(4, 0) * SECT

    def readinto(self, off, buf):
        self.bdev.readblocks(off // SECT, buf, off % SECT)

    def prog(self, off, data):
        self.bdev.writeblocks(off // SECT, data, off % SECT)

    def erase(self, sector):
        self.bdev.ioctl(6, sector)


def _slot_off(pos):
    return (pos // PER) * SECT + (pos % PER) * REC


def _u16(b, o):
    return b[o] | b[o + 1] << 8


def _u32(b, o):
    # seq < 2**30 in any real life (10^10 s of 10-s rows): a small int
    return b[o] | b[o + 1] << 8 | b[o + 2] << 16 | b[o + 3] << 24


class DataLog:
    def __init__(self, bank, config, flash, clock=None):
        if flash.size < REGION:
            raise ValueError("log flash region under %d bytes" % REGION)
        self.bank = bank
        self.cfg = config
        self.flash = flash
        self.clock = clock
        self.due = False  # a sub-interval closed: take a row at the next refresh
        self.errors = 0  # writes that failed (OSError)
        self._rec = bytearray(REC)
        self._w = bytearray(2)
        self._valid = bytearray((SLOTS + 7) // 8)  # good entry rows per slot
        self._ptr_reg = bytearray(N_BUF)  # the registers the pointers name (1-157)
        self.newest = -1  # seq of the newest record on flash, -1 none
        self.base = 0  # first seq after the newest reset marker
        self.count = 0  # register 161 at the newest row written
        self.energy = 0  # 164-165 of the newest row written
        self.time = [0, 0, 0]  # 166-168 of the newest row written
        # the published view: frozen while a page is selected
        self.shown = -1
        self.shown_count = 0
        self.shown_energy = 0
        self.shown_time = [0, 0, 0]
        self.held = 0  # rows written while paused, not yet published
        self._coll = 0  # 160 bits 1-2
        self._ev = 0  # 160 bits 3-5 of events in the running sub-interval
        self._ev_last = 0  # ... and in the one before (shown until the next close)
        self._boot()
        self._ptrs_changed()
        self.page = config.log_page
        self._ev |= ST_INTERRUPTED  # every start is a power cycle
        bank.datalog = self
        bank.clock = clock
        bank.on_log_reset = self.reset
        config.listeners.append(self._config_changed)

    # ---- start: rebuild the ring --------------------------------------------
    def _boot(self):
        buf = bytearray(SECT)
        mv = memoryview(buf)
        best = -1
        best_pos = -1
        mark = -1
        seqs = []  # (seq, pos) of good records; at most SLOTS
        for sec in range(NSECT):
            self.flash.readinto(sec * SECT, buf)
            for i in range(PER):
                o = i * REC
                if buf[o] == 0xFF and buf[o + 1] == 0xFF and buf[o + 2] == 0xFF and buf[o + 3] == 0xFF:
                    continue
                if crc32(mv[o:o + _CRC_AT]) != struct.unpack_from("<I", buf, o + _CRC_AT)[0]:
                    continue
                seq = _u32(buf, o)
                pos = sec * PER + i
                if seq % SLOTS != pos:
                    continue
                if _u16(buf, o + 30) & _MARK:
                    if seq > mark:
                        mark = seq
                else:
                    seqs.append((seq, pos))
                if seq > best:
                    best = seq
                    best_pos = pos
        self.newest = best
        self.base = mark + 1
        for seq, pos in seqs:
            if seq > mark and seq > best - DEPTH:
                self._valid[pos >> 3] |= 1 << (pos & 7)
        if best >= 0 and best > mark:
            self._load_row(best)
        if best >= 0 and (best_pos + 1) % PER:
            # the slot after the head must be erased; if a cut program left
            # it dirty, skip it (that row, the one being written, is lost)
            o = _slot_off(best_pos + 1)
            self.flash.readinto(o, self._rec)
            for b in self._rec:
                if b != 0xFF:
                    self.newest = best + 1
                    break
        self.shown = self.newest
        self.shown_count = self.count
        self.shown_energy = self.energy
        for i in range(3):
            self.shown_time[i] = self.time[i]

    def _load_row(self, seq):
        r = self._rec
        self.flash.readinto(_slot_off(seq % SLOTS), r)
        self.count = _u16(r, 30) & _CNT_MAX
        self.energy = struct.unpack_from("<I", r, 32)[0]
        for i in range(3):
            self.time[i] = _u16(r, 24 + 2 * i)

    # ---- configuration --------------------------------------------------------
    def _ptrs_changed(self):
        c = self.cfg
        for i in range(N_BUF):
            self._ptr_reg[i] = getattr(c, PTR_KEYS[i])

    def _config_changed(self, keys):
        for k in _INTERRUPT_KEYS:
            if k in keys:
                self._ev |= ST_INTERRUPTED
                break
        for k in PTR_KEYS:
            if k in keys:
                self._ptrs_changed()
                break
        if "log_page" in keys:
            page = self.cfg.log_page
            if page == 0 and self.page != 0:
                self._publish()
            self.page = page

    def _publish(self):
        self.shown = self.newest
        self.shown_count = self.count
        self.shown_energy = self.energy
        for i in range(3):
            self.shown_time[i] = self.time[i]
        self.held = 0

    # ---- the runtime's hooks ------------------------------------------------
    def subinterval_closed(self, _demand=None):
        """Demand.on_close: the row is taken from the next register refresh."""
        self.due = True

    def take(self, bank):
        """From RegisterBank.refresh when a sub-interval has closed: the
        row is the registers as a read of this second gives them."""
        self._take(bank)
        self.bank.stale()  # 160-168 changed: re-encoded at their next read

    def _take(self, bank):
        self.due = False
        self._ev_last = self._ev
        self._ev = 0
        if self.clock is not None and self.clock.take_changed():
            self._ev_last |= ST_CLOCK
        paused = self.page != 0
        if not paused:
            self._coll = 0  # the first sub-interval with page 0
        mode = self.cfg.log_mode
        if mode & MODE_HALT:
            return
        if mode & MODE_SINGLE and self.filled() >= DEPTH:
            self.count = min(self.count + 1, _CNT_MAX)  # keeps counting (Veris)
            if not paused:
                self.shown_count = self.count
            return
        energy = bank.word(3) << 16 | bank.word(4)  # import energy, as 3-4
        t = self.time
        for i in range(3):
            t[i] = bank.word(155 + i)
        self.energy = energy
        self.count = min(self.count + 1, _CNT_MAX)
        r = self._rec
        for i in range(N_BUF):
            v = bank.word(self._ptr_reg[i])
            r[4 + 2 * i] = v & 0xFF  # little-endian in flash
            r[5 + 2 * i] = v >> 8
        self._write(0, energy)
        if paused:
            self.held += 1
            self._coll |= ST_COLL1 if self.held == 1 else ST_COLL2
        else:
            self._publish()

    def _write(self, mark, energy):
        seq = self.newest + 1
        pos = seq % SLOTS
        r = self._rec
        struct.pack_into("<I", r, 0, seq)
        if mark:
            for i in range(4, 30):
                r[i] = 0
        else:
            for i in range(3):
                struct.pack_into("<H", r, 24 + 2 * i, self.time[i])
        struct.pack_into("<HI", r, 30, mark | self.count, energy)
        struct.pack_into("<I", r, _CRC_AT, crc32(memoryview(r)[:_CRC_AT]))
        self.newest = seq  # a failed write leaves a hole, never a dirty slot reused
        v = self._valid
        try:
            if pos % PER == 0:
                first = pos
                for p in range(first, first + PER):
                    v[p >> 3] &= ~(1 << (p & 7))
                self.flash.erase(pos // PER)
            self.flash.prog(_slot_off(pos), r)
        except OSError:
            self.errors += 1
            return
        if not mark:
            v[pos >> 3] |= 1 << (pos & 7)

    def reset(self):
        """129 = 16640: empty the buffers, count 0, 160 bit 3. A reset
        marker record makes it survive a power cycle."""
        self.count = 0
        self.energy = 0
        for i in range(3):
            self.time[i] = 0
        self._write(_MARK, 0)
        self.base = self.newest + 1
        self._publish()
        self._coll = 0
        self._ev |= ST_RESET
        self.bank.stale()

    # ---- reading -----------------------------------------------------------
    def filled(self):
        """Rows in the buffers (holes included), at most DEPTH."""
        n = self.newest - self.base + 1
        return DEPTH if n > DEPTH else n

    def status(self):
        st = self._coll | self._ev | self._ev_last
        if self.clock is not None and self.clock.changed:
            st |= ST_CLOCK  # set since the last close
        if self.cfg.log_mode & MODE_SINGLE and self.filled() >= DEPTH:
            st |= ST_FULL
        return st

    def reg(self, i):
        """Registers 160 + i, i = 0..8."""
        if i == 0:
            return self.status()
        if i == 1:
            return self.shown_count
        if i == 4:
            return self.shown_energy  # 164-165, one ULong row
        if i >= 6:
            return self.shown_time[i - 6]
        return 0  # 162-163 reserved

    def entry(self, page, k):
        """Buffer `page`'s (1-10) k-th newest published entry, or 0x8000."""
        if page < 1 or page > N_BUF or k < 0 or k >= DEPTH:
            return WORD_EMPTY
        seq = self.shown - k
        if seq < self.base or seq < 0:
            return WORD_EMPTY
        pos = seq % SLOTS
        if not self._valid[pos >> 3] & (1 << (pos & 7)):
            return WORD_EMPTY  # lost to a power cut or a write error
        w = self._w
        self.flash.readinto(_slot_off(pos) + 2 + 2 * page, w)
        return w[0] | w[1] << 8

    def read_window(self, k, count, out, off):
        """8000 + k .. into out (big-endian words); allocates nothing."""
        page = self.page
        for i in range(count):
            v = self.entry(page, k + i) if page else WORD_EMPTY
            out[off + 2 * i] = v >> 8
            out[off + 2 * i + 1] = v & 0xFF
