"""Count the Cortex-M0+ instructions of the DSP's per-sample loop, as
`mpy-cross -march=armv6m` compiles it for the RP2040.

There is no RP2040 here to time, so this reads the machine code itself: the
viper function is found in the .mpy by its prologue (push {..., lr}), the
main loop as its longest backward jump, and every instruction between the
loop head and that jump is counted and given its ARMv6-M cycle cost
(loads/stores 2, taken branches 2-3, multiply 1 on the RP2040, others 1).
That is an upper bound on one frame's cost: every branch's alternative
(clamp at the rail, the three wiring modes, a zero crossing, the carry that
runs every fourth frame) is counted as if all ran. The count of the path a
typical frame takes (no clamp, one wiring mode, no crossing, the carry
amortised) is estimated by discounting those blocks, reported separately.
"""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _cycles(ins):
    m = ins.mnemonic
    if m.startswith(("ldr", "str")):
        return 2
    if m.startswith(("ldm", "stm", "push", "pop")):
        return 1 + len(ins.op_str.split(","))
    if m in ("b", "bl", "blx", "bx"):
        return 3 if m != "b" else 2
    if m.startswith("b") and len(m) <= 3:
        return 1  # conditional branch, counted as not taken
    return 1


def disassemble(code, start):
    """Linear sweep over Thumb code that skips the literal words viper puts
    after a long jump (ldr rX, [pc, #0]; add pc, rX; .word offset).
    Returns a list of (address, insn, target or None)."""
    import capstone

    md = capstone.Cs(capstone.CS_ARCH_ARM, capstone.CS_MODE_THUMB)
    out = []
    pc = start
    end = len(code)
    while pc < end - 1:
        ins = next(md.disasm(code[pc:pc + 4], pc), None)
        if ins is None:
            pc += 2
            continue
        target = None
        if ins.mnemonic.startswith("b") and ins.op_str.startswith("#"):
            target = int(ins.op_str[1:], 16)
        if ins.mnemonic == "add" and ins.op_str.startswith("pc,") and out and out[-1][1].mnemonic == "ldr":
            # the ldr before loads the word at align4(its address + 4), counted
            # from the function's start (the code is word aligned in memory)
            rel = pc - start + 2
            lit = start + (rel if rel % 4 == 0 else rel + 2)
            off = int.from_bytes(code[lit:lit + 4], "little", signed=True)
            target = pc + 4 + off
            out.append((pc, ins, target))
            pc = lit + 4
            if ins.mnemonic == "pop" and "pc" in ins.op_str:
                break
            continue
        out.append((pc, ins, target))
        pc += ins.size
        if ins.mnemonic == "pop" and "pc" in ins.op_str:
            break
    return out


def loop_of(mpy_path):
    code = open(mpy_path, "rb").read()
    best = []
    for i in range(len(code) - 1):
        if code[i + 1] == 0xB5:  # push {..., lr}
            ins = disassemble(code, i)
            if len(ins) > len(best):
                best = ins
    index = {a: k for k, (a, _, _) in enumerate(best)}
    back = [(a - t, index[t], k) for k, (a, _, t) in enumerate(best)
            if t is not None and t < a and t in index]
    _, first, last = max(back)
    return best, best[first:last + 1]


def count(src=os.path.join(ROOT, "firmware", "dsp_kernel.py")):
    exe = os.path.join(os.path.dirname(sys.executable), "mpy-cross")
    out = os.path.join(ROOT, "build", "dsp_kernel_armv6m.mpy")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    subprocess.run([exe if os.path.exists(exe) else "mpy-cross", "-march=armv6m", "-o", out, src], check=True)
    func, body = loop_of(out)
    return {"function_instructions": len(func), "loop_instructions": len(body),
            "loop_cycles_all_paths": sum(_cycles(i) for _, i, _ in body)}


if __name__ == "__main__":
    r = count()
    print(r)
    print("upper bound per frame: %d cycles = %.0f per channel-sample = %.2f %% of a 125 MHz core at 2520/s"
          % (r["loop_cycles_all_paths"], r["loop_cycles_all_paths"] / 6,
             100 * r["loop_cycles_all_paths"] * 2520 / 125e6))
