"""RS-485 driver enable (firmware/rs485.py) with the fake UART and Pin:
DE is high for every write and drops only after the frame's wire time."""

import time

from machine import UART, Pin
from modbus_fakebank import FakeBank, FakeConfig
from modbus_pdu import ModbusPdu
from modbus_rtu import RtuSlave, crc16
from rs485 import RS485


def with_crc(*b):
    f = bytes(b)
    c = crc16(f, len(f))
    return f + bytes([c & 0xFF, c >> 8])


def link(baud=38400):
    uart = UART(0, baudrate=baud)
    de = Pin(2, Pin.OUT)
    uart.de = de
    return RS485(uart, de, baud), uart, de


def test_de_high_during_write_and_low_after_the_wire_time():
    bus, uart, de = link(38400)
    frame = bytes(range(20))
    t0 = time.perf_counter()
    bus.send(frame)
    elapsed_us = (time.perf_counter() - t0) * 1e6
    assert uart.writes == [(frame, 1)]
    assert de.value() == 0 and de.history == [0, 1, 0]
    wire = 20 * 11 * 1_000_000 / 38400  # 5.73 ms: 11-bit characters
    assert bus.wire_us(20) >= wire
    assert wire <= elapsed_us < wire + 50_000


def test_de_waits_for_txdone():
    bus, uart, de = link(38400)
    polls = []

    def txdone():
        polls.append(de.value())
        return len(polls) >= 3

    bus._txdone = txdone
    bus.send(b"\x01\x02")
    assert polls == [1, 1, 1] and de.value() == 0


def test_stuck_uart_does_not_hold_the_bus():
    bus, uart, de = link(38400)
    bus._txdone = lambda: False
    t0 = time.perf_counter()
    bus.send(b"\x01")
    assert de.value() == 0 and time.perf_counter() - t0 < 0.5


def test_service_answers_a_request_from_the_uart():
    cfg = FakeConfig(1, 38400, "N")
    rtu = RtuSlave(ModbusPdu(FakeBank(cfg)), cfg)
    bus, uart, de = link(38400)
    uart.inject(with_crc(0x01, 0x03, 0, 0, 0, 1))
    assert bus.service(rtu) is False  # bytes in, frame not ended yet
    time.sleep(0.005)  # > t3.5 (1.75 ms)
    assert bus.service(rtu) is True
    assert uart.writes == [(with_crc(0x01, 0x03, 2, 0, 1), 1)]
    assert de.value() == 0
