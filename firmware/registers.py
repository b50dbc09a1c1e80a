# The register map as the Modbus server sees it, encoded on read. The table
# is firmware/regtable.py: regmap.py (the one declarative table, with the
# texts docs/registers.md is made of) compiled at build time by
# tools/gen_docs.py into one 10-byte record a row, so nothing is built here
# at start and regmap.py never goes onto the board.
#
# Registers are encoded when read, from a snapshot refresh() takes once a
# second (and after a write or a command): the readings' bytes, the energy
# counts, demand, counters, clock words and error bits (about fifty
# references and 116 bytes, nothing allocated). A snapshot marks every row
# of the image stale; a read encodes the stale rows it touches (each at
# most once a second, however often a master polls it) and copies. Rows
# nobody reads are never encoded. The meter model may update its parts in
# separate loop turns (meter.work()); a read between them still sees the
# last second whole. There is one image, not two: encoding runs on the
# loop between Modbus requests, never inside one.
#
# Encoding (datasheet 'Modbus Point Map Overview', addendum): 32-bit values
# most significant register first; IEEE 754 floats; QNAN (0x8000,
# 0x7FC00000) for values not valid in the system type; SunSpec 'not
# implemented' (int16/sunssf 0x8000, uint16 0xFFFF, acc32 0, bitfield32
# 0xFFFFFFFF) in the SunSpec blocks; native energies kWh x 10^E (register
# 141), SunSpec ones Wh x 10^TotWh_SF.

import struct
from array import array

import micropython
from micropython import const

import regtable as T
from alarms import events
from compat import IS_MICROPYTHON, ptr8  # noqa: F401  (viper cast; a no-op on CPython)
from config import PHASES, ConfigError
from energy import K_VAH_NET, K_WH_NET, MWS_PER_KWH, MWS_PER_WH
from readings import E_KINDS, N_ENERGIES, N_READINGS, R_I, R_I_AVG

# Modbus exception codes returned by read() and write()
OK = const(0)
ILLEGAL_FUNCTION = const(1)  # a sealed calibration register written
ILLEGAL_ADDRESS = const(2)
ILLEGAL_VALUE = const(3)
DEVICE_FAILURE = const(4)
SERVER_BUSY = const(6)  # a rate limit: retry later

# register 129 commands
CMD_CLEAR_ENERGY = const(30078)
CMD_DEMAND_SYNC = const(21211)
CMD_PEAK_RESET = const(21212)
CMD_CLEAR_PULSES = const(16498)
CMD_RESET_LOG = const(16640)

# record fields (tools/regtable_gen.py: the layout and these numbers)
_REC = const(10)
# value sources
_S_READ = const(0)
_S_EN = const(1)
_S_DM = const(2)
_S_CFG = const(3)
_S_CONST = const(4)
_S_QNAN = const(5)
_S_CTR = const(6)
_S_ERR = const(7)
_S_RESETS = const(8)
_S_SSID = const(9)
_S_STR = const(10)
_S_RTC = const(11)  # 155-157: bank.clock (rtc.py)
_S_LOG = const(12)  # 160-168: bank.datalog (datalog.py)
_S_CAL = const(13)  # 7201-7209: cfg.cal_gains x 10000, cfg.cal_phases x 1000
_S_CMD = const(14)  # 129: reads 0
_S_SSEVT = const(15)
_S_SSSF = const(16)
_S_NV = const(17)  # 7401-7403: bank.store (app.App.nv_reg)
_S_SEAL = const(18)  # 7210-7211: the calibration unlock, cfg.cal_left
_I_SUM = const(255)
_DYNAMIC = (_S_READ, _S_EN, _S_DM, _S_CTR, _S_ERR, _S_RESETS, _S_RTC, _S_LOG, _S_SSEVT, _S_NV,
            _S_SEAL)
# Calibration seal (7201-7211): writing the SETUP password (0-99999) to
# 7210-7211 opens 7201-7209 for _CAL_OPEN_S measured seconds (cfg.cal_left,
# counted down by config.second()); a wrong one is counted (7217) and holds
# every unlock off for _CAL_HOLD_S seconds (cfg.cal_hold).
_CAL_OPEN_S = const(300)
_CAL_HOLD_S = const(10)
_PW_MAX = const(99999)
_B_STORE = const(0x80)  # 146 bit 7: the store alert (7401 != 0) ...
_EVT_STORE = const(0x10000)  # ... SunSpec Evt M_EVENT_OEM01
# encodings
_E_RAW = const(0)  # integer as is (masked to the width)
_E_PHYS = const(1)  # physical value -> scaled, rounded, clamped 16-bit
_E_FLOAT = const(2)
_E_ENERGY = const(3)  # mWs count -> scaled 32-bit integer
_E_STR = const(4)
# formats (regtable.FMTS order) the encoder tells apart
_F_UINT = const(0)
_F_ULONG = const(2)
_F_SLONG = const(3)
_F_FLOAT = const(4)
_F_UINT16 = const(5)
_F_ACC32 = const(9)
_F_BITFIELD32 = const(10)
# U_ONE, U_KILO, U_PCT: the register's unit over the DSP's, as a power of ten
_UNIT_EXP = (0, -3, 2)
_POW10_0 = const(16)  # regtable.POW10 index of 10^0


@micropython.viper
def _copy(dst: ptr8, doff: int, src: ptr8, soff: int, n: int):
    i = 0
    while i < n:
        dst[doff + i] = src[soff + i]
        i += 1


@micropython.viper
def _fill(dst: ptr8, doff: int, words: int, hi: int, lo: int):
    i = 0
    while i < words:
        dst[doff + 2 * i] = hi
        dst[doff + 2 * i + 1] = lo
        i += 1


@micropython.viper
def _set_all(b: ptr8, n: int):
    i = 0
    while i < n:
        b[i] = 1
        i += 1


@micropython.viper
def _first_row(r: ptr8, n: int, reg: int) -> int:
    # binary search of the 10-byte records (sorted by register): the first
    # row whose last register (start + width - 1) is >= reg, or n
    lo = 0
    hi = n
    while lo < hi:
        mid = (lo + hi) >> 1
        p = 10 * mid
        if ((r[p] << 8) | r[p + 1]) + r[p + 2] <= reg:
            lo = mid + 1
        else:
            hi = mid
    return lo


@micropython.viper
def _or(dst: ptr8, src: ptr8, n: int):
    i = 0
    while i < n:
        dst[i] |= src[i]
        i += 1


@micropython.viper
def _next_set(b: ptr8, i: int, stop: int) -> int:
    # the first index >= i with b[index] != 0, or stop
    while i < stop:
        if b[i]:
            return i
        i += 1
    return stop


# Scaling a float32 reading for a register without a float object (a
# float is a heap object on the Pico): the reading's bits times a power of
# ten's bits in integer arithmetic. 24 x 24-bit mantissas in 12-bit halves:
# every partial product < 2^25, the sum < 2^29, so 32-bit safe; the dropped
# low bits and round-half-up put the result within 1 ulp of IEEE's. One
# call does a whole register (a Python call costs more than the arithmetic).
@micropython.viper
def _f32_put(dst: ptr8, doff: int, src: ptr8, si: int, k: ptr8, ki: int, lo: int):
    # the little-endian float32 at src[si] times the float32 at k[ki] (a
    # positive normal; ki < 0: times 1) into dst[doff]: lo == 1 as a
    # big-endian float32, else rounded half away from zero, clamped to
    # lo..32767, as a big-endian 16-bit word (a NaN gives 0)
    b3 = src[si + 3]
    b2 = src[si + 2]
    b1 = src[si + 1]
    b0 = src[si]
    sign = b3 & 0x80
    e = ((b3 & 0x7F) << 1) | (b2 >> 7)
    m = (((b2 & 0x7F) | 0x80) << 16) | (b1 << 8) | b0
    if e == 0:
        m = 0  # zero (a denormal reads as zero)
    elif e != 255 and ki >= 0:
        ek = ((k[ki + 3] & 0x7F) << 1) | (k[ki + 2] >> 7)
        mk = (((k[ki + 2] & 0x7F) | 0x80) << 16) | (k[ki + 1] << 8) | k[ki]
        xh = m >> 12
        xl = m & 0xFFF
        kh = mk >> 12
        kl = mk & 0xFFF
        # the 48-bit product >> 20
        q = ((xh * kh) << 4) + ((xh * kl + xl * kh) >> 8) + ((xl * kl) >> 20)
        e = e + ek - 127
        if q >= 0x8000000:
            m = (q >> 4) + ((q >> 3) & 1)
            e += 1
        else:
            m = (q >> 3) + ((q >> 2) & 1)
        if m >= 0x1000000:
            m >>= 1
            e += 1
        if m < 0x800000:
            m = 0x800000
        if e <= 0:  # underflow: zero
            e = 0
            m = 0
        elif e >= 255:  # overflow: infinity
            e = 255
            m = 0x800000
    if lo == 1:
        dst[doff] = sign | (e >> 1)
        dst[doff + 1] = ((e & 1) << 7) | ((m >> 16) & 0x7F)
        dst[doff + 2] = (m >> 8) & 0xFF
        dst[doff + 3] = m & 0xFF
        return
    if e == 0:
        n = 0
    elif e == 255 and (m & 0x7FFFFF):
        n = 0  # NaN
    else:
        sh = 150 - e  # value = m / 2^sh
        if sh <= 8:
            n = 32768  # >= 2^15: clamped below
        elif sh > 24:
            n = 0  # < 0.5
        else:
            n = (m + (1 << (sh - 1))) >> sh
        if sign:
            n = -n
    if n < lo:
        n = lo
    if n > 32767:
        n = 32767
    dst[doff] = (n >> 8) & 0xFF
    dst[doff + 1] = n & 0xFF


class RegisterBank:
    def __init__(self, config, energy, demand, counters, serial="0"):
        self.cfg = config
        self.energy = energy
        self.demand = demand
        self.counters = counters
        self.readings = None  # the DSP's array('f'), readings.R_*
        self.valid = 0
        self.errors = 0  # register 146
        # a phase-loss alarm with a voltage below the 142 threshold (not only
        # imbalance): SunSpec's Under_Voltage event (alarms.events)
        self.under_voltage = False
        self.on_command = None  # called with a 129 value after it ran
        self.store = None  # app.App: 7401-7403, the save before a write's reply
        self.on_log_reset = None  # 129 = 16640 (DataLog.reset)
        self.clock = None  # rtc.Rtc behind 155-157 (set by DataLog)
        self.datalog = None  # datalog.DataLog: 160-168, 8000-13760, takes rows
        self.generation = 0  # snapshots taken
        self._rows = T.ROWS
        self._n = len(T.ROWS) // _REC
        # the image: every block's registers, rows encoded on first read after
        # each snapshot (_dirty: 1 = not yet); gaps stay GAP_WORD
        blocks = []
        nwords = 0
        for first, last in T.BLOCKS:
            blocks.append((first, last, nwords))
            nwords += last - first + 1
        self._blocks = tuple(blocks)
        self._img = bytearray(2 * nwords)
        _fill(self._img, 0, nwords, T.GAP_WORD >> 8, T.GAP_WORD & 0xFF)
        self._dirty = bytearray(b"\x01" * self._n)
        # rows whose values change from one second to the next; the others
        # (configuration, constants, strings, scale factors, calibration)
        # are encoded again only after a write or a configuration change
        dyn = bytearray(self._n)
        r = self._rows
        for i in range(self._n):
            dyn[i] = r[_REC * i + 4] in _DYNAMIC
        self._dyn = dyn
        self._ediv = [None] * (2 * len(T.SCALES))  # energy (multiplier, divisor) by format, scale
        self._w = bytearray(2)
        # the snapshot (refresh): readings, energy counts, demand, counters,
        # clock words 155-157, the under-voltage flag
        self._rd = array("f", bytes(4 * N_READINGS))
        self._rb = self._rd if IS_MICROPYTHON else memoryview(self._rd).cast("B")  # viper reads it
        self._en = [0] * N_ENERGIES
        self._resets = 0
        self._dmb = bytearray(36)  # demand 29-37 as float32: present, import peaks, export peaks
        self._ctr = [0] * len(T.CTRS)
        self._clk = [0, 0, 0]
        self._uv = False
        self._isum = bytearray(4)  # register 40072: the phase currents' sum, float32
        self._cal = [0] * 9  # 7201-7209
        self._cal_of = (None, None)  # the calibration lists _cal was made from
        ver = T.FW_VERSION
        vs = "%d.%03d" % (ver // 1000, ver % 1000)
        # regtable.STRINGS order: mn md opt vr sn
        self._strings = tuple(x.encode() for x in (T.VENDOR, T.MODEL, "", vs, str(serial)))
        self._id = bytes([247, 0xFF]) + (T.ID_STRING + vs).encode()
        self._objects = (T.VENDOR.encode(), T.PRODUCT.encode(), ("V" + vs).encode())

    # ---- the second's values ------------------------------------------------
    def refresh(self, readings=None, valid=None, errors=None):
        """The meter closed a second (or its state changed): with arguments,
        these DSP results are what reads encode from now on. The data log
        takes its row here when a sub-interval has closed."""
        if readings is not None:
            self.readings = readings
        if valid is not None:
            self.valid = valid
        if errors is not None:
            self.errors = errors
        self._snapshot(readings is not None)
        dl = self.datalog
        if dl is not None and dl.due:
            dl.take(self)

    def _snapshot(self, second):
        # second: a closed second (only the values that change every second
        # are stale); else anything may have changed
        r = self.readings
        if r is not None:
            _copy(self._rb, 0, r if IS_MICROPYTHON else memoryview(r).cast("B"), 0, 4 * N_READINGS)
            # the sum of the valid phase currents: three float additions a
            # second here instead of at every read of 40072
            t = 0.0
            for k in range(3):
                if self.valid >> (R_I + k) & 1:
                    t += r[R_I + k]
            struct.pack_into("<f", self._isum, 0, t)
        en = self.energy
        c = en.counts
        s = self._en
        for i in range(N_ENERGIES):
            s[i] = c[i]
        self._resets = en.resets
        d = self.demand
        s = self._dmb
        for k in range(3):
            # existing float objects packed as float32: nothing allocated
            struct.pack_into("<f", s, 4 * k, d.present[k])
            struct.pack_into("<f", s, 12 + 4 * k, d.peak_imp[k])
            struct.pack_into("<f", s, 24 + 4 * k, d.peak_exp[k])
        s = self._ctr
        for i in range(len(s)):
            s[i] = getattr(self.counters, T.CTRS[i])
        c = self.clock
        if c is not None:
            for i in range(3):
                self._clk[i] = c.word(i)
        self._uv = self.under_voltage
        self.generation += 1  # the display redraws (ui_menu.Menu.frame)
        e = self._ediv
        for i in range(len(e)):
            e[i] = None
        if second:
            _or(self._dirty, self._dyn, self._n)
        else:
            self.stale()

    def stale(self):
        """Values behind the image changed outside a snapshot (the data
        log's 160-168): every row is encoded again at its next read."""
        _set_all(self._dirty, self._n)

    def word(self, reg):
        """Register reg (base 1) as an int 0..65535 (the data log's rows)."""
        w = self._w
        if self.read(reg - 1, 1, w, 0):
            return T.GAP_WORD
        return w[0] << 8 | w[1]

    # ---- encoding -------------------------------------------------------------
    def _first(self, reg):
        # index of the first row whose last register is >= reg
        return _first_row(self._rows, self._n, reg)

    def _find(self, reg):
        # offset of the record of the row starting at reg, -1 if none
        i = self._first(reg)
        p = _REC * i
        r = self._rows
        if i < self._n and (r[p] << 8 | r[p + 1]) == reg:
            return p
        return -1

    def _encode_rows(self, reg, end, base):
        # encode the rows of reg..end still stale since the snapshot into
        # the image (block at image word `base` + register), each once
        r = self._rows
        dirty = self._dirty
        i = self._first(reg)
        stop = self._first(end + 1)
        if stop < self._n and (r[_REC * stop] << 8 | r[_REC * stop + 1]) <= end:
            stop += 1  # a row that starts inside the range and ends after it
        while True:
            i = _next_set(dirty, i, stop)
            if i >= stop:
                return
            self._encode_row(i, base)
            i += 1

    def _encode_row(self, i, base):
        # row i into the image (its block's word `base` + register); the
        # common sources first, with as few calls as possible
        self._dirty[i] = 0
        r = self._rows
        p = _REC * i
        img = self._img
        off = 2 * (base + (r[p] << 8 | r[p + 1]))
        s = r[p + 4]
        a = r[p + 5]
        fmt = r[p + 3]
        if s == _S_READ or s == _S_DM:
            if s == _S_DM:
                src = self._dmb
                si = 4 * a
            elif a == _I_SUM:
                if self.readings is None or not self.valid >> R_I_AVG & 1:
                    _put_absent(img, off, fmt)
                    return
                src = self._isum
                si = 0
            else:
                if self.readings is None or not self.valid >> a & 1:
                    _put_absent(img, off, fmt)
                    return
                src = self._rb
                si = 4 * a
            n = _UNIT_EXP[r[p + 6]]
            if r[p + 7] == _E_FLOAT:
                lo = 1
            else:
                n -= self._exp(r[p + 8])
                lo = 0 if fmt == _F_UINT else -32767
            _f32_put(img, off, src, si, T.POW10, 4 * (_POW10_0 + n) if n else -1, lo)
            return
        if s == _S_EN:
            self._encode_energy(img, off, fmt, a, r[p + 6], r[p + 7], r[p + 8])
            return
        if s == _S_CONST:
            c = T.CONSTS
            _put_int(img, off, 1, c[a])
            if r[p + 2] == 2:
                _put_int(img, off + 2, 1, c[r[p + 6]])
            return
        w = r[p + 2]
        if r[p + 7] == _E_STR:
            v = self._strings[a]
            n = len(v)
            for k in range(2 * w):
                img[off + k] = v[k] if k < n else 0
            return
        v = self._value(s, a, r[p + 6])
        if v is None:
            _put_absent(img, off, fmt)
        elif r[p + 7] == _E_FLOAT:  # counters as float
            struct.pack_into(">f", img, off, v)
        else:
            _put_int(img, off, w, v)

    def _encode_energy(self, img, off, fmt, kind, ph, enc, sc):
        # a count of mWs: float kWh, or kWh (native) / Wh (SunSpec acc32)
        # x 10^-exp truncated toward zero (energy.scaled), with the second's
        # multiplier and divisor
        if ph < 3 and ph >= PHASES[self.cfg.system_type]:
            _put_absent(img, off, fmt)  # a phase this system type does not have
            return
        en = self._en  # as energy.count()
        i = E_KINDS * ph
        if kind == K_WH_NET:
            v = en[i] - en[i + 1]
        elif kind == K_VAH_NET:
            v = en[i + 6] - en[i + 7]
        else:
            v = en[i + kind]
        if enc == _E_FLOAT:
            struct.pack_into(">f", img, off, v / MWS_PER_KWH)
            return
        k = sc * 2 + (fmt == _F_ACC32)
        md = self._ediv[k]
        if md is None:
            exp = self._exp(sc)
            base = MWS_PER_WH if fmt == _F_ACC32 else MWS_PER_KWH
            md = (1, base * 10 ** exp) if exp >= 0 else (10 ** -exp, base)
            self._ediv[k] = md
        if v < 0:
            v = -(-v * md[0] // md[1])
        else:
            v = v * md[0] // md[1]
        _put_int(img, off, 2, v)

    def prepare(self, rows=8):
        """Encode up to `rows` stale rows ahead of the reads, in register
        order (for the loop's idle turns: the first read after a second
        then finds them encoded). True while stale rows remain."""
        dirty = self._dirty
        n = self._n
        r = self._rows
        i = _next_set(dirty, 0, n)
        while i < n and rows > 0:
            reg = r[_REC * i] << 8 | r[_REC * i + 1]
            for first, last, base in self._blocks:
                if first <= reg <= last:
                    self._encode_row(i, base - first)
                    break
            rows -= 1
            i = _next_set(dirty, i + 1, n)
        return i < n

    def _cal_words(self):
        # 7201-7209 as ints, recomputed when Config.apply has put new
        # calibration lists in (float arithmetic: not at every read)
        c = self.cfg
        if c.cal_gains is not self._cal_of[0] or c.cal_phases is not self._cal_of[1]:
            w = self._cal
            for i in range(6):
                w[i] = int(c.cal_gains[i] * 10000.0 + 0.5)
            for i in range(3):
                x = c.cal_phases[i] * 1000.0
                w[6 + i] = int(x + 0.5) if x >= 0 else -int(0.5 - x)
            self._cal_of = (c.cal_gains, c.cal_phases)
        return self._cal

    def _exp(self, code):
        sc = T.SCALES[code]
        return sc if isinstance(sc, int) else getattr(self.cfg, sc)

    def _value(self, s, a, b):
        if s == _S_CFG:
            return int(getattr(self.cfg, T.NAMES[a]))
        if s == _S_QNAN:
            return None
        if s == _S_CTR:
            v = self._ctr[a]
            # 32-bit, wrapping: masked only when it is not a small int already
            return v if 0 <= v <= 0x3FFFFFFF else v & 0xFFFFFFFF
        if s == _S_ERR:
            return self.errors & 0xFFFF
        if s == _S_RTC:
            return self._clk[a]
        if s == _S_LOG:
            d = self.datalog
            return 0 if d is None else d.reg(a)
        if s == _S_CAL:
            return self._cal_words()[6 + b if a else b]
        if s == _S_RESETS:
            return self._resets
        if s == _S_SSID:
            t = self.cfg.system_type
            for k, v in T.SS_MODEL_BY_TYPE:
                if k == t:
                    return v
            return None
        if s == _S_SSEVT:
            return events(self.errors, self._uv) | (_EVT_STORE if self.errors & _B_STORE else 0)
        if s == _S_NV:
            st = self.store
            return 0 if st is None else st.nv_reg(a)
        if s == _S_SEAL:
            return self.cfg.cal_left
        if s == _S_SSSF:
            return self._exp(a) & 0xFFFF
        return 0  # _S_CMD: 129 reads 0

# ---- the Modbus layer's interface ------------------------------------------
    def read(self, addr, count, out, off):
        """Encode `count` registers from protocol address `addr` (register
        addr + 1) big-endian into `out` at `off`. 0, or 2 (illegal data
        address) without writing when any of them is in no block."""
        if count < 1:
            return ILLEGAL_ADDRESS
        reg = addr + 1
        end = reg + count - 1
        lw = T.LOG_WINDOW
        if lw[0] <= reg and end <= lw[1]:
            dl = self.datalog
            if dl is None:
                _fill(out, off, count, T.LOG_WORD >> 8, T.LOG_WORD & 0xFF)
            else:
                dl.read_window(reg - lw[0], count, out, off)
            return OK
        for first, last, base in self._blocks:
            if first <= reg and end <= last:
                base -= first  # image word of register 0 of this block
                self._encode_rows(reg, end, base)
                _copy(out, off, self._img, 2 * (base + reg), 2 * count)
                return OK
        return ILLEGAL_ADDRESS

    def write(self, addr, values):
        """Write registers addr+1 .. (values: ints 0..65535). 0 ok; 1 a
        sealed calibration register (7201-7209 without an unlock); 2 when
        any of them is not writable; 3 when a value is refused (a wrong
        unlock password too); 4 on an internal failure or when the store
        cannot save what changed; 6 (busy) for a 21211/21212 within 10 s of
        the last, an unlock within 10 s of a wrong one, or a change beyond
        the store's save budget. All or nothing; a change is saved before
        the reply (bank.store.commit)."""
        reg = addr + 1
        rows = self._rows
        cfg = self.cfg
        changes = {}
        cmds = []
        clk = -1  # first clock word index written, -1 none
        nclk = 0
        key = -1  # 7210-7211: the unlock written
        ack = False  # 7401 = 0
        n = len(values)
        i = 0
        while i < n:
            p = self._find(reg + i)
            if p < 0 or not rows[p + 9]:
                return ILLEGAL_ADDRESS
            v = values[i]
            if not 0 <= v <= 0xFFFF:
                return ILLEGAL_VALUE
            s = rows[p + 4]
            if s == _S_RTC:  # 155-157, consecutive in one request
                if clk < 0:
                    clk = rows[p + 5]
                nclk += 1
            elif s == _S_CAL:  # 7201-7209: sealed; one validation path, Config.apply
                if not cfg.cal_left:
                    return ILLEGAL_FUNCTION
                gains, phases = _cal_change(cfg, changes)
                if rows[p + 5] == 0:
                    gains[rows[p + 6]] = v / 10000.0
                else:
                    phases[rows[p + 6]] = (v - 0x10000 if v & 0x8000 else v) / 1000.0
            elif s == _S_SEAL:  # 7210-7211: both words in one request
                i += 1
                if i >= n:
                    return ILLEGAL_ADDRESS
                if not 0 <= values[i] <= 0xFFFF:
                    return ILLEGAL_VALUE
                key = v << 16 | values[i]
            elif s == _S_NV:  # 7401: 0 acknowledges the latched store alerts
                if v:
                    return ILLEGAL_VALUE
                ack = True
            elif s == _S_CMD:  # 129
                if v not in (CMD_CLEAR_ENERGY, CMD_DEMAND_SYNC, CMD_PEAK_RESET, CMD_CLEAR_PULSES,
                             CMD_RESET_LOG):
                    return ILLEGAL_VALUE
                if v == CMD_DEMAND_SYNC or v == CMD_PEAK_RESET:
                    if not self.demand.ready(v == CMD_PEAK_RESET):  # datasheet: >= 10 s apart
                        return SERVER_BUSY
                cmds.append(v)
            else:
                changes[T.NAMES[rows[p + 5]]] = v
            i += 1
        if clk >= 0:
            # 155-157: checked before anything changes (all or nothing)
            first = 155 + clk - reg  # index in values of the first clock word
            words = values[first:first + nclk]
            if self.clock is None:
                return ILLEGAL_ADDRESS
            if self.clock.check(clk, words) is None:
                return ILLEGAL_VALUE
        if 0 <= key <= _PW_MAX:  # an unlock: the SETUP password
            if cfg.cal_hold:
                return SERVER_BUSY
            if key != cfg.pw_setup:
                cfg.cal_fails = min(cfg.cal_fails + 1, 65535)  # 7217, saved with the next save
                cfg.cal_hold = _CAL_HOLD_S
                self.stale()
                return ILLEGAL_VALUE
        keys = cfg.changed(changes)
        keys.discard("log_page")
        # what must be saved before the reply: kept settings (158 is not),
        # the energy and pulse resets, 7401's acknowledgement
        nv = ack or keys or CMD_CLEAR_ENERGY in cmds or CMD_CLEAR_PULSES in cmds
        st = self.store
        if nv and st is not None and not st.may_save():
            return SERVER_BUSY
        try:
            if changes:
                self.cfg.apply(changes)
            if "cal_gains" in keys or "cal_phases" in keys:
                # counted in 7212 (saturating), stamped with the clock
                # (7213-7215, as 155-157) and the power-up count (7216)
                cfg.cal_count = min(cfg.cal_count + 1, 65535)
                c = self.clock
                cfg.cal_t0, cfg.cal_t1, cfg.cal_t2 = c.words() if c is not None else (0, 0, 0)
                cfg.cal_pu = cfg.power_ups
            if key >= 0:
                cfg.cal_left = _CAL_OPEN_S if key <= _PW_MAX else 0  # over 99999: sealed now
            if ack and st is not None:
                st.acknowledge()
            if clk >= 0:
                self.clock.write(clk, words)
            for v in cmds:
                self.command(v)
            ok = not nv or st is None or st.commit()
            self.refresh()
        except ConfigError:
            return ILLEGAL_VALUE
        except Exception:
            return DEVICE_FAILURE
        return OK if ok else DEVICE_FAILURE

    def command(self, v):
        """Register 129 (also for the display's RESET menu)."""
        if v == CMD_CLEAR_ENERGY:
            self.energy.clear()
        elif v == CMD_DEMAND_SYNC:
            self.demand.sync()
        elif v == CMD_PEAK_RESET:
            self.demand.reset_peaks()
        elif v == CMD_CLEAR_PULSES:
            self.counters.clear()
        elif v == CMD_RESET_LOG:
            if self.on_log_reset is not None:
                self.on_log_reset()
        else:
            raise ConfigError("BAD CMD")
        if self.on_command is not None:
            self.on_command(v)

    def slave_id(self):
        # 0x11 payload after the byte count: ID byte 247, run status 0xFF, ID string
        return self._id

    def device_id_objects(self):
        # 0x2B/0x0E basic objects 0x00 vendor, 0x01 product code, 0x02 revision
        return self._objects


def _cal_change(cfg, changes):
    # the calibration lists of this write, started from the present values
    if "cal_gains" not in changes:
        changes["cal_gains"] = list(cfg.cal_gains)
        changes["cal_phases"] = list(cfg.cal_phases)
    return changes["cal_gains"], changes["cal_phases"]


def _put_int(buf, off, w, v):
    # two's complement bytes of v: small ints only in the arithmetic (no
    # 0xFFFFFFFF mask, a long int on a 32-bit port)
    if w == 2:
        buf[off] = (v >> 24) & 0xFF
        buf[off + 1] = (v >> 16) & 0xFF
        off += 2
    buf[off] = (v >> 8) & 0xFF
    buf[off + 1] = v & 0xFF


def _put_words(buf, off, hi, lo):
    buf[off] = hi >> 8
    buf[off + 1] = hi & 0xFF
    buf[off + 2] = lo >> 8
    buf[off + 3] = lo & 0xFF


def _put_absent(buf, off, fmt):
    # QNAN (native) or SunSpec 'not implemented'
    if fmt == _F_FLOAT:
        _put_words(buf, off, 0x7FC0, 0)
    elif fmt == _F_ULONG or fmt == _F_SLONG:
        _put_words(buf, off, 0x8000, 0)
    elif fmt == _F_ACC32:
        _put_words(buf, off, 0, 0)
    elif fmt == _F_BITFIELD32:
        _put_words(buf, off, 0xFFFF, 0xFFFF)
    elif fmt == _F_UINT16:
        _put_int(buf, off, 1, 0xFFFF)
    else:  # UInt, SInt, int16, sunssf
        _put_int(buf, off, 1, 0x8000)
