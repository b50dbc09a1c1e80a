"""The loop's per-turn functions get C-stack frames on the board.

The stock rp2 firmware allocates a bytecode function's frame from the GC heap
when its state (locals + value stack + 3 words per active try) is over 11
words (py/objfun.c VM_MAX_STATE_ON_STACK = 44 bytes); on the emulated Pico
that search of a fragmented heap cost ~35 000 cycles a call and was most of
the loop's load (docs/runtime.md 'Frames from the heap'). tools/frame_check.py
reads the state sizes from the .mpy files the board gets.
"""

import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))

import frame_check  # noqa: E402


def _probe(tmp_path, src):
    p = tmp_path / "probe.py"
    p.write_text(src)
    return {n: (s, e) for n, s, e in frame_check.functions(frame_check.compile_mpy(str(p)))}


def test_the_decoder_reads_locals_and_try_blocks(tmp_path):
    f = _probe(tmp_path, (
        "def one(a):\n    return a\n"
        "def two(a, b):\n    return a\n"
        "def guarded(a):\n    try:\n        a()\n    except Exception:\n        pass\n"
        "def bound(a):\n    try:\n        a()\n    except Exception as e:\n        a(e)\n"))
    assert f["two"][0] == f["one"][0] + 1  # one more local, one more word
    assert f["one"][1] == 0 and f["guarded"][1] == 1
    assert f["bound"][1] == 2  # 'as e' adds a handler that deletes e


def test_state_bytes_count_three_words_per_try_as_the_rp2_build_does():
    # fun_bc_call in the v1.28.0 RPI_PICO firmware: (n_state + 3 * n_exc) * 4
    assert frame_check.state_bytes(9, 1) == 48
    assert frame_check.state_bytes(8, 1) == 44 == frame_check.STACK_FRAME_MAX


@pytest.mark.parametrize("path,name,sizes", frame_check.hot_report(),
                         ids=["%s:%s" % (p, n) for p, n in frame_check.HOT])
def test_a_per_turn_function_keeps_its_frame_off_the_heap(path, name, sizes):
    assert sizes, "%s has no function %s any more: update tools/frame_check.py HOT" % (path, name)
    for s in sizes:
        assert s is None or s <= frame_check.STACK_FRAME_MAX, \
            "%s %s needs %d bytes of state: a heap frame at every call on the board" % (path, name, s)
