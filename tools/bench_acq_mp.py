# Acquisition and display costs under the real MicroPython binary, for
# docs/runtime.md: the ADS131M06 driver's read_block, CRC check and decode
# (per frame, 2500 a second; the frames themselves move by PIO and DMA),
# and an LCD frame written through the HD44780 driver to an
# I2C bus that only counts bytes. Prints one JSON line.
#   micropython tools/bench_acq_mp.py
import json
import sys
import time

_here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
sys.path[:] = [_here + "/../firmware", _here + "/../boards", _here + "/../host_tests/portable"] + \
    [p for p in sys.path if p not in ("", ".", _here)]

from array import array  # noqa: E402

import pio_dma_sim as rp2  # noqa: E402
from ads131_sim import Ads131m06Sim  # noqa: E402
from drivers import ads131m06 as ads  # noqa: E402
from drivers.ads131m06 import ADS131M06  # noqa: E402
from drivers.hd44780 import HD44780  # noqa: E402


class Pin:
    OUT = 1

    def __init__(self):
        self.v = 1

    def value(self, v=None):
        if v is None:
            return self.v
        self.v = v

    def init(self, mode=-1, pull=-1, value=None):
        if value is not None:
            self.v = value


class Bus:
    def __init__(self):
        self.n = 0

    def writeto(self, addr, buf, stop=True):
        self.n += len(buf)


def us(t0):
    return time.ticks_diff(time.ticks_us(), t0)


def main():
    # frames reach the ring through the PIO/DMA model (pio_dma_sim.py): no
    # CPU per frame on the chip; what is timed here is read_block alone
    n = 2500
    chip = rp2.reset()
    chip.fast = True
    cs = Pin()
    drdy = Pin()
    sim = Ads131m06Sim(cs)
    chip.attach_spi(ads.SPI0_DR, ads.DREQ_SPI0_TX, ads.DREQ_SPI0_RX, sim, cs)
    adc = ADS131M06(sim, cs, drdy, rp2.StateMachine(0), tuple(rp2.DMA() for _ in range(4)),
                    ads.frame_clock_program(rp2), depth=256, sleep_ms=lambda ms: None)
    adc.init()
    sim.log = False
    sim.set_frames(array("i", [1000, -2000, 3000, -4000, 5000, -6000,
                               1001, -2001, 3001, -4001, 5001, -6001]))
    adc.start()
    buf = array("i", bytes(24 * 128))
    t_dec = 0
    done = 0
    while done < n:
        for _ in range(128):
            chip.drdy_pulse(drdy)
        t0 = time.ticks_us()
        done += adc.read_block(buf, 128)
        t_dec += us(t0)
    bus = Bus()
    lcd = HD44780(bus, sleep_us=lambda x: None, sleep_ms=lambda x: None)
    frames = (("V L-N     A", "  230.1"), ("V L-N     B", "  229.8"))
    b0 = bus.n
    t0 = time.ticks_us()
    k = 200
    for j in range(k):
        lcd.show(frames[j & 1])
    t_lcd = us(t0)
    print(json.dumps({
        "frames": done, "decode_us_per_frame": t_dec / done,
        "per_s_decode_us": t_dec / done * 2500,
        "lcd_show_us": t_lcd / k, "lcd_show_i2c_bytes": (bus.n - b0) / k,
    }))


main()
