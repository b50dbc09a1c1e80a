# A behavioural model of the ADS131M06's SPI side, for the driver tests
# (CPython and the MicroPython unix port alike). It is the `spi` object the
# driver is handed: each write_readinto(tx, rx) is one CS-framed frame of
# 8 words of 24 bits. What it models (datasheet 8.5): the response to a
# command comes in the next frame's first word; NULL -> STATUS, RESET ->
# 0xFF26 and reset register values, RREG (one register) -> its value,
# WREG -> 010a aaaa ammm mmmm; output CRC-16-CCITT over the frame; with
# MODE.RX_CRC_EN the input CRC is checked and a frame failing it is ignored
# (STATUS.CRC_ERR set). Channel codes come from an array('i') of frames,
# played in a loop. In streaming use (tx_log off) it allocates nothing, so
# the driver's IRQ path can run under heap_lock().
from array import array

_RESET_REGS = {0x00: 0x2600, 0x02: 0x0510, 0x03: 0x3F0E, 0x04: 0, 0x05: 0, 0x06: 0x0600}


def crc16(data, n):
    crc = 0xFFFF
    for k in range(n):
        crc ^= data[k] << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


class Ads131m06Sim:
    def __init__(self, cs=None, ident=0x2600):
        self.cs = cs
        self.ident = ident
        self.regs = [0] * 64
        self.tx_log = []
        self.log = True
        self.frames = array("i", bytes(24))  # 6 codes a frame, played in a loop
        self.pos = 0
        self.corrupt = 0  # corrupt this many next output frames (one bit flipped)
        self.dead = -1  # >= 0: MISO stuck at this byte value
        self.reset()

    def reset(self):
        for k in range(64):
            self.regs[k] = 0
        for a in _RESET_REGS:
            self.regs[a] = _RESET_REGS[a]
        self.regs[0] = self.ident
        self.reset_flag = 1
        self.crc_err = 0
        self.resp = 0xFF20 | ((self.ident >> 8) & 0x0F)

    def status(self):
        mode = self.regs[2]
        return ((self.crc_err << 12) | (mode & 0x0800) | (self.reset_flag << 10)
                | (mode & 0x0300) | 0x3F)

    def set_frames(self, frames):
        self.frames = frames
        self.pos = 0

    def write_readinto(self, tx, rx):
        if self.cs is not None:
            assert self.cs.value() == 0, "frame outside CS low"
        if self.log:
            self.tx_log.append(bytes(tx))
        # ---- this frame's output: response word, 6 codes, CRC ----
        if self.dead >= 0:
            for k in range(24):
                rx[k] = self.dead
        else:
            r = self.resp
            rx[0] = r >> 8
            rx[1] = r & 0xFF
            rx[2] = 0
            f = self.frames
            p = self.pos
            for ch in range(6):
                v = f[p + ch] & 0xFFFFFF
                rx[3 + 3 * ch] = v >> 16
                rx[4 + 3 * ch] = (v >> 8) & 0xFF
                rx[5 + 3 * ch] = v & 0xFF
            p += 6
            self.pos = 0 if p >= len(f) else p
            c = crc16(rx, 21)
            rx[21] = c >> 8
            rx[22] = c & 0xFF
            rx[23] = 0
            if self.corrupt:
                self.corrupt -= 1
                rx[7] ^= 0x10
        # ---- the command in this frame: its response goes out next frame ----
        cmd = (tx[0] << 8) | tx[1]
        nwords = 1
        if cmd & 0xE000 == 0x6000:  # WREG carries n+1 data words
            nwords += (cmd & 0x7F) + 1
        if self.regs[2] & 0x1000:  # MODE.RX_CRC_EN: check the input CRC
            n = 3 * nwords
            if crc16(tx, n) != (tx[n] << 8) | tx[n + 1]:
                self.crc_err = 1
                self.resp = self.status()
                return
        if cmd == 0x0011:
            self.reset()
        elif cmd & 0xE000 == 0xA000:
            self.resp = self.status() if (cmd >> 7) & 0x3F == 1 else self.regs[(cmd >> 7) & 0x3F]
        elif cmd & 0xE000 == 0x6000:
            a = (cmd >> 7) & 0x3F
            for k in range(nwords - 1):
                v = (tx[3 + 3 * k] << 8) | tx[4 + 3 * k]
                if a + k == 2:
                    if not v & 0x0400:  # writing MODE.RESET = 0 clears the flag
                        self.reset_flag = 0
                    v &= ~0x0400
                    v |= self.reset_flag << 10
                if a + k > 1:  # ID and STATUS are read-only
                    self.regs[a + k] = v
            self.resp = 0x4000 | (a << 7) | (nwords - 2)
        else:  # NULL and anything else: STATUS
            self.resp = self.status()
            self.crc_err = 0
