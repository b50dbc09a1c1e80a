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
from alarms import AlarmContact, Alarms
from energy import MWS_PER_WH
from meter import Meter
from modbus_pdu import ModbusPdu
from persist import SAVE_PERIOD_S, Persist
from pulse import PulseOutput
from readings import E_TOTAL, E_WH_EXP, E_WH_IMP
from registers import CMD_CLEAR_ENERGY, CMD_CLEAR_PULSES
from rtc import Rtc

_LOSS_BITS = 0x7F00  # register 146 bits 8-14: alarms and pulse overrun


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
        m.on_second = self._second
        m.after_second = self._after_second
        c.listeners.append(self._config_changed)
        m.bank.on_command = self._command
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
        return self.persist is not None and self.persist.alert

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
        if self.persist is not None:
            self.persist.save()
        self._dirty = False

    # ---- once a second, before the register image is refreshed ------------
    def _second(self, m):
        self.clock.tick(1)  # before the image refresh (and a log row)
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
        a.update(d.readings, d.flags, self.pulse.overrun, m.config.pulse_conf_err,
                 self.store_alert or self._fe_fault or self.board_alert)
        m.extra_errors = a.error_bitmap & _LOSS_BITS
        m.bank.under_voltage = a.loss != 0
        self.contact.set(a.alarm_active)

    def _after_second(self, m):
        # the save is a job of its own (meter.work): the loop runs it in a
        # turn after the register image, not in the same one
        if self._dirty or m.dsp.seconds % SAVE_PERIOD_S == 0:
            self.save()

    def _config_changed(self, keys):
        c = self.meter.config
        self.alarms.configure(c.system_type, c.system_voltage, c.pl_volts, c.pl_imbal)
        p = self.pulse
        if p.wh_per_pulse != c.pulse_wh or p.closure_ms != c.pulse_ms:
            p.reconfigure(c.pulse_wh, c.pulse_ms)
        self._dirty = True  # saved at the end of this second

    def _command(self, v):
        # register 129, from Modbus or the display's RESET menu
        if v == CMD_CLEAR_PULSES:
            self.pulse.clear_counts()
            self.meter.counters.pulses_imp = 0
            self.meter.counters.pulses_exp = 0
        elif v == CMD_CLEAR_ENERGY:
            self._last_exp = 0
        self._dirty = True
