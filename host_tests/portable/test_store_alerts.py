# The store fails loudly and loses nothing acknowledged (issue 13,
# docs/storage.md 'Alerts' and 'When it saves'): the meter (app.App) over
# nvstore's RAM backend, driven one measured second at a time and through
# its Modbus PDU. Registers: 7401 store status, 7402-7403 failed writes,
# 146 bit 7, SunSpec Evt 40175-40176 bit 16 (M_EVENT_OEM01), 147 resets,
# 152 power-ups, 129 commands. CPython and MicroPython (tools/mp_test.py).
import struct

from app import SAVE_BURST, SAVE_REFILL_S, App
from frontend import FrontEnd
from nvstore import NvStore, RamBackend
from persist import SAVE_PERIOD_S, state_of
from readings import E_KINDS, E_TOTAL, E_WH_IMP

_WH_IMP = E_KINDS * E_TOTAL + E_WH_IMP


class Pin:
    def value(self, v=None):
        return 0


class DeadSlot(RamBackend):
    # a slot that cannot be written: a failing F-RAM or flash sector, or a
    # slot file replaced by a directory in the virtual meter
    def __init__(self, dead):
        RamBackend.__init__(self)
        self.dead = dead

    def write(self, slot, data):
        if slot == self.dead:
            raise OSError(21)
        RamBackend.write(self, slot, data)


def _app(be):
    app = App(FrontEnd(), Pin(), Pin(), NvStore(be), display=False)
    app.boot()
    return app


def _seconds(app, n=1, wh=0.0):
    # n closed seconds of the DSP, each moving `wh` Wh of import energy
    m = app.meter
    d = m.dsp
    for _ in range(n):
        d.energy[_WH_IMP] = wh * 3600.0
        d.seconds += 1
        m._second(d)


def _regs(app, reg, n):
    out = bytearray(2 * n)
    assert app.meter.bank.read(reg - 1, n, out, 0) == 0
    return struct.unpack(">%dH" % n, out)


def _write(app, reg, *values):
    # function 0x10 through the PDU: 0 when answered normally, else the
    # exception code
    req = bytearray([0x10, (reg - 1) >> 8, (reg - 1) & 0xFF, 0, len(values), 2 * len(values)])
    for v in values:
        req += bytes([v >> 8, v & 0xFF])
    out = bytearray(256)
    n = app.pdu.handle(req, len(req), out)
    assert n == 5 or n == 2
    return 0 if n == 5 else out[1]


def _stored(be):
    return NvStore(be).load_state()


def _wh(app):
    return app.meter.energy.counts[_WH_IMP] // 3600000


def test_dead_slot_raises_7401_bit_0_146_bit_7_evt_oem01_and_loses_no_energy():
    for dead in (0, 1):
        be = DeadSlot(dead)
        app = _app(be)
        _seconds(app, SAVE_PERIOD_S + 1, wh=2.0)  # saved at seconds 1 and 61
        assert _regs(app, 7401, 1) == (1,)  # bit 0: saving fails
        assert _regs(app, 146, 1)[0] & 0x80
        assert _regs(app, 40175, 2)[0] == 0x0001  # Evt bit 16: M_EVENT_OEM01
        assert _regs(app, 7402, 2)[1] >= 1  # failed writes since power-up
        # every save went into the live slot: a restart loses nothing
        app2 = _app(be)
        assert _wh(app2) == _wh(app) == 2 * (SAVE_PERIOD_S + 1), dead
        assert _regs(app2, 152, 1) == (2,)


def test_corrupt_store_says_so_until_acknowledged_and_counts_147():
    be = RamBackend()
    app = _app(be)
    assert _write(app, 131, 200) == 0
    _seconds(app, 5, wh=1.0)
    app.save()
    be.corrupt(0, 0)
    be.corrupt(1, 0)
    app = _app(be)  # defaults: the energy and the configuration are gone ...
    assert _regs(app, 131, 1) == (100,) and _wh(app) == 0
    # ... and a master can tell: 7401 bit 1, 147 counted, 146 bit 7, Evt
    assert _regs(app, 7401, 1) == (2,)
    assert _regs(app, 147, 1) == (1,)
    assert _regs(app, 152, 1) == (1,)  # starts again
    _seconds(app)
    assert _regs(app, 146, 1)[0] & 0x80 and _regs(app, 40175, 2)[0] == 1
    # a restart before the acknowledgement keeps the alert, not counted again
    app = _app(be)
    assert _regs(app, 7401, 1) == (2,) and _regs(app, 147, 1) == (1,)
    assert _write(app, 7401, 1) == 3  # only 0 acknowledges
    assert _write(app, 7401, 0) == 0
    assert _regs(app, 7401, 1) == (0,) and _stored(be)["alert"] == 0
    _seconds(app)
    assert not _regs(app, 146, 1)[0] & 0x80 and _regs(app, 40175, 2)[0] == 0
    assert _regs(_app(be), 7401, 1) == (0,)


def test_the_start_check_is_dropped_after_the_restore():
    # nvcheck.py (boot-only) takes no heap while the meter runs
    import sys

    be = RamBackend()
    _app(be)
    _app(be)  # a restore from a record
    assert "nvcheck" not in sys.modules


def test_fallback_to_an_older_record_sets_bit_2_and_counts_147():
    be = RamBackend()
    app = _app(be)  # the boot save: seq 1
    _seconds(app, 3, wh=1.0)
    app.save()  # seq 2, 3 Wh
    _seconds(app, 3, wh=1.0)
    app.save()  # seq 3, 6 Wh: the newest
    be.corrupt(app.persist.store.slot, 30)
    app = _app(be)
    assert _wh(app) == 3  # the older record
    assert _regs(app, 7401, 1) == (4,) and _regs(app, 147, 1) == (1,)


def _crafted(change):
    # a record with a good CRC whose content a Modbus write would refuse
    be = RamBackend()
    app = _app(be)
    assert _write(app, 131, 200) == 0  # a configuration that must survive
    _seconds(app, 2, wh=5.0)
    st = state_of(app.meter)
    change(st)
    be2 = RamBackend()
    NvStore(be2).save_state(st)
    return _app(be2)


def test_crafted_records_every_field_is_range_checked():
    def demand(st):
        st["demand"]["peak_imp"] = [1.0, 1e39, 0.0]  # beyond float32

    app = _crafted(demand)  # bad demand data does not drop the configuration
    assert _regs(app, 131, 1) == (200,) and _wh(app) == 10
    assert _regs(app, 7401, 1) == (8,) and app.meter.demand.peak_imp == [0.0, 0.0, 0.0]

    def power_ups(st):
        st["config"]["power_ups"] = -7

    app = _crafted(power_ups)  # read 65530 before: now 0, counted on to 1
    assert _regs(app, 152, 1) == (1,) and _regs(app, 7401, 1) == (8,)
    assert _regs(app, 131, 1) == (200,)

    def resets(st):
        st["energy"]["resets"] = 10 ** 12

    app = _crafted(resets)  # read 4096 before: a count only grows, so its top
    assert _regs(app, 147, 1) == (32767,) and _wh(app) == 10 and _regs(app, 7401, 1) == (8,)

    def counts(st):
        st["energy"]["counts"][3] = -1

    app = _crafted(counts)  # energy refused: zero, and counted like a reset
    assert _wh(app) == 0 and _regs(app, 147, 1) == (1,) and _regs(app, 131, 1) == (200,)

    def ct(st):
        st["config"]["ct_primary"] = 1  # 131 refuses 1: its default, the rest kept
        st["config"]["address"] = 9

    app = _crafted(ct)
    assert _regs(app, 131, 1) == (100,) and _regs(app, 7101, 1) == (9,)
    assert _regs(app, 7401, 1) == (8,)


def test_a_configuration_write_is_in_the_store_before_the_reply():
    be = RamBackend()
    app = _app(be)
    assert _write(app, 131, 400) == 0
    # no second has passed: the record already holds it (a kill now loses nothing)
    assert _stored(be)["config"]["ct_primary"] == 400
    _seconds(app, 2, wh=3.0)
    assert _write(app, 129, 30078) == 0  # clear energy: saved before the reply too
    st = _stored(be)
    assert st["energy"]["resets"] == 1 and st["energy"]["counts"][_WH_IMP] == 0
    assert _write(app, 129, 16498) == 0 and _stored(be)["counters"]["pulses_imp"] == 0


def test_a_write_that_changes_nothing_saves_nothing():
    be = RamBackend()
    app = _app(be)
    n = be.writes
    for _ in range(20):  # the chatty master: 20 writes of the present values
        assert _write(app, 130, 40, 100, 1, 100, 600) == 0
        assert _write(app, 158, 0) == 0  # 158 is not kept either
    assert be.writes == n


def test_save_budget_then_exception_6_changes_nothing():
    be = RamBackend()
    app = _app(be)
    for k in range(SAVE_BURST):
        assert _write(app, 137, k & 1) == 0, k  # 137 (default 1) toggled: a change each time
    n = be.writes
    want = _regs(app, 137, 1)
    assert _write(app, 137, want[0] ^ 1) == 6  # busy: retry later
    assert _regs(app, 137, 1) == want and be.writes == n
    assert _write(app, 137, want[0]) == 0  # the present value: no save needed
    _seconds(app, SAVE_REFILL_S)  # one more save earned
    assert _write(app, 137, want[0] ^ 1) == 0
    assert _write(app, 137, want[0]) == 6


def test_a_write_the_store_cannot_save_is_exception_4_and_retried():
    be = RamBackend()
    app = _app(be)
    be.fail_writes = True
    assert _write(app, 131, 250) == 4  # not durable: not acknowledged
    assert _regs(app, 7401, 1) == (1,)
    be.fail_writes = False
    _seconds(app)  # retried at the end of the second
    assert _stored(be)["config"]["ct_primary"] == 250
    _seconds(app)
    assert _regs(app, 7401, 1) == (0,)


def test_129_21211_and_21212_not_more_often_than_every_10_s():
    # datasheet register 129: "Write no more frequently than every 10 seconds"
    app = _app(RamBackend())
    assert _write(app, 150, 0) == 0  # sync-to-comms
    for cmd in (21211, 21212):
        assert _write(app, 129, cmd) == 0
        assert _write(app, 129, cmd) == 6
        _seconds(app, 9)
        assert _write(app, 129, cmd) == 6
        _seconds(app, 1)
        assert _write(app, 129, cmd) == 0


def test_peak_reset_21212_is_saved_once_it_took_effect():
    be = RamBackend()
    app = _app(be)
    dm = app.meter.demand
    dm.peak_imp[0] = 5000.0  # an old peak
    app.save()
    assert _write(app, 129, 21212) == 0
    _seconds(app)  # takes effect at the end of the next second, then saved
    assert dm.peak_imp[0] == dm.present[0] == 0.0
    assert _stored(be)["demand"]["peak_imp"][0] == 0.0


def test_docs_storage_md_numbers():
    # 'When it saves': the energy-loss bound and the save budget's wear
    from config import Config

    kwh = SAVE_PERIOD_S * Config().max_power_w / 3.6e6  # 60 s at register 135
    assert abs(kwh - 1.73) < 0.005, kwh
    assert SAVE_BURST == 30 and 86400 // SAVE_REFILL_S == 288
    extra = 1450.0 / (1450 + 288)  # the lifetimes' factor under a hostile master
    assert abs(extra - 0.83) < 0.005 and abs(11.0 * extra - 9.2) < 0.05
