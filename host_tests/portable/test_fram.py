# SPI F-RAM driver (boards/drivers/fram.py) against a model of the chip
# (fram_sim.py): the exact command bytes, bounds, the nvstore backend over
# FramSlots (save/load, corrupt and damaged slots, a power cut at every
# byte of a save), and datalog's BlockFlash over FramBlocks (rows written,
# read back, the ring rebuilt after a power cycle). Runs under CPython
# (pytest) and `micropython tools/mp_test.py`.
import micropython

from config import Config
from datalog import NSECT, REGION, SECT, BlockFlash, DataLog
from drivers.fram import Fram, FramBlocks, FramSlots
from fram_sim import PowerCut, FramSim
from frontend import FrontEnd
from meter import Meter
from nvstore import S_BAD_CRC, ST_CORRUPT, ST_EMPTY, ST_FALLBACK, ST_OK, NvStore
from rtc import Rtc

SLOT = 16384
LOG_BASE = 2 * SLOT


def _fram(sim=None):
    sim = sim if sim is not None else FramSim()
    return sim, Fram(sim, sim.cs)


def test_write_and_read_commands_exact_bytes():
    sim, f = _fram()
    f.write(0x012345, b"\xde\xad\xbe\xef")
    # WREN alone, then WRITE + 24-bit address + data, each framed by CS
    assert sim.log == [(0x06, 0, b""), (0x02, 0x012345, b"\xde\xad\xbe\xef")]
    assert sim.peek(0x012345, 4) == b"\xde\xad\xbe\xef"
    assert not sim.wel  # cleared when the WRITE ended
    buf = bytearray(6)
    f.read(0x012344, buf)
    assert sim.log[-1] == (0x03, 0x012344, b"\x00\xde\xad\xbe\xef\x00")
    assert buf == b"\x00\xde\xad\xbe\xef\x00"
    assert f.status() == 0
    assert sim.cs.value() == 1
    # the last byte of the chip, and nothing past it
    f.write(524287, b"\x5a")
    one = bytearray(1)
    f.read(524287, one)
    assert one == b"\x5a"
    for bad in ((524287, 2), (-1, 1)):
        try:
            f.write(bad[0], bytes(bad[1]))
            raise AssertionError("out of range write accepted")
        except ValueError:
            pass
    try:
        f.read(524280, bytearray(9))
        raise AssertionError("out of range read accepted")
    except ValueError:
        pass
    f.fill(100, 130, 0xA5)
    assert sim.peek(99, 132) == b"\x00" + b"\xa5" * 130 + b"\x00"


def test_model_ignores_a_write_without_wren():
    sim, f = _fram()
    f._start(0x02, 10)
    sim.write(b"\x11\x22")
    f.cs.value(1)
    assert sim.peek(10, 2) == b"\x00\x00"


def test_read_allocates_nothing():
    sim, f = _fram()
    sim.keep_log = False
    f.write(0, b"abc")
    buf = bytearray(3)
    mv = memoryview(bytearray(8))[2:5]  # as BlockFlash hands a row's slice
    micropython.heap_lock()
    try:
        f.read(0, buf)
        f.read(0, mv)
    finally:
        micropython.heap_unlock()
    assert buf == b"abc" and bytes(mv) == b"abc"


def test_slots_header_and_missing_states():
    sim, f = _fram()
    slots = FramSlots(f, 0, SLOT)
    assert slots.read(0) is None and slots.read(1) is None  # zeros: never written
    slots.write(1, b"hello")
    assert sim.peek(SLOT, 9) == b"\x05\x00\x00\x00hello"
    assert bytes(slots.read(1)) == b"hello" and slots.read(0) is None
    sim.poke(0, b"\xff\xff\xff\xff")
    assert slots.read(0) is None
    # a damaged length: the whole slot, present and bad for nvstore
    sim.poke(0, b"\x00\x00\x01\x00")
    assert len(slots.read(0)) == SLOT - 4
    try:
        slots.write(0, bytes(SLOT - 3))
        raise AssertionError("over-long record accepted")
    except OSError:
        pass
    slots.format()
    assert slots.read(0) is None and slots.read(1) is None


def test_nvstore_over_fram_save_load_and_corruption():
    sim, f = _fram()
    st = NvStore(FramSlots(f, 0, SLOT))
    assert st.load() is None and st.status == ST_EMPTY
    for k in range(1, 6):
        assert st.save(b"payload %d" % k)
    st2 = NvStore(FramSlots(Fram(sim, sim.cs), 0, SLOT))
    assert st2.load() == b"payload 5" and st2.status == ST_OK
    # a flipped bit in the newest record: the older one, flagged
    newest = st2.slot
    a = newest * SLOT + 4 + 20
    sim.poke(a, bytes([sim.peek(a, 1)[0] ^ 0x01]))
    st3 = NvStore(FramSlots(Fram(sim, sim.cs), 0, SLOT))
    assert st3.load() == b"payload 4" and st3.status == ST_FALLBACK
    assert st3.slot_status[newest] == S_BAD_CRC
    # both damaged (one by a bad length header): corrupt, not empty
    sim.poke((1 - newest) * SLOT, b"\x00\x00\x02\x00")
    st4 = NvStore(FramSlots(Fram(sim, sim.cs), 0, SLOT))
    assert st4.load() is None and st4.status == ST_CORRUPT
    # the store heals at the next save
    assert st4.save(b"again")
    st5 = NvStore(FramSlots(Fram(sim, sim.cs), 0, SLOT))
    assert st5.load() == b"again"


def test_nvstore_power_cut_at_every_byte_of_a_save():
    sim, f = _fram()
    st = NvStore(FramSlots(f, 0, SLOT))
    assert st.save(b"A" * 40) and st.save(b"B" * 30)  # both slots written
    rec = 16 + 24 + 4  # the next record: header + payload + CRC
    for cut in range(rec + 4 + 1):
        snap = sim.snapshot()
        st = NvStore(FramSlots(Fram(sim, sim.cs), 0, SLOT))
        assert st.load() == b"B" * 30
        sim.cut_after = cut
        try:
            st.save(b"C" * 24)
            done = True
        except PowerCut:
            done = False
        sim.cut_after = -1
        # power back: a new driver (CS high again) over the same chip
        st = NvStore(FramSlots(Fram(sim, sim.cs), 0, SLOT))
        got = st.load()
        if done:
            assert cut >= rec + 4 and got == b"C" * 24, cut
        else:
            # the cut save is lost, nothing else: the previous record loads
            # (or the new one, once all its bytes and enough of the length
            # header are in: the header's high bytes are 0 either way)
            ok_new = cut >= rec and got == b"C" * 24
            assert got == b"B" * 30 or ok_new, (cut, got)
            assert st.status in (ST_OK, ST_FALLBACK), cut
        sim.restore(snap)


def _meter(flash):
    c = Config()
    c.apply({"demand_len": 10})
    m = Meter(FrontEnd(), c)
    dl = DataLog(m.bank, c, flash, Rtc())
    m.demand.on_close = dl.subinterval_closed
    m.bank.refresh()
    return m, dl


class _Poked:
    # the bank with register 3 (what log pointer 1 logs by default) reading v
    def __init__(self, bank, v):
        self.bank = bank
        self.v = v

    def word(self, reg):
        return self.v if reg == 3 else self.bank.word(reg)


def _close(m, dl, v):
    dl.subinterval_closed()
    dl.take(_Poked(m.bank, v))


def _newest(m, n):
    assert m.bank.write(157, [1]) == 0  # page 1: buffer 1, newest first
    out = bytearray(2 * n)
    assert m.bank.read(7999, n, out, 0) == 0
    assert m.bank.write(157, [0]) == 0
    return [out[2 * i] << 8 | out[2 * i + 1] for i in range(n)]


def test_datalog_blockflash_over_framblocks():
    sim, f = _fram()
    blocks = FramBlocks(f, LOG_BASE, NSECT)
    assert blocks.ioctl(4, 0) == NSECT and blocks.ioctl(5, 0) == SECT
    flash = BlockFlash(blocks)
    assert flash.size == REGION
    try:
        FramBlocks(f, 524288 - REGION + 1, NSECT)
        raise AssertionError("region past the chip accepted")
    except ValueError:
        pass
    # a new chip (zeros): no good record, nothing logged
    m, dl = _meter(flash)
    assert _newest(m, 2) == [0x8000, 0x8000]
    for v in (11, 22, 33):
        _close(m, dl, v)
    assert _newest(m, 4) == [33, 22, 11, 0x8000]
    # the first sector was 'erased' to 0xFF before its first record
    assert sim.peek(LOG_BASE + 3 * 40, SECT - 120) == b"\xff" * (SECT - 120)
    # nothing written outside the region
    assert sim.peek(LOG_BASE - 1, 1) == b"\x00" and sim.peek(LOG_BASE + REGION, 1) == b"\x00"
    # power cycle: the ring is rebuilt from F-RAM
    m2, dl2 = _meter(BlockFlash(FramBlocks(Fram(sim, sim.cs), LOG_BASE, NSECT)))
    assert dl2.newest == dl.newest
    _close(m2, dl2, 44)
    assert _newest(m2, 5) == [44, 33, 22, 11, 0x8000]


class _NoChip:
    """An SPI bus with nothing on it: MISO idles high, every byte reads 0xFF."""

    def __init__(self):
        self.cs = _Pin()

    def write(self, data):
        pass

    def readinto(self, buf, fill=0):
        for i in range(len(buf)):
            buf[i] = 0xFF


class _Pin:
    def __init__(self):
        self.v = 1

    def value(self, v=None):
        if v is None:
            return self.v
        self.v = v


def test_probe_finds_the_chip_or_its_absence():
    # pico_ads131m06.make_hardware(): no F-RAM answering -> flash store,
    # no log, and the wrench (board_alert)
    sim, f = _fram()
    assert f.probe()
    bus = _NoChip()
    assert not Fram(bus, bus.cs).probe()
