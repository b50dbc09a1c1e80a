"""The boards' RS-485 parts (make_hardware's UART, DE and RX-line watcher)
and the PIO watcher's timing (boards/drivers/rs485_pio.py) with the fake
machine/rp2 modules. The RS-485 link itself: portable/test_rs485_line.py;
the watcher's program runs on the emulated chip (docs/runtime.md)."""

import board_common
import machine
import pico_ads131m06
import pico_onboard
import rp2
from drivers.rs485_pio import CYCLES_PER_BIT, DeTimer, WireWatcher, idle_counts, watch_program
from modbus_rtu import ADU_MAX, timing_us

# the program's own timing (drivers/rs485_pio.py): the first idle-line
# sample 157 cycles after the start bit's edge, an 11-bit character ends at
# 176, 2 cycles an idle-loop step, 5 between the t1.5 and t3.5 loops
FIRST_IDLE_SAMPLE = 157
CHAR_END = 11 * CYCLES_PER_BIT


def silences_us(baud):
    """When the watcher calls t1.5 and t3.5, in us after the character's end."""
    n1, n2 = idle_counts(baud)
    t15 = FIRST_IDLE_SAMPLE + 2 * n1 - CHAR_END
    t35 = FIRST_IDLE_SAMPLE + 2 * n1 + 5 + 2 * n2 - CHAR_END
    cyc_us = 1e6 / (CYCLES_PER_BIT * baud)
    return t15 * cyc_us, t35 * cyc_us


def test_watcher_silences_match_the_spec_within_an_eighth_of_a_bit():
    # Modbus over Serial Line 2.5.1.1: t1.5 / t3.5 = 1.5 / 3.5 characters up
    # to 19200 baud, 750 / 1750 us above
    for baud in (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200):
        _, t15, t35 = timing_us(baud)
        eighth = 1e6 / baud / 8
        w15, w35 = silences_us(baud)
        assert abs(w15 - t15) <= eighth, (baud, w15, t15)
        assert abs(w35 - t35) <= eighth, (baud, w35, t35)


def test_idle_counts_fit_the_osr_halves():
    for baud in (1200, 19200, 115200):
        n1, n2 = idle_counts(baud)
        assert 0 < n1 < 0x10000 and 0 < n2 < 0x10000
    assert idle_counts(9600) == idle_counts(19200)  # counted in bits up to 19200


def watcher(baud=19200):
    sm = rp2.StateMachine(4)
    rx = machine.Pin(1)
    return WireWatcher(sm, watch_program(rp2), rx, baud), sm, rx


def test_watcher_runs_at_16_cycles_a_bit_on_the_rx_pin():
    w, sm, rx = watcher(19200)
    assert sm.kwargs == {"freq": 16 * 19200, "in_base": rx, "jmp_pin": rx}
    n1, n2 = idle_counts(19200)
    assert sm.tx == [n2 << 16 | n1] and sm.active() == 1  # the program's first pull
    w.set_baud(38400)  # 7102 written: a new clock divider and silences
    n1, n2 = idle_counts(38400)
    assert sm.kwargs["freq"] == 16 * 38400 and sm.tx[-1] == n2 << 16 | n1


def test_watcher_event_words_as_the_pio_pushes_them():
    w, sm, _ = watcher()
    assert w.event() == -1
    # ISR after `in x, 16; in kind, 1` shifting right: kind in bit 31, the
    # count in bits 30-15, older ISR bits below
    sm.rx = [(1 << 31) | (8 << 15) | 0x5A5A, (0 << 31) | (19 << 15) | 0x7FFF]
    assert w.event() == 0x10008  # END after 8 characters
    assert w.event() == 19  # a character after > t1.5: 19 before it
    assert w.event() == -1


def test_watcher_reset_drops_what_it_saw_and_counts_from_zero():
    w, sm, _ = watcher()
    sm.rx = [(1 << 31) | (200 << 15)]  # our own reply's echo
    r0 = sm.restarts
    w.reset()
    assert sm.rx == [] and sm.restarts == r0 + 1 and sm.active() == 1


def test_reference_board_uart_queues_the_largest_reply():
    uart, de, w, de_timer = board_common.rs485(machine, rp2, pico_ads131m06.PINS, 19200)
    assert uart.txbuf >= ADU_MAX and uart.rxbuf >= 2 * ADU_MAX
    assert [p.id for p in uart.pins] == [0, 1] and de.id == 2 and de.value() == 0
    assert isinstance(w, WireWatcher) and w._pin.id == 1
    assert board_common.RS485_SM in (4, 5, 6, 7)  # PIO1: PIO0 is the ADC's
    # DE: a state machine at 1 MHz owns GP2 (1 us a count of the wire time)
    assert isinstance(de_timer, DeTimer)
    assert de_timer._sm.kwargs["freq"] == 1_000_000 and de_timer._sm.kwargs["set_base"] is de


def test_onboard_board_has_the_same_rs485():
    hw = pico_onboard.make_hardware()
    assert hw.uart.txbuf >= ADU_MAX and hw.de.id == 2
    assert isinstance(hw.rs485_watcher, WireWatcher) and isinstance(hw.rs485_de, DeTimer)
