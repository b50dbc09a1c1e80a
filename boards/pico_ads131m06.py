# The reference three-phase board: a Raspberry Pi Pico (RP2040) with
#   - a TI ADS131M06 (six simultaneous 24-bit channels) on SPI0 with DRDY,
#     its CLKIN made by an RP2040 PWM (drivers/ads131m06.py),
#   - a MAX3485 RS-485 transceiver on UART0, DE and /RE tied to one pin,
#   - the HD44780 LCD behind a PCF8574 backpack on I2C0,
#   - a 512 KB SPI F-RAM (Infineon/Cypress CY15B104Q) on SPI1 holding the
#     NV store and the data log (drivers/fram.py; docs/storage.md 'F-RAM':
#     writes need no flash erase, so interrupts stay on and the ADC's DRDY
#     ring loses no frame while the meter saves or logs),
#   - four buttons, a pulse output (N.O. PhotoMOS, 1 Form A), an alarm
#     output (N.C. PhotoMOS, 1 Form B: closed when unpowered), a power-fail
#     input from the control-power supply's comparator, a status LED.
#
# Like every board module it says what its front-end is (FrontEnd) and what
# its pins are (PINS, the table docs/pinmaps.md is generated from:
# tools/gen_pinmaps.py). make_hardware() is the one place that imports
# machine and builds buses, pins and drivers; everything else is handed them.
#
# Clocks (the reasoning is in drivers/ads131m06.py): the RP2040 runs at
# 128 MHz (PLL VCO 1536 MHz / 6 / 2), the PWM divides by 25 to 5.12 MHz for
# CLKIN, the ADC runs high-resolution with OSR 1024: 2500 samples/s exactly.
# Analog front-end: voltage inputs through a resistor divider to <= 1.2 V
# peak at 120 % of 347 V L-N (PGA 1); current inputs from 1 V or 1/3 V
# voltage-output CTs through a 0.3 divider, 4 x the CT rating peak at 1.2 V
# (PGA 1, or PGA 2 and x3/2 in the driver for 1/3 V CTs; frontend.py).
import board_common
from frontend import FrontEnd

NAME = "pico_ads131m06"
DESCRIPTION = "three-phase reference board: Pico + ADS131M06 + MAX3485 + I2C LCD"

SYS_HZ = 128_000_000
CLKIN_HZ = 5_120_000  # SYS_HZ / 25
OSR = 1024
FS = CLKIN_HZ // (2 * OSR)  # 2500 samples/s
SPI_BAUD = 8_000_000  # one 24-byte frame in 24 us; the ADS131M06 allows 25 MHz
I2C_FREQ = 100_000
FRAM_BAUD = 16_000_000  # 128 MHz / 8; the CY15B104Q allows 40 MHz
# the F-RAM's memory map (docs/storage.md)
FRAM_SIZE = 524288
NV_BASE = 0x00000  # nvstore slots A and B, 16 KB each (drivers/fram.FramSlots)
NV_SLOT = 0x4000
LOG_BASE = 0x08000  # the data log: 58 x 4 KB blocks to 0x41FFF (FramBlocks)
LOG_BLOCKS = 58  # datalog.NSECT
RING_FRAMES = 256  # 102.4 ms of frames: rides out a ~100 ms main-loop stall
ADC_SM = 0  # PIO0 state machine that clocks the ADC's frames
PULSE_CLOSED_LEVEL = 1  # N.O. PhotoMOS: LED on (pin high) closes the contact
ALARM_CLOSED_LEVEL = 0  # N.C. PhotoMOS: LED off (pin low) leaves it closed

# (function, pin, note): the one table of this board's wiring
PINS = (
    ("SPI0 SCK", "GP18", "ADS131M06 SCLK; SPI mode 1 (CPOL 0, CPHA 1), 8 MHz"),
    ("SPI0 MOSI", "GP19", "ADS131M06 DIN"),
    ("SPI0 MISO", "GP16", "ADS131M06 DOUT"),
    ("ADC CS", "GP17", "ADS131M06 /CS, active low; PIO0 SM0 drives it while streaming"),
    ("ADC DRDY", "GP20", "ADS131M06 /DRDY, active low; PIO0 SM0 waits on it (no IRQ)"),
    ("ADC SYNC/RESET", "GP21", "ADS131M06 /SYNC/RESET; low > 2048 CLKIN periods resets"),
    ("ADC CLKIN", "GP22", "PWM slice 3 A: 5.12 MHz (128 MHz / 25) -> 2500 samples/s"),
    ("ADC AIN0..AIN5", "-", "Va, Vb, Vc, Ia, Ib, Ic (the firmware's frame order)"),
    ("SPI1 SCK", "GP26", "F-RAM (CY15B104Q) SCK; SPI mode 0, 16 MHz"),
    ("SPI1 MOSI", "GP27", "F-RAM SI"),
    ("SPI1 MISO", "GP28", "F-RAM SO"),
    ("F-RAM CS", "GP6", "F-RAM /CS, active low; /WP and /HOLD tied to 3.3 V"),
) + board_common.PANEL_PINS

# Calibration defaults: nominal resistor values give unity; each board is
# calibrated on a bench (tools/calibrate.py) and the result kept in the store.
CAL_GAINS = (1.0, 1.0, 1.0, 1.0, 1.0, 1.0)
CAL_PHASE_DEG = (0.0, 0.0, 0.0)  # simultaneous sampling: no skew to correct
SYSTEM_TYPES = (10, 11, 12, 31, 40)


def gp(function):
    """The GPIO number of a PINS row, by its function name."""
    return board_common.gp(PINS, function)


def frontend():
    return FrontEnd(bits=24, fs=FS)


class Hardware(board_common.Hardware):
    def check_store(self):
        """Called by the runtime before it opens the store: is the F-RAM
        there? If not, the store falls back to files on the flash filesystem
        (frames lost while it writes are billed), there is no data log, and
        the wrench stays on (board_alert) until the board is fixed."""
        if not self.fram.probe():
            self.store_backend = None
            self.log_flash = None
            self.board_alert = True
        return not self.board_alert

    def deinit(self):
        self.source.deinit()
        self.clkin.deinit()


def make_hardware(ct_secondary=1, baud=9600):
    import machine

    import rp2
    from drivers.ads131m06 import ADS131M06, frame_clock_program

    Pin = machine.Pin
    machine.freq(SYS_HZ)  # before any bus: UART/I2C/SPI dividers follow it
    clkin = machine.PWM(Pin(gp("ADC CLKIN")))
    clkin.freq(CLKIN_HZ)
    clkin.duty_u16(32768)
    got = clkin.freq()
    if got != CLKIN_HZ:
        raise OSError("CLKIN is %d Hz, not %d: sys clock %d" % (got, CLKIN_HZ, machine.freq()))
    spi = machine.SPI(0, baudrate=SPI_BAUD, polarity=0, phase=1, bits=8,
                      firstbit=machine.SPI.MSB, sck=Pin(gp("SPI0 SCK")),
                      mosi=Pin(gp("SPI0 MOSI")), miso=Pin(gp("SPI0 MISO")))
    cs = Pin(gp("ADC CS"), Pin.OUT, value=1)
    drdy = Pin(gp("ADC DRDY"), Pin.IN, Pin.PULL_UP)
    reset = Pin(gp("ADC SYNC/RESET"), Pin.OUT, value=1)
    # acquisition without the CPU: PIO0 SM0 clocks a frame on each DRDY,
    # four DMA channels move it into the ring (drivers/ads131m06.py)
    adc = ADS131M06(spi, cs, drdy, rp2.StateMachine(ADC_SM), tuple(rp2.DMA() for _ in range(4)),
                    frame_clock_program(rp2), reset=reset, clkin=CLKIN_HZ, osr=OSR,
                    ct_secondary=ct_secondary, depth=RING_FRAMES, sm_id=ADC_SM)
    uart, de, rs485_watcher, rs485_de = board_common.rs485(machine, rp2, PINS, baud)
    i2c = machine.I2C(0, sda=Pin(gp("I2C0 SDA")), scl=Pin(gp("I2C0 SCL")), freq=I2C_FREQ)
    buttons = tuple(Pin(gp("Button " + b), Pin.IN, Pin.PULL_UP)
                    for b in ("up", "down", "left", "right"))
    pulse = Pin(gp("Pulse output"), Pin.OUT, value=1 - PULSE_CLOSED_LEVEL)
    alarm = Pin(gp("Alarm output"), Pin.OUT, value=ALARM_CLOSED_LEVEL)
    powerfail = Pin(gp("Power-fail input"), Pin.IN, Pin.PULL_UP)
    led = Pin(gp("Status LED"), Pin.OUT, value=0)
    # the F-RAM: the NV store (instead of files on the flash filesystem) and
    # the data log's block region; written with interrupts on
    from datalog import BlockFlash
    from drivers.fram import Fram, FramBlocks, FramSlots

    fram_spi = machine.SPI(1, baudrate=FRAM_BAUD, polarity=0, phase=0, bits=8,
                           firstbit=machine.SPI.MSB, sck=Pin(gp("SPI1 SCK")),
                           mosi=Pin(gp("SPI1 MOSI")), miso=Pin(gp("SPI1 MISO")))
    fram = Fram(fram_spi, Pin(gp("F-RAM CS"), Pin.OUT, value=1), FRAM_SIZE)
    return Hardware(
        rs485_watcher=rs485_watcher, rs485_de=rs485_de, rx_wait=board_common.rx_waiter(uart),
        name=NAME, frontend=frontend(), source=adc, adc=adc, spi=spi, clkin=clkin,
        uart=uart, de=de, i2c=i2c, buttons=buttons, pulse=pulse, alarm=alarm,
        powerfail=powerfail, led=led, pulse_closed_level=PULSE_CLOSED_LEVEL,
        alarm_closed_level=ALARM_CLOSED_LEVEL, powerfail_active_level=0,
        button_active_level=0,
        serial=board_common.serial(machine), rtc=machine.RTC(), wdt_class=machine.WDT,
        disable_irq=machine.disable_irq, enable_irq=machine.enable_irq,
        fram=fram, store_backend=FramSlots(fram, NV_BASE, NV_SLOT),
        log_flash=BlockFlash(FramBlocks(fram, LOG_BASE, LOG_BLOCKS)), board_alert=False,
    )

