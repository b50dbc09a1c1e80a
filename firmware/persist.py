# What the point map marks NV, gathered from the meter model into one record
# of the power-fail-safe store (nvstore.py) and put back at start:
# configuration and passwords, power-up counter (152), energy accumulators
# and reset count (147), max demands, pulse counters (39-42).
#
# boot() is the meter's start: the newest good record, or factory defaults
# with an alert when the store is corrupt, or factory defaults (fresh=True)
# when there is none; then the power-up counter goes up by one and the
# state is saved at once.
from nvstore import ST_CORRUPT, ST_EMPTY

# Saved every SAVE_PERIOD_S seconds of running and at once on a power-fail
# signal (docs/storage.md: the flash wear this implies).
SAVE_PERIOD_S = 60


def state_of(meter):
    return {
        "config": meter.config.to_dict(),
        "energy": meter.energy.to_dict(),
        "demand": meter.demand.to_dict(),
        "counters": meter.counters.to_dict(),
    }


def restore(meter, state):
    """Put a stored state back; ValueError (nothing half-applied that
    matters: the caller falls back to defaults) when it does not fit."""
    meter.config.from_dict(state["config"])
    meter.energy.from_dict(state["energy"])
    meter.demand.from_dict(state["demand"])
    meter.counters.from_dict(state["counters"])


class Persist:
    def __init__(self, meter, store):
        self.meter = meter
        self.store = store
        self.fresh = False  # no record at all: a factory-fresh meter
        self.alert = False  # a store was there but unreadable: defaults used
        self.saves = 0

    def boot(self):
        state = self.store.load_state()
        m = self.meter
        if state is None:
            self.fresh = self.store.status == ST_EMPTY
            self.alert = self.store.status == ST_CORRUPT
        else:
            try:
                restore(m, state)
            except (ValueError, KeyError, TypeError):
                # a record that decodes but does not fit this firmware
                self.alert = True
                m.config.factory_reset()
        m.config.count_power_up()
        self.save()
        return self.fresh

    def save(self):
        ok = self.store.save_state(state_of(self.meter))
        if ok:
            self.saves += 1
        return ok
