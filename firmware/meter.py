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
from registers import RegisterBank

_BIT15 = 0x8000


class Meter:
    def __init__(self, frontend, config=None, serial="0"):
        self.config = config if config is not None else Config()
        self.dsp = Dsp(frontend)
        self.energy = Energy()
        self.counters = Counters()
        c = self.config
        self.demand = Demand(c.demand_len, c.demand_n)
        self.extra_errors = 0  # register 146 bits 8-14, set by alarms / pulse
        self.on_second = None  # called with this Meter each second, before the image refresh
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
        e = (self.dsp.flags & 0x7F) | (self.extra_errors & 0x7F00)
        if self.config.pulse_conf_err:
            e |= _BIT15
        return e

    def _second(self, dsp):
        self.energy.add(dsp.energy)
        self.demand.add(dsp.energy)
        # outputs and alarms (app.py) update counters and extra_errors first,
        # so the image refreshed below is all of the same second
        if self.on_second is not None:
            self.on_second(self)
        self.bank.refresh(dsp.readings, dsp.valid, self.errors())

    def process(self, buf, nframes=-1):
        return self.dsp.process(buf, nframes)
