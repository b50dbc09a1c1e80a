# What every RP2040 board module shares: looking a pin up in its PINS table,
# the object make_hardware() returns, and the serial number.


def gp(pins, function):
    """The GPIO number of a PINS row, by its function name."""
    for f, pin, _note in pins:
        if f == function:
            return int(pin[2:])
    raise KeyError(function)


class Hardware:
    """What make_hardware() hands the runtime: buses, pins, drivers."""

    def __init__(self, **parts):
        for k in parts:
            setattr(self, k, parts[k])

    def start(self):
        # reset, configure and verify the front-end, then let it sample
        self.source.init()
        self.source.start()

    def watchdog(self, timeout_ms):
        # made last by the runtime: an RP2040 watchdog cannot be stopped.
        # make_hardware() hands in machine.WDT: only board modules import machine
        return self.wdt_class(timeout=timeout_ms)

    def deinit(self):
        self.source.deinit()


def serial(machine):
    # the flash chip's unique ID: the meter's serial number (40053, INFO SN)
    import binascii

    return binascii.hexlify(machine.unique_id()).decode().upper()
