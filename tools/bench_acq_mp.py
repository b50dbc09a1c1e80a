# Acquisition and display costs under the real MicroPython binary, for
# docs/runtime.md: the ADS131M06 driver's DRDY handler (one SPI frame into
# the ring: per frame, 2500 a second), read_block's CRC check and decode
# (per frame), and an LCD frame written through the HD44780 driver to an
# I2C bus that only counts bytes. Prints one JSON line.
#   micropython tools/bench_acq_mp.py
import json
import sys
import time

_here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
sys.path[:] = [_here + "/../firmware", _here + "/../boards", _here + "/../host_tests/portable"] + \
    [p for p in sys.path if p not in ("", ".", _here)]

from array import array  # noqa: E402

from ads131_sim import Ads131m06Sim  # noqa: E402
from drivers.ads131m06 import ADS131M06  # noqa: E402
from drivers.hd44780 import HD44780  # noqa: E402


class Pin:
    IRQ_FALLING = 4

    def __init__(self):
        self.v = 1

    def value(self, v=None):
        if v is None:
            return self.v
        self.v = v

    def irq(self, handler=None, trigger=0, hard=False):
        self.handler = handler


class Spi:
    # the chip model for set-up, then one fixed streaming frame
    def __init__(self, cs):
        self.chip = Ads131m06Sim(cs)
        self.chip.log = False
        self.frame = None

    def write_readinto(self, tx, rx):
        if self.frame is not None:
            for k in range(24):
                rx[k] = self.frame[k]
            return
        self.chip.write_readinto(tx, rx)


class Bus:
    def __init__(self):
        self.n = 0

    def writeto(self, addr, buf, stop=True):
        self.n += len(buf)


def us(t0):
    return time.ticks_diff(time.ticks_us(), t0)


def main():
    n = 2500
    cs = Pin()
    spi = Spi(cs)
    drdy = Pin()
    adc = ADS131M06(spi, cs, drdy, depth=256, sleep_ms=lambda ms: None)
    adc.init()
    codes = array("i", [1000, -2000, 3000, -4000, 5000, -6000])
    spi.chip.set_frames(codes)
    rx = bytearray(24)
    spi.chip.cs = None
    spi.chip.write_readinto(bytes(24), rx)  # STATUS as configured
    spi.chip.write_readinto(bytes(24), rx)  # a good frame with these codes
    spi.frame = bytes(rx)
    adc.start()
    buf = array("i", bytes(24 * 128))
    irq = drdy.handler
    t_irq = t_dec = 0
    done = 0
    while done < n:
        t0 = time.ticks_us()
        for _ in range(128):
            irq(drdy)
        t_irq += us(t0)
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
        "frames": done, "irq_us_per_frame": t_irq / done, "decode_us_per_frame": t_dec / done,
        "per_s_irq_us": t_irq / done * 2500, "per_s_decode_us": t_dec / done * 2500,
        "lcd_show_us": t_lcd / k, "lcd_show_i2c_bytes": (bus.n - b0) / k,
    }))


main()
