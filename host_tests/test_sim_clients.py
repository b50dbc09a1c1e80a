"""The virtual meter against Modbus and SunSpec clients nobody here wrote
(pymodbus, pysunspec2), on the pseudo-terminal (RTU) and on Modbus TCP.

The scenario: a 277/480 V wye (system type 40), 200 A CTs, 40 A per phase
at PF 0.9 lagging, 60 Hz, for 20 s; meter address 7, 9600 baud, no parity (scenario config; this machine's
pseudo-terminals refuse to re-apply a parity setting, which pyserial does on
open, so parity itself is tested in test_modbus_rtu.py). Expected values are
the scenario's analytic ones."""

import math
import socket
import struct

import pytest
import sunspec2.modbus.client as ss
from pymodbus.client import ModbusSerialClient, ModbusTcpClient
from pymodbus.pdu import ExceptionResponse
from simproc import Sim, wye, write_scenario

ADDR = 7
V, I, PF, F, T = 277.0, 40.0, 0.9, 60.0, 20
LAG = math.degrees(math.acos(PF))
P = 3 * V * I * PF  # 29916 W
Q = 3 * V * I * math.sin(math.radians(LAG))


@pytest.fixture(scope="module")
def meter(tmp_path_factory):
    d = tmp_path_factory.mktemp("sim")
    sc = write_scenario(d / "wye.json", {"system_type": 40, "ct_primary_a": 200, "system_voltage_v": 480,
                                         "modbus_address": ADDR, "baud": 9600, "parity": "N"},
                        [wye(V, I, LAG, F, T)])
    sim = Sim(sc, "--speed", "max")
    sim.wait_for("scenario complete")
    yield sim
    sim.stop()


@pytest.fixture(scope="module")
def rtu(meter):
    c = ModbusSerialClient(port=meter.rtu_path, baudrate=9600, parity="N", stopbits=1, timeout=2, retries=1)
    assert c.connect()
    yield c
    c.close()


def floats(regs):
    return [struct.unpack(">f", struct.pack(">HH", regs[i], regs[i + 1]))[0] for i in range(0, len(regs), 2)]


def s16(x):
    return x - 65536 if x >= 32768 else x


def near(got, want, rel):
    return abs(got - want) <= rel * abs(want)


def test_float_registers_257_to_292_match_the_scenario(rtu):
    r = rtu.read_holding_registers(256, count=36, device_id=ADDR)  # registers 257-292
    f = floats(r.registers)
    kwh_imp = f[1]
    p_kw, q_kvar, s_kva, pf, vll, vln, i, hz = f[10:18]
    assert near(p_kw * 1000, P, 1e-3), p_kw
    assert near(q_kvar * 1000, Q, 5e-3), q_kvar
    assert near(s_kva * 1000, math.hypot(P, Q), 1e-3)
    assert near(pf, PF, 1e-3)
    assert near(vll, V * math.sqrt(3), 1e-3) and near(vln, V, 1e-3) and near(i, I, 1e-3)
    assert abs(hz - F) < 0.01
    assert near(kwh_imp, P * T / 3.6e6, 5e-3), kwh_imp  # energy of the whole run


def test_integer_registers_use_scale_factors_138_to_141(rtu):
    sf = [s16(x) for x in rtu.read_holding_registers(137, count=4, device_id=ADDR).registers]
    r = rtu.read_holding_registers(0, count=28, device_id=ADDR).registers
    # 21 total kW (scale W), 25 V L-L (V), 26 V L-N, 27 I (I), 28 Hz x 0.01, 24 PF x 0.0001
    assert near(s16(r[20]) * 10.0 ** sf[2], P / 1000, 0.01)
    assert near(r[24] * 10.0 ** sf[1], V * math.sqrt(3), 0.01)
    assert near(r[25] * 10.0 ** sf[1], V, 0.01)
    assert near(r[26] * 10.0 ** sf[0], I, 0.01)
    assert abs(r[27] - 6000) <= 1 and abs(s16(r[23]) - 9000) <= 10
    # 3-4: import energy ULong, kWh x 10^E
    assert near(((r[2] << 16) | r[3]) * 10.0 ** sf[3], P * T / 3.6e6, 0.05)


def test_configuration_registers_from_the_scenario(rtu):
    r = rtu.read_holding_registers(128, count=26, device_id=ADDR).registers  # 129-154
    assert r[0] == 0  # 129 reads 0
    assert r[1:6] == [40, 200, 1, 100, 480]  # 130-134
    # 135: sqrt(3) x 480 V x 200 A = 166.3 kW, in the integer power scale (140)
    assert near(r[6] * 10.0 ** s16(r[11]), 166.277, 0.01)
    assert r[13:16] == [10, 25, 1000]  # 142, 143, 144 defaults
    assert r[16] == 500  # 145: 1 kWh pulses keep up with 166 kW at 500 ms
    assert r[20:22] == [1, 900]  # 149, 150


def test_configuration_write_and_its_refusals(rtu):
    assert not rtu.write_register(141, 15, device_id=ADDR).isError()  # 142 = 15 %
    assert rtu.read_holding_registers(141, count=1, device_id=ADDR).registers == [15]
    for addr, value, code in ((141, 100, 3),  # 142 out of 1-99
                              (129, 99, 3),  # 130 not a system type
                              (133, 2000, 3),  # 134: 2000 V / PT 1 outside 82-660 V
                              (143, 55, 3),  # 144 not 10/100/1000/10000
                              (134, 1, 2),  # 135 read-only
                              (145, 0, 2)):  # 146 read-only
        before = rtu.read_holding_registers(128, count=26, device_id=ADDR).registers
        r = rtu.write_register(addr, value, device_id=ADDR)
        assert isinstance(r, ExceptionResponse) and r.exception_code == code, (addr + 1, r)
        assert rtu.read_holding_registers(128, count=26, device_id=ADDR).registers == before
    assert not rtu.write_register(141, 10, device_id=ADDR).isError()


def test_every_exception_code(rtu):
    r = rtu.write_coil(0, True, device_id=ADDR)  # function 0x05: not supported
    assert isinstance(r, ExceptionResponse) and r.exception_code == 1
    r = rtu.read_holding_registers(499, count=2, device_id=ADDR)  # outside the map
    assert isinstance(r, ExceptionResponse) and r.exception_code == 2
    r = rtu.write_register(129, 77, device_id=ADDR)  # 130 = 77
    assert isinstance(r, ExceptionResponse) and r.exception_code == 3
    # 04 (device failure) cannot be provoked from outside a healthy meter; the
    # PDU layer's tests raise it from a failing bank (test_modbus_pdu.py).


def crc16(frame):
    # CRC-16/Modbus, written here from the spec (poly 0xA001 reflected)
    crc = 0xFFFF
    for b in frame:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return frame + bytes((crc & 0xFF, crc >> 8))


def rtu_over_tcp(port, frame):
    with socket.create_connection(("127.0.0.1", port), timeout=3) as s:
        s.sendall(crc16(frame))
        s.settimeout(3)
        return s.recv(512)


def test_quantity_over_125_is_exception_3_on_rtu_over_tcp(meter):
    # pymodbus will not even send this one: read 126 registers from 1
    r = rtu_over_tcp(meter.rtu_tcp_port, bytes((ADDR, 0x03, 0, 0, 0, 126)))
    assert r == crc16(bytes((ADDR, 0x83, 3)))
    r = rtu_over_tcp(meter.rtu_tcp_port, bytes((ADDR, 0x03, 0, 129, 0, 1)))  # 130
    assert r == crc16(bytes((ADDR, 0x03, 2, 0, 40)))


def test_reads_of_125_registers_across_blocks(rtu):
    r = rtu.read_holding_registers(256, count=125, device_id=ADDR)  # 257-381
    assert len(r.registers) == 125
    r = rtu.read_input_registers(0, count=112, device_id=ADDR)  # function 04, same map
    assert len(r.registers) == 112 and r.registers[37] == 0x8000  # 38 reserved: QNAN


def test_report_slave_id_0x11(rtu):
    r = rtu.report_device_id(device_id=ADDR)
    assert not r.isError()
    raw = r.encode()
    assert raw[1] == 247 and raw[2] == 0xFF  # ID byte, run status
    assert b"S4100" in raw and b"RUNNING" in raw


def test_read_device_identification_0x2b(rtu):
    r = rtu.read_device_information(read_code=1, object_id=0, device_id=ADDR)
    assert not r.isError()
    vendor, product, rev = r.information[0], r.information[1], r.information[2]
    assert vendor and product
    ver = rtu.read_holding_registers(7000, count=1, device_id=ADDR).registers[0]  # 7001
    assert rev == ("V%d.%03d" % (ver // 1000, ver % 1000)).encode()


def test_modbus_tcp_unit_id_is_the_meter_address(meter):
    c = ModbusTcpClient("127.0.0.1", port=meter.tcp_port, timeout=2)
    assert c.connect()
    try:
        r = c.read_holding_registers(129, count=1, device_id=ADDR)
        assert r.registers == [40]
    finally:
        c.close()


def check_sunspec(dev, model):
    dev.scan()
    assert 1 in dev.models and model in dev.models
    c = dev.common[0]
    assert c.Mn.value and "S4100" in c.Md.value and c.SN.value == "SIM-0001"
    assert c.DA.value == ADDR
    m = dev.models[model][0]
    assert near(m.W.cvalue, P, 0.01)
    assert near(m.WphA.cvalue, P / 3, 0.01)
    assert near(m.PhVphA.cvalue, V, 0.01) and near(m.PhVphAB.cvalue, V * math.sqrt(3), 0.01)
    assert near(m.A.cvalue, 3 * I, 0.01) and near(m.AphA.cvalue, I, 0.01)
    assert abs(m.Hz.cvalue - F) < 0.05
    assert near(m.PF.cvalue, 100 * PF, 0.01)  # SunSpec PF in percent
    assert near(m.VAR.cvalue, Q, 0.02)
    assert near(m.TotWhImp.cvalue, P * T / 3600, 0.05)  # Wh


def test_pysunspec2_over_rtu(meter):
    dev = ss.SunSpecModbusClientDeviceRTU(slave_id=ADDR, name=meter.rtu_path, baudrate=9600, parity="N",
                                          timeout=2)
    try:
        check_sunspec(dev, 203)
    finally:
        dev.close()


def test_pysunspec2_over_modbus_tcp(meter):
    dev = ss.SunSpecModbusClientDeviceTCP(slave_id=ADDR, ipaddr="127.0.0.1", ipport=meter.tcp_port, timeout=2)
    try:
        check_sunspec(dev, 203)
    finally:
        dev.close()


@pytest.mark.parametrize("system_type,model,phases", [(10, 201, "A"), (11, 201, "AB"), (12, 202, "AB"),
                                                      (31, 204, "ABC")])
def test_sunspec_meter_model_follows_the_system_type(tmp_path, system_type, model, phases):
    cfg = {"system_type": system_type, "system_voltage_v": 277 if system_type == 10 else 480}
    seg = wye(V, 10.0, 0.0, 50.0, 3, phases)
    if system_type in (11, 12):
        seg["phases"]["B"]["v_deg"] = 180.0
        seg["phases"]["B"]["i_deg"] = 180.0
    sim = Sim(write_scenario(tmp_path / "t.json", cfg, [seg]), "--speed", "max")
    try:
        sim.wait_for("scenario complete")
        dev = ss.SunSpecModbusClientDeviceTCP(slave_id=1, ipaddr="127.0.0.1", ipport=sim.tcp_port, timeout=2)
        try:
            dev.scan()
            assert model in dev.models, list(dev.models)
            m = dev.models[model][0]
            assert m.Hz.cvalue == pytest.approx(50.0, abs=0.05)
            assert m.W.cvalue > 0
        finally:
            dev.close()
    finally:
        sim.stop()


def test_readme_timeout_advice_figures():
    # README 'Timeouts on RS-485': a 125-register read at 19200 baud, 11-bit
    # characters: the 255-byte reply is 146 ms on the wire, 155 ms with the
    # 8-byte request and two t3.5 silences; minimalmodbus' 50 ms misses it
    import os

    from modbus_rtu import timing_us

    tc, _, t35 = timing_us(19200)
    reply = 1 + 1 + 1 + 2 * 125 + 2  # address, function, byte count, data, CRC
    assert reply == 255
    assert round(reply * tc / 1000) == 146
    assert round(((8 + reply) * tc + 2 * t35) / 1000) == 155
    assert reply * tc > 50_000
    with open(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")) as f:
        text = " ".join(f.read().split())
    assert "255-byte reply: 146 ms on the wire (11 bits a character), 155 ms with" in text
