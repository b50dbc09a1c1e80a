# What the point map marks NV, gathered from the meter model into one record
# of the power-fail-safe store (nvstore.py) and put back at start:
# configuration and passwords, power-up counter (152), calibration audit
# (7212-7217), energy accumulators and reset count (147), max demands, pulse
# counters (39-42), and the store alert bits not yet acknowledged (7401).
#
# boot() is the meter's start: the newest good record, or factory defaults
# (fresh=True) when there is none; then the power-up counter goes up by one
# and the state is saved at once. What went wrong is kept in .latched
# (register 7401 bits 1-3, docs/storage.md) until a master writes 7401 = 0:
# a corrupt store (defaults) or one that fell back to an older record is
# also counted in 147 like an energy reset, since the energy went back.
from micropython import const

from nvstore import ST_CORRUPT, ST_EMPTY, ST_FALLBACK

# Saved every SAVE_PERIOD_S seconds of running and at once on a power-fail
# signal (docs/storage.md: the flash wear and the energy-loss bound).
SAVE_PERIOD_S = 60

# register 7401 (store status); any bit set: 146 bit 7, SunSpec Evt OEM01
_A_SAVE_FAILED = const(1)  # the last save could not write a slot (clears with a clean save)
_A_DEFAULTS = const(2)  # at start: no good record although the store held data
_A_OLDER = const(4)  # at start: the newest record was bad, an older one loaded
# 8: at start a stored field out of range took its default (nvcheck.A_FIELD)
_A_LATCHED = const(14)
_RESETS_MAX = const(32767)  # 147


def state_of(meter, alert=0):
    return {
        "config": meter.config.to_dict(),
        "energy": meter.energy.to_dict(),
        "demand": meter.demand.to_dict(),
        "counters": meter.counters.to_dict(),
        "alert": alert,
    }


def restore(meter, state):
    """Put a stored state back, every field checked (nvcheck.py). Returns
    the 7401 bits to latch. nvcheck runs once, at start: it is loaded for
    this and dropped again, so its code takes no heap while the meter runs."""
    import sys

    import nvcheck

    try:
        return nvcheck.restore(meter, state)
    finally:
        del sys.modules["nvcheck"]


class Persist:
    def __init__(self, meter, store):
        self.meter = meter
        self.store = store
        self.fresh = False  # no record at all: a factory-fresh meter
        self.latched = 0  # 7401 bits 1-3 until acknowledged
        self.saves = 0

    @property
    def alert(self):
        """Register 7401: the latched bits and bit 0 while saving fails."""
        return self.latched | (_A_SAVE_FAILED if self.store.failing else 0)

    def boot(self):
        state = self.store.load_state()
        m = self.meter
        st = self.store.status
        now = _A_DEFAULTS if st == ST_CORRUPT else _A_OLDER if st == ST_FALLBACK else 0
        self.fresh = state is None and st == ST_EMPTY
        bits = now
        if state is not None:
            bits |= restore(m, state)  # with the bits not yet acknowledged
        if now:
            en = m.energy  # the energy went back: counted like a reset (147)
            en.resets = min(en.resets + 1, _RESETS_MAX)
        self.latched = bits & _A_LATCHED
        m.config.count_power_up()
        self.save()
        if st == ST_CORRUPT:
            self.save()  # both slots whole again: the next start is not a fallback
        return self.fresh

    def acknowledge(self):
        # a master wrote 7401 = 0; True when that changed what is stored
        had = self.latched
        self.latched = 0
        return had != 0

    def save(self):
        ok = self.store.save_state(state_of(self.meter, self.latched))
        if ok:
            self.saves += 1
        return ok
