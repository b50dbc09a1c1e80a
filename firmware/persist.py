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
from nvstore import ST_CORRUPT, ST_EMPTY, ST_FALLBACK

# Saved every SAVE_PERIOD_S seconds of running and at once on a power-fail
# signal (docs/storage.md: the flash wear and the energy-loss bound).
SAVE_PERIOD_S = 60

# register 7401 (store status); any bit set: 146 bit 7, SunSpec Evt OEM01
A_SAVE_FAILED = 1  # the last save could not write a slot (clears with a clean save)
A_DEFAULTS = 2  # at start: no good record although the store held data
A_OLDER = 4  # at start: the newest record was bad, an older one loaded
A_FIELD = 8  # at start: a stored field out of range took its default
A_LATCHED = 14
_RESETS_MAX = 32767  # 147
_COUNT_MAX = 1 << 64  # mWs: 5.1e9 kWh, decades at the largest configurable power


def state_of(meter, alert=0):
    return {
        "config": meter.config.to_dict(),
        "energy": meter.energy.to_dict(),
        "demand": meter.demand.to_dict(),
        "counters": meter.counters.to_dict(),
        "alert": alert,
    }


def _energy(en, d):
    # counts and 147 checked here (energy.from_dict takes what it is given)
    for x in d["counts"]:
        if not isinstance(x, int) or not 0 <= x < _COUNT_MAX:
            raise ValueError("energy count")
    r = d.get("resets", 0)
    bad = not isinstance(r, int) or not 0 <= r <= _RESETS_MAX
    # a count that only grows: a bad one reads its top, never fewer resets
    en.from_dict({"counts": d["counts"], "resets": _RESETS_MAX if bad else r})
    return bad


def _counters(ct, d):
    for k in ("pulses_imp", "pulses_exp"):
        x = d[k]
        if not isinstance(x, int) or not 0 <= x <= 0xFFFFFFFF:
            raise ValueError(k)
    ct.from_dict(d)


def restore(meter, state):
    """Put a stored state back, each part on its own and every field
    checked: a part refused keeps its defaults (the configuration: field by
    field, config.from_dict). Returns the 7401 bits to latch: those the
    record carried, and A_FIELD for anything refused. Energy refused is
    zero and counted in 147 like a reset."""
    m = meter
    bits = 0
    for key, fn, arg in (("config", _config, m.config), ("energy", _energy, m.energy),
                         ("demand", _demand, m.demand), ("counters", _counters, m.counters)):
        try:
            if fn(arg, state[key]):
                bits = A_FIELD
        except (ValueError, KeyError, TypeError, AttributeError):
            bits = A_FIELD
            if key == "energy":
                m.energy.clear()
    a = state.get("alert", 0)
    if not isinstance(a, int) or not 0 <= a <= A_LATCHED:
        a = A_LATCHED
    return bits | (a & A_LATCHED)


def _config(c, d):
    return not c.from_dict(d)  # True: a field refused


def _demand(dm, d):
    dm.from_dict(d)


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
        return self.latched | (A_SAVE_FAILED if self.store.failing else 0)

    def boot(self):
        state = self.store.load_state()
        m = self.meter
        st = self.store.status
        now = A_DEFAULTS if st == ST_CORRUPT else A_OLDER if st == ST_FALLBACK else 0
        self.fresh = state is None and st == ST_EMPTY
        bits = now
        if state is not None:
            bits |= restore(m, state)  # with the bits not yet acknowledged
        if now:
            en = m.energy  # the energy went back: counted like a reset (147)
            en.resets = min(en.resets + 1, _RESETS_MAX)
        self.latched = bits & A_LATCHED
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
