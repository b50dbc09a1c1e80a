# Power-fail-safe store for what the point map marks NV (energy
# accumulators, max demands, pulse counters 39-42, configuration, passwords,
# power-up counter 152, reset counter 147). See docs/storage.md.
#
# Two slots, written alternately. A record is
#   0  magic  b"EMNV"
#   4  u16    format version (FORMAT)
#   6  u16    0 (reserved)
#   8  u32    sequence number, +1 per save, modulo 2**32 (serial-number
#             arithmetic picks the newer, so the wrap is harmless)
#   12 u32    payload length
#   16 ...    payload
#   ..  u32   CRC-32 (IEEE 802.3, as binascii.crc32 and zlib.crc32) of all
#             the bytes before it
# all little-endian. save() always writes the slot that does NOT hold the
# newest good record, so a power cut at any byte of any write leaves that
# record intact: load() then returns it (at most one save period lost), and
# since every save holds values at least as large as the one before, no
# accumulator goes backwards. (A deliberate reset, register 129, is saved
# like any change and counted in register 147.)
#
# Backends have read(slot) -> bytes or None (missing) and write(slot, data).
import struct

try:
    from binascii import crc32 as _crc32
except ImportError:  # a port built without it: table-driven, same result
    _crc32 = None

try:
    import json
except ImportError:
    import ujson as json

from micropython import const

MAGIC = b"EMNV"
FORMAT = const(1)
_HDR = "<4sHHII"
HEADER_LEN = const(16)
CRC_LEN = const(4)
MAX_PAYLOAD = const(16384)
_U32 = const(0xFFFFFFFF)

# per-slot state after load()
S_GOOD = const(0)
S_MISSING = const(1)
S_SHORT = const(2)  # shorter than its header + length + CRC (cut mid-write)
S_BAD_MAGIC = const(3)
S_BAD_VERSION = const(4)
S_BAD_LEN = const(5)  # length field over MAX_PAYLOAD or not the record's size
S_BAD_CRC = const(6)
S_BAD_PAYLOAD = const(7)  # CRC good but the payload does not decode
SLOT_NAMES = ("good", "missing", "truncated", "bad magic", "bad version",
              "bad length", "bad CRC", "bad payload")

# store state after load()
ST_OK = const(0)  # newest good record found; the other slot good or missing
ST_FALLBACK = const(1)  # newest good record found; the other slot is bad
#                         (normally a save cut by a power failure)
ST_EMPTY = const(2)  # both slots missing: a new meter, factory defaults
ST_CORRUPT = const(3)  # data present but nothing good: defaults + alert
STATUS_NAMES = ("ok", "fallback", "empty", "corrupt")

_table = None


def crc32(data, crc=0):
    if _crc32 is not None:
        return _crc32(data, crc)
    global _table
    if _table is None:
        from array import array
        _table = array("I", [0] * 256)
        for n in range(256):
            c = n
            for _ in range(8):
                c = (c >> 1) ^ 0xEDB88320 if c & 1 else c >> 1
            _table[n] = c
    t = _table
    c = crc ^ _U32
    for b in data:
        c = t[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ _U32


def _newer(a, b):
    # serial-number arithmetic on 32 bits
    d = (a - b) & _U32
    return d != 0 and d < 0x80000000


def pack(seq, payload):
    n = len(payload)
    if n > MAX_PAYLOAD:
        raise ValueError("payload of %d bytes is over %d" % (n, MAX_PAYLOAD))
    rec = bytearray(HEADER_LEN + n + CRC_LEN)
    struct.pack_into(_HDR, rec, 0, MAGIC, FORMAT, 0, seq & _U32, n)
    rec[HEADER_LEN:HEADER_LEN + n] = payload
    struct.pack_into("<I", rec, HEADER_LEN + n, crc32(memoryview(rec)[:HEADER_LEN + n]))
    return rec


def unpack(rec):
    """(slot state, seq, payload) of one slot's bytes."""
    if rec is None:
        return S_MISSING, 0, None
    m = len(rec) if len(rec) < 4 else 4
    if rec[:m] != MAGIC[:m]:
        return S_BAD_MAGIC, 0, None
    if len(rec) < HEADER_LEN + CRC_LEN:
        return S_SHORT, 0, None
    magic, ver, _res, seq, n = struct.unpack_from(_HDR, rec, 0)
    if ver != FORMAT:
        return S_BAD_VERSION, 0, None
    if n > MAX_PAYLOAD:
        return S_BAD_LEN, 0, None
    end = HEADER_LEN + n
    if len(rec) < end + CRC_LEN:
        return S_SHORT, 0, None
    # after the record only erased flash (0xFF) may follow
    for k in range(end + CRC_LEN, len(rec)):
        if rec[k] != 0xFF:
            return S_BAD_LEN, 0, None
    (crc,) = struct.unpack_from("<I", rec, end)
    if crc32(memoryview(rec)[:end]) != crc:
        return S_BAD_CRC, 0, None
    return S_GOOD, seq, bytes(rec[HEADER_LEN:end])


# ---- payload: a flat dict of ints, floats, strings and lists of them -------
def encode(state):
    # JSON: MicroPython has it, and energy accumulators beyond 2**31 are
    # plain (long) ints to it.
    return json.dumps(state).encode()


def decode(payload):
    d = json.loads(payload)
    if not isinstance(d, dict):
        raise ValueError("stored state is not a dict")
    return d


class NvStore:
    def __init__(self, backend):
        self.backend = backend
        self.status = None  # ST_* after load()
        self.slot_status = [S_MISSING, S_MISSING]
        self.seq = None  # sequence number of the newest good record
        self.slot = None  # its slot
        self.saves = 0
        self.errors = 0  # writes that failed (OSError) or did not read back
        self.failing = False  # the last save had a failed write

    def _scan(self):
        recs = []
        for s in (0, 1):
            try:
                raw = self.backend.read(s)
            except OSError:
                raw = b"\x00"  # unreadable: treat as present and bad
            st, seq, payload = unpack(raw)
            self.slot_status[s] = st
            recs.append((st, seq, payload))
        return recs

    def _order(self, recs):
        # good slots, newest first
        good = [s for s in (0, 1) if recs[s][0] == S_GOOD]
        if len(good) == 2 and _newer(recs[0][1], recs[1][1]):
            return [0, 1]
        if len(good) == 2:
            return [1, 0] if _newer(recs[1][1], recs[0][1]) else [0, 1]
        return good

    def _settle(self, recs, order):
        if order:
            s = order[0]
            self.slot = s
            self.seq = recs[s][1]
            other = self.slot_status[1 - s]
            self.status = ST_OK if other in (S_GOOD, S_MISSING) else ST_FALLBACK
        else:
            self.slot = None
            self.seq = None
            bad = [x for x in self.slot_status if x != S_MISSING]
            self.status = ST_CORRUPT if bad else ST_EMPTY

    def load(self):
        """Payload of the newest good record, or None (see .status and
        .slot_status for why)."""
        recs = self._scan()
        order = self._order(recs)
        self._settle(recs, order)
        return recs[order[0]][2] if order else None

    def load_state(self, dec=decode):
        """The newest good record that also decodes, or None. A record with
        a good CRC whose payload does not decode (a firmware bug, not a power
        cut) is passed over for the older one."""
        recs = self._scan()
        order = self._order(recs)
        for s in order:
            try:
                state = dec(recs[s][2])
            except (ValueError, TypeError, KeyError):
                self.slot_status[s] = S_BAD_PAYLOAD
                continue
            self._settle(recs, [x for x in order if self.slot_status[x] == S_GOOD])
            return state
        self._settle(recs, [])
        return None

    def save(self, payload, verify=True):
        """Write payload as the next record into the slot not holding the
        newest good one; if that write fails (OSError, or it does not read
        back), at once into the other slot. True when one of them holds it
        intact. .failing: a write of this save failed (a slot is dead, or
        the record cannot be stored at all): the alert. On False the
        previous record is still the newest good one, unless the retry went
        over it (only when its twin had just failed: docs/storage.md)."""
        if self.status is None:
            self.load()
        seq = 1 if self.seq is None else (self.seq + 1) & _U32
        first = 0 if self.slot is None else 1 - self.slot
        self.failing = False
        try:
            rec = pack(seq, payload)
        except ValueError:  # over MAX_PAYLOAD: no slot can hold it
            self.errors += 1
            self.failing = True
            return False
        for target in (first, 1 - first):
            try:
                self.backend.write(target, rec)
                if not verify or unpack(self.backend.read(target))[:2] == (S_GOOD, seq):
                    self.slot_status[target] = S_GOOD
                    self.slot = target
                    self.seq = seq
                    self.status = ST_OK
                    self.saves += 1
                    return True
            except OSError:
                pass
            self.slot_status[target] = S_BAD_CRC
            self.errors += 1
            self.failing = True
        return False

    def save_state(self, state, verify=True):
        return self.save(encode(state), verify)

    def boot(self, defaults, counter_key="power_ups"):
        """At start: the stored state (or a copy of defaults), with the power-
        up counter (register 152, 0-32767, rolls over) incremented and saved
        at once. Returns (state, alert): alert when the store was corrupt and
        defaults were used."""
        state = self.load_state()
        alert = False
        if state is None:
            alert = self.status == ST_CORRUPT
            state = dict(defaults)
        state[counter_key] = (state.get(counter_key, 0) + 1) & 0x7FFF
        self.save_state(state)
        return state, alert


class FileBackend:
    # One file per slot: littlefs on the RP2040 (a file rewrite is copy-on-
    # write there, committed at close), the simulator's --state directory on
    # the host. fsync/sync are used where the port has them.
    def __init__(self, path_a, path_b):
        self.paths = (path_a, path_b)

    def read(self, slot):
        try:
            with open(self.paths[slot], "rb") as f:
                return f.read()
        except OSError:
            return None

    def write(self, slot, data):
        import os
        with open(self.paths[slot], "wb") as f:
            f.write(data)
            f.flush()
            fsync = getattr(os, "fsync", None)
            if fsync is not None:
                fsync(f.fileno())
        sync = getattr(os, "sync", None)
        if sync is not None and getattr(os, "fsync", None) is None:
            sync()


class PowerCut(Exception):
    pass


class RamBackend:
    # For tests. mode: "file" (a rewrite truncates, as a file), "overwrite"
    # (new bytes over the old in place: a cut leaves the old tail), "flash"
    # (the slot is erased to 0xFF, then programmed; 0xFF stays after it). cut_after = n: the next write stores
    # only its first n bytes, then raises PowerCut.
    def __init__(self, mode="file"):
        if mode not in ("file", "overwrite", "flash"):
            raise ValueError("mode")
        self.mode = mode
        self.slots = [None, None]
        self.cut_after = -1
        self.writes = 0
        self.fail_writes = False  # raise OSError instead of writing

    def read(self, slot):
        s = self.slots[slot]
        return None if s is None else bytes(s)

    def write(self, slot, data):
        if self.fail_writes:
            raise OSError(5)
        self.writes += 1
        cut = self.cut_after
        n = len(data) if cut < 0 or cut > len(data) else cut
        old = self.slots[slot] or bytearray()
        if self.mode == "file":
            new = bytearray(data[:n])
        elif self.mode == "overwrite":
            # in place; the size is set when the write completes
            new = bytearray(data) if cut < 0 else bytearray(data[:n]) + old[n:]
        else:
            size = max(len(data), len(old))
            new = bytearray(data[:n]) + bytearray(b"\xff" * (size - n))
        self.slots[slot] = new
        if cut >= 0:
            self.cut_after = -1
            raise PowerCut()

    def corrupt(self, slot, offset, xor=0xFF):
        self.slots[slot][offset] ^= xor

    def truncate(self, slot, n):
        self.slots[slot] = self.slots[slot][:n]

    def delete(self, slot):
        self.slots[slot] = None
