# What the DSP needs to know about a board's analog front-end: how many
# bits its codes have, how fast it samples, and what a full-scale code means
# at the meter's terminals. Boards (boards/*.py) build one of these.
#
# Full scale is the +20 % over-range point (datasheet: 'Metering Over-Range
# +20 %'): a sine at 120 % of the nominal range just reaches the rail.
#   voltage: nominal range 347 V L-N at the terminals (the datasheet's UL
#            maximum), so the rail is 1.2 * sqrt(2) * 347 V = 588.9 V peak.
#   current: the CT's rated output (1 V, or 1/3 V with the input gain
#            raised by 3) is nominal, so the rail is 1.2 * sqrt(2) times the
#            CT's rated primary current, whatever the CT.

V_NOMINAL_RANGE = 347.0  # V rms L-N at the terminals
OVER_RANGE = 1.2
SQRT2 = 1.4142135623730951

# Channel order of every sample frame, boards and DSP alike.
CHANNELS = ("Va", "Vb", "Vc", "Ia", "Ib", "Ic")


class FrontEnd:
    def __init__(self, bits=24, fs=2520, noise_lsb=0.0):
        if not 10 <= bits <= 24:
            raise ValueError("front-end bits must be 10..24, got %r" % (bits,))
        if not 2000 <= fs <= 8000:
            raise ValueError("sample rate must be 2000..8000 /s, got %r" % (fs,))
        self.bits = bits
        self.fs = fs
        self.noise_lsb = noise_lsb
        self.rail = (1 << (bits - 1)) - 1

    def v_full_scale_peak(self):
        return OVER_RANGE * SQRT2 * V_NOMINAL_RANGE

    def i_full_scale_peak_pu(self):
        # per unit of the CT's rated primary current
        return OVER_RANGE * SQRT2
