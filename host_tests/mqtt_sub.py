"""A minimal MQTT 3.1.1 subscriber for the tests (CONNECT, SUBSCRIBE at
QoS 0, PUBLISH in), written from the OASIS specification so the tests need
no client library; it sees what any subscriber (Home Assistant) sees."""

import socket
import struct
import time


def _str(b):
    return struct.pack(">H", len(b)) + b


def _remaining(n):
    out = bytearray()
    while True:
        d, n = n & 0x7F, n >> 7
        out.append(d | 0x80 if n else d)
        if not n:
            return bytes(out)


class Subscriber:
    def __init__(self, port, topics, host="127.0.0.1", client_id=b"test-sub", timeout=5.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        var = b"\x00\x04MQTT\x04\x02" + struct.pack(">H", 60)
        body = var + _str(client_id)
        self.sock.sendall(b"\x10" + _remaining(len(body)) + body)
        kind, payload, _h = self._packet(time.monotonic() + timeout)
        assert kind == 0x20 and payload[1] == 0, "CONNACK refused: %r" % payload
        subs = b"".join(_str(t.encode()) + b"\x00" for t in topics)
        body = b"\x00\x01" + subs
        self.sock.sendall(b"\x82" + _remaining(len(body)) + body)
        kind, _p, _h = self._packet(time.monotonic() + timeout)
        assert kind == 0x90, "no SUBACK"
        self.messages = []  # (topic, payload bytes, retain flag)

    def _read(self, n, deadline):
        buf = b""
        while len(buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("MQTT: nothing from the broker in time")
            self.sock.settimeout(left)
            try:
                got = self.sock.recv(n - len(buf))
            except socket.timeout:
                raise TimeoutError("MQTT: nothing from the broker in time") from None
            if not got:
                raise ConnectionError("broker closed the subscriber's connection")
            buf += got
        return buf

    def _packet(self, deadline):
        head = self._read(1, deadline)[0]
        n = shift = 0
        while True:
            b = self._read(1, deadline)[0]
            n |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        return head & 0xF0, (self._read(n, deadline) if n else b""), head

    def wait(self, pred, timeout, what):
        """Read until pred(messages) is true; TimeoutError naming `what`."""
        deadline = time.monotonic() + timeout
        while not pred(self.messages):
            try:
                kind, payload, head = self._packet(deadline)
            except TimeoutError:
                raise TimeoutError("MQTT: %s not seen within %.0f s (got %d messages: %s)" % (
                    what, timeout, len(self.messages),
                    sorted({t for t, _p, _r in self.messages})[:8])) from None
            if kind == 0x30:
                tl = struct.unpack(">H", payload[:2])[0]
                self.messages.append((payload[2:2 + tl].decode(), payload[2 + tl:], bool(head & 1)))
        return self.messages

    def close(self):
        try:
            self.sock.sendall(b"\xe0\x00")
        except OSError:
            pass
        self.sock.close()
