# Energy accumulators (registers 1-20, 43-90, 257-276, 317-364 and the
# SunSpec acc32 points). The DSP hands over, once a second, the
# watt-seconds moved in that second (readings.py E_*: E_KINDS per phase A,
# B, C, then the totals at phase E_TOTAL). They are kept here as integer
# counts of milli-watt-seconds (1 mWs = 1/3.6e9 kWh), the part below one
# unit carried to the next second, so years of running neither drift nor
# lose small increments to float rounding. Counts only grow; clear() (129 =
# 30078, or the display's RESET -> ENERG) zeroes them and is counted (147).

from readings import E_KINDS, N_ENERGIES

# Accumulator kinds beyond the DSP's eight (readings.E_*): net = imp - exp.
K_WH_NET = 8
K_VAH_NET = 9
MWS_PER_KWH = 3600000000
MWS_PER_WH = 3600000
_RESETS_MAX = 32767


class Energy:
    def __init__(self):
        self.counts = [0] * N_ENERGIES  # mWs, index E_KINDS * phase + kind
        self._rest = [0.0] * N_ENERGIES  # carried fraction of a mWs, 0 <= r < 1
        self.resets = 0  # register 147
        self.seconds = 0

    def add(self, ws):
        """Accumulate one second's array('f') of watt-seconds."""
        c = self.counts
        rest = self._rest
        for i in range(N_ENERGIES):
            x = ws[i]
            if not x > 0.0:  # also NaN; counts are monotonic
                continue
            # whole Ws first: exact even with single-precision floats (rp2)
            w = int(x)
            q = (x - w) * 1000.0 + rest[i]
            n = int(q)
            rest[i] = q - n
            c[i] += w * 1000 + n
        self.seconds += 1

    def count(self, kind, phase):
        """mWs of `kind` (readings.E_* or K_WH_NET / K_VAH_NET) for phase
        0-2, or 3 for the total."""
        b = E_KINDS * phase
        if kind == K_WH_NET:
            return self.counts[b] - self.counts[b + 1]
        if kind == K_VAH_NET:
            return self.counts[b + 6] - self.counts[b + 7]
        return self.counts[b + kind]

    def kwh(self, kind, phase):
        return self.count(kind, phase) / MWS_PER_KWH

    def clear(self):
        for i in range(N_ENERGIES):
            self.counts[i] = 0
            self._rest[i] = 0.0
        self.resets = min(self.resets + 1, _RESETS_MAX)

    # ---- for the non-volatile store ---------------------------------------
    def to_dict(self):
        return {"counts": list(self.counts), "resets": self.resets}

    def from_dict(self, d):
        counts = d["counts"]
        if len(counts) != N_ENERGIES:
            raise ValueError("energy record has %d counts" % len(counts))
        for x in counts:
            if not isinstance(x, int) or x < 0:
                raise ValueError("energy counts must be non-negative integers")
        for i in range(N_ENERGIES):
            self.counts[i] = counts[i]
            self._rest[i] = 0.0
        self.resets = int(d.get("resets", 0))


def scaled(count, base, exp10):
    """count / (base * 10^exp10), truncated toward zero, as an int: the
    register value of an energy in units of base mWs (MWS_PER_KWH for the
    native kWh registers, MWS_PER_WH for SunSpec) at scale 10^exp10."""
    neg = count < 0
    if neg:
        count = -count
    if exp10 >= 0:
        v = count // (base * 10 ** exp10)
    else:
        v = count * 10 ** (-exp10) // base
    return -v if neg else v


class Counters:
    """Pulse counters (registers 39-42, 313-316): the pulse module counts
    closures here; 129 = 16498 clears them. 32-bit, wrapping."""

    def __init__(self):
        self.pulses_imp = 0
        self.pulses_exp = 0
        # ADC frames billed as a gap since power-up (lost, overrun or
        # CRC-dropped: measured at the power around them), registers
        # 7301-7302; not cleared by 129 = 16498, not kept over a power cycle
        self.frames_gap = 0
        # samples at a converter's rail since power-up (registers 7303-7304),
        # as frames_gap
        self.clipped = 0

    def clear(self):
        self.pulses_imp = 0
        self.pulses_exp = 0

    def to_dict(self):
        return {"pulses_imp": self.pulses_imp, "pulses_exp": self.pulses_exp}

    def from_dict(self, d):
        self.pulses_imp = int(d["pulses_imp"]) & 0xFFFFFFFF
        self.pulses_exp = int(d["pulses_exp"]) & 0xFFFFFFFF
