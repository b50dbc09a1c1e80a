# The `sim` board at run time (portable: micropython or CPython): the
# firmware's runtime (firmware/app.py) with the board's peripherals played
# by the host. Driven by tools/sim_firmware.py.
#   front-end  -> boards/sim.SynthSource (the synthesizer)
#   RS-485     -> 'u' lines (the host's pseudo-terminal), one RTU slave
#   RTU on TCP -> 'x' lines, an RTU slave per connection (a serial gateway)
#   Modbus TCP -> 'm' lines, a TCP session per connection
#   buttons    -> 'k' lines (arrow keys) and the --keys script
#   LCD        -> 'l' lines (the two text lines), and the --lcd-log file
#   pulse and alarm outputs -> pins that remember their level
#   flash      -> files in the --state directory
import json
from array import array

import readings as R
from app import App
from datalog import FileFlash, RamFlash
from modbus_rtu import RtuSlave
from modbus_tcp import TcpSession
from nvstore import FileBackend, NvStore
from sim import SynthSource
from ui_menu import frame_text

KEY_GAP_MS = 250  # --keys tokens are this much simulated time apart


class SimPin:
    """An output pin: its level, and how many times it went high."""

    def __init__(self):
        self.level = 0
        self.rises = 0

    def value(self, v=None):
        if v is None:
            return self.level
        v = 1 if v else 0
        if v and not self.level:
            self.rises += 1
        self.level = v


def scenario_settings(cfg):
    """The scenario's config block as one configuration change (the names of
    firmware/config.py; pt_ratio is held x 100 as register 133)."""
    return {
        "system_type": cfg["system_type"],
        "ct_primary": cfg["ct_primary_a"],
        "ct_secondary": cfg["ct_secondary_v"],
        "pt_ratio": int(cfg["pt_ratio"] * 100 + 0.5),
        "system_voltage": cfg["system_voltage_v"],
        "pl_volts": cfg["phase_loss_pct"],
        "pl_imbal": cfg["imbalance_pct"],
        "pulse_wh": cfg["pulse_wh"],
        "demand_n": cfg["demand_subintervals"],
        "demand_len": cfg["demand_subinterval_s"],
        "display_units": cfg["display_units"],
        "address": cfg["modbus_address"],
        "baud": cfg["baud"],
        "parity": "NOE".index(cfg["parity"]),
    }


# settings that others are checked against go first (datasheet: set the PT
# ratio before the system voltage, both before the pulse energy)
_ORDER = ("system_type", "ct_primary", "ct_secondary", "pt_ratio", "system_voltage")


def configure(config, changes):
    """Apply the scenario's settings as an installer would: all at once, or,
    if the meter refuses that, one by one, keeping what it accepts and
    saying what it refused."""
    from config import ConfigError

    try:
        config.apply(changes)
        return
    except ConfigError:
        pass
    keys = [k for k in _ORDER if k in changes] + [k for k in changes if k not in _ORDER]
    for k in keys:
        try:
            config.apply({k: changes[k]})
        except ConfigError as e:
            _out("i config: %s = %r refused (%s), kept %r" % (k, changes[k], e.reason, getattr(config, k)))


def _out(line):
    import sys

    sys.stdout.write(line + "\n")
    if sys.implementation.name != "micropython":
        sys.stdout.flush()


class SimBoard:
    def __init__(self, sc, state_dir=None, keys=None, lcd_log=None, frontend_errors=None):
        self.source = SynthSource(sc, errors=frontend_errors)
        fs = self.fs = self.source.frontend.fs
        self.block = fs // 20  # 50 ms: the display, keys and pulses step here
        self.pulse_pin = SimPin()
        self.alarm_pin = SimPin()
        store = None
        log_flash = RamFlash()  # the data log's flash region (issue 7)
        if state_dir:
            _mkdir(state_dir)
            store = NvStore(FileBackend(state_dir + "/nv_a.bin", state_dir + "/nv_b.bin"))
            log_flash = FileFlash(state_dir + "/log.bin")
        self.app = app = App(self.source.frontend, self.pulse_pin, self.alarm_pin, store, serial="SIM-0001",
                             log_flash=log_flash)
        self.meter = app.meter
        if app.boot():
            # a factory-fresh meter is set up as the scenario says; a meter
            # with a store keeps its own configuration, as after a power cycle
            configure(self.meter.config, scenario_settings(sc.config))
            app.save()
        if app.store_alert:
            _out("i store was corrupt: factory defaults, alert raised")
        cfg = self.meter.config
        # The host frames RTU by arrival time (tools/simwire.py) and hands
        # over whole frames: the slaves here only check and answer them. One
        # for the pseudo-terminal, one for every RTU-over-TCP connection
        # (each frame is answered at once, so they share no state; a slave
        # per connection would also leave a config listener behind each).
        self.rtu = RtuSlave(app.pdu, cfg, self._line_changed)
        self.rtu_tcp = RtuSlave(app.pdu, cfg)
        self.tcp = {}
        self._line_changed(self.rtu.baud, self.rtu.parity, self.rtu.stop_bits)
        self.buf = array("i", bytes(24 * self.block))
        self.fed = 0
        self.keys = list(keys or ())
        self.next_key_ms = KEY_GAP_MS
        self.lcd_log = lcd_log
        self.last_frame = None
        self.show_frame()

    @property
    def now_ms(self):
        return self.fed * 1000 // self.fs

    # ---- the host's links ---------------------------------------------
    def host_line(self, line):
        tag = line[:1]
        if tag == "u":
            self._frame(self.rtu, bytes.fromhex(line[2:]), "u ")
        elif tag == "x":
            cid, data = _conn(line)
            self._frame(self.rtu_tcp, data, "x %d " % cid)
        elif tag == "m":
            cid, data = _conn(line)
            sess = self.tcp.get(cid)
            if sess is None:
                sess = self.tcp[cid] = TcpSession(self.app.pdu, self.meter.config)
            for reply in sess.handle_stream(data):
                _out("m %d %s" % (cid, _hex(reply)))
        elif tag == "c":
            self.tcp.pop(int(line[2:]), None)
        elif tag == "k":
            self.app.key(line[2:].strip(), self.now_ms)
            self.show_frame()

    def _frame(self, slave, frame, prefix):
        # a frame the host ended at t3.5 of silence (framing measured on the
        # wire: RtuSlave.receive / silence)
        slave.receive(frame, len(frame))
        slave.silence(True)
        r = slave.reply()
        if r is not None:
            _out(prefix + _hex(r))
            slave.sent()

    def poll(self):
        # a line change made over Modbus TCP or the front panel takes effect
        # on the RTU line while it is quiet (RtuSlave.reply), and is told
        self.rtu.reply()

    def _line_changed(self, baud, parity, stop_bits):
        # the host frames by these (t1.5, t3.5) and checks the master's baud
        _out("b %d %s" % (baud, parity))

    # ---- the front-end, the clock, the buttons -----------------------------
    def feed(self, nframes):
        """Acquire and process up to nframes; False once the scenario is over."""
        while nframes > 0:
            want = self.block if nframes > self.block else nframes
            n = self.source.synth.fill(self.buf, want)
            if n == 0:
                return False
            self.app.samples(self.buf, n)
            t0 = self.now_ms
            self.fed += n
            self._time(t0, self.now_ms)
            nframes -= n
        return True

    def _time(self, t0, t1):
        app = self.app
        t = t0 + 5
        while t <= t1:  # the pulse contact is timed in 5 ms steps
            app.tick(t)
            t += 5
        while self.keys and self.next_key_ms <= t1:
            app.key(self.keys.pop(0), self.next_key_ms)
            self.next_key_ms += KEY_GAP_MS
        self.show_frame()

    def scenario_complete(self):
        # simulated time stops; a key script still to come runs at once
        while self.keys:
            self.app.key(self.keys.pop(0), self.now_ms)
            self.show_frame()
        self.app.save()

    def stop(self):
        self.app.save()

    def show_frame(self):
        f = frame_text(self.app.frame())
        if f == self.last_frame:
            return
        self.last_frame = f
        _out("l " + json.dumps(list(f)))
        if self.lcd_log:
            with open(self.lcd_log, "a") as fh:
                fh.write(f[0] + "\n" + f[1] + "\n")

    def status_json(self):
        return json.dumps({"t": self.fed / self.fs, "rows": summary(self.meter, self.pulse_pin,
                                                                     self.alarm_pin)})


def summary(meter, pulse_pin, alarm_pin):
    """A few lines for the simulator's live view."""
    d = meter.dsp
    r = d.readings

    def v(idx, spec):
        return (spec % r[idx]) if d.valid & (1 << idx) else "----"

    en = meter.energy
    e = (en.kwh(R.E_WH_IMP, R.E_TOTAL), en.kwh(R.E_WH_EXP, R.E_TOTAL))
    c = meter.config
    return [
        "type %d  CT %d A  PT %.2f  addr %d  %d %s" % (c.system_type, c.ct_primary, c.pt_ratio / 100.0,
                                                     c.address, c.baud, c.parity_char),
        "V L-N  %s %s %s" % (v(R.R_VLN, "%.1f"), v(R.R_VLN + 1, "%.1f"), v(R.R_VLN + 2, "%.1f")),
        "V L-L  %s %s %s" % (v(R.R_VLL, "%.1f"), v(R.R_VLL + 1, "%.1f"), v(R.R_VLL + 2, "%.1f")),
        "I      %s %s %s  f %s Hz" % (v(R.R_I, "%.2f"), v(R.R_I + 1, "%.2f"), v(R.R_I + 2, "%.2f"),
                                      v(R.R_FREQ, "%.3f")),
        "P %.3f kW  Q %.3f kvar  S %.3f kVA  PF %.3f" % (r[R.R_P_TOT] / 1e3, r[R.R_Q_TOT] / 1e3,
                                                       r[R.R_S_TOT] / 1e3, r[R.R_PF_TOT]),
        "kWh import %.4f  export %.4f   errors 0x%04x" % (e[0], e[1], meter.errors()),
        "pulses %d  alarm contact %s" % (meter.counters.pulses_imp,
                                         "CLOSED (alarm)" if alarm_pin.level else "open"),
    ]


def _mkdir(path):
    import os

    try:
        os.mkdir(path)
    except OSError:
        pass


def _conn(line):
    sp = line.index(" ", 2)
    return int(line[2:sp]), bytes.fromhex(line[sp + 1:])


def _hex(b):
    return bytes(b).hex()
