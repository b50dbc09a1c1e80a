# What the acquisition drivers (ads131m06, rp2040_adc) share: a ring of
# frames filled by DMA (the drivers' _poll() reads how far) and emptied by
# the main loop, the no-data check, and the first
# words of the driver's state array (array('i') `st`) laid out alike:
#   0 head   frames put, modulo 2**30 (written by the interrupt only)
#   1 tail   frames taken, modulo 2**30 (written by the reader only)
#   2, 3     write and read slots;  4 depth
#   5 overrun  frames dropped because the ring was full
#   6 lost     frames the converter made while no interrupt ran
# One writer per word, so neither side can corrupt the other's count.
import time

from micropython import const

S_HEAD = const(0)
S_TAIL = const(1)
S_OVERRUN = const(5)
S_LOST = const(6)
_MASK30 = const(0x3FFFFFFF)


class FrameRing:
    def available(self):
        st = self.st
        return (st[S_HEAD] - st[S_TAIL]) & _MASK30

    def _take_count(self, buf, nframes):
        # frames read_block may move: what is there, asked for, and fits buf
        n = self.available()
        if n > nframes:
            n = nframes
        room = len(buf) // 6
        return room if n > room else n

    def read(self, buf):
        # the sample-source interface of boards/sim.py
        return self.read_block(buf, len(buf) // 6)

    @property
    def overruns(self):
        return self.st[S_OVERRUN]

    @property
    def lost(self):
        return self.st[S_LOST]

    def check_alive(self, now_ms, no_data_ms=50):
        """Call from the main loop: True while frames keep coming (the
        driver's _poll() moves)."""
        head = self._poll()
        if head != self._heads_seen or self.alive_ms is None or not self._running:
            self._heads_seen = head
            self.alive_ms = now_ms
            return True
        return time.ticks_diff(now_ms, self.alive_ms) < no_data_ms

    # Samples at a converter's rail, counted by the driver's decode in its
    # state words CLIP_WORD (the count, modulo 2**30) and CLIP_WORD + 1 (a
    # bit per channel that had one): the runtime hands new ones to the DSP
    # (register 146 bits 0-5, 7303-7304).
    @property
    def clipped(self):
        return self.st[self.CLIP_WORD]

    def take_clip_mask(self):
        # the channels with a clipped sample since the last call
        st = self.st
        m = st[self.CLIP_WORD + 1]
        st[self.CLIP_WORD + 1] = 0
        return m
