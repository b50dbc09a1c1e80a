# The meter model: the DSP's per-second results feed energy, demand and the
# register image; configuration changes (Modbus or display, through
# Config.apply) reconfigure the DSP and demand at once. Bits 0-6 of the
# error bitmap (146) come from the DSP, bit 15 from the pulse
# configuration; the alarm and pulse modules own bits 8-14 and set them in
# meter.extra_errors.

from config import Config
from demand import Demand
from dsp import Dsp
from energy import Counters, Energy
from micropython import const

from registers import RegisterBank

_BIT15 = 0x8000
# The work that follows a closed second, in order (docs/runtime.md 'The
# once-a-second work'): with spread set, the board's loop runs one job a
# turn (work()), so no turn carries the whole second; otherwise all of it
# runs at once, inside process().
_J_NONE = const(0)
_J_ENERGY = const(1)  # energy and demand accumulate the second's Ws
_J_OUTPUTS = const(2)  # on_second: pulse, alarms, contact (app.py)
_J_IMAGE = const(3)  # the register image
_J_AFTER = const(4)  # after_second: e.g. the periodic save (app.py)


class Meter:
    def __init__(self, frontend, config=None, serial="0"):
        self.config = config if config is not None else Config()
        self.dsp = Dsp(frontend)
        self.energy = Energy()
        self.counters = Counters()
        c = self.config
        self.demand = Demand(c.demand_len, c.demand_n)
        self.extra_errors = 0  # register 146 bits 7-14, set by the store, alarms, pulse
        self.on_second = None  # called with this Meter each second, before the image refresh
        self.after_second = None  # called with this Meter each second, after the image refresh
        self.spread = False  # True: the loop calls work() each turn (runtime.py)
        self._job = _J_NONE
        self.busy = False  # jobs of the last closed second are still to run
        self._configure_dsp()
        self.bank = RegisterBank(c, self.energy, self.demand, self.counters, serial)
        self.dsp.on_second = self._second
        c.listeners.append(self._config_changed)

    def _configure_dsp(self):
        c = self.config
        self.dsp.configure(c.system_type, c.ct_primary, c.ct_secondary, c.pt_ratio / 100.0)
        self.dsp.set_calibration(c.cal_gains, c.cal_phases)

    def _config_changed(self, keys):
        c = self.config
        if c.dsp_changed(keys) or "cal_gains" in keys or "cal_phases" in keys:
            self._configure_dsp()
        if "demand_len" in keys or "demand_n" in keys:
            self.demand.configure(c.demand_len, c.demand_n)
        self.bank.refresh(errors=self.errors())

    def errors(self):
        e = (self.dsp.flags & 0x7F) | (self.extra_errors & 0x7F80)
        if self.config.pulse_conf_err:
            e |= _BIT15
        return e

    def _second(self, dsp):
        # the DSP's readings and energy stay as they are for a whole second,
        # so the jobs may run in later turns; a second closing before they
        # all ran (a stalled loop) finishes them first
        if self._job != _J_NONE:
            self.finish()
        self._job = _J_ENERGY
        self.busy = True
        if not self.spread:
            self.finish()

    def work(self):
        """Run the next job of the last closed second; True while more remain."""
        j = self._job
        if j == _J_NONE:
            return False
        dsp = self.dsp
        self._job = _J_NONE if j == _J_AFTER else j + 1
        self.busy = self._job != _J_NONE  # an attribute: the loop reads it every turn
        if j == _J_ENERGY:
            self.energy.add(dsp.energy)
            self.demand.add(dsp.energy)
        elif j == _J_OUTPUTS:
            # outputs and alarms (app.py) update counters and extra_errors
            # first, so the image refreshed next is all of the same second
            if self.on_second is not None:
                self.on_second(self)
        elif j == _J_IMAGE:
            self.bank.refresh(dsp.readings, dsp.valid, self.errors())
        elif self.after_second is not None:
            self.after_second(self)
        return self._job != _J_NONE

    def finish(self):
        while self.work():
            pass

    def process(self, buf, nframes=-1):
        return self.dsp.process(buf, nframes)
