# The host board of the virtual meter: no pins, a front-end fed by the
# waveform synthesizer (tools/synth.py) from a scenario file.
#
# Like every board module it says what its front-end is (FrontEnd: bits,
# sample rate, full scale) and hands the firmware a sample source with the
# same interface a real acquisition driver has:
#     source.read(buf) -> frames written into buf (array('i'), 6 codes a
#                         frame); 0 when there is no more signal
from frontend import FrontEnd

NAME = "sim"
DESCRIPTION = "virtual meter: synthesized front-end, host serial/TCP Modbus"
PINS = ()  # (function, pin, note) rows; the simulator has no pins

# Calibration defaults: the synthesizer is exact, so unity gain, no phase.
CAL_GAINS = (1.0, 1.0, 1.0, 1.0, 1.0, 1.0)
CAL_PHASE_DEG = (0.0, 0.0, 0.0)


class SynthSource:
    """Sample source playing a scenario through the synthesizer."""

    def __init__(self, scenario, seed=1, errors=None):
        # errors: deliberate gain and phase errors of the front-end
        # (tools/synth.py Synth(errors=...)), for calibration tests
        from synth import Synth  # tools/, on the simulator's path only

        fe = scenario.frontend
        self.frontend = FrontEnd(fe["bits"], fe["fs_hz"], fe["noise_lsb"])
        self.synth = Synth(scenario, seed=seed, errors=errors)

    def read(self, buf):
        return self.synth.fill(buf, len(buf) // 6)

    @property
    def t(self):
        return self.synth.t

    @property
    def done(self):
        return self.synth.done
