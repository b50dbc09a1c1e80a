# The NV store on a real littlefs (os.VfsLfs2, as on the RP2040) over a RAM
# block device that 'loses power' at every erase/program operation of a
# save. MicroPython only (CPython has no VfsLfs2): skipped there.
import os
import sys

import nvstore
from nvstore import FileBackend, NvStore

_BS = 4096  # RP2040 flash sector / littlefs block
_BLOCKS = 24


class Cut(Exception):
    pass


class FlashBdev:
    # extended block-device protocol; erase leaves 0xFF like NOR flash
    def __init__(self):
        self.data = bytearray(b"\xff" * (_BS * _BLOCKS))
        self.ops = 0
        self.cut_at = -1
        self.erases = 0

    def _op(self):
        if self.cut_at >= 0 and self.ops >= self.cut_at:
            raise Cut()
        self.ops += 1

    def readblocks(self, n, buf, off=0):
        a = n * _BS + off
        try:
            buf[:] = self.data[a:a + len(buf)]
        except MemoryError:
            # called from a finaliser (heap locked): a file the cut left open
            d = self.data
            for i in range(len(buf)):
                buf[i] = d[a + i]

    def writeblocks(self, n, buf, off=None):
        if off is None:
            self.ioctl(6, n)
            off = 0
        self._op()
        a = n * _BS + off
        self.data[a:a + len(buf)] = buf

    def ioctl(self, op, arg):
        if op == 4:
            return _BLOCKS
        if op == 5:
            return _BS
        if op == 6:
            self._op()
            self.erases += 1
            self.data[arg * _BS:(arg + 1) * _BS] = b"\xff" * _BS
            return 0
        return None


def _state(k):
    d = {"e%d" % j: 2 ** 62 + 1000 * k + j for j in range(32)}
    d["k"] = k
    return d


def _mount(bd):
    try:
        os.umount("/nvtest")
    except OSError:
        pass
    os.mount(os.VfsLfs2(bd), "/nvtest")
    return NvStore(FileBackend("/nvtest/nv_a", "/nvtest/nv_b"))


def test_littlefs_power_cut_at_every_flash_operation():
    if sys.implementation.name != "micropython" or not hasattr(os, "VfsLfs2"):
        return
    try:
        # how many flash operations one save takes
        bd = FlashBdev()
        os.VfsLfs2.mkfs(bd)
        st = _mount(bd)
        for k in (1, 2):
            assert st.save_state(_state(k))
        before = bd.ops
        assert st.save_state(_state(3))
        per_save = bd.ops - before
        assert per_save > 0
        for cut in range(per_save + 1):
            bd = FlashBdev()
            os.VfsLfs2.mkfs(bd)
            st = _mount(bd)
            for k in (1, 2):
                assert st.save_state(_state(k))
            bd.cut_at = bd.ops + cut
            try:
                st.save_state(_state(3))
                done = True
            except Cut:
                done = False
            bd.cut_at = -1
            st = _mount(bd)  # power back: a fresh mount of what is on flash
            got = st.load_state()
            assert got is not None, cut
            assert got["k"] in (2, 3), (cut, got["k"])
            if done:
                assert got["k"] == 3
            # and the store keeps working
            assert st.save_state(_state(4))
            assert _mount(bd).load_state()["k"] == 4
    finally:
        try:
            os.umount("/nvtest")
        except OSError:
            pass
    assert nvstore.STATUS_NAMES[0] == "ok"
