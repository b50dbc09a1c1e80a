# Modbus TCP (Modbus Messaging on TCP/IP Implementation Guide v1.0b): the
# MBAP header in front of the same PDU layer the RTU slave uses. One
# TcpSession per client connection, because TCP is a byte stream and a
# request may arrive split over several reads or several in one read:
#
#   replies = session.handle_stream(data)   # data: what recv() returned
#   for r in replies: sock.write(r)
#
# MBAP (7 bytes): transaction id (echoed), protocol id (0 = Modbus), length
# (bytes that follow: unit id + PDU, so 2..254 for a PDU of 1..253 bytes),
# unit id. Decisions:
# * Unit id: the meter answers its own Modbus address (register-configured,
#   as on RS-485), and also 0xFF and 0x00. The guide says a directly
#   connected server's unit id is not significant and recommends 0xFF; 0 is
#   what several clients send by default. TCP is point to point, so 0 is
#   not a broadcast here: it gets a reply. Any other unit id is dropped
#   without a reply, as a frame for another slave on RS-485 would be (we are
#   not a gateway, so no exception 0x0A/0x0B).
# * A header with a protocol id other than 0 or a length outside 2..254
#   leaves the stream unsynchronised: everything buffered and the rest of
#   that read are dropped and bad_headers counts it; a server may close the
#   connection when it sees bad_headers rise.
# * A change of the Modbus address made by a write takes effect for the next
#   request: the address is read per request, after the previous reply.
# * Allocation: the reassembly and response buffers are made once; each
#   reply is returned as a new bytes object (the socket layer allocates
#   anyway), so this path is not meant to run under heap_lock().

from micropython import const

MBAP_LEN = const(7)
_MIN_LEN = const(2)  # unit id + function code
_MAX_PDU = const(253)  # as modbus_pdu.MAX_PDU (an imported name is not a const)
_MAX_LEN = const(1 + _MAX_PDU)
_UNIT_ANY = const(0xFF)
_UNIT_ZERO = const(0x00)


class TcpSession:
    def __init__(self, pdu, config):
        self.pdu = pdu
        self.config = config
        self._rx = bytearray(MBAP_LEN + _MAX_PDU)
        self._rx_pdu = memoryview(self._rx)[MBAP_LEN:]
        self._tx = bytearray(MBAP_LEN + _MAX_PDU)
        self._txmv = memoryview(self._tx)
        self._tx_pdu = self._txmv[MBAP_LEN:]
        self._n = 0
        self.requests = 0
        self.ignored = 0  # unit id not ours
        self.bad_headers = 0

    def reset(self):
        # A new connection starts with an empty reassembly buffer.
        self._n = 0

    def handle_stream(self, data):
        replies = []
        rx = self._rx
        k = len(data)
        i = 0
        while i < k:
            n = self._n
            if n < MBAP_LEN:
                need = MBAP_LEN - n
            else:
                need = MBAP_LEN - 1 + ((rx[4] << 8) | rx[5]) - n
            take = k - i if k - i < need else need
            for j in range(take):
                rx[n + j] = data[i + j]
            i += take
            n += take
            self._n = n
            if n == MBAP_LEN:
                length = (rx[4] << 8) | rx[5]
                if rx[2] != 0 or rx[3] != 0 or length < _MIN_LEN or length > _MAX_LEN:
                    self.bad_headers += 1
                    self._n = 0
                    return replies
            if n >= MBAP_LEN and n == MBAP_LEN - 1 + ((rx[4] << 8) | rx[5]):
                self._n = 0
                r = self._request(n)
                if r is not None:
                    replies.append(r)
        return replies

    def _request(self, n):
        rx = self._rx
        unit = rx[6]
        if unit != self.config.modbus_address and unit != _UNIT_ANY and unit != _UNIT_ZERO:
            self.ignored += 1
            return None
        self.requests += 1
        r = self.pdu.handle(self._rx_pdu, n - MBAP_LEN, self._tx_pdu)
        if r <= 0:
            return None
        tx = self._tx
        tx[0] = rx[0]  # transaction id, echoed
        tx[1] = rx[1]
        tx[2] = 0  # protocol id
        tx[3] = 0
        tx[4] = (r + 1) >> 8  # length: unit id + PDU
        tx[5] = (r + 1) & 0xFF
        tx[6] = unit
        return bytes(self._txmv[:MBAP_LEN + r])
