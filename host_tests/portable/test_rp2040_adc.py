# RP2040 on-chip ADC front-end (boards/drivers/rp2040_adc.py) on a model of
# the RP2040's ADC and DMA (pio_dma_sim.py): the ADC free-running round
# robin V, I at 2 fs, DMA into a ring, voltage interpolated to the
# current's instant, zeros for the absent phases, stuck codes, overruns
# billed as lost and the fault clearing, the ring's wrap, a read path that
# allocates nothing.
from array import array

import micropython
import pio_dma_sim as rp2

from drivers import rp2040_adc as drv_mod
from drivers.rp2040_adc import FAULT_OVERRUN, FAULT_STUCK, RP2040ADC


class Adc:  # machine.ADC: the driver only keeps it (it set the pin up)
    pass


def make(v, i, depth=16, stuck=0):
    chip = rp2.reset()
    chip.adc.set_codes(0, v)
    chip.adc.set_codes(1, i)
    drv = RP2040ADC(Adc(), Adc(), (rp2.DMA(), rp2.DMA()), chip.mem32, fs=2500, depth=depth,
                    stuck_frames=stuck)
    drv.start()
    return drv, chip.adc


def test_adc_free_runs_round_robin_into_the_dma_ring():
    drv, adc = make([2048], [2000])
    # CS: EN, AINSEL 0 (voltage first), RROBIN ADC0|ADC1, START_MANY
    assert adc.cs == 0x1 | (0 << 12) | (0b11 << 16) | 0x8
    assert adc.fcs == 0x1 | 0x8 | (1 << 24)  # FIFO on, DREQ on at 1 sample
    assert adc.div >> 8 == 48_000_000 // 5000 - 1  # 5000 conversions/s: 2 a frame
    u = rp2.unpack_ctrl
    c = u(drv.dma_rx.ctrl)  # ADC FIFO (DREQ 36) -> ring, halfwords, then ctl
    assert (c["size"], c["inc_read"], c["inc_write"], c["treq_sel"], c["chain_to"]) == \
        (1, 0, 1, 36, drv.ctl.channel)
    assert drv.dma_rx.read == drv_mod.ADC_FIFO and drv.ctl.read % 256 == 0
    assert drv.ctl.write == 0x50000000 + 0x40 * drv.dma_rx.channel + 0x2C


def test_pacing_and_frames():
    drv, adc = make([2048, 2148, 2248, 2348], [2000, 2100])
    adc.convert(9)  # V0 I0 V1 I1 V2 I2 V3 I3 V4 -> 4 frames
    buf = array("i", bytes(4 * 6 * 8))
    assert drv.available() == 4
    assert drv.read_block(buf, 8) == 4
    # Va = mean of the voltage samples around each current sample, less bias
    assert list(buf[0:6]) == [50, 0, 0, -48, 0, 0]
    assert list(buf[6:12]) == [150, 0, 0, 52, 0, 0]
    assert list(buf[12:18]) == [250, 0, 0, -48, 0, 0]
    assert list(buf[18:24]) == [150, 0, 0, 52, 0, 0]  # (2348 + 2048) / 2 - 2048
    assert drv.lost == 0 and drv.overruns == 0 and adc.overflows == 0


def test_samples_at_the_rail_are_counted_per_channel():
    # issue 12: a code at the ADC's rail (0 or 4095) is counted and its
    # channel flagged (register 146 bit 0 for Va, 3 for Ia), in the decode
    drv, adc = make([4095, 2148, 0, 2348], [2000, 4095])
    adc.convert(9)  # V0 I0 V1 I1 V2 I2 V3 I3 V4 -> 4 frames
    buf = array("i", bytes(4 * 6 * 8))
    assert drv.read_block(buf, 8) == 4
    # the frames' v1 are V1..V4 (0 and 4095 among them), their currents
    # I0..I3 (4095 twice)
    assert drv.clipped == 2 + 2 and drv.take_clip_mask() == 0x09
    assert drv.take_clip_mask() == 0


def test_ring_wraps_past_the_round_counter():
    # depth 4: 8 samples a ring; 70 rounds, read 2 frames at a time
    v = [2048 + k for k in range(7)]
    drv, adc = make(v, [1000 + k for k in range(5)], depth=4)
    buf = array("i", bytes(4 * 6 * 2))
    adc.convert(1)
    got = 0
    for _ in range(4 * 70 // 2):
        adc.convert(4)
        assert drv.read_block(buf, 2) == 2
        for k in range(2):
            f = got + k
            assert buf[6 * k + 3] == 1000 + f % 5 - 2048
            assert buf[6 * k] == (v[f % 7] + v[(f + 1) % 7]) // 2 - 2048
        got += 2
    assert drv.lost == 0 and drv.overruns == 0


def test_stuck_and_overrun_billed_and_cleared():
    drv, adc = make([2048, 2049, 2051], [1000], depth=16, stuck=5)
    adc.convert(2 * 30 + 1)  # 30 frames into a 16-frame ring
    buf = array("i", bytes(4 * 6 * 16))
    n = drv.read_block(buf, 16)
    assert n == 11 and drv.overruns == 19 and drv.lost == 19  # keeps 16 - 4 - 1
    assert drv.stuck_mask == 1 << 3  # Ia frozen at one code, Va moving
    assert drv.fault() & FAULT_STUCK and drv.fault() & FAULT_OVERRUN
    drv.OVERRUN_CLEAR_S = 0.02  # 50 frames of clean reads (shortened)
    for _ in range(7):
        adc.convert(16)
        assert drv.read_block(buf, 16) == 8
    assert not drv.fault() & FAULT_OVERRUN and drv.lost == 19


def test_stop_parks_the_adc():
    drv, adc = make([2048, 2100], [2000])
    adc.convert(5)
    drv.stop()
    assert adc.cs & 0x8 == 0 and adc.fcs == 0 and not drv.dma_rx.active()
    n = adc.conversions
    adc.convert(10)  # not running: nothing converted
    assert adc.conversions == n


def test_read_path_allocates_nothing():
    drv, adc = make([2048, 2100, 1990], [2000, 2100], depth=128)
    buf = array("i", bytes(4 * 6 * 64))
    adc.convert(100)
    micropython.heap_lock()
    try:
        a = drv.available()
        n = drv.read_block(buf, 64)
        f = drv.fault(5)
    finally:
        micropython.heap_unlock()
    assert a == 49 and n == 49 and f == 0
