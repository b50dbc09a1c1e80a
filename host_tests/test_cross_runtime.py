"""The DSP's integer path gives the same bits under CPython and under the
real MicroPython viper emitter: every sum and state word after a second of
three-phase signal with harmonics, noise-free offsets and a DC step.
This is what lets the accuracy benchmark run the DSP under CPython."""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MICROPYTHON = os.path.join(os.path.dirname(sys.executable), "micropython")

SCRIPT = r"""
import sys
sys.path[:0] = [ROOT + "/firmware", ROOT + "/host_tests/portable"]
import json
from dsp import Dsp
from frontend import FrontEnd
from wave import Wave, phases
for st_type, bits, fs in ((40, 24, 2520), (31, 16, 4000), (11, 24, 8000)):
    d = Dsp(FrontEnd(bits, fs))
    d.configure(st_type, 200, 1, 2.0)
    ch = phases(400.0, 150.0, lag=35.0)
    for c in range(6):
        ch[c].append((ch[c][0][0] * 0.1, 20.0, 3))
    w = Wave(ch, f=51.3, bits=bits, fs=fs, ct=200, pt=2.0, offsets=[300, -200, 100, 50, -75, 9])
    d.process(w.frames(fs))        # one whole second: offsets learnt
    d.process(w.frames(fs - 1))    # and all but one frame of the next
    print(json.dumps([st_type, list(d.st), list(d.acc)]))
"""


def run_here():
    ns = {"ROOT": ROOT}
    code = SCRIPT.replace("ROOT + ", repr(ROOT) + " + ")
    import io
    from contextlib import redirect_stdout
    out = io.StringIO()
    saved = list(sys.path)
    with redirect_stdout(out):
        exec(code, ns)
    sys.path[:] = saved
    return out.getvalue()


def test_integer_path_is_bit_identical_under_micropython():
    code = SCRIPT.replace("ROOT + ", repr(ROOT) + " + ")
    mp = subprocess.run([MICROPYTHON, "-c", code], capture_output=True, text=True, timeout=300)
    assert mp.returncode == 0, mp.stderr + mp.stdout
    here = run_here()
    got = [json.loads(x) for x in mp.stdout.split("\n") if x.strip()]
    want = [json.loads(x) for x in here.split("\n") if x.strip()]
    assert len(got) == 3
    assert got == want
