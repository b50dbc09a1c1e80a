"""Feed a scenario's synthetic waveforms through the firmware DSP and print
the readings every second (the `make demo` target).

    python tools/demo.py --scenario tools/scenarios/default.json [--seconds N]
"""

import argparse
import math
import os
import sys
from array import array

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# boards/ before tools/: `import sim` is the board, not tools/sim.py
sys.path[0:0] = [os.path.join(ROOT, sub) for sub in ("host_tests/fakes", "firmware", "boards", "tools")]

import readings as R  # noqa: E402
import scenario  # noqa: E402
from dsp import Dsp  # noqa: E402
from sim import SynthSource  # noqa: E402


def fmt(dsp, idx, spec):
    if not dsp.valid & (1 << idx):
        return "----".rjust(len(spec % 0.0))
    return spec % dsp.readings[idx]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scenario", required=True)
    ap.add_argument("--seconds", type=int, default=0, help="stop after N seconds (0: whole scenario)")
    a = ap.parse_args()
    try:
        sc = scenario.load(a.scenario)
    except scenario.ScenarioError as e:
        sys.exit("bad scenario: %s" % e)
    src = SynthSource(sc)
    dsp = Dsp(src.frontend)
    c = sc.config
    dsp.configure(c["system_type"], c["ct_primary_a"], c["ct_secondary_v"], c["pt_ratio"])
    print("%s (system type %d, CT %d A, PT %g, %d-bit, %d/s)" % (
        sc.name, c["system_type"], c["ct_primary_a"], c["pt_ratio"], src.frontend.bits, src.frontend.fs))
    print("   s |  VLN A   VLN B   VLN C |  VLL AB |   I A     I B     I C  |"
          "   P kW   Q kvar   S kVA    PF  |    Hz   | kWh imp  kWh exp | flags")
    totals = [0.0, 0.0]

    def second(d):
        r = d.readings
        t = R.E_TOTAL * R.E_KINDS
        totals[0] += d.energy[t + R.E_WH_IMP] / 3.6e6
        totals[1] += d.energy[t + R.E_WH_EXP] / 3.6e6
        print("%4d | %s %s %s | %s | %s %s %s | %s %s %s %s | %s | %8.4f %8.4f | %02x" % (
            d.seconds, fmt(d, R.R_VLN, "%6.1f"), fmt(d, R.R_VLN + 1, "%6.1f"), fmt(d, R.R_VLN + 2, "%6.1f"),
            fmt(d, R.R_VLL, "%7.1f"), fmt(d, R.R_I, "%6.2f"), fmt(d, R.R_I + 1, "%6.2f"),
            fmt(d, R.R_I + 2, "%6.2f"), "%7.3f" % (r[R.R_P_TOT] / 1e3), "%7.3f" % (r[R.R_Q_TOT] / 1e3),
            "%7.3f" % (r[R.R_S_TOT] / 1e3), "%6.3f" % r[R.R_PF_TOT], fmt(d, R.R_FREQ, "%7.3f"),
            totals[0], totals[1], d.flags))

    dsp.on_second = second
    buf = array("i", bytes(24 * 252))
    limit = a.seconds * src.frontend.fs if a.seconds else math.inf
    fed = 0
    while fed < limit:
        n = src.read(buf)
        if n == 0:
            break
        n = int(min(n, limit - fed))
        dsp.process(buf, n)
        fed += n


if __name__ == "__main__":
    main()
