# TCP servers polled from the main loop: a non-blocking listening socket
# and a bounded set of client connections, each closed after an idle
# timeout. ModbusTcpServer puts firmware/modbus_tcp.py's TcpSession (MBAP
# framing in front of the same PDU layer, register image and write checks
# as RS-485) on real sockets: port 502, several clients at once.
#
# A poll makes at most one accept, then serves one client (round robin):
# one recv of at most RECV bytes, or one send of what that client's replies
# still hold. A client whose replies are not taken (its window full) is not
# read until they are: what a client can make the meter hold is bounded.
import socket

from micropython import const

_EAGAIN = const(11)
RECV = const(260)  # the largest Modbus TCP ADU (7 + 253)


def listen(port, backlog=2, host="0.0.0.0"):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(socket.getaddrinfo(host, port)[0][-1])
    s.listen(backlog)
    s.setblocking(False)
    return s


def try_accept(srv):
    try:
        c, _addr = srv.accept()
    except OSError as e:
        if e.args[0] == _EAGAIN:
            return None
        raise
    c.setblocking(False)
    return c


def try_recv(sock, n):
    """bytes (b'' when the peer closed), or None: nothing yet."""
    try:
        return sock.recv(n)
    except OSError as e:
        if e.args[0] == _EAGAIN:
            return None
        raise


def try_send(sock, mv):
    """The bytes the socket took (0 when its buffer is full)."""
    try:
        n = sock.send(mv)
    except OSError as e:
        if e.args[0] == _EAGAIN:
            return 0
        raise
    return n or 0


class Server:
    """The listener and its clients; a subclass serves one client a poll
    (serve(client, now) -> False to close it)."""

    MAX_CLIENTS = 3
    IDLE_MS = 60000

    def __init__(self, port, clock=None, host="0.0.0.0"):
        if clock is None:
            import time as clock
        self.clock = clock
        self.port = port
        self.srv = listen(port, host=host)
        self.clients = []
        self._rr = 0
        self.accepted = 0
        self.refused = 0  # connections closed at once: MAX_CLIENTS already
        self.timeouts = 0
        self.errors = 0

    def poll(self, now):
        c = try_accept(self.srv)
        if c is not None:
            if len(self.clients) >= self.MAX_CLIENTS:
                c.close()
                self.refused += 1
            else:
                self.accepted += 1
                self.clients.append(self.client(c, now))
        n = len(self.clients)
        if not n:
            return
        i = self._rr % n
        self._rr = i + 1
        cl = self.clients[i]
        try:
            keep = self.serve(cl, now)
            if keep and self.clock.ticks_diff(now, cl.last) >= self.IDLE_MS:
                self.timeouts += 1
                keep = False
        except OSError:
            self.errors += 1
            keep = False
        if not keep:
            self.clients.pop(i)
            try:
                cl.sock.close()
            except OSError:
                pass

    def close(self):
        for cl in self.clients:
            cl.sock.close()
        self.clients = []
        self.srv.close()


class _ModbusClient:
    def __init__(self, sock, session, now):
        self.sock = sock
        self.session = session
        self.last = now
        self.out = None  # memoryview: replies not yet taken by the socket


class ModbusTcpServer(Server):
    def __init__(self, pdu, config, port=502, clock=None, host="0.0.0.0"):
        super().__init__(port, clock, host)
        self.pdu = pdu
        self.config = config

    def client(self, sock, now):
        from modbus_tcp import TcpSession

        return _ModbusClient(sock, TcpSession(self.pdu, self.config), now)

    def serve(self, cl, now):
        if cl.out is not None:
            n = try_send(cl.sock, cl.out)
            cl.out = cl.out[n:] if n < len(cl.out) else None
            return True
        data = try_recv(cl.sock, RECV)
        if data is None:
            return True
        if not data:
            return False
        cl.last = now
        before = cl.session.bad_headers
        replies = cl.session.handle_stream(data)
        if replies:
            cl.out = memoryview(replies[0] if len(replies) == 1 else b"".join(replies))
            n = try_send(cl.sock, cl.out)
            cl.out = cl.out[n:] if n < len(cl.out) else None
        # a broken MBAP header leaves the stream unsynchronised: close it
        return cl.session.bad_headers == before
