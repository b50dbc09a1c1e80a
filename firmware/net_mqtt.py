# A non-blocking MQTT 3.1.1 publisher (OASIS MQTT v3.1.1), polled from the
# main loop: no call waits on the network. micropython-lib's umqtt.simple
# blocks in connect() (TCP handshake, CONNACK) and in publish() (a full
# socket buffer), which would stall acquisition and RS-485 for as long as
# the broker takes; so the meter speaks the few packets it needs itself:
#   CONNECT (clean session, keep-alive, last will, user/password)
#   CONNACK, PUBLISH at QoS 0 (retained or not), PINGREQ/PINGRESP, DISCONNECT
# It subscribes to nothing.
#
#   c = MqttClient(host, port, client_id, will_topic=..., will_msg=b"offline")
#   c.poll(now_ms)            each turn: connects, sends, reads, keeps alive
#   if c.up and c.idle: c.publish(topic, payload, retain)
#
# Each poll makes at most one socket call of each kind (connect or send,
# recv), all non-blocking. One packet is in flight at a time (c.idle says
# when the next may be given): the send buffer is that packet, so what the
# client holds is bounded by the largest message the caller makes. A lost
# connection (an error, the broker closing, no answer within 1.5 keep-alive
# periods) is closed and retried after a back-off of 1 s doubling to 30 s.
# The host name is resolved at each connect with getaddrinfo, which blocks
# for a DNS look-up: give the broker as an IP address (docs/network.md).
import select
import socket
import struct

from micropython import const

_CONNECT = const(0x10)
_CONNACK = const(0x20)
_PUBLISH = const(0x30)
_PINGREQ = const(0xC0)
_PINGRESP = const(0xD0)
_DISCONNECT = const(0xE0)
_DOWN = const(0)  # no socket; retried at _retry
_TCP = const(1)  # TCP connect under way
_ACK = const(2)  # CONNECT sent, waiting for CONNACK
_UP = const(3)
CONNECT_MS = const(5000)  # TCP handshake and CONNACK, each
BACKOFF_MS = const(1000)
BACKOFF_MAX_MS = const(30000)


def _ticks():
    import time

    return time.ticks_ms, time.ticks_diff, time.ticks_add


def _str(b):
    # a UTF-8 string field: two-byte length, then the bytes
    return struct.pack(">H", len(b)) + b


def _remaining(n):
    # the variable-length 'remaining length' (1-4 bytes)
    out = bytearray()
    while True:
        d = n & 0x7F
        n >>= 7
        out.append(d | 0x80 if n else d)
        if not n:
            return bytes(out)


def connect_packet(client_id, keepalive_s, will_topic=None, will_msg=b"", will_retain=True,
                   user=None, password=None):
    flags = 0x02  # clean session
    body = _str(client_id)
    if will_topic is not None:
        flags |= 0x04 | (0x20 if will_retain else 0)  # will flag, QoS 0, retain
        body += _str(will_topic) + _str(will_msg)
    if user is not None:
        flags |= 0x80
        body += _str(user)
        if password is not None:
            flags |= 0x40
            body += _str(password)
    var = b"\x00\x04MQTT\x04" + bytes((flags,)) + struct.pack(">H", keepalive_s)
    return bytes((_CONNECT,)) + _remaining(len(var) + len(body)) + var + body


def publish_head(topic, payload_len, retain=False):
    """A PUBLISH packet up to its payload (fixed header, topic); the payload
    is sent after it as it is, not copied into one packet."""
    return bytes((_PUBLISH | (1 if retain else 0),)) + _remaining(2 + len(topic) + payload_len) + \
        _str(topic)


def publish_packet(topic, payload, retain=False):
    return publish_head(topic, len(payload), retain) + payload


def _b(s):
    return s if s is None or isinstance(s, bytes) else s.encode()


class MqttClient:
    def __init__(self, host, port=1883, client_id="meter", keepalive_s=60, will_topic=None,
                 will_msg=b"offline", user=None, password=None, clock=None):
        # clock: (ticks_ms, ticks_diff, ticks_add), by default the time module's
        self.host = host
        self.port = port
        self.keepalive_s = keepalive_s
        self._connect = connect_packet(_b(client_id), keepalive_s, _b(will_topic), _b(will_msg),
                                       True, _b(user), _b(password))
        _ms, self._diff, self._add = _ticks() if clock is None else clock
        self._sock = None
        self._poll = None
        self.state = _DOWN
        self._retry = None  # None: connect at the first poll
        self._backoff = BACKOFF_MS
        self._since = 0  # when the current state began (timeouts)
        self._tx = None  # memoryview of the packet (or a PUBLISH's head) being sent
        self._tx2 = None  # then this: a PUBLISH's payload
        self._rx = bytearray(4)  # CONNACK is the longest packet we read
        self._rxn = 0
        self._sent_ms = 0
        self._now = 0
        self._heard_ms = 0
        self.connects = 0  # sessions established (CONNACK accepted)
        self.failures = 0  # connections lost or refused
        self.published = 0
        self.last_error = None

    @property
    def up(self):
        return self.state == _UP

    @property
    def idle(self):
        """Nothing waiting to be sent: publish() may be called."""
        return self._tx is None

    def publish(self, topic, payload, retain=False):
        """Queue a QoS 0 PUBLISH; False (nothing queued) unless up and idle."""
        if self.state != _UP or self._tx is not None:
            return False
        payload = _b(payload)
        self._tx = memoryview(publish_head(_b(topic), len(payload), retain))
        self._tx2 = memoryview(payload) if payload else None
        self.published += 1
        return True

    def poll(self, now):
        self._now = now
        st = self.state
        if st == _DOWN:
            if self._retry is None or self._diff(now, self._retry) >= 0:
                self._open(now)
            return
        try:
            if st == _TCP:
                self._connecting(now)
                return
            if self._tx is not None:
                self._send()
            self._read(now)
            if self.state == _ACK and self._diff(now, self._since) >= CONNECT_MS:
                raise OSError("no CONNACK")
            if self.state == _UP:
                ka = 1000 * self.keepalive_s
                if self._diff(now, self._heard_ms) >= ka * 3 // 2:
                    raise OSError("broker silent")
                if self._tx is None and self._diff(now, self._sent_ms) >= ka // 2:
                    self._tx = memoryview(bytes((_PINGREQ, 0)))
        except OSError as e:
            self._fail(now, e)

    def close(self, topic=None, payload=b""):
        """Leave cleanly, for a planned stop: a last retained message (e.g.
        'offline', which the broker would not send as the will after a
        DISCONNECT), then DISCONNECT. Best effort: whatever the socket
        takes at once."""
        if self.state == _UP:
            try:
                if topic is not None:
                    self._sock.send(publish_packet(_b(topic), _b(payload), True))
                self._sock.send(bytes((_DISCONNECT, 0)))
            except OSError:
                pass
        self._drop()

    # ---- internals --------------------------------------------------------------
    def _open(self, now):
        try:
            addr = socket.getaddrinfo(self.host, self.port)[0][-1]
            s = socket.socket()
            s.setblocking(False)
            self._sock = s
            try:
                s.connect(addr)
            except OSError as e:
                if e.args[0] not in (115, 11, 36, 119):  # EINPROGRESS, EAGAIN (incl. lwIP's)
                    raise
            p = select.poll()
            p.register(s, select.POLLOUT)
            self._poll = p
            self.state = _TCP
            self._since = now
        except OSError as e:
            self._fail(now, e)

    def _connecting(self, now):
        ev = self._poll.poll(0)
        if ev:
            if ev[0][1] & (select.POLLERR | select.POLLHUP):
                raise OSError("connect refused")
            self._poll = None
            self.state = _ACK
            self._since = self._heard_ms = now
            self._rxn = 0
            self._tx = memoryview(self._connect)
            self._send()
        elif self._diff(now, self._since) >= CONNECT_MS:
            raise OSError("connect timeout")

    def _send(self):
        try:
            n = self._sock.send(self._tx)
        except OSError as e:
            if e.args[0] == 11:  # EAGAIN: the socket buffer is full, next turn
                return
            raise
        if n is None:
            return
        self._sent_ms = self._now
        if n < len(self._tx):
            self._tx = self._tx[n:]
        else:
            self._tx = self._tx2
            self._tx2 = None

    def _read(self, now):
        try:
            data = self._sock.recv(4)
        except OSError as e:
            if e.args[0] == 11:
                return
            raise
        if not data:
            raise OSError("broker closed")
        self._heard_ms = now
        rx = self._rx
        for b in data:
            if self._rxn == 0 and b not in (_CONNACK, _PINGRESP):
                raise OSError("unexpected packet 0x%02x" % b)
            rx[self._rxn] = b
            self._rxn += 1
            if self._rxn == 2 and rx[0] == _PINGRESP:
                self._rxn = 0
            elif self._rxn == 4:  # CONNACK: 0x20 0x02 flags code
                self._rxn = 0
                if rx[3] != 0:
                    raise OSError("CONNACK refused, code %d" % rx[3])
                self.state = _UP
                self.connects += 1
                self._backoff = BACKOFF_MS

    def _fail(self, now, e):
        self.last_error = e
        self.failures += 1
        self._drop()
        self._retry = self._add(now, self._backoff)
        self._backoff = min(2 * self._backoff, BACKOFF_MAX_MS)

    def _drop(self):
        if self._sock is not None:
            try:
                self._sock.close()
            except OSError:
                pass
        self._sock = None
        self._poll = None
        self._tx = self._tx2 = None
        self._rxn = 0
        self.state = _DOWN
