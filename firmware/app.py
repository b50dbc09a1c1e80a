# The meter at run time, without hardware: what every board's main loop
# (firmware/main.py on the RP2040, tools/simboard.py in the simulator)
# drives. Data flows one way: samples -> DSP -> meter model (energy, demand,
# configuration) -> register image -> Modbus; once a second the pulse output,
# the alarms and the store follow the model, and the display reads it. The
# board hands in its pins and its store and calls:
#   app.boot()                   once, before the first sample
#   app.samples(buf, n)          every acquisition block
#   app.tick(now_ms)             every few ms: pulse contact timing, display
#   app.key(name, now_ms)        a button event
#   app.power_fail()             the control-power supply is going: save now
#   app.frontend_fault(active)   the acquisition is in fault: an alert (wrench)
#   app.board_alert = True        other board trouble (e.g. its F-RAM store is
#                                missing): the wrench, for as long as it is set
#   app.frames_lost(n)           frames the acquisition lost (billed, dsp.add_gap)
#   app.clipped(mask, n)         n samples at a converter rail, channels in mask
# Modbus transports (RTU on RS-485, TCP) are the board's; they call app.pdu.
# The register bank asks this App (bank.store) for the store's registers
# 7401-7403 and, before a write is answered, to save what it changed
# (commit, within a save budget: docs/storage.md 'When it saves').
from alarms import AlarmContact, Alarms
from energy import MWS_PER_WH
from meter import Meter
from modbus_pdu import ModbusPdu
from persist import SAVE_PERIOD_S, Persist
from pulse import PulseOutput
from readings import E_TOTAL, E_WH_EXP, E_WH_IMP
from registers import CMD_CLEAR_ENERGY, CMD_CLEAR_PULSES, CMD_DEMAND_SYNC
from rtc import Rtc

_LOSS_BITS = 0x7F00  # register 146 bits 8-14: alarms and pulse overrun
_B_STORE = 0x0080  # register 146 bit 7 (reserved in the datasheet): 7401 != 0
# Saves a Modbus write may ask for (docs/storage.md 'When it saves'): a
# burst of SAVE_BURST, then one more every SAVE_REFILL_S seconds; a write
# that needs one beyond that is answered 06 (busy) and changes nothing.
SAVE_BURST = 30
SAVE_REFILL_S = 300


class App:
    def __init__(self, frontend, pulse_pin, alarm_pin, store=None, serial="0",
                 pulse_closed_level=1, alarm_closed_level=1, disable_irq=None, enable_irq=None,
                 log_flash=None, clock=None, display=True):
        self.meter = m = Meter(frontend, serial=serial)
        c = m.config
        # the N.C. alarm contact is closed (alarm) from power-up until the
        # first second has been measured
        self.alarms = Alarms(c.system_type, c.system_voltage, c.pl_volts, c.pl_imbal)
        self.contact = AlarmContact(alarm_pin, alarm_closed_level)
        # energy counts are milli-watt-seconds: 3,600,000 to the Wh
        self.pulse = PulseOutput(pulse_pin, c.pulse_wh, c.pulse_ms, pulse_closed_level,
                                 disable_irq, enable_irq, units_per_wh=MWS_PER_WH)
        self.persist = Persist(m, store) if store is not None else None
        self.pdu = ModbusPdu(m.bank)
        # the display's menu (ui_menu, ~22 KB of heap as .mpy) and the data
        # log (datalog) are loaded only on a board that has them
        self.menu = None
        if display:
            from ui_menu import Menu, MeterView

            self.menu = Menu(MeterView(m, self.alarms))
        self.fresh = True
        self._fe_fault = False
        self.board_alert = False
        self._last_exp = None
        self._dirty = False
        self._age = 0  # seconds since the last good save
        self._credit = SAVE_BURST  # saves Modbus writes may still ask for
        m.on_second = self._second
        m.after_second = self._after_second
        c.listeners.append(self._config_changed)
        m.bank.on_command = self._command
        m.bank.store = self
        # ---- clock (155-157) and data logging (158-178, 8000-13760) --------
        # clock: a board RTC (rtc.Rtc(machine.RTC()) / Rtc(ext, battery=True))
        # or metered seconds; log_flash: a raw flash region (datalog.BlockFlash,
        # FileFlash in the simulator); without one there is no log (155-157
        # still run; 8000-13760 read 0x8000). A row is taken at the refresh
        # after each demand sub-interval closes (sync-to-comms included).
        self.clock = clock if clock is not None else Rtc()
        m.bank.clock = self.clock
        self.datalog = None
        if log_flash is not None:
            from datalog import DataLog

            self.datalog = DataLog(m.bank, c, log_flash, self.clock)
            m.demand.on_close = self.datalog.subinterval_closed

    # ---- start ---------------------------------------------------------
    def boot(self):
        """Restore the store (power-up counter 152 + 1). True when the meter
        is factory-fresh (no store at all)."""
        m = self.meter
        if self.persist is not None:
            self.fresh = self.persist.boot()
        else:
            m.config.count_power_up()
        ct = m.counters
        self.pulse.restore(ct.pulses_imp, ct.pulses_exp)
        # the pulses follow the accumulators from here on: their baseline is
        # what the store restored, so the first second's energy is pulsed too
        en = m.energy
        self.pulse.track_import(en.count(E_WH_IMP, E_TOTAL))
        self._last_exp = en.count(E_WH_EXP, E_TOTAL)
        self._config_changed(("system_type", "pulse_wh"))
        m.bank.refresh(errors=m.errors())
        return self.fresh

    @property
    def store_alert(self):
        """Register 7401 (persist.py): 0 when the store is well."""
        return 0 if self.persist is None else self.persist.alert

    # ---- what registers.py asks of the store (bank.store) -------------------
    def nv_reg(self, a):
        # 7401 (a = 0), 7402-7403 failed store writes since start (a = 1)
        p = self.persist
        if p is None:
            return 0
        return p.alert if a == 0 else p.store.errors & 0xFFFFFFFF

    def may_save(self):
        return self.persist is None or self._credit > 0

    def commit(self):
        """Before a Modbus write is acknowledged: save what it changed (a
        configuration, a 129 reset, 7401's acknowledgement). False when the
        store could not take it (the reply is then exception 04)."""
        if self.persist is None or not self._dirty:
            return True
        self._credit -= 1
        return self.save()

    def acknowledge(self):
        # 7401 = 0: the latched store alerts are cleared (and that is saved)
        if self.persist is not None and self.persist.acknowledge():
            self._dirty = True

    # ---- the three paths in ----------------------------------------------
    def samples(self, buf, nframes=-1):
        return self.meter.process(buf, nframes)

    def tick(self, now_ms):
        self.pulse.tick(now_ms)
        if self.menu is not None:
            self.menu.tick(now_ms)

    def key(self, name, now_ms):
        if self.menu is not None:
            self.menu.event(name, now_ms)

    def frame(self):
        return self.menu.frame() if self.menu is not None else None

    def frontend_fault(self, active):
        # no data-ready, stuck codes, CRC errors: the wrench until it clears
        # (at once: while no data comes, no second comes to recompute it)
        self._fe_fault = bool(active)
        if active:
            self.alarms.wrench = True

    def frames_lost(self, n):
        if n > 0:
            self.meter.dsp.add_gap(n)
            # registers 7301-7302: frames billed as a gap, wrapping at 32 bits
            ct = self.meter.counters
            ct.frames_gap = (ct.frames_gap + n) & 0xFFFFFFFF

    def clipped(self, mask, n):
        # the acquisition's samples at a converter rail: register 146 bits
        # 0-5 for the window (dsp.clipped), and counted (registers 7303-7304)
        if n > 0:
            self.meter.dsp.clipped(mask)
            ct = self.meter.counters
            ct.clipped = (ct.clipped + n) & 0xFFFFFFFF

    def power_fail(self):
        # datasheet: 100 ms ride-through; one save is well inside it
        self.save()

    def save(self):
        # a failed save stays due: retried every second (nvstore tries both
        # slots each time), with 7401 bit 0 / 146 bit 7 up meanwhile
        ok = self.persist is None or self.persist.save()
        self._dirty = not ok
        if ok:
            self._age = 0
        return ok

    # ---- once a second, before the register image is refreshed ------------
    def _second(self, m):
        self.clock.tick(1)  # before the image refresh (and a log row)
        m.config.second()  # the calibration seal's timers
        if m.dsp.seconds % SAVE_REFILL_S == 0 and self._credit < SAVE_BURST:
            self._credit += 1
        en = m.energy
        # the contact follows the import accumulator; counter 2 the export one
        self.pulse.track_import(en.count(E_WH_IMP, E_TOTAL))
        exp = en.count(E_WH_EXP, E_TOTAL)
        if self._last_exp is not None and exp >= self._last_exp:
            self.pulse.add_export_units(exp - self._last_exp)
        self._last_exp = exp
        ct = m.counters
        ct.pulses_imp = self.pulse.count
        ct.pulses_exp = self.pulse.count2
        d = m.dsp
        a = self.alarms
        st = self.store_alert
        a.update(d.readings, d.flags, self.pulse.overrun, m.config.pulse_conf_err,
                 st or self._fe_fault or self.board_alert)
        m.extra_errors = (a.error_bitmap & _LOSS_BITS) | (_B_STORE if st else 0)
        m.bank.under_voltage = a.loss != 0
        self.contact.set(a.alarm_active)

    def _after_second(self, m):
        # the save is a job of its own (meter.work): the loop runs it in a
        # turn after the register image, not in the same one; a peak reset
        # (129 = 21212) is saved once the demand has applied it
        self._age += 1
        if (self._dirty or self._age >= SAVE_PERIOD_S) and not m.demand.peak_pending:
            self.save()

    def _config_changed(self, keys):
        c = self.meter.config
        self.alarms.configure(c.system_type, c.system_voltage, c.pl_volts, c.pl_imbal)
        p = self.pulse
        if p.wh_per_pulse != c.pulse_wh or p.closure_ms != c.pulse_ms:
            p.reconfigure(c.pulse_wh, c.pulse_ms)
        if len(keys) > 1 or "log_page" not in keys:  # 158 is not kept
            self._dirty = True  # saved before the reply (commit) or this second

    def _command(self, v):
        # register 129, from Modbus or the display's RESET menu
        if v == CMD_CLEAR_PULSES:
            self.pulse.clear_counts()
            self.meter.counters.pulses_imp = 0
            self.meter.counters.pulses_exp = 0
        elif v == CMD_CLEAR_ENERGY:
            self._last_exp = 0
        if v != CMD_DEMAND_SYNC:  # the sync changes nothing kept
            self._dirty = True
