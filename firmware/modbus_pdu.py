# Modbus application layer (PDU): the part shared by RTU (modbus_rtu.py) and
# TCP (modbus_tcp.py). Implements the datasheet's 'Supported Modbus
# Commands': 0x03 and 0x04 (one register map), 0x06, 0x10, 0x11 Report
# Slave ID and 0x2B/0x0E Read Device Identification (basic objects).
#
# handle(req, n, out) takes the request PDU (function code first, n bytes,
# no address and no CRC / MBAP) and writes the response PDU into `out`,
# returning its length. The transport owns both buffers (preallocated, with
# room for its own header and trailer around the PDU), so nothing is copied
# and the read path (0x03/0x04) allocates nothing: it runs under
# micropython.heap_lock().
#
# Exception codes (Modbus Application Protocol v1.1b3, section 7):
#   01 illegal function: a function code we do not implement, or 0x2B with an
#      MEI type other than 0x0E;
#   02 illegal data address: start + quantity beyond 0xFFFF, or the register
#      bank refuses the range (a gap or a read-only register written);
#   03 illegal data value: quantity outside 1..125 (read) or 1..123 (write),
#      byte count not 2 x quantity, a request of the wrong length, a value the
#      bank refuses, an unknown Read Device ID code;
#   04 server device failure: the register bank raised, or the store could
#      not save what a write changed;
#   06 server device busy: a rate limit (registers.py: 21211/21212 within
#      10 s, an unlock after a wrong password, the store's save budget).
# The order of the checks is the one of the spec's per-function state
# diagrams: function, then quantity/value, then address, then execution.
#
# The register bank (registers.py) is the only thing that knows the map:
#   bank.read(addr, count, out, off) -> 0 or exception code (writes nothing
#     on error, allocates nothing)
#   bank.write(addr, values) -> 0, 2, 3 or 4 (atomic)
#   bank.slave_id() -> bytes (0x11 payload after the byte count)
#   bank.device_id_objects() -> (vendor, product, revision) bytes

from micropython import const

FC_READ_HOLDING = const(0x03)
FC_READ_INPUT = const(0x04)
FC_WRITE_SINGLE = const(0x06)
FC_WRITE_MULTIPLE = const(0x10)
FC_REPORT_SLAVE_ID = const(0x11)
FC_MEI = const(0x2B)

EX_ILLEGAL_FUNCTION = const(1)
EX_ILLEGAL_ADDRESS = const(2)
EX_ILLEGAL_VALUE = const(3)
EX_DEVICE_FAILURE = const(4)
EX_BUSY = const(6)

# Quantity limits: a 256-byte RTU ADU leaves 253 bytes of PDU, so at most
# 125 registers per read (2 + 250 bytes) and 123 per write (6 + 246 bytes).
MAX_READ = const(125)
MAX_WRITE = const(123)
MAX_PDU = const(253)

_MEI_READ_DEVICE_ID = const(0x0E)
# Read Device ID codes (spec 6.21): 01 basic stream, 02 regular stream,
# 03 extended stream, 04 one specific object.
_RDID_BASIC = const(1)
_RDID_EXTENDED = const(3)
_RDID_INDIVIDUAL = const(4)
# Conformity level: basic identification (the datasheet's 'Conformity
# Level 1'), and individual access (code 04) is answered too, which the
# spec (6.21) writes as 0x81 (0x80 = individual access supported).
_CONFORMITY = const(0x81)
_N_BASIC_OBJECTS = const(3)  # 0x00 VendorName, 0x01 ProductCode, 0x02 Revision


class ModbusPdu:
    def __init__(self, bank):
        self.bank = bank
        # One-element list reused for 0x06, so a single-register write does
        # not build a list per request.
        self._one = [0]

    # Returns the response PDU length written into out (0: nothing to send).
    def handle(self, req, n, out):
        if n < 1:
            return 0
        fc = req[0]
        if fc == FC_READ_HOLDING or fc == FC_READ_INPUT:
            return self._read(req, n, out, fc)
        if fc == FC_WRITE_SINGLE:
            return self._write_single(req, n, out)
        if fc == FC_WRITE_MULTIPLE:
            return self._write_multiple(req, n, out)
        if fc == FC_REPORT_SLAVE_ID:
            return self._slave_id(n, out)
        if fc == FC_MEI:
            return self._mei(req, n, out)
        return _exception(out, fc, EX_ILLEGAL_FUNCTION)

    def _read(self, req, n, out, fc):
        if n != 5:
            return _exception(out, fc, EX_ILLEGAL_VALUE)
        addr = (req[1] << 8) | req[2]
        qty = (req[3] << 8) | req[4]
        if qty < 1 or qty > MAX_READ:
            return _exception(out, fc, EX_ILLEGAL_VALUE)
        if addr + qty > 0x10000:
            return _exception(out, fc, EX_ILLEGAL_ADDRESS)
        try:
            code = self.bank.read(addr, qty, out, 2)
        except Exception:  # the bank failing must not take the slave down
            return _exception(out, fc, EX_DEVICE_FAILURE)
        if code:
            if code > EX_DEVICE_FAILURE or code < 0:
                code = EX_DEVICE_FAILURE
            return _exception(out, fc, code)
        out[0] = fc
        out[1] = qty << 1
        return 2 + (qty << 1)

    def _write_single(self, req, n, out):
        if n != 5:
            return _exception(out, FC_WRITE_SINGLE, EX_ILLEGAL_VALUE)
        addr = (req[1] << 8) | req[2]
        self._one[0] = (req[3] << 8) | req[4]
        code = self._bank_write(addr, self._one)
        if code:
            return _exception(out, FC_WRITE_SINGLE, code)
        # The normal response is an echo of the request (spec 6.6).
        for i in range(5):
            out[i] = req[i]
        return 5

    def _write_multiple(self, req, n, out):
        fc = FC_WRITE_MULTIPLE
        if n < 6:
            return _exception(out, fc, EX_ILLEGAL_VALUE)
        addr = (req[1] << 8) | req[2]
        qty = (req[3] << 8) | req[4]
        bc = req[5]
        # Spec 6.12: 1 <= quantity <= 0x7B and byte count == 2 x quantity,
        # else exception 03; the frame must also hold exactly those bytes.
        if qty < 1 or qty > MAX_WRITE or bc != qty << 1 or n != 6 + bc:
            return _exception(out, fc, EX_ILLEGAL_VALUE)
        if addr + qty > 0x10000:
            return _exception(out, fc, EX_ILLEGAL_ADDRESS)
        values = [0] * qty  # the write path may allocate; only reads are heap-locked
        for i in range(qty):
            values[i] = (req[6 + 2 * i] << 8) | req[7 + 2 * i]
        code = self._bank_write(addr, values)
        if code:
            return _exception(out, fc, code)
        for i in range(5):
            out[i] = req[i]
        return 5

    def _bank_write(self, addr, values):
        try:
            code = self.bank.write(addr, values)
        except Exception:
            return EX_DEVICE_FAILURE
        if code and (code < 1 or code > EX_DEVICE_FAILURE) and code != EX_BUSY:
            return EX_DEVICE_FAILURE
        return code

    def _slave_id(self, n, out):
        # Datasheet 0x11: byte count, ID byte 247, status 0xFF, ID string
        # (the bank builds everything after the byte count).
        if n != 1:
            return _exception(out, FC_REPORT_SLAVE_ID, EX_ILLEGAL_VALUE)
        try:
            payload = self.bank.slave_id()
        except Exception:
            return _exception(out, FC_REPORT_SLAVE_ID, EX_DEVICE_FAILURE)
        k = len(payload)
        if k > MAX_PDU - 2:
            k = MAX_PDU - 2
        out[0] = FC_REPORT_SLAVE_ID
        out[1] = k
        for i in range(k):
            out[2 + i] = payload[i]
        return 2 + k

    def _mei(self, req, n, out):
        fc = FC_MEI
        if n >= 2 and req[1] != _MEI_READ_DEVICE_ID:
            return _exception(out, fc, EX_ILLEGAL_FUNCTION)
        if n != 4:
            return _exception(out, fc, EX_ILLEGAL_VALUE)
        code = req[2]
        obj = req[3]
        if code < _RDID_BASIC or code > _RDID_INDIVIDUAL:
            return _exception(out, fc, EX_ILLEGAL_VALUE)
        if code == _RDID_INDIVIDUAL:
            # Spec 6.21: individual access to an object we do not have is
            # exception 02.
            if obj >= _N_BASIC_OBJECTS:
                return _exception(out, fc, EX_ILLEGAL_ADDRESS)
            first = obj
            last = obj
        else:
            # Stream access (01; 02 and 03 answered at our conformity level,
            # basic, as the spec requires): an unknown starting object id
            # restarts the stream at object 0x00.
            if code <= _RDID_EXTENDED and obj >= _N_BASIC_OBJECTS:
                obj = 0
            first = obj
            last = _N_BASIC_OBJECTS - 1
        try:
            objects = self.bank.device_id_objects()
        except Exception:
            return _exception(out, fc, EX_DEVICE_FAILURE)
        out[0] = fc
        out[1] = _MEI_READ_DEVICE_ID
        out[2] = code
        out[3] = _CONFORMITY
        out[4] = 0  # more follows: everything fits in one response
        out[5] = 0  # next object id (meaningful only with more follows)
        out[6] = last - first + 1
        p = 7
        for oid in range(first, last + 1):
            value = objects[oid]
            k = len(value)
            if k > 64:  # keeps the three objects well inside one PDU
                k = 64
            out[p] = oid
            out[p + 1] = k
            p += 2
            for i in range(k):
                out[p + i] = value[i]
            p += k
        return p


def _exception(out, fc, code):
    out[0] = (fc | 0x80) & 0xFF
    out[1] = code
    return 2
