# A small stand-in for registers.RegisterBank with the same interface, so the
# Modbus layers are tested without the real register map:
#   0-based 0..199 and 250..399 read (value = addr * 7 + 1); 200..249 is a
#   gap (exception 2); 7000 (register 7001) reads 12345; 9000 raises (device
#   failure); 130..149 are writable with values < 1000 (else 3);
#   7100..7102 (registers 7101-7103) are address, baud (the number), parity 0 none / 1 odd / 2 even
#   and write through to the FakeConfig, as the real bank does.
# read() allocates nothing, like the real one.

_BAUDS = (1200, 2400, 4800, 9600, 19200, 38400)
_PARITY = "NOE"  # register 7103, as firmware/config.py


class FakeConfig:
    def __init__(self, modbus_address=1, baud=19200, parity="N"):
        self.modbus_address = modbus_address
        self.baud = baud
        self.parity_char = parity  # firmware/config.py: 'N', 'O' or 'E'


class FakeBank:
    def __init__(self, config=None):
        self.config = config if config is not None else FakeConfig()
        self.writes = []
        self.store = [0] * 20  # 130..149

    def _readable(self, a):
        return (0 <= a < 200) or (250 <= a < 400) or a == 7000 or a == 9000 or (7100 <= a <= 7102)

    def _value(self, a):
        if a == 7000:
            return 12345
        if a == 9000:
            raise OSError("bank failure")
        if 130 <= a < 150:
            return self.store[a - 130]
        if a == 7100:
            return self.config.modbus_address
        if a == 7101:
            return self.config.baud
        if a == 7102:
            return _PARITY.index(self.config.parity_char)
        return (a * 7 + 1) & 0xFFFF

    def read(self, addr, count, out, off):
        for i in range(count):
            if not self._readable(addr + i):
                return 2
        for i in range(count):
            v = self._value(addr + i)
            out[off + 2 * i] = v >> 8
            out[off + 2 * i + 1] = v & 0xFF
        return 0

    def write(self, addr, values):
        self.writes.append((addr, list(values)))
        for i in range(len(values)):
            a = addr + i
            v = values[i]
            if a == 9000:
                raise OSError("bank failure")
            if 130 <= a < 150:
                if v >= 1000:
                    return 3
            elif a == 7100:
                if not 1 <= v <= 247:
                    return 3
            elif a == 7101:
                if v not in _BAUDS:
                    return 3
            elif a == 7102:
                if v > 2:
                    return 3
            else:
                return 2
        for i in range(len(values)):
            a = addr + i
            v = values[i]
            if 130 <= a < 150:
                self.store[a - 130] = v
            elif a == 7100:
                self.config.modbus_address = v
            elif a == 7101:
                self.config.baud = v
            elif a == 7102:
                self.config.parity_char = _PARITY[v]
        return 0

    def slave_id(self):
        return b"\xf7\xff" + b"Test Meter RUNNING"

    def device_id_objects(self):
        return (b"Acme", b"EM4100", b"V12.345")
