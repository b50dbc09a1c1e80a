"""CPython stand-in for `machine`: pins and buses that record traffic.

Drivers are handed these objects (they never build their own), so a test
can state the exact bytes it expects on a bus.
"""


class Pin:
    IN = 0
    OUT = 1
    OPEN_DRAIN = 2
    PULL_UP = 1
    PULL_DOWN = 2
    IRQ_FALLING = 4
    IRQ_RISING = 8

    def __init__(self, id, mode=-1, pull=-1, value=None):
        self.id = id
        self.mode = mode
        self.pull = pull
        self._value = 0 if value is None else value
        self.history = []
        self.handler = None

    def value(self, v=None):
        if v is None:
            return self._value
        self._value = 1 if v else 0
        self.history.append(self._value)

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)

    def __call__(self, v=None):
        return self.value(v)

    def init(self, mode=-1, pull=-1, value=None, **kw):
        # (on the RP2040 this also takes the pin back from a PIO: funcsel SIO)
        if mode != -1:
            self.mode = mode
        if value is not None:
            self.value(value)

    def irq(self, handler=None, trigger=0):
        self.handler = handler


class WDT:
    def __init__(self, id=0, timeout=5000):
        self.timeout = timeout
        self.feeds = 0

    def feed(self):
        self.feeds += 1


def unique_id():
    return b"\xe6\x61\x38\x52\x83\x2c\x11\x2a"


def freq(hz=None):
    return 125_000_000


def reset():
    raise SystemExit("machine.reset()")


class UART:
    """Records every write with the state of a driver-enable pin (`de`,
    set by the test) at that moment; received bytes are queued by inject()."""

    def __init__(self, id=0, baudrate=9600, bits=8, parity=None, stop=1, tx=None, rx=None,
                 txbuf=256, rxbuf=256, **kw):
        self.id = id
        self.txbuf = txbuf  # rp2: write() returns at once for up to txbuf bytes
        self.rxbuf = rxbuf
        self.pins = (tx, rx)
        self.de = None
        self.writes = []  # (bytes, DE level or None)
        self.inits = []
        self._rxq = bytearray()
        self.init(baudrate, bits, parity, stop)

    def init(self, baudrate=9600, bits=8, parity=None, stop=1, **kw):
        self.baudrate = baudrate
        self.bits = bits
        self.parity = parity
        self.stop = stop
        self.inits.append((baudrate, bits, parity, stop))

    def write(self, buf):
        self.writes.append((bytes(buf), None if self.de is None else self.de.value()))
        return len(buf)

    def txdone(self):
        return True

    def inject(self, data):
        self._rxq.extend(data)

    def any(self):
        return len(self._rxq)

    def readinto(self, buf, nbytes=None):
        n = min(len(buf), len(self._rxq), len(buf) if nbytes is None else nbytes)
        if not n:
            return None
        buf[:n] = self._rxq[:n]
        del self._rxq[:n]
        return n

    def read(self, nbytes=None):
        n = len(self._rxq) if nbytes is None else min(nbytes, len(self._rxq))
        if not n:
            return None
        data = bytes(self._rxq[:n])
        del self._rxq[:n]
        return data

    def deinit(self):
        pass


class I2C:
    """Records every writeto(addr, buf) as (addr, bytes); readfrom_into
    answers from a queue filled by inject(). For drivers handed a bus."""

    def __init__(self, id=0, scl=None, sda=None, freq=100000, **kw):
        self.id = id
        self.freq = freq
        self.writes = []  # (addr, bytes)
        self._rxq = bytearray()

    def writeto(self, addr, buf, stop=True):
        self.writes.append((addr, bytes(buf)))
        return len(buf)

    def inject(self, data):
        self._rxq.extend(data)

    def readfrom_into(self, addr, buf, stop=True):
        n = len(buf)
        buf[:n] = self._rxq[:n] + bytes(max(0, n - len(self._rxq)))
        del self._rxq[:n]

    def scan(self):
        return [0x27]

    def deinit(self):
        pass


# ---- SPI, PWM, ADC, Timer: the board-layer fakes (boards/pico_*.py) ----

def _pin_irq(self, handler=None, trigger=0, hard=False, **kw):
    # the real Pin.irq takes hard=; a driver's DRDY handler is hard
    self.handler = handler
    self.trigger = trigger
    self.hard = hard


Pin.irq = _pin_irq


class _Mem32:
    # machine.mem32 on the rp2 fake's chip (the registers it models: the ADC's)
    def __getitem__(self, addr):
        import rp2
        return rp2.chip().mem32[addr]

    def __setitem__(self, addr, v):
        import rp2
        rp2.chip().mem32[addr] = v


mem32 = _Mem32()

_SPI_DR = (0x4003C008, 0x40040008)  # SSPDR of SPI0, SPI1
_SPI_DREQ = ((16, 17), (18, 19))  # DREQ_SPIn_TX, DREQ_SPIn_RX


class SPI:
    """Records the bus settings and every transfer; a `device` object with
    write_readinto(tx, rx) (e.g. host_tests/portable/ads131_sim.py) answers,
    otherwise reads return zeros."""
    MSB = 0
    LSB = 1

    def __init__(self, id=0, baudrate=1_000_000, polarity=0, phase=0, bits=8,
                 firstbit=0, sck=None, mosi=None, miso=None, device=None):
        self.id = id
        self.device = device
        self.transfers = []
        self.init(baudrate, polarity, phase, bits, firstbit)
        self.pins = (sck, mosi, miso)
        # the peripheral's data register on the rp2 fake's chip: DMA to and
        # from it (a PIO-framed stream) reaches write_readinto below
        import rp2
        rp2.chip().attach_spi(_SPI_DR[id], *_SPI_DREQ[id], device=self)

    def init(self, baudrate=1_000_000, polarity=0, phase=0, bits=8, firstbit=0, **kw):
        self.baudrate = baudrate
        self.polarity = polarity
        self.phase = phase
        self.bits = bits
        self.firstbit = firstbit

    def write_readinto(self, tx, rx):
        self.transfers.append(bytes(tx))
        if self.device is not None:
            self.device.write_readinto(tx, rx)
        else:
            for k in range(len(rx)):
                rx[k] = 0

    def write(self, buf):
        self.write_readinto(buf, bytearray(len(buf)))

    def readinto(self, buf, write=0):
        self.write_readinto(bytes([write]) * len(buf), buf)

    def read(self, n, write=0):
        b = bytearray(n)
        self.readinto(b, write)
        return bytes(b)

    def deinit(self):
        pass


class PWM:
    def __init__(self, pin, freq=0, duty_u16=0):
        self.pin = pin
        self._freq = freq
        self._duty = duty_u16

    def freq(self, hz=None):
        if hz is None:
            return self._freq
        self._freq = hz

    def duty_u16(self, d=None):
        if d is None:
            return self._duty
        self._duty = d

    def deinit(self):
        self._freq = 0


class ADC:
    """read_u16() plays `codes` (12-bit) in a loop, scaled as the rp2 port does."""

    def __init__(self, pin, codes=(2048,)):
        self.pin = pin
        self.codes = codes
        self._k = 0

    def read_u16(self):
        c = self.codes[self._k % len(self.codes)]
        self._k += 1
        return (c << 4) | (c >> 8)


class Timer:
    ONE_SHOT = 0
    PERIODIC = 1

    def __init__(self, id=-1, **kw):
        self.id = id
        self.callback = None
        if kw:
            self.init(**kw)

    def init(self, mode=1, freq=None, period=None, callback=None, hard=True):
        self.mode = mode
        self.freq = freq
        self.period = period
        self.callback = callback
        self.hard = hard

    def deinit(self):
        self.callback = None


def disable_irq():
    return 0


def enable_irq(state=0):
    pass


class RTC:
    """machine.RTC: keeps time while powered; (y, mo, d, wd, h, mi, s, sub)."""

    def __init__(self):
        self._t = (2000, 1, 1, 5, 0, 0, 0, 0)

    def datetime(self, t=None):
        if t is None:
            return self._t
        self._t = tuple(t)
