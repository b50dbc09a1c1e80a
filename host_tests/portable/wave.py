# A small, obviously-correct waveform source for the DSP tests: each channel
# is a sum of cosines given as (rms, degrees, harmonic order) in physical
# units, turned into codes exactly as firmware/frontend.py defines full
# scale. Slow (math.cos per sample) on purpose: it checks the fast
# synthesizer in tools/ as much as it feeds the DSP.
import math
from array import array

from frontend import FrontEnd

_RAD = math.pi / 180.0


def phases(v, i, deg_v=(0.0, -120.0, 120.0), lag=0.0, present=(0, 1, 2)):
    """Balanced-style phase set: voltage v rms at deg_v, current i rms
    lagging its voltage by `lag` degrees. Returns 6 component lists."""
    chans = [[], [], [], [], [], []]
    for k in present:
        chans[k].append((v, deg_v[k], 1))
        chans[3 + k].append((i, deg_v[k] - lag, 1))
    return chans


class Wave:
    def __init__(self, chans, f=50.0, bits=24, fs=2520, ct=100, pt=1.0, offsets=None):
        self.fe = FrontEnd(bits, fs)
        self.chans = chans
        self.f = f
        self.n = 0
        rail = self.fe.rail
        self.scale = [rail / (self.fe.v_full_scale_peak() * pt)] * 3 + \
                     [rail / (self.fe.i_full_scale_peak_pu() * ct)] * 3
        self.offsets = offsets or [0] * 6
        self.clip_mask = 0  # channels clipped at the rail (a converter's decode finds them)
        self.clipped = 0  # samples clipped

    def frames(self, nframes):
        buf = array("i", bytes(24 * nframes))
        rail = self.fe.rail
        w = 2.0 * math.pi * self.f / self.fe.fs
        for j in range(nframes):
            t = (self.n + j) * w
            for c in range(6):
                x = 0.0
                for rms, deg, h in self.chans[c]:
                    x += rms * 1.4142135623730951 * math.cos(h * t + deg * _RAD)
                code = int(math.floor(x * self.scale[c] + 0.5)) + self.offsets[c]
                if code >= rail or code <= -rail:
                    code = rail if code > 0 else -rail
                    self.clip_mask |= 1 << c
                    self.clipped += 1
                buf[6 * j + c] = code
        self.n += nframes
        return buf


def seconds(dsp, wave, n, block=2520):
    """Run n seconds through dsp in blocks of `block` frames."""
    left = n * wave.fe.fs
    while left > 0:
        m = block if block < left else left
        dsp.process(wave.frames(m))
        left -= m
