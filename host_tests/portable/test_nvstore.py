# Power-fail-safe NV store (issue 5: energy accumulators, max demand, pulse
# counters 39-42, configuration, power-up counter 152, reset counter 147).
# Runs under CPython (pytest) and MicroPython (tools/mp_test.py).
import struct

import nvstore
from nvstore import (
    FORMAT, HEADER_LEN, MAGIC, MAX_PAYLOAD, S_BAD_CRC, S_BAD_LEN, S_BAD_MAGIC,
    S_BAD_PAYLOAD, S_BAD_VERSION, S_GOOD, S_MISSING, S_SHORT, ST_CORRUPT,
    ST_EMPTY, ST_FALLBACK, ST_OK, NvStore, PowerCut, RamBackend, decode, encode,
)


def state(k):
    # a meter state that grows with k: accumulators only go up
    return {
        "wh_imp": 10 ** 12 + 1000 * k,  # beyond 2**31: a long int
        "wh_exp": 5 * k,
        "varh": [k, 2 * k, 3 * k, 4 * k],
        "demand_max": [1.5 * k, -0.25 * k],
        "pulses": [k, 0],
        "power_ups": 3,
        "name": "meter-%d" % k,
    }


def test_crc32_check_value_and_table_fallback():
    # CRC-32/IEEE check value
    assert nvstore.crc32(b"123456789") == 0xCBF43926
    assert nvstore.crc32(b"6789", nvstore.crc32(b"12345")) == 0xCBF43926
    saved = nvstore._crc32
    nvstore._crc32 = None  # a port without binascii.crc32
    try:
        assert nvstore.crc32(b"123456789") == 0xCBF43926
        assert nvstore.crc32(bytes(range(256))) == 0x29058C73
    finally:
        nvstore._crc32 = saved


def test_encode_decode_round_trip():
    s = state(7)
    s["huge"] = 2 ** 70
    d = decode(encode(s))
    assert d == s
    assert d["huge"] == 2 ** 70
    for bad in (b"[1, 2]", b"{", b"\xff\xfe", b""):
        try:
            decode(bad)
            raise AssertionError(bad)
        except ValueError:
            pass


def test_alternating_slots_and_sequence():
    be = RamBackend()
    st = NvStore(be)
    assert st.load() is None and st.status == ST_EMPTY
    for k in range(1, 6):
        assert st.save_state(state(k))
        assert st.seq == k
        assert st.slot == (k - 1) % 2
    st2 = NvStore(be)
    assert st2.load_state() == state(5)
    assert st2.status == ST_OK and st2.seq == 5 and st2.slot == 0
    assert st2.slot_status == [S_GOOD, S_GOOD]
    assert st2.load() == encode(state(5))


def committed(be):
    st = NvStore(be)
    return st.load_state(), st


def test_power_cut_at_every_byte_offset():
    # For each storage model, cut the k-th save at every byte offset of its
    # record: the reload is the previous record (or the new one when the cut
    # came after its last byte), never corrupt, never going backwards; and
    # the store goes on saving after the power comes back.
    for mode in ("file", "overwrite", "flash"):
        for nth in (1, 2, 3):  # first save ever, into slot B, into slot A again
            size = len(nvstore.pack(0, encode(state(nth))))
            for cut in range(size + 1):
                be = RamBackend(mode)
                st = NvStore(be)
                for k in range(1, nth):
                    assert st.save_state(state(k))
                be.cut_after = cut
                try:
                    st.save_state(state(nth))
                    raise AssertionError("no power cut")
                except PowerCut:
                    pass
                got, st2 = committed(be)
                if cut == size:
                    assert got == state(nth), (mode, nth, cut)
                elif nth == 1:
                    assert got is None, (mode, cut)
                    assert st2.status == ST_CORRUPT  # defaults + alert
                else:
                    assert got == state(nth - 1), (mode, nth, cut, got)
                    # the cut slot is bad, or (in place, cut early) still
                    # holds its older record intact
                    assert st2.status in (ST_FALLBACK, ST_OK)
                # power back: the next save lands and wins
                assert st2.save_state(state(nth + 1))
                got, _st3 = committed(be)
                assert got == state(nth + 1), (mode, nth, cut)


def test_power_cut_values_never_go_backwards():
    # a long run of saves with a cut at a pseudo-random byte of every third
    # write: the loaded energy never decreases
    be = RamBackend("overwrite")
    st = NvStore(be)
    seed = 99
    last = -1
    for k in range(1, 200):
        if k % 3 == 0:
            seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
            be.cut_after = seed % 150
            try:
                st.save_state(state(k))
            except PowerCut:
                pass
            got, st = committed(be)
        else:
            assert st.save_state(state(k))
            got, _x = committed(be)
        assert got is not None
        assert got["wh_imp"] >= last
        last = got["wh_imp"]
    assert last == state(199)["wh_imp"]


def good_pair():
    be = RamBackend()
    st = NvStore(be)
    st.save_state(state(1))  # slot 0, seq 1
    st.save_state(state(2))  # slot 1, seq 2 (newest)
    return be


def test_corruptions_of_every_kind():
    size = len(good_pair().slots[1])
    # magic, each byte
    for off in range(4):
        be = good_pair()
        be.corrupt(1, off)
        got, st = committed(be)
        assert got == state(1) and st.slot_status[1] == S_BAD_MAGIC
        assert st.status == ST_FALLBACK
    # version
    be = good_pair()
    struct.pack_into("<H", be.slots[1], 4, FORMAT + 1)
    got, st = committed(be)
    assert got == state(1) and st.slot_status[1] == S_BAD_VERSION
    # a flipped bit anywhere after the magic and version: CRC (or length)
    for off in range(6, size):
        be = good_pair()
        be.corrupt(1, off, 0x10)
        got, st = committed(be)
        assert got == state(1), off
        assert st.slot_status[1] in (S_BAD_CRC, S_BAD_LEN, S_SHORT), off
    # truncated at every length
    for n in range(size):
        be = good_pair()
        be.truncate(1, n)
        got, st = committed(be)
        assert got == state(1), n
        assert st.slot_status[1] == S_SHORT, n
    # length field: over the maximum, too long, too short (CRC redone so only
    # the length is wrong)
    for n, want in ((MAX_PAYLOAD + 1, S_BAD_LEN), (size, S_SHORT), (3, S_BAD_LEN)):
        be = good_pair()
        rec = be.slots[1]
        struct.pack_into("<I", rec, 12, n)
        end = HEADER_LEN + n
        if end + 4 <= len(rec):
            struct.pack_into("<I", rec, end, nvstore.crc32(memoryview(rec)[:end]))
        got, st = committed(be)
        assert got == state(1) and st.slot_status[1] == want, (n, st.slot_status)
    # trailing bytes: erased flash (0xFF) is fine, anything else is not
    be = good_pair()
    be.slots[1] += b"\xff" * 100
    got, st = committed(be)
    assert got == state(2) and st.status == ST_OK
    be.slots[1] += b"\x00"
    got, st = committed(be)
    assert got == state(1) and st.slot_status[1] == S_BAD_LEN
    # the older slot bad: the newest still wins, status says fallback
    be = good_pair()
    be.corrupt(0, 30)
    got, st = committed(be)
    assert got == state(2) and st.status == ST_FALLBACK
    # both bad: None, with the reason per slot
    be = good_pair()
    be.corrupt(0, 0)
    be.corrupt(1, 40)
    got, st = committed(be)
    assert got is None and st.status == ST_CORRUPT
    assert st.slot_status == [S_BAD_MAGIC, S_BAD_CRC]
    assert nvstore.STATUS_NAMES[st.status] == "corrupt"
    assert nvstore.SLOT_NAMES[st.slot_status[1]] == "bad CRC"
    # one missing, the other good: ok
    be = good_pair()
    be.delete(0)
    got, st = committed(be)
    assert got == state(2) and st.status == ST_OK
    assert st.slot_status == [S_MISSING, S_GOOD]
    # both missing: empty (a new meter)
    be.delete(1)
    got, st = committed(be)
    assert got is None and st.status == ST_EMPTY
    # garbage of every short length
    for n in range(1, 24):
        be = RamBackend()
        be.slots[0] = bytearray(b"\x00" * n)
        got, st = committed(be)
        assert got is None and st.status == ST_CORRUPT


def test_save_after_fallback_keeps_the_good_record():
    be = good_pair()
    be.corrupt(1, 50)  # newest broken: slot 0 (seq 1) is the good one
    st = NvStore(be)
    assert st.load_state() == state(1) and st.slot == 0
    assert st.save_state(state(3))
    assert st.slot == 1  # into the bad slot, not over the good one
    assert st.seq == 2
    got, st2 = committed(be)
    assert got == state(3) and st2.status == ST_OK


def test_both_slots_bad_then_save():
    be = good_pair()
    be.corrupt(0, 0)
    be.corrupt(1, 0)
    st = NvStore(be)
    assert st.load_state() is None and st.status == ST_CORRUPT
    assert st.save_state(state(9))
    assert st.seq == 1 and st.slot == 0
    assert committed(be)[0] == state(9)


def test_sequence_wrap():
    for older, newer in ((0xFFFFFFFF, 0), (0xFFFFFFFE, 0xFFFFFFFF), (5, 6), (0x7FFFFFFF, 0x80000000)):
        for newer_slot in (0, 1):
            be = RamBackend()
            be.slots[1 - newer_slot] = nvstore.pack(older, encode(state(1)))
            be.slots[newer_slot] = nvstore.pack(newer, encode(state(2)))
            got, st = committed(be)
            assert got == state(2), (older, newer, newer_slot)
            assert st.seq == newer and st.slot == newer_slot
            assert st.save_state(state(3))
            assert st.seq == (newer + 1) & 0xFFFFFFFF and st.slot == 1 - newer_slot
            assert committed(be)[0] == state(3)


def test_undecodable_payload_falls_back():
    # a good CRC over a payload that is not a state (a firmware bug): the
    # older record is used
    be = good_pair()
    be.slots[1] = nvstore.pack(3, b"not json")
    got, st = committed(be)
    assert got == state(1)
    assert st.slot_status[1] == S_BAD_PAYLOAD and st.status == ST_FALLBACK
    assert st.slot == 0
    be.slots[0] = nvstore.pack(4, b"[1]")
    got, st = committed(be)
    assert got is None and st.status == ST_CORRUPT


def test_write_failure_keeps_previous():
    be = good_pair()
    st = NvStore(be)
    st.load()
    be.fail_writes = True
    assert not st.save_state(state(3))
    assert st.errors == 2 and st.failing  # both slots tried, both refused
    be.fail_writes = False
    assert committed(be)[0] == state(2)
    # the next good save goes to the slot that failed (seq 3)
    assert st.save_state(state(4))
    assert st.seq == 3 and committed(be)[0] == state(4) and not st.failing


def test_verify_catches_a_bad_write():
    class Lossy(RamBackend):
        def write(self, slot, data):
            data = bytearray(data)
            data[20] ^= 1  # a flash bit that did not program
            RamBackend.write(self, slot, data)

    be = Lossy()
    st = NvStore(be)
    assert not st.save_state(state(1))
    assert st.errors == 2 and st.failing


class DeadSlot(RamBackend):
    # one slot that cannot be written: a failing F-RAM or flash sector, a
    # slot file replaced by a directory in the virtual meter
    def __init__(self, dead, mode="file"):
        RamBackend.__init__(self, mode)
        self.dead = dead

    def write(self, slot, data):
        if slot == self.dead:
            raise OSError(21)
        RamBackend.write(self, slot, data)


def test_a_dead_slot_fails_loudly_and_the_other_slot_keeps_every_save():
    for dead in (0, 1):
        be = DeadSlot(dead)
        st = NvStore(be)
        for k in range(1, 8):
            # every save lands in the live slot, at once when its twin fails
            assert st.save_state(state(k)), (dead, k)
            assert st.slot == 1 - dead and st.seq == k
            got, st2 = committed(be)
            assert got == state(k)  # a restart now loses nothing
        assert st.failing and st.errors >= 6, (dead, st.errors)
        # the dead slot keeps being tried: when it works again, saves alternate
        be.dead = -1
        assert st.save_state(state(8)) and st.slot == dead and not st.failing
        assert st.save_state(state(9)) and st.slot == 1 - dead


def test_an_impossible_save_fails_loudly_and_keeps_the_record():
    be = good_pair()
    st = NvStore(be)
    st.load()
    huge = {"blob": "x" * (MAX_PAYLOAD + 1)}
    assert not st.save_state(huge)
    assert st.failing and st.errors == 1
    assert committed(be)[0] == state(2)
    assert st.save_state(state(3)) and not st.failing


def test_boot_power_up_counter_register_152():
    be = RamBackend()
    st = NvStore(be)
    defaults = {"wh_imp": 0, "power_ups": 0}
    s, alert = st.boot(defaults)
    assert s == {"wh_imp": 0, "power_ups": 1} and not alert
    assert defaults["power_ups"] == 0  # defaults untouched
    for n in range(2, 6):
        s, alert = NvStore(be).boot(defaults)
        assert s["power_ups"] == n and not alert
    # energy saved meanwhile survives the next start
    st = NvStore(be)
    s, _a = st.boot(defaults)
    s["wh_imp"] = 12345
    st.save_state(s)
    s, _a = NvStore(be).boot(defaults)
    assert s["wh_imp"] == 12345 and s["power_ups"] == 7
    # 0-32767, then round to 0 (docs/storage.md; config.count_power_up alike)
    s["power_ups"] = 32767
    NvStore(be).save_state(s)
    assert NvStore(be).boot(defaults)[0]["power_ups"] == 0
    # corrupt store: defaults, alert, and the counter starts again
    be.corrupt(0, 0)
    be.corrupt(1, 0)
    s, alert = NvStore(be).boot(defaults)
    assert alert and s == {"wh_imp": 0, "power_ups": 1}


def test_record_layout():
    rec = nvstore.pack(0x01020304, b"abc")
    assert bytes(rec[:4]) == MAGIC
    assert bytes(rec[4:16]) == b"\x01\x00\x00\x00\x04\x03\x02\x01\x03\x00\x00\x00"
    assert bytes(rec[16:19]) == b"abc"
    assert struct.unpack("<I", rec[19:])[0] == nvstore.crc32(rec[:19])
    assert nvstore.unpack(rec) == (S_GOOD, 0x01020304, b"abc")
    try:
        nvstore.pack(1, b"x" * (MAX_PAYLOAD + 1))
        raise AssertionError("oversize accepted")
    except ValueError:
        pass
