# What the current headroom (frontend.py: full scale 4 x the CT rating
# peak, crest factor 3.33 at 120 %) costs each front end at low current:
# the synthesizer's codes (0.5 LSB rms noise, as the scenarios) through the
# firmware DSP, worst error over 3 windows after 2 of settling. docs/dsp.md
# 'Headroom and clipping' quotes these figures; print the whole table with
#     PYTHONPATH=firmware:tools:host_tests/fakes .venv/bin/python host_tests/portable/test_dsp_headroom.py
import math
from array import array

from dsp import Dsp
from frontend import FrontEnd
from readings import R_I, R_P
from synth import Synth

# (bits, fs): the reference board (ADS131M06), the 16-bit sim front end,
# the Pico's own ADC (pico_onboard)
FRONT_ENDS = ((24, 2500), (16, 2520), (12, 2500))


def worst_errors(bits, fs, pct, lag, seconds=5):
    """Worst |error| % of I and of P over the windows after the second."""
    i = pct  # % of a 100 A CT
    seg = {"duration_s": seconds + 1, "frequency_hz": 50.0,
           "phases": {"A": {"v_rms": 230.0, "v_deg": 0, "i_rms": i, "i_deg": -lag}}}
    sc = {"name": "t", "config": {"system_type": 10, "ct_primary_a": 100, "system_voltage_v": 230},
          "frontend": {"noise_lsb": 0.5, "bits": bits, "fs_hz": fs}, "segments": [seg]}
    sy = Synth(sc, seed=1)
    d = Dsp(FrontEnd(bits, fs))
    d.configure(10, 100, 1, 1.0)
    buf = array("i", bytes(24 * fs))
    p = 230.0 * i * math.cos(math.radians(lag))
    wi = wp = 0.0
    for s in range(seconds):
        d.process(buf, sy.fill(buf, fs))
        if s >= 2:
            wi = max(wi, abs(d.readings[R_I] / i - 1.0) * 100.0)
            wp = max(wp, abs(d.readings[R_P] / p - 1.0) * 100.0)
    return wi, wp


def test_24_and_16_bit_keep_0_05_percent_at_1_percent_current_with_headroom():
    # issue 12 target: readings within +-0.05 % from 1 % to 120 % In on the
    # 24-bit front end; the 16-bit one holds it too at 1 % (PF 0.5 is the
    # worst: 0.022 % and 0.039 %), far inside class 0.2S (+-0.5 % there)
    for bits, fs in FRONT_ENDS[:2]:
        for lag in (0.0, 60.0):
            wi, wp = worst_errors(bits, fs, 1.0, lag)
            assert wi < 0.05 and wp < 0.05, (bits, lag, wi, wp)


def test_onboard_12_bit_adc_meets_class_0_2S_from_5_percent():
    # the Pico's own ADC (not revenue-grade) with the same headroom: 1 % of
    # In is 7 codes peak, so I reads within about 1 % there; from 5 % of In
    # it is inside class 0.2S (+-0.4 % at PF 1, +-0.5 % at PF 0.5, 5-10 %)
    wi, wp = worst_errors(12, 2500, 1.0, 0.0)
    assert 0.2 < wi < 1.5, wi
    for lag in (0.0, 60.0):
        wi, wp = worst_errors(12, 2500, 5.0, lag)
        assert wi < 0.2 and wp < 0.2, (lag, wi, wp)


if __name__ == "__main__":
    print("worst error %% over 3 windows, 50 Hz, 0.5 LSB noise: I, P at PF 1 | I, P at PF 0.5")
    for bits, fs in FRONT_ENDS:
        for pct in (1.0, 5.0, 10.0, 100.0, 120.0):
            a = worst_errors(bits, fs, pct, 0.0)
            b = worst_errors(bits, fs, pct, 60.0)
            print("%2d-bit %5.0f %% In: %.4f %.4f | %.4f %.4f" % (bits, pct, a[0], a[1], b[0], b[1]))
