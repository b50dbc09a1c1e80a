# What every RP2040 board module shares: looking a pin up in its PINS table,
# the object make_hardware() returns, the RS-485 port, and the serial number.

LCD_ADDR = 0x27  # the PCF8574 backpack's usual address (A0-A2 open)
RS485_TXBUF = 256  # the largest RTU ADU: UART.write() of a reply never waits
RS485_RXBUF = 512  # two of the largest requests (or others' traffic) between loop turns
RS485_SM = 4  # PIO1 state machine 0 watches the RX line (PIO0 is the ADC's)
RS485_DE_SM = 1  # PIO0 state machine 1 drives DE (the watcher fills PIO1's memory)


# The rows every RP2040 board shares (RS-485, the LCD's I2C, the panel, the
# contacts, the power-fail input, the LED): each board's PINS ends with them.
PANEL_PINS = (
    ("UART0 TX", "GP0", "MAX3485 DI"),
    ("UART0 RX", "GP1", "MAX3485 RO"),
    ("RS-485 DE", "GP2", "MAX3485 DE and /RE tied: high = transmit"),
    ("I2C0 SDA", "GP4", "PCF8574 LCD backpack, 100 kHz, 4.7k pull-ups to 3.3 V"),
    ("I2C0 SCL", "GP5", "PCF8574 LCD backpack"),
    ("Button up", "GP10", "to GND, internal pull-up; low = pressed"),
    ("Button down", "GP11", "to GND, internal pull-up; low = pressed"),
    ("Button left", "GP12", "to GND, internal pull-up; low = pressed"),
    ("Button right", "GP13", "to GND, internal pull-up; low = pressed"),
    ("Pulse output", "GP14", "N.O. PhotoMOS (1 Form A) LED; high = contact closed"),
    ("Alarm output", "GP15", "N.C. PhotoMOS (1 Form B) LED; low = contact closed (alarm)"),
    ("Power-fail input", "GP9", "control-power comparator; low = supply failing"),
    ("Status LED", "GP25", "on-board LED (Pico; the Pico W's LED is on the radio)"),
)


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

    # The drivers the runtime works with, made by the board (firmware/ never
    # imports a driver): the buttons' debouncer on the button pins, the LCD
    # behind its I2C backpack (OSError when no display answers).
    def make_buttons(self):
        from drivers.buttons import Buttons

        return Buttons(self.buttons)

    def make_lcd(self):
        from drivers.hd44780 import HD44780

        return HD44780(self.i2c, getattr(self, "lcd_addr", LCD_ADDR))

    def watchdog(self, timeout_ms):
        # made last by the runtime: an RP2040 watchdog cannot be stopped.
        # make_hardware() hands in machine.WDT: only board modules import machine
        return self.wdt_class(timeout=timeout_ms)

    def deinit(self):
        self.source.deinit()


def rs485(machine, rp2, pins, baud):
    """UART0, DE and their PIO helpers from the board's PINS rows 'UART0 TX',
    'UART0 RX', 'RS-485 DE' (firmware/rs485.py): a txbuf for the largest
    reply, so write() returns at once; the RX pin also read by a PIO1 state
    machine that frames requests by the wire; DE dropped by another at the
    reply's last stop bit (drivers/rs485_pio.py). The board hands in machine
    and rp2: only board modules import them."""
    from drivers.rs485_pio import DeTimer, WireWatcher, de_program, watch_program

    Pin = machine.Pin
    rx = Pin(gp(pins, "UART0 RX"))
    uart = machine.UART(0, baudrate=baud, bits=8, parity=None, stop=1,
                        tx=Pin(gp(pins, "UART0 TX")), rx=rx, txbuf=RS485_TXBUF, rxbuf=RS485_RXBUF)
    de = Pin(gp(pins, "RS-485 DE"), Pin.OUT, value=0)
    watcher = WireWatcher(rp2.StateMachine(RS485_SM), watch_program(rp2), rx, baud)
    de_timer = DeTimer(rp2.StateMachine(RS485_DE_SM), de_program(rp2), de)
    return uart, de, watcher, de_timer


def rx_waiter(uart):
    """wait(ms) for the loop's sleep between turns that returns as soon as
    the UART receives a byte (select.poll on machine.UART: the core waits
    in WFE and the UART's RX interrupt wakes it): the loop can sleep a
    whole turn period without answering a request late (firmware/runtime.py
    'The loop'). ipoll() waits and returns the poll object: nothing is
    allocated."""
    import select

    p = select.poll()
    try:
        p.register(uart, select.POLLIN)
    except TypeError:  # CPython's select with a host fake UART: the test hands its own
        return None
    return p.ipoll


def serial(machine):
    # the flash chip's unique ID: the meter's serial number (40053, INFO SN)
    import binascii

    return binascii.hexlify(machine.unique_id()).decode().upper()
