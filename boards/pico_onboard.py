# Single-phase development board: a Raspberry Pi Pico measuring one voltage
# (ADC0) and one current (ADC1) with the RP2040's own 12-bit ADC
# (drivers/rp2040_adc.py), for system type 10. Everything else is wired as
# on the reference board (pico_ads131m06): RS-485 on UART0, the I2C LCD,
# four buttons, pulse and alarm outputs, power-fail input, LED; but no
# F-RAM: no store_backend, so the NV store stays in files on the flash
# filesystem (each save stalls the CPU with interrupts off; the ADC and
# its DMA go on sampling), and no log_flash, so no data log (docs/storage.md).
#
# NOT REVENUE-GRADE: the RP2040 ADC has an ENOB of about 8.7 bits and DNL
# spikes (erratum RP2040-E11) and its reference is the 3.3 V rail. It exists
# to run and debug the firmware on a bare Pico with a transformer and a CT,
# not to bill energy.
#
# Analog: each input is biased at mid-rail (two 10k resistors from 3V3 to
# GND, 10 uF to GND) and AC-coupled; the voltage from a small mains
# transformer and divider, the current from a 1 V (or 1/3 V) output CT,
# scaled so 120 % of the voltage range, and 4 x the CT rating (frontend.py:
# crest factor 3.33 at 120 %), peak at +-1.6 V around the bias (codes
# 2048 +- 1985 of 0..4095). Use the ADC_VREF pin with an LM4040-3.0 for a
# steadier reference.
import board_common
from frontend import FrontEnd

NAME = "pico_onboard"
DESCRIPTION = "single-phase dev board: Pico, RP2040 12-bit ADC (not revenue-grade)"

FS = 2500  # frames/s; the ADC converts 5000/s, V and I in turn
RING_FRAMES = 256
I2C_FREQ = 100_000
PULSE_CLOSED_LEVEL = 1
ALARM_CLOSED_LEVEL = 0

PINS = (
    ("ADC0 voltage", "GP26", "Va: mains transformer + divider, biased at 1.65 V"),
    ("ADC1 current", "GP27", "Ia: 1 V or 1/3 V CT, biased at 1.65 V"),
    ("ADC_VREF", "-", "3.3 V rail by default; an LM4040-3.0 here is better"),
) + board_common.PANEL_PINS

# The voltage is the mean of two samples 200 us apart (see the driver):
# a gain of 0.998 at 50 Hz, 0.997 at 60 Hz, left to calibration like the
# divider tolerances; V and I are on the same instant, so no phase default.
CAL_GAINS = (1.0, 1.0, 1.0, 1.0, 1.0, 1.0)
CAL_PHASE_DEG = (0.0, 0.0, 0.0)
SYSTEM_TYPES = (10,)


def gp(function):
    """The GPIO number of a PINS row, by its function name."""
    return board_common.gp(PINS, function)


def frontend():
    return FrontEnd(bits=12, fs=FS)


Hardware = board_common.Hardware


def make_hardware(ct_secondary=1, baud=9600):
    import machine

    from drivers.rp2040_adc import RP2040ADC

    if ct_secondary not in (1, 3):
        raise ValueError("CT secondary must be 1 (1 V) or 3 (1/3 V)")
    # (a 1/3 V CT needs the board's x3 current amplifier jumper: the RP2040
    # ADC has no PGA)
    Pin = machine.Pin
    adc_v = machine.ADC(Pin(gp("ADC0 voltage")))
    adc_i = machine.ADC(Pin(gp("ADC1 current")))
    # acquisition without the CPU: the ADC free-runs round robin, DMA fills
    # the ring (drivers/rp2040_adc.py); its registers through machine.mem32
    import rp2

    source = RP2040ADC(adc_v, adc_i, (rp2.DMA(), rp2.DMA()), machine.mem32, fs=FS,
                       depth=RING_FRAMES)
    uart, de, rs485_watcher, rs485_de = board_common.rs485(machine, rp2, PINS, baud)
    i2c = machine.I2C(0, sda=Pin(gp("I2C0 SDA")), scl=Pin(gp("I2C0 SCL")), freq=I2C_FREQ)
    buttons = tuple(Pin(gp("Button " + b), Pin.IN, Pin.PULL_UP)
                    for b in ("up", "down", "left", "right"))
    pulse = Pin(gp("Pulse output"), Pin.OUT, value=1 - PULSE_CLOSED_LEVEL)
    alarm = Pin(gp("Alarm output"), Pin.OUT, value=ALARM_CLOSED_LEVEL)
    powerfail = Pin(gp("Power-fail input"), Pin.IN, Pin.PULL_UP)
    led = Pin(gp("Status LED"), Pin.OUT, value=0)
    return Hardware(
        rs485_watcher=rs485_watcher, rs485_de=rs485_de, rx_wait=board_common.rx_waiter(uart),
        name=NAME, frontend=frontend(), source=source, adc=source, uart=uart, de=de,
        i2c=i2c, buttons=buttons, pulse=pulse, alarm=alarm, powerfail=powerfail, led=led,
        pulse_closed_level=PULSE_CLOSED_LEVEL, alarm_closed_level=ALARM_CLOSED_LEVEL,
        powerfail_active_level=0, button_active_level=0,
        serial=board_common.serial(machine), rtc=machine.RTC(), wdt_class=machine.WDT,
        disable_irq=machine.disable_irq, enable_irq=machine.enable_irq,
    )

