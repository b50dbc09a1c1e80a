"""Run the DSP's per-sample loop as the RP2040 would: the armv6m machine
code that `mpy-cross -march=armv6m` makes of firmware/dsp_kernel.py,
executed instruction by instruction in an ARM emulator (unicorn) over one
second of three-phase frames, every instruction given its Cortex-M0+ cycle
count (ARMv6-M TRM: data processing 1, LDR/STR 2, LDM/STM/PUSH/POP 1+N,
taken branch 2, not-taken conditional branch 1, BL 3, BX/BLX 2; MULS 1 on
the RP2040's single-cycle multiplier). No flash wait states: the .mpy's
native code runs from RAM.

The emulated run is checked against the same kernel run under CPython on
the same frames: every sum and state word must match, so the count is of
code that computes the right answer. The MicroPython runtime calls the
function makes on entry (argument conversion) are stubbed and not counted;
the loop never calls out.
"""

import math
import os
import sys
from array import array

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CODE = 0x10000000
STUB = 0x10080000
SENTINEL = 0x10090000
RAM = 0x20000000
FUNTAB = RAM
SELF = RAM + 0x1000
ARGS = RAM + 0x1300
BUF = RAM + 0x10000
ST = RAM + 0x40000
ACC = RAM + 0x41000
STACK_TOP = RAM + 0xF0000


def _frames(fs, seconds=1):
    sys.path[0:0] = [os.path.join(ROOT, "host_tests", "fakes"), os.path.join(ROOT, "firmware")]
    from frontend import FrontEnd

    fe = FrontEnd(24, fs)
    n = fs * seconds
    buf = array("i", bytes(24 * n))
    vs = fe.rail / fe.v_full_scale_peak()
    is_ = fe.rail / (fe.i_full_scale_peak_pu() * 100)
    w = 2 * math.pi * 50.0 / fs
    for j in range(n):
        for k in range(3):
            th = j * w - k * 2.0943951023931953
            buf[6 * j + k] = int(round(325.27 * math.cos(th) * vs))
            buf[6 * j + 3 + k] = int(round(14.142 * math.cos(th - 0.5236) * is_))
    return fe, buf


def _cycles(ins):
    m = ins.mnemonic
    if m.startswith(("ldr", "str")):
        return 2
    if m.startswith(("ldm", "stm", "push", "pop")):
        extra = 2 if (m == "pop" and "pc" in ins.op_str) else 0
        return 1 + len(ins.op_str.split(",")) + extra
    if m == "bl":
        return 3
    if m in ("bx", "blx"):
        return 2
    if m == "add" and ins.op_str.startswith("pc"):
        return 3  # a write to pc refills the pipeline
    return 1


def run(mpy_path=None, fs=2520):
    import capstone
    import unicorn as U
    import unicorn.arm_const as A

    sys.path.insert(0, os.path.join(ROOT, "tools"))
    import thumb_count

    if mpy_path is None:
        thumb_count.count()
        mpy_path = os.path.join(ROOT, "build", "dsp_kernel_armv6m.mpy")
    data = open(mpy_path, "rb").read()
    func, _ = thumb_count.loop_of(mpy_path)
    start = func[0][0]
    code = data[start:]

    fe, buf = _frames(fs)  # puts firmware/ on the path
    import dsp_kernel as K
    from dsp import Dsp

    # state as the DSP sets it up, then a second to learn offsets and timing
    d = Dsp(fe)
    d.process(buf)
    st0 = array("i", d.st)
    st0[K.ST_SX] = 0  # the RP2040's 32-bit words
    st0[K.ST_ZSTOP] = 1 << 30  # the whole second through: no window ends in it
    acc0 = array("i", bytes(4 * K.ACC_LEN))

    mu = U.Uc(U.UC_ARCH_ARM, U.UC_MODE_THUMB)
    mu.mem_map(CODE, 0x100000)
    mu.mem_map(RAM, 0x100000)
    mu.mem_write(CODE, code)
    mu.mem_write(STUB, b"\x70\x47")  # bx lr: argument conversions return their input
    tab = b"".join((STUB | 1).to_bytes(4, "little") for _ in range(128))
    mu.mem_write(FUNTAB, tab)
    mu.mem_write(SELF + 4, (SELF + 0x100).to_bytes(4, "little"))
    mu.mem_write(SELF + 0x100 + 0xC, (SELF + 0x200).to_bytes(4, "little"))
    mu.mem_write(SELF + 0x200, FUNTAB.to_bytes(4, "little"))
    nframes = fs
    args = [BUF, 0, nframes, ST, ACC]
    mu.mem_write(ARGS, b"".join(a.to_bytes(4, "little") for a in args))
    mu.mem_write(BUF, bytes(buf))
    mu.mem_write(ST, bytes(st0))
    mu.mem_write(ACC, bytes(acc0))
    mu.reg_write(A.UC_ARM_REG_R0, SELF)
    mu.reg_write(A.UC_ARM_REG_R1, 5)
    mu.reg_write(A.UC_ARM_REG_R2, 0)
    mu.reg_write(A.UC_ARM_REG_R3, ARGS)
    mu.reg_write(A.UC_ARM_REG_SP, STACK_TOP)
    mu.reg_write(A.UC_ARM_REG_LR, SENTINEL | 1)

    md = capstone.Cs(capstone.CS_ARCH_ARM, capstone.CS_MODE_THUMB)
    cache = {}
    tally = {"ins": 0, "cyc": 0, "prev": None}

    def hook(uc, address, size, _):
        prev = tally["prev"]
        if prev is not None and prev[2] and address != prev[0] + prev[1]:
            tally["cyc"] += 1  # a conditional branch was taken: 2 cycles
        info = cache.get(address)
        if info is None:
            ins = next(md.disasm(bytes(uc.mem_read(address, 4)), address))
            cond = ins.mnemonic.startswith("b") and len(ins.mnemonic) == 3 and ins.mnemonic not in ("blx",)
            info = cache[address] = (_cycles(ins) + (1 if ins.mnemonic == "b" else 0), size, cond)
        if STUB <= address < STUB + 4:
            tally["prev"] = None
            return
        tally["ins"] += 1
        tally["cyc"] += info[0]
        tally["prev"] = (address, info[1], info[2])

    mu.hook_add(U.UC_HOOK_CODE, hook)
    mu.emu_start(CODE | 1, SENTINEL)
    st1 = array("i", mu.mem_read(ST, 4 * K.ST_LEN))
    acc1 = array("i", mu.mem_read(ACC, 4 * K.ACC_LEN))

    # the same call under CPython, for the check
    st2 = array("i", st0)
    acc2 = array("i", acc0)
    K.accumulate(buf, 0, nframes, st2, acc2)
    same = list(st1) == list(st2) and list(acc1) == list(acc2)
    return {"frames": nframes, "instructions": tally["ins"], "cycles": tally["cyc"],
            "cycles_per_frame": tally["cyc"] / nframes, "cycles_per_sample": tally["cyc"] / nframes / 6,
            "core_pct_125mhz": 100.0 * tally["cyc"] / nframes * fs / 125e6, "matches_cpython": same}


if __name__ == "__main__":
    r = run()
    print(r)
