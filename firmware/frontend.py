# What the DSP needs to know about a board's analog front-end: how many
# bits its codes have, how fast it samples, and what a full-scale code means
# at the meter's terminals. Boards (boards/*.py) build one of these.
#
# Full scale (the converter's rail):
#   voltage: the +20 % over-range point (datasheet: 'Metering Over-Range
#            +20 %') of the nominal range 347 V L-N at the terminals (the
#            datasheet's UL maximum): 1.2 * sqrt(2) * 347 V = 588.9 V peak.
#            Mains voltage has a crest factor near 1.41.
#   current: I_PEAK_PU times the CT's rated primary current (its rated
#            output, 1 V or 1/3 V with the input gain raised by 3, is
#            nominal), whatever the CT. 4.0 is a crest factor of 3.33 at
#            120 % of nominal (a switched-mode or phase-fired load's current
#            is peaky): crest factor 3 at 120 % measures without clipping.
#            It costs 1.24 bits against a rail at the sine's peak (1.697).
# Over-range (register 146 bits 0-5) is still judged at 120 % rms, and any
# sample at the rail is flagged besides (docs/dsp.md).

V_NOMINAL_RANGE = 347.0  # V rms L-N at the terminals
OVER_RANGE = 1.2
I_PEAK_PU = 4.0  # current full scale, peak, per unit of the CT rating
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
        return I_PEAK_PU
