# The start's check of a stored record (persist.restore loads this module
# for it and drops it again: boot-only code takes no heap while the meter
# runs). Each part is put back on its own and every field checked as a
# Modbus write of it would be; a part or field refused takes its default
# and sets 7401 bit 3 (A_FIELD), the rest is kept (docs/storage.md 'Every
# restored field is checked').
from config import DEFAULTS, ConfigError

A_FIELD = 8  # persist.A_FIELD
A_LATCHED = 14  # persist.A_LATCHED: 7401 bits 1-3
_RESETS_MAX = 32767  # 147
_COUNT_MAX = 1 << 64  # mWs: 5.1e9 kWh, decades at the largest configurable power
# Counters kept beside the settings, not settable: (key, top, what a stored
# one outside 0..top reads). 152 wraps; the calibration audit (7212-7217)
# only grows, so a bad count reads its top, never fewer than there were.
NV_INTS = (("power_ups", 32767, 0), ("cal_count", 65535, 65535), ("cal_t0", 65535, 0),
           ("cal_t1", 65535, 0), ("cal_t2", 65535, 0), ("cal_pu", 32767, 0),
           ("cal_fails", 65535, 65535))
_ERRORS = (ValueError, KeyError, TypeError, AttributeError)


def _int(x, top):
    return isinstance(x, int) and not isinstance(x, bool) and 0 <= x <= top


def config(c, d):
    """Load a stored configuration into Config c, every field checked as a
    Modbus write of it would be (unknown keys ignored). A refused field
    keeps its present value (at start: the factory default); False when
    any was refused."""
    changes = {k: d[k] for k in d if k in DEFAULTS and k != "log_page"}
    ok = True
    try:
        c.apply(changes)
    except ConfigError:
        ok = False
        # one by one, twice: 134 is checked against 133, and a dict has no
        # order on MicroPython
        for _ in range(2):
            for k in changes:
                try:
                    c.apply({k: changes[k]})
                except ConfigError:
                    pass
    for k, top, bad in NV_INTS:
        x = d.get(k, 0)
        if not _int(x, top):
            ok = False
            x = bad
        setattr(c, k, x)
    return ok


def _energy(en, d):
    # 10 counts in 0 .. 2^64 mWs, else the part is refused; 147 in 0-32767,
    # else its top (never fewer resets than there were)
    for x in d["counts"]:
        if not _int(x, _COUNT_MAX):
            raise ValueError
    r = d.get("resets", 0)
    bad = not _int(r, _RESETS_MAX)
    en.from_dict({"counts": d["counts"], "resets": _RESETS_MAX if bad else r})
    return bad


def _counters(ct, d):
    for k in ("pulses_imp", "pulses_exp"):
        if not _int(d[k], 0xFFFFFFFF):
            raise ValueError
    ct.from_dict(d)


def _config(c, d):
    return not config(c, d)


def _demand(dm, d):
    # six peaks, finite float32 (what 32-37 and 299-310 carry; not NaN)
    for k in ("peak_imp", "peak_exp"):
        for x in d[k]:
            if not -3.4e38 < float(x) < 3.4e38:
                raise ValueError
    dm.from_dict(d)


def restore(m, state):
    """The 7401 bits to latch: those the record carried, and A_FIELD for
    anything refused. Energy refused is zero and counted in 147."""
    bits = 0
    for key, fn, arg in (("config", _config, m.config), ("energy", _energy, m.energy),
                         ("demand", _demand, m.demand), ("counters", _counters, m.counters)):
        try:
            if fn(arg, state[key]):
                bits = A_FIELD
        except _ERRORS:
            bits = A_FIELD
            if key == "energy":
                m.energy.clear()  # zero, and counted like a reset (147)
    a = state.get("alert", 0)
    if not _int(a, A_LATCHED):
        a = A_LATCHED
    return bits | (a & A_LATCHED)
