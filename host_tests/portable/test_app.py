# The runtime every board drives (firmware/app.py), fed frames directly.
from app import App
from readings import E_TOTAL, E_WH_IMP
from wave import Wave, phases


class Pin:
    def __init__(self):
        self.level = 0

    def value(self, v=None):
        if v is None:
            return self.level
        self.level = v


def test_pulses_cover_the_import_energy_from_the_first_second():
    # register 144 = 10 Wh a pulse; 3 x 230 V x 50 A at PF 1 = 34.5 kW: 9.58 Wh
    # a second. Pulses started + backlog = whole pulses of the import energy
    # register, the first second's included (no pulse lost at power-up).
    w = Wave(phases(230.0, 50.0))
    app = App(w.fe, Pin(), Pin())
    app.boot()
    app.meter.config.apply({"pulse_wh": 10})
    ms = 0
    for _ in range(12):
        for _ in range(10):
            app.samples(w.frames(252))
            for _ in range(20):
                ms += 5
                app.tick(ms)
    wh = app.meter.energy.count(E_WH_IMP, E_TOTAL) / 3600000
    p = app.pulse
    assert 12 * 9.5 < wh < 12 * 9.7
    assert p.count + p.pending == int(wh / 10), (p.count, p.pending, wh)
    assert p.pending <= 1


def test_frames_lost_are_billed_and_counted_in_7301():
    # the acquisition's lost frames (overruns, CRC drops): the DSP bills
    # them as a gap, registers 7301-7302 count them
    w = Wave(phases(230.0, 50.0))
    app = App(w.fe, Pin(), Pin())
    app.boot()
    app.frames_lost(126)
    app.frames_lost(0)
    for _ in range(10):
        app.samples(w.frames(252))
    assert app.meter.dsp.seconds == 1  # the image is refreshed at the second
    out = bytearray(4)
    assert app.meter.bank.read(7300, 2, out, 0) == 0
    assert out == b"\x00\x00\x00\x7e"
    # the window's energy covers its measured frames (whole cycles: the
    # first window ends at the crossing within 1.25 periods before 1 s) and
    # the 126 lost
    t = app.meter.dsp.window_s
    assert 2520 - 1.25 * 2520 / 50 - 1 < t * 2520 - 126 <= 2520, t
    wh = app.meter.energy.count(E_WH_IMP, E_TOTAL) / 3600000
    assert abs(wh - 3 * 230.0 * 50.0 * t / 3600) < 0.001, wh


def test_clipped_samples_set_register_146_and_count_in_7303():
    # issue 12: the board's decode reports samples at a converter rail
    # (runtime -> App.clipped): register 146 bit 3 (phase A current
    # over-range) for that second, and 7303-7304 count them
    w = Wave(phases(230.0, 50.0))
    app = App(w.fe, Pin(), Pin())
    app.boot()
    out = bytearray(4)
    app.clipped(0x08, 5)
    app.clipped(0x08, 0)  # nothing: nothing changes
    for _ in range(10):
        app.samples(w.frames(252))
    assert app.meter.dsp.seconds == 1
    assert app.meter.bank.read(145, 1, out, 0) == 0
    assert out[1] & 0x3F == 0x08  # bits 0-5; 8-10 are this test's phase-loss alarms
    assert app.meter.bank.read(7302, 2, out, 0) == 0
    assert out == b"\x00\x00\x00\x05"
    for _ in range(10):
        app.samples(w.frames(252))
    assert app.meter.bank.read(145, 1, out, 0) == 0
    assert out[1] & 0x3F == 0  # the next second has none
