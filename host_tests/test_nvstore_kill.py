"""The NV store on real files, killed without warning (SIGKILL) while it
saves as fast as it can: every restart finds an intact record, the counter
never goes backwards, and the power-up counter (register 152) goes up by one
per start. CPython only (needs processes and signals)."""

import os
import signal
import subprocess
import sys
import time

from nvstore import ST_CORRUPT, FileBackend, NvStore

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CHILD = r"""
import sys
sys.path[:0] = [sys.argv[1] + "/host_tests/fakes", sys.argv[1] + "/firmware"]
from nvstore import FileBackend, NvStore
st = NvStore(FileBackend(sys.argv[2] + "/nv_a", sys.argv[2] + "/nv_b"))
state, alert = st.boot({"wh": 0, "power_ups": 0, "pad": "x" * 3000})
print("up", state["power_ups"], state["wh"], flush=True)
while True:
    state["wh"] += 1
    st.save_state(state, verify=False)
"""


def test_sigkill_while_saving(tmp_path):
    last_wh = -1
    last_ups = 0
    for run in range(6):
        p = subprocess.Popen([sys.executable, "-c", CHILD, ROOT, str(tmp_path)],
                             stdout=subprocess.PIPE, text=True)
        line = p.stdout.readline().split()
        assert line[0] == "up"
        ups, wh = int(line[1]), int(line[2])
        assert ups == last_ups + 1, (run, ups, last_ups)
        assert wh >= last_wh
        time.sleep(0.05 + 0.03 * run)
        p.send_signal(signal.SIGKILL)
        p.wait()
        p.stdout.close()
        st = NvStore(FileBackend(str(tmp_path / "nv_a"), str(tmp_path / "nv_b")))
        state = st.load_state()
        assert state is not None and st.status != ST_CORRUPT
        assert state["wh"] >= wh
        last_wh = state["wh"]
        last_ups = state["power_ups"]
    assert last_wh > 0


def test_file_backend_missing_and_truncated(tmp_path):
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    st = NvStore(FileBackend(a, b))
    assert st.load() is None
    assert st.save(b"one") and st.save(b"two")
    with open(b, "r+b") as f:  # slot B (newest) cut short
        f.truncate(10)
    st2 = NvStore(FileBackend(a, b))
    assert st2.load() == b"one"
    os.remove(a)
    assert NvStore(FileBackend(a, b)).load() is None
