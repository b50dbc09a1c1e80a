"""Modbus TCP on real sockets (firmware/net_tcp.py, the Pico W's port 502):
several clients at once, each answered from the same register image and
PDU layer as RS-485 (so the same write checks), at most MAX_CLIENTS, an
idle timeout, and a broken MBAP header closes the connection. The server
is polled here as the main loop polls it (a clock the test moves)."""

import socket
import struct
import time

import pytest
from frontend import FrontEnd
from meter import Meter
from modbus_pdu import ModbusPdu
from net_tcp import ModbusTcpServer


class Clock:
    def __init__(self):
        self.t = 0

    def ticks_diff(self, a, b):
        return a - b


@pytest.fixture
def server():
    m = Meter(FrontEnd(24, 2500))
    pdu = ModbusPdu(m.bank)
    clock = Clock()
    srv = ModbusTcpServer(pdu, m.config, port=0, clock=clock, host="127.0.0.1")
    srv.port = srv.srv.getsockname()[1]
    srv.test_clock = clock
    srv.test_pdu = pdu
    yield srv
    srv.close()


def mbap(tid, pdu, unit=1):
    return struct.pack(">HHHB", tid, 0, len(pdu) + 1, unit) + pdu


def rtu_answer(pdu_layer, pdu):
    # what the RTU slave's PDU layer answers to the same request
    out = bytearray(256)
    n = pdu_layer.handle(bytearray(pdu), len(pdu), out)
    return bytes(out[:n])


def poll(srv, times=20):
    for _ in range(times):
        srv.poll(srv.test_clock.t)


def connect(srv):
    c = socket.create_connection(("127.0.0.1", srv.port), timeout=2)
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    poll(srv, 3)  # accepted in a poll
    return c


def received(srv, c, timeout=2.0):
    """Poll the server (as the main loop does) until the client has bytes
    or sees the connection closed: b'' then."""
    c.setblocking(False)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            poll(srv, 3)
            try:
                return c.recv(300)
            except BlockingIOError:
                time.sleep(0.001)
            except ConnectionResetError:
                return b""
    finally:
        c.setblocking(True)
    raise AssertionError("nothing from the server within %.0f s of polling" % timeout)


def reply(srv, c):
    r = received(srv, c)
    assert r, "the server closed the connection instead of answering"
    return r


def closed(srv, c):
    return received(srv, c) == b""


def test_several_clients_get_the_rtu_answers(server):
    clients = [connect(server) for _ in range(ModbusTcpServer.MAX_CLIENTS)]
    read_130 = bytes([3, 0, 129, 0, 1])  # register 130: the system type
    bad_write = bytes([6, 0, 129, 0, 99])  # system type 99: refused as on RS-485
    for k, c in enumerate(clients):
        c.sendall(mbap(100 + k, read_130))
    for k, c in enumerate(clients):
        r = reply(server, c)
        assert r[:2] == struct.pack(">H", 100 + k) and r[7:] == rtu_answer(server.test_pdu, read_130)
        assert r[7:] == bytes([3, 2, 0, 40])
    clients[1].sendall(mbap(7, bad_write))
    r = reply(server, clients[1])
    assert r[7:] == rtu_answer(server.test_pdu, bad_write) and r[7:9] == bytes([0x86, 3])
    # a request split over two segments is put together
    clients[2].sendall(mbap(9, read_130)[:5])
    poll(server)
    clients[2].sendall(mbap(9, read_130)[5:])
    assert reply(server, clients[2])[7:] == bytes([3, 2, 0, 40])
    # one more client than MAX_CLIENTS is closed at once
    extra = connect(server)
    assert closed(server, extra) and server.refused == 1
    for c in clients:
        c.close()


def test_an_idle_client_is_closed_and_a_bad_header_closes_its_connection(server):
    idle = connect(server)
    busy = connect(server)
    server.test_clock.t += ModbusTcpServer.IDLE_MS - 1000
    busy.sendall(mbap(1, bytes([3, 0, 129, 0, 1])))
    assert reply(server, busy)[7:] == bytes([3, 2, 0, 40])
    server.test_clock.t += 1000
    assert closed(server, idle) and server.timeouts == 1
    busy.sendall(struct.pack(">HHHB", 1, 5, 6, 1) + bytes([3, 0, 0, 0, 1]))  # protocol id 5
    assert closed(server, busy)
