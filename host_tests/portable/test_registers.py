# RegisterBank (firmware/registers.py): encoding, QNAN per system type,
# register 129 commands, reads across gaps, atomic writes, SunSpec blocks.
import struct
from array import array

import micropython

from config import Config
from frontend import FrontEnd
from meter import Meter
from readings import (
    E_KINDS, E_TOTAL, E_WH_EXP, E_WH_IMP, N_ENERGIES, N_READINGS, R_FREQ, R_I, R_I_AVG, R_P, R_P_TOT,
    R_PF_TOT, R_VLL, R_VLL_AVG, R_VLN,
)


def _meter(system_type=40, **cfg):
    c = Config()
    cfg["system_type"] = system_type
    c.apply(cfg)
    return Meter(FrontEnd(), c, serial="SN42")


def _read(m, reg, count=1):
    out = bytearray(2 * count)
    assert m.bank.read(reg - 1, count, out, 0) == 0, reg
    return out


def _u16(m, reg):
    b = _read(m, reg)
    return b[0] << 8 | b[1]


def _s16(m, reg):
    v = _u16(m, reg)
    return v - 65536 if v & 0x8000 else v


def _u32(m, reg):
    b = _read(m, reg, 2)
    return b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3]


def _f32(m, reg):
    return struct.unpack(">f", _read(m, reg, 2))[0]


def _feed(m, r_values, valid=None):
    r = array("f", [0.0] * N_READINGS)
    for k in r_values:
        r[k] = r_values[k]
    v = m.dsp._valid_cfg | (1 << R_FREQ) if valid is None else valid
    m.bank.refresh(r, v, 0)


def test_float_and_integer_encoding_registers_21_277_28():
    m = _meter()
    _feed(m, {R_P_TOT: 12340.0, R_PF_TOT: -0.5, R_FREQ: 60.01, R_VLN: 277.0, R_VLL_AVG: 480.0})
    c = m.config
    assert abs(_f32(m, 277) - 12.34) < 1e-4  # kW float
    assert _s16(m, 21) == round(12.34 / 10 ** c.sf_w)  # kW x 10^W
    assert _s16(m, 24) == -5000  # ratio x 0.0001
    assert _u16(m, 28) == 6001  # 0.01 Hz
    assert abs(_f32(m, 395) - 277.0) < 1e-3  # 395/396 V A-N
    assert _u16(m, 106) == round(277.0 / 10 ** c.sf_v)


def test_qnan_for_values_not_valid_in_system_type():
    # type 10 (A-N): no L-L voltages, no phases B and C
    m = _meter(10, system_voltage=240)
    _feed(m, {R_VLN: 240.0, R_I: 5.0, R_P: 1200.0})
    for reg in (25, 92, 93, 95, 96, 98, 99, 101, 102, 103, 104, 105, 107, 108, 110, 111):
        assert _u16(m, reg) == 0x8000, reg
    for reg in (285, 367, 369, 389, 391, 393, 397, 399, 403, 405):
        assert _u32(m, reg) == 0x7FC00000, reg
    assert _u16(m, 106) != 0x8000 and _u16(m, 109) != 0x8000
    # per-phase energies of absent phases: MSR 0x8000 (ULong), QNAN (Float)
    assert _u32(m, 45) == 0x80000000 and _u32(m, 47) == 0x80000000
    assert _u32(m, 319) == 0x7FC00000
    # type 31 (delta): no L-N voltages
    m = _meter(31, system_voltage=480)
    _feed(m, {R_VLL: 480.0})
    for reg in (26, 106, 107, 108):
        assert _u16(m, reg) == 0x8000, reg
    assert _u32(m, 287) == 0x7FC00000
    assert _u16(m, 103) != 0x8000
    # reserved registers 38, 112 and floats 311, 407
    assert _u16(m, 38) == 0x8000 and _u16(m, 112) == 0x8000
    assert _u32(m, 311) == 0x7FC00000 and _u32(m, 407) == 0x7FC00000


def test_frequency_qnan_before_first_second():
    m = _meter()
    assert _u16(m, 28) == 0x8000 and _u32(m, 291) == 0x7FC00000


def test_energy_registers_1_to_6_and_floats_257():
    m = _meter()
    ws = array("f", [0.0] * N_ENERGIES)
    ws[E_KINDS * E_TOTAL + E_WH_IMP] = 3600.0 * 1000  # 1 kWh in one second
    ws[E_KINDS * E_TOTAL + E_WH_EXP] = 0.0
    for _ in range(5):
        m.energy.add(ws)
    ws[E_KINDS * E_TOTAL + E_WH_IMP] = 0.0
    ws[E_KINDS * E_TOTAL + E_WH_EXP] = 3600.0 * 1000
    for _ in range(7):
        m.energy.add(ws)
    _feed(m, {})
    e = m.config.sf_e
    assert _u32(m, 3) == round(5 / 10 ** e)
    assert _u32(m, 5) == round(7 / 10 ** e)
    net = _u32(m, 1)
    assert net - (1 << 32) == round(-2 / 10 ** e)  # SLong, two's complement
    assert abs(_f32(m, 257) + 2.0) < 1e-6 and abs(_f32(m, 259) - 5.0) < 1e-6
    # SunSpec TotWhImp (40116) in Wh x 10^TotWh_SF (40124)
    sf = _s16(m, 40124)
    assert _u32(m, 40116) == round(5000 / 10 ** sf)
    assert _u32(m, 40108) == round(7000 / 10 ** sf)


def test_register_129_commands():
    m = _meter()
    ws = array("f", [1000.0] * N_ENERGIES)
    m.energy.add(ws)
    m.counters.pulses_imp = 7
    m.counters.pulses_exp = 9
    _feed(m, {})
    assert _u32(m, 39) == 7 and _u32(m, 41) == 9
    assert _f32(m, 313) == 7.0 and _f32(m, 315) == 9.0
    assert m.bank.write(128, [30078]) == 0  # clear energy, counted in 147
    assert _u32(m, 3) == 0 and _u16(m, 147) == 1
    assert m.bank.write(128, [30078]) == 0
    assert _u16(m, 147) == 2
    assert m.bank.write(128, [16498]) == 0  # clear pulse counts
    assert _u32(m, 39) == 0 and _u32(m, 41) == 0
    assert m.bank.write(128, [21211]) == 0 and m.demand._sync  # demand sync, at next second
    assert m.bank.write(128, [21212]) == 0 and m.demand.peak_pending
    assert m.bank.write(128, [16640]) == 0  # reset logging: accepted, no-op
    assert m.bank.write(128, [1234]) == 3  # anything else: illegal value
    assert _u16(m, 129) == 0  # reads 0


def test_reads_gaps_and_illegal_addresses():
    m = _meter()
    out = bytearray(2 * 125)
    assert m.bank.read(0, 125, out, 0) == 0  # 1-125 spans the 113-128 gap
    assert m.bank.read(112, 16, out, 0) == 0
    assert out[0] == 0x80 and out[1] == 0  # gap reads 0x8000
    assert m.bank.read(256, 125, out, 0) == 0  # floats 257-381
    assert m.bank.read(406, 2, out, 0) == 0  # 407-408
    out[0] = 0x55
    assert m.bank.read(407, 2, out, 0) == 2  # 408-409: 409 is outside
    assert out[0] == 0x55  # nothing written on refusal
    assert m.bank.read(7000, 1, out, 0) == 0 and out[0] << 8 | out[1] == 1000  # 7001
    assert m.bank.read(7000, 2, out, 0) == 2
    assert m.bank.read(7100, 3, out, 0) == 0  # 7101-7103
    assert m.bank.read(7999, 125, out, 0) == 0  # 8000-8124 log window: 0x8000
    assert out[0] == 0x80 and out[249] == 0
    assert m.bank.read(13759, 2, out, 0) == 2  # 13760-13761
    assert m.bank.read(40000, 107, out, 0) == 0  # 40001-40107
    assert m.bank.read(40070, 108, out, 0) == 0  # 40071-40178
    assert m.bank.read(40071, 108, out, 0) == 2  # 40179 is outside
    assert m.bank.read(39999, 1, out, 0) == 2  # 40000
    assert m.bank.read(49999, 1, out, 0) == 2  # 50000 (SunSpec probe)
    assert m.bank.read(0, 0, out, 0) == 2


def test_read_allocates_nothing():
    # encoded on read: readings and demand are scaled in integer arithmetic
    # (registers._f32_mul), configuration, constants, strings, counters and
    # the log window are small ints or bytes. Energy rows are not in this
    # list: a count above 2^30 mWs is a long int on the board.
    m = _meter()
    _feed(m, {R_P_TOT: 12340.0, R_PF_TOT: -0.5, R_FREQ: 60.01, R_VLN: 277.0, R_VLL_AVG: 480.0,
              R_I: 5.0, R_I + 1: 6.0, R_I + 2: 7.0, R_I_AVG: 6.0})
    m.demand.present[0] = 1234.5
    m.demand.peak_exp[2] = -77.0
    m.counters.pulses_imp = 123456
    m.counters.pulses_exp = 0xFFFFFFF0
    m.bank.refresh()
    out = bytearray(260)
    spans = ((20, 18), (90, 22), (128, 50), (276, 40), (364, 44), (7000, 1), (7100, 3), (7200, 9),
             (40000, 107), (40174, 4), (8000, 100))
    got = [None] * (len(spans) + 1)
    m.bank.read(7200, 9, out, 0)  # the calibration words are made once, at the first read
    micropython.heap_lock()
    try:
        for i in range(len(spans)):
            got[i] = m.bank.read(spans[i][0], spans[i][1], out, 0)
        got[-1] = m.bank.read(500, 1, out, 0)
    finally:
        micropython.heap_unlock()
    assert got == [0] * len(spans) + [2]
    assert abs(_f32(m, 277) - 12.34) < 1e-4 and abs(_f32(m, 293) - 1.2345) < 1e-6


def _f32_bits(x):
    return struct.unpack("<I", struct.pack("<f", x))[0]


def test_scaling_in_integer_arithmetic_within_one_ulp():
    # _f32_put against IEEE float32 (struct) for readings times every power
    # of ten the registers use; 16-bit registers round half away from zero
    from registers import _f32_put
    import regtable

    out = bytearray(6)
    src = bytearray(4)
    for x in (1.0, -1.0, 0.5, 277.0, 480.0, 12340.0, -5000.25, 60.01, 1e-3, 3.3e7, -0.123456):
        for n in range(-8, 7):
            struct.pack_into("<f", src, 0, x)
            _f32_put(out, 2, src, 0, regtable.POW10, 4 * (16 + n), 1)
            want = _f32_bits(struct.unpack("<f", struct.pack("<f", x))[0] *
                             struct.unpack("<f", regtable.POW10[4 * (16 + n):4 * (17 + n)])[0])
            got = struct.unpack_from(">I", out, 2)[0]
            assert abs(got - want) <= 1, (x, n, hex(got), hex(want))
    for x, lo, want in ((0.5, -32767, 1), (-0.5, -32767, -1), (0.49, 0, 0), (1.5, 0, 2), (-1.5, -32767, -2),
                        (2.4999, 0, 2), (32767.4, 0, 32767), (40000.0, 0, 32767), (-40000.0, -32767, -32767),
                        (-3.0, 0, 0), (0.0, 0, 0), (1e-9, 0, 0), (6001.0, 0, 6001), (float("nan"), 0, 0)):
        struct.pack_into("<f", src, 0, x)
        _f32_put(out, 0, src, 0, regtable.POW10, -1, lo)
        assert struct.unpack_from(">h", out, 0)[0] == want, (x, lo)
    # 60.01 Hz x 10^2 -> 6001 (register 28), 12340 W x 10^-3 x 10^1 -> 1234 (kW x 10^-W, W = -1)
    struct.pack_into("<f", src, 0, 60.01)
    _f32_put(out, 0, src, 0, regtable.POW10, 4 * 18, 0)
    assert struct.unpack_from(">H", out, 0)[0] == 6001
    struct.pack_into("<f", src, 0, 12340.0)
    _f32_put(out, 0, src, 0, regtable.POW10, 4 * 14, -32767)
    assert struct.unpack_from(">h", out, 0)[0] == 123
    for x in (float("inf"), float("-inf")):
        struct.pack_into("<f", src, 0, x)
        _f32_put(out, 0, src, 0, regtable.POW10, 4 * 13, 1)
        assert out[:4] == struct.pack(">f", x)
    struct.pack_into("<f", src, 0, float("nan"))
    _f32_put(out, 0, src, 0, regtable.POW10, 4 * 13, 1)
    assert out[0] & 0x7F == 0x7F and out[1] & 0x80  # still a NaN


def test_writes_atomic_and_refusals():
    m = _meter()
    before = m.config.to_dict()
    assert m.bank.write(130, [5000, 1, 100, 700]) == 3  # 131-134: 700 V refused
    assert m.config.to_dict() == before
    assert m.bank.write(130, [5000, 1, 100, 480, 0]) == 2  # 135 is read-only
    assert m.config.to_dict() == before
    assert m.bank.write(134, [5]) == 2  # 135 read-only
    assert m.bank.write(137, [1]) == 2  # 138 scale factor read-only
    assert m.bank.write(150, [5]) == 2  # 151 reserved
    assert m.bank.write(20, [5]) == 2  # 21 measured value
    assert m.bank.write(999, [5]) == 2  # not in the map
    assert m.config.to_dict() == before
    assert m.bank.write(130, [5000, 1, 100, 480]) == 0  # 131-134 together
    assert m.config.ct_primary == 5000 and m.config.system_voltage == 480
    assert _u16(m, 131) == 5000 and _s16(m, 138) == m.config.sf_i == 0
    assert m.dsp.ct_primary == 5000  # the DSP follows at once
    assert m.bank.write(7100, [17, 9600, 2]) == 0  # vendor block
    assert (m.config.address, m.config.baud, m.config.parity) == (17, 9600, 2)
    assert _u16(m, 40069) == 17  # SunSpec DA
    assert m.bank.write(40068, [18]) == 0 and m.config.address == 18
    assert m.bank.write(7101, [57600 & 0xFFFF]) == 3
    assert m.bank.write(148, [3, 60]) == 0  # 149-150
    assert m.demand.n == 3 and m.demand.sub_len == 60


def test_sunspec_common_and_model_by_system_type():
    m = _meter()
    b = _read(m, 40001, 2)
    assert bytes(b) == b"SunS"
    assert _u16(m, 40003) == 1 and _u16(m, 40004) == 65
    mn = bytes(_read(m, 40005, 16))
    assert mn.rstrip(b"\0") == b"OpenMeter"
    assert bytes(_read(m, 40053, 16)).rstrip(b"\0") == b"SN42"
    assert _u16(m, 40071) == 105 and _u16(m, 40177) == 0xFFFF and _u16(m, 40178) == 0
    for st, model in ((10, 201), (11, 201), (12, 202), (40, 203), (31, 204)):
        m.config.apply({"system_type": st, "system_voltage": 240 if st == 10 else 480})
        assert _u16(m, 40070) == model


def test_sunspec_not_implemented_for_absent_phases():
    m = _meter(10, system_voltage=240)
    _feed(m, {R_VLN: 240.0, R_I: 5.0, R_P: 1200.0, R_P_TOT: 1200.0})
    for reg in (40074, 40075, 40079, 40080, 40081, 40082, 40090, 40091):
        assert _u16(m, reg) == 0x8000, reg
    assert _u32(m, 40110) == 0 and _u32(m, 40111) == 0  # acc32 NI
    sf = _s16(m, 40092)
    assert _s16(m, 40088) == round(1200 / 10 ** sf)
    assert _u32(m, 40175) == 0  # no events


def test_identity():
    m = _meter()
    sid = m.bank.slave_id()
    assert sid[0] == 247 and sid[1] == 0xFF and sid.endswith(b"1.000")
    vendor, product, rev = m.bank.device_id_objects()
    assert rev == b"V1.000" and vendor and product
    assert _u16(m, 7001) == 1000


def test_error_bitmap_146_bit_15():
    m = _meter()
    m.config.apply({"ct_primary": 32000, "pt_ratio": 32000, "system_voltage": 32000})
    assert _u16(m, 146) & 0x8000 and _u16(m, 145) == 10
    m.extra_errors = 0x0100
    _feed(m, {})
    m.bank.refresh(errors=m.errors())
    assert _u16(m, 146) == 0x8100
    assert _u32(m, 40175) & 0x0C  # phase loss -> power failure / under voltage


def test_frames_gap_7301_counts_billed_frames_read_only():
    m = _meter()
    assert _u32(m, 7301) == 0
    m.counters.frames_gap = 70001  # App.frames_lost adds the frames it bills
    m.bank.refresh()
    assert _u32(m, 7301) == 70001
    assert m.bank.write(7300, [0, 0]) == 2  # read-only
    assert m.bank.read(7304, 1, bytearray(2), 0) == 2  # 7305 is in no block
    m.counters.frames_gap = 0xFFFFFFFF
    m.bank.refresh()
    assert _u32(m, 7301) == 0xFFFFFFFF


def test_prepare_encodes_ahead_and_reads_agree():
    # prepare() encodes stale rows in register order on idle turns; a read
    # afterwards copies them, and gives what an on-demand encode gives
    m = _meter()
    _feed(m, {R_P_TOT: 12340.0, R_FREQ: 60.01, R_VLN: 277.0, R_VLL_AVG: 480.0})
    want = [bytes(_read(m, reg, 100)) for reg in (1, 257, 40001)]
    _feed(m, {R_P_TOT: 12340.0, R_FREQ: 60.01, R_VLN: 277.0, R_VLL_AVG: 480.0})
    n = 0
    while m.bank.prepare(16):
        n += 1
    assert 10 < n < 100 and not m.bank.prepare(16)
    assert [bytes(_read(m, reg, 100)) for reg in (1, 257, 40001)] == want


def test_a_read_sees_the_last_snapshot_not_live_values():
    # the meter may update energy in one loop turn and the image in a later
    # one (meter.work): reads keep the snapshot until refresh()
    m = _meter()
    before = _u32(m, 3)
    ws = array("f", [0.0] * N_ENERGIES)
    ws[E_KINDS * E_TOTAL + E_WH_IMP] = 3.6e9  # 1000 kWh
    m.energy.add(ws)
    assert _u32(m, 3) == before
    m.bank.refresh(errors=0)
    assert _u32(m, 3) != before
