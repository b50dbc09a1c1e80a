"""tools/calibrate.py against the virtual meter with a front-end that is off
(tools/sim.py --frontend-errors: per-channel gain errors, per-phase current
delays), the way a meter test bench works: a reference source at 230 V,
50 A, PF 0.5 lagging; calibrate; then the real energy each phase counts
(registers 317-322 over the meter's own seconds, 155-157) against the
reference's, before and after, at PF 0.5 and, after a restart from the
store, at PF 1. Accuracy target: 0.1 % (class 0.2S is +-0.2 % at PF 1 and
+-0.3 % at PF 0.5 inductive). The calibration is sealed (7210-7217): the
tool unlocks with the SETUP password and seals again; a wrong password and
an unlocked write are refused."""

import json
import math
import struct
import time

import calibrate
from pymodbus.client import ModbusTcpClient
from simproc import Sim, write_scenario, wye

CONFIG = {"system_type": 40, "ct_primary_a": 100, "ct_secondary_v": 1, "pt_ratio": 1.0,
          "system_voltage_v": 400}
V, I = 230.0, 50.0
ERRORS = {"gain": [1.012, 0.991, 1.004, 0.985, 1.017, 1.008], "phase_deg": [0.6, -0.4, 0.25]}
# seconds of the meter's energy per measurement: its seconds tick once a
# DSP window (whole cycles, within a period of each second: docs/dsp.md),
# so the time base is within one period over the span (0.033 % at 50 Hz)
WINDOW_S = 60
CONNECT_TRIES = 100
STALL_POLLS = 1200  # ~60 s of polls with the clock standing still (the scenario has ended)


def _sim(tmp_path, name, pf_lag_deg, state):
    sc = write_scenario(tmp_path / (name + ".json"), CONFIG,
                        [wye(v=V, i=I, lag=pf_lag_deg, f=50.0, duration=3600)])
    return Sim(sc, "--speed", "50", "--state", str(state), "--frontend-errors", json.dumps(ERRORS))


class Client:
    def __init__(self, sim):
        self.port = sim.tcp_port
        self.c = ModbusTcpClient("127.0.0.1", port=sim.tcp_port, timeout=2)
        for _ in range(CONNECT_TRIES):  # a meter that never listens fails, never hangs
            if self.c.connect():
                break
            time.sleep(0.1)
        else:
            raise AssertionError("the virtual meter's Modbus TCP port never accepted a connection")

    def regs(self, reg, n):
        r = self.c.read_holding_registers(reg - 1, count=n, device_id=1)
        assert not r.isError(), r
        return r.registers

    def snapshot(self):
        """The meter's clock and the per-phase import energy of the same
        second: clock (155-157), energies (317-322) and the clock again,
        asked in one TCP segment, so the virtual meter answers all three
        between two of its seconds (it reads a client's bytes between
        seconds); the two clock reads agreeing says they did."""
        import socket

        reqs = b"".join(struct.pack(">HHHBBHH", tid, 0, 6, 1, 3, reg - 1, n)
                        for tid, reg, n in ((1, 155, 3), (2, 317, 6), (3, 155, 3)))
        for _ in range(20):
            with socket.create_connection(("127.0.0.1", self.port), timeout=30) as s:
                s.sendall(reqs)
                regs = [self._reply(s) for _ in range(3)]
            if regs[0] == regs[2]:
                c0 = regs[0]
                t = (c0[1] & 0xFF) * 3600 + (c0[2] >> 8) * 60 + (c0[2] & 0xFF)
                return t, struct.unpack(">3f", struct.pack(">6H", *regs[1]))
        raise AssertionError("registers 155-157 changed within every one of 20 batched reads of 317-322")

    @staticmethod
    def _reply(s):
        def exactly(n):
            got = b""
            while len(got) < n:
                chunk = s.recv(n - len(got))
                assert chunk, "the meter closed the connection mid-reply"
                got += chunk
            return got

        head = exactly(9)  # MBAP (7), function, byte count
        assert head[7] == 3, "exception reply: %s" % head.hex()
        body = exactly(head[8])
        return list(struct.unpack(">%dH" % (len(body) // 2), body))

    def energy_errors(self, pf):
        """Per phase: (counted Wh / reference Wh - 1) in % over WINDOW_S."""
        t0, e0 = self.snapshot()
        stalled = 0  # polls without the meter's clock moving: a frozen meter fails, never hangs
        last = t0
        while True:
            time.sleep(0.05)
            t1, e1 = self.snapshot()
            if t1 - t0 >= WINDOW_S:
                break
            stalled = 0 if t1 != last else stalled + 1
            last = t1
            assert stalled < STALL_POLLS, "the meter's clock (155-157) stopped at %d s" % t1
        ref_kwh = V * I * pf * (t1 - t0) / 3.6e6
        return [100.0 * ((e1[k] - e0[k]) / ref_kwh - 1.0) for k in range(3)]

    def close(self):
        self.c.close()


def test_calibrate_restores_accuracy(tmp_path, capsys):
    state = tmp_path / "state"
    report = {}
    # 1. PF 1, uncalibrated
    sim = _sim(tmp_path, "pf1", 0.0, state)
    try:
        cl = Client(sim)
        report["PF 1 before"] = cl.energy_errors(1.0)
        cl.close()
    finally:
        sim.stop()
    # 2. PF 0.5 lagging: measure, calibrate, measure
    sim = _sim(tmp_path, "pf05", 60.0, state)
    try:
        cl = Client(sim)
        args = ["--tcp", "127.0.0.1:%d" % sim.tcp_port, "--volts", str(V), "--amps", str(I),
                "--pf", "0.5", "--seconds", "5"]
        assert cl.regs(7210, 8) == [0] * 8  # sealed, never changed
        report["PF 0.5 before"] = cl.energy_errors(0.5)
        assert calibrate.main(args) == 0  # the factory password, 00000
        out = capsys.readouterr().out
        assert "written: gains" in out and "sealed" in out
        # sealed again, one change counted, stamped with the power-up count (152)
        audit = cl.regs(7210, 8)
        assert audit[:3] == [0, 0, 1] and audit[6] == cl.regs(152, 1)[0] and audit[7] == 0, audit
        report["PF 0.5 after"] = cl.energy_errors(0.5)
        cal = cl.regs(7201, 9)
        cl.close()
    finally:
        sim.stop()
    # 3. PF 1 after a restart: the calibration came back from the store
    sim = _sim(tmp_path, "pf1b", 0.0, state)
    try:
        cl = Client(sim)
        assert cl.regs(7201, 9) == cal
        assert cl.regs(7210, 3) == [0, 0, 1]  # sealed after a restart, the count kept
        r = cl.c.write_registers(7203, [5000, 5000, 5000], device_id=1)  # the attack
        assert r.isError() and r.exception_code == 1, r
        assert cl.regs(7201, 9) == cal
        report["PF 1 after"] = cl.energy_errors(1.0)
        # a wrong SETUP password writes nothing and is counted (7217)
        try:
            calibrate.main(["--tcp", "127.0.0.1:%d" % sim.tcp_port, "--volts", str(V), "--amps",
                            str(I), "--password", "4100"])
            raise AssertionError("a wrong password was accepted")
        except SystemExit as e:
            assert "7210-7211" in str(e) and "refused" in str(e), e
        assert cl.regs(7210, 3) == [0, 0, 1] and cl.regs(7217, 1) == [1]
        assert cl.regs(7201, 9) == cal
        cl.close()
    finally:
        sim.stop()
    with capsys.disabled():
        print("\nreal energy error per phase, % (A, B, C):")
        for k, v in report.items():
            print("  %-14s %s" % (k, "  ".join("%+8.4f" % x for x in v)))
    # the deliberate errors were visible...
    assert max(abs(x) for x in report["PF 0.5 before"]) > 1.0
    assert max(abs(x) for x in report["PF 1 before"]) > 1.0
    # ...and calibration brings every phase within 0.1 % at both points
    assert max(abs(x) for x in report["PF 0.5 after"]) < 0.1, report
    assert max(abs(x) for x in report["PF 1 after"]) < 0.1, report
    # what was written: the inverse of the gain errors, the current delays
    gains = [w / 10000.0 for w in cal[:6]]
    for g, e in zip(gains, ERRORS["gain"]):
        assert abs(g * e - 1.0) < 2e-4
    phases = [(w - 0x10000 if w & 0x8000 else w) / 1000.0 for w in cal[6:]]
    for p, e in zip(phases, ERRORS["phase_deg"]):
        assert abs(p - e) < 0.005


def test_solve_and_errors_are_inverse():
    vm, im, ang = 232.76, 49.25, 60.6
    meas = [[vm, im, vm * im * math.cos(math.radians(ang)), vm * im * math.sin(math.radians(ang))]]
    g, ph = calibrate.solve([1.0] * 6, [0.0] * 3, meas, 230.0, 50.0, 0.5)
    assert abs(g[0] - 230.0 / vm) < 1e-12 and abs(g[3] - 50.0 / im) < 1e-12
    assert abs(ph[0] - 0.6) < 1e-9
    e = calibrate.errors(meas, 230.0, 50.0, 0.5)[0]
    assert abs(e[3] - 0.6) < 1e-9
    # from a calibration already there, the correction adds up
    g2, ph2 = calibrate.solve(g, ph, meas, 230.0, 50.0, 0.5)
    assert abs(ph2[0] - 1.2) < 1e-9 and abs(g2[0] - g[0] * 230.0 / vm) < 1e-12
