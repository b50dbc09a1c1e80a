"""Calibrate a meter against a reference source, over Modbus.

The way a meter test bench works: a reference source drives the meter's
inputs with known values (the same voltage, current and power factor on
every phase, wye: system type 40, or 10 / 12 for one or two phases), the
meter measures them, and the differences become per-channel gains and
per-phase phase corrections. They are written to the meter's calibration
registers (vendor block 7201-7209, docs/registers.md), which the meter
validates (Config.apply, exception 3 when refused) and keeps in its store.

The calibration is sealed: the tool first writes the meter's SETUP
password (--password, the display's S PWD SETUP; factory 00000) to the
unlock register 7210-7211, which opens 7201-7209 for 300 s, and seals it
again (7210-7211 = 0xFFFFFFFF) when done. The meter counts every change in
7212 with the time of the last one (7213-7216); a wrong password is
refused (exception 3), counted in 7217 and holds unlocks off for 10 s.

    python tools/calibrate.py --tcp 127.0.0.1:5020 --volts 230 --amps 5 --pf 0.5 --password 12345
    python tools/calibrate.py --serial /dev/ttyUSB0 --baud 19200 --volts 230 --amps 5 --pf 0.5

What it computes, per phase k (averaged over --seconds of the meter's own
one-second readings, registers 365-406; gains and phases as the meter has
them now, registers 7201-7209):
    gain V_k  <- gain V_k x V_ref / V_k measured          (7201-7203)
    gain I_k  <- gain I_k x I_ref / I_k measured          (7204-7206)
    phase_k   <- phase_k + atan2(Q_k, P_k) - acos(PF_ref)  (7207-7209)
The angle comes from P and Q, so any PF works; PF 0.5 is the usual point
because there a phase error costs the most real energy (tan 60 deg = 1.73 %
of P per degree). Then it waits for the meter to measure with the new
values and prints the errors before and after. Run it once more at PF 1
(--check) to see the result at unity.
"""

import argparse
import math
import struct
import sys
import time

PHASES = {10: 1, 12: 2, 40: 3}  # wye-connected types whose L-N voltages the meter reports
R_P, R_Q, R_VLN, R_I = 365, 371, 395, 401  # float blocks of 3 (2 registers each)
R_CAL = 7201
R_UNLOCK = 7210  # ULong: the SETUP password opens 7201-7209; > 99999 seals
R_AUDIT = 7212  # changes, last change time (as 155-157), power-ups then, refused unlocks
SEAL = 0xFFFFFFFF
R_CLOCK = 155


def _client(a):
    from pymodbus.client import ModbusSerialClient, ModbusTcpClient

    if a.tcp:
        host, port = a.tcp.rsplit(":", 1)
        return ModbusTcpClient(host, port=int(port), timeout=a.timeout)
    if a.rtu_tcp:
        from pymodbus import FramerType

        host, port = a.rtu_tcp.rsplit(":", 1)
        return ModbusTcpClient(host, port=int(port), framer=FramerType.RTU, timeout=a.timeout)
    parity = a.parity
    return ModbusSerialClient(a.serial, baudrate=a.baud, parity=parity,
                              stopbits=2 if parity == "N" else 1, bytesize=8, timeout=a.timeout)


class Meter:
    def __init__(self, client, address):
        self.c = client
        self.addr = address

    def regs(self, reg, n):
        r = self.c.read_holding_registers(reg - 1, count=n, device_id=self.addr)
        if r.isError():
            raise IOError("reading %d-%d: %s" % (reg, reg + n - 1, r))
        return r.registers

    def write(self, reg, values):
        r = self.c.write_registers(reg - 1, list(values), device_id=self.addr)
        if r.isError():
            code = getattr(r, "exception_code", None)
            why = {1: " (sealed: unlock with the SETUP password first)",
                   3: " (refused: a wrong password or an out-of-range value)",
                   6: " (busy: retry in 10 s)"}.get(code, "")
            raise IOError("writing %d-%d: %s%s" % (reg, reg + len(values) - 1, r, why))

    def unlock(self, password):
        """Open 7201-7209 (300 s) with the SETUP password; a wrong one is
        refused, counted by the meter (7217)."""
        self.write(R_UNLOCK, (password >> 16, password & 0xFFFF))

    def seal(self):
        self.write(R_UNLOCK, (SEAL >> 16, SEAL & 0xFFFF))

    def audit(self):
        """(changes, last change Month/Day, Year/Hour, Min/Sec words,
        power-up count then, refused unlocks): 7212-7217."""
        return tuple(self.regs(R_AUDIT, 6))

    def floats(self, reg, n):
        w = self.regs(reg, 2 * n)
        return struct.unpack(">%df" % n, struct.pack(">%dH" % (2 * n), *w))

    def clock(self):
        return tuple(self.regs(R_CLOCK, 3))

    def calibration(self):
        w = self.regs(R_CAL, 9)
        gains = [x / 10000.0 for x in w[:6]]
        phases = [(x - 0x10000 if x & 0x8000 else x) / 1000.0 for x in w[6:]]
        return gains, phases

    def set_calibration(self, gains, phases):
        words = [int(round(g * 10000)) for g in gains]
        words += [int(round(p * 1000)) & 0xFFFF for p in phases]
        self.write(R_CAL, words)

    def wait_seconds(self, n, timeout=None):
        """Wait until the meter has measured n new seconds (its clock,
        155-157, moves once per measured second); wall time if it has none."""
        deadline = time.time() + (timeout if timeout is not None else 3 * n + 5)
        try:
            last = self.clock()
        except IOError:
            time.sleep(n)
            return
        seen = 0
        while seen < n:
            if time.time() > deadline:
                raise IOError("the meter's seconds do not advance")
            time.sleep(0.005)
            c = self.clock()
            if c != last:
                last = c
                seen += 1

    def measure(self, phases, seconds):
        """Averages of V, I, P, Q per phase over `seconds` new readings."""
        acc = [[0.0] * 4 for _ in range(phases)]
        for _ in range(seconds):
            self.wait_seconds(1)
            w = self.floats(R_P, 21)  # 365-406: P Q S PF VLL VLN I
            for k in range(phases):
                vals = (w[15 + k], w[18 + k], 1000.0 * w[k], 1000.0 * w[3 + k])  # kW -> W
                for j in range(4):
                    acc[k][j] += vals[j]
        return [[x / seconds for x in row] for row in acc]


def solve(gains, phases, meas, v_ref, i_ref, pf_ref, lead=False):
    """New (gains, phases) from the present ones and a measurement."""
    g = list(gains)
    ph = list(phases)
    ang_ref = math.degrees(math.acos(pf_ref)) * (-1 if lead else 1)
    for k in range(len(meas)):
        v, i, p, q = meas[k]
        if v <= 0 or i <= 0:
            raise ValueError("phase %s measures no voltage or current" % "ABC"[k])
        g[k] = gains[k] * v_ref / v
        g[3 + k] = gains[3 + k] * i_ref / i
        ph[k] = phases[k] + math.degrees(math.atan2(q, p)) - ang_ref
    return g, ph


def errors(meas, v_ref, i_ref, pf_ref, lead=False):
    """Per phase: (V %, I %, P %, angle error in degrees)."""
    ang_ref = math.degrees(math.acos(pf_ref)) * (-1 if lead else 1)
    p_ref = v_ref * i_ref * pf_ref
    out = []
    for v, i, p, q in meas:
        out.append((100.0 * (v / v_ref - 1), 100.0 * (i / i_ref - 1), 100.0 * (p / p_ref - 1),
                    math.degrees(math.atan2(q, p)) - ang_ref))
    return out


def _table(title, errs):
    print(title)
    print("  phase    V err %    I err %    P err %   angle err deg")
    for k, (ev, ei, ep, ea) in enumerate(errs):
        print("  %s     %+9.4f  %+9.4f  %+9.4f   %+9.4f" % ("ABC"[k], ev, ei, ep, ea))


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    link = ap.add_mutually_exclusive_group(required=True)
    link.add_argument("--tcp", metavar="HOST:PORT", help="Modbus TCP")
    link.add_argument("--rtu-tcp", metavar="HOST:PORT", help="RTU framing over TCP (a serial gateway)")
    link.add_argument("--serial", metavar="DEVICE", help="Modbus RTU on a serial port (RS-485 adapter)")
    ap.add_argument("--baud", type=int, default=19200)
    ap.add_argument("--parity", choices=("N", "E", "O"), default="N")
    ap.add_argument("--address", type=int, default=1, help="the meter's Modbus address (7101)")
    ap.add_argument("--volts", type=float, required=True, help="reference voltage, V L-N rms")
    ap.add_argument("--amps", type=float, required=True, help="reference current, A rms (primary)")
    ap.add_argument("--pf", type=float, default=0.5, help="reference power factor (0 < PF <= 1)")
    ap.add_argument("--lead", action="store_true", help="the current leads (capacitive)")
    ap.add_argument("--seconds", type=int, default=10, help="seconds of readings to average")
    ap.add_argument("--check", action="store_true", help="measure and print the errors; write nothing")
    ap.add_argument("--reset", action="store_true", help="start from unity gains and zero phases")
    ap.add_argument("--timeout", type=float, default=1.0)
    ap.add_argument("--password", type=int, default=0,
                    help="the meter's SETUP password (display S PWD SETUP), 0-99999; default 00000")
    a = ap.parse_args(argv)
    if not 0.0 < a.pf <= 1.0:
        ap.error("--pf must be in (0, 1]")
    if a.volts <= 0 or a.amps <= 0 or a.seconds < 1:
        ap.error("--volts, --amps and --seconds must be positive")
    if not 0 <= a.password <= 99999:
        ap.error("--password is the five-digit SETUP password, 0-99999")
    return a


def main(argv=None):
    a = parse_args(argv)
    client = _client(a)
    if not client.connect():
        sys.exit("calibrate: cannot connect")
    m = Meter(client, a.address)
    opened = False  # 7201-7209 unlocked by us: sealed again whatever happens
    try:
        st = m.regs(130, 1)[0]
        if st not in PHASES:
            sys.exit("calibrate: system type %d; calibrate in a wye type (40, or 10/12), then "
                     "set the installation's type" % st)
        n = PHASES[st]
        gains, phases = m.calibration()
        if not a.check:
            m.unlock(a.password)  # a wrong password stops here, nothing written
            opened = True
        if a.reset and not a.check:
            gains, phases = [1.0] * 6, [0.0] * 3
            m.set_calibration(gains, phases)
            m.wait_seconds(2)
        print("calibration now: gains %s, phases %s deg" % (
            " ".join("%.4f" % g for g in gains), " ".join("%+.3f" % p for p in phases)))
        before = m.measure(n, a.seconds)
        _table("before (reference %.3f V, %.4f A, PF %.3f%s):" % (a.volts, a.amps, a.pf,
                                                                   " lead" if a.lead else ""),
               errors(before, a.volts, a.amps, a.pf, a.lead))
        if a.check:
            return 0
        g, ph = solve(gains, phases, before, a.volts, a.amps, a.pf, a.lead)
        m.set_calibration(g, ph)
        m.seal()
        opened = False
        print("written: gains %s, phases %s deg (7201-7209), sealed" % (
            " ".join("%.4f" % x for x in g), " ".join("%+.3f" % x for x in ph)))
        au = m.audit()
        print("calibration changes: %d (7212), the last at power-up %d (7216); refused unlocks: "
              "%d (7217)" % (au[0], au[4], au[5]))
        m.wait_seconds(2)  # a second measured wholly with the new values
        after = m.measure(n, a.seconds)
        _table("after:", errors(after, a.volts, a.amps, a.pf, a.lead))
    except (IOError, ValueError) as e:
        if opened:
            try:
                m.seal()
            except IOError:
                pass  # it seals itself within 300 s
        sys.exit("calibrate: %s" % e)
    finally:
        client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
