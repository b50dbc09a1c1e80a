"""Refuse to freeze the meter with a MicroPython tree whose freezer
misaligns ARMv6-M native code (manifest.py runs this inside the build).

MicroPython v1.28.0's tools/mpy-tool.py gives frozen native/viper code of
armv6m (the RP2040) `__attribute__ ((aligned (2)))`. The Thumb emitter
loads its constants PC-relative (`ldr rX, [pc, #n]` reads from the word
address Align(PC, 4) + n), so a function that lands at an address = 2 mod
4 reads the word next to its constant: in drivers/ads131m06.py `_put`'s
`& _MASK30` read 0xFFFFE001 and the ring head went 1, 0, 1, ...
(issue 11). .mpy files loaded from the filesystem are not affected: the
runtime allocates their code word-aligned.
"""

import os
import sys

FIX = ("add MP_NATIVE_ARCH_ARMV6M to the `aligned (4)` arch list in RawCodeNative.__init__ of "
       "tools/mpy-tool.py")
_SKIP = "METER_SKIP_FREEZER_CHECK"


def aligns_armv6m_to_4(text):
    """From mpy-tool.py's source: True when RawCodeNative word-aligns
    armv6m code, False when it does not, None when the code is not laid
    out as in v1.28.0 (an `if config.native_arch in (...)` tuple right
    before the `aligned (4)` attribute)."""
    i = text.find("aligned (4)")
    if i < 0:
        return None
    j = text.rfind("if config.native_arch in (", 0, i)
    if j < 0:
        return None
    archs = text[j:text.find(")", j)]
    return "MP_NATIVE_ARCH_ARMV6M" in archs


def mpy_dir(manifest_include=None):
    """$(MPY_DIR) of the build running the manifest: the path variables of
    tools/manifestfile.py's ManifestFile (whose bound methods the manifest
    is given), else tools/makemanifest.py's VARS, else $MPY_DIR."""
    owner = getattr(manifest_include, "__self__", None)
    d = getattr(owner, "_path_vars", {}).get("MPY_DIR")
    if not d:
        d = getattr(sys.modules.get("__main__"), "VARS", {}).get("MPY_DIR")
    return d or os.environ.get("MPY_DIR")


def problem(mpy_root):
    """None when the freezer at mpy_root is safe for armv6m, else one line
    saying what to do."""
    if os.environ.get(_SKIP):
        return None
    if not mpy_root:
        return ("cannot find the MicroPython tree ($(MPY_DIR)) to check its freezer; set MPY_DIR "
                "or %s=1" % _SKIP)
    tool = os.path.join(mpy_root, "tools", "mpy-tool.py")
    try:
        with open(tool, encoding="utf-8") as f:
            ok = aligns_armv6m_to_4(f.read())
    except OSError as e:
        return "cannot read %s (%s); set %s=1 to freeze anyway" % (tool, e, _SKIP)
    if ok:
        return None
    if ok is None:
        return ("%s is not laid out as v1.28.0's: check by hand that it aligns armv6m native code "
                "to 4 bytes, then set %s=1" % (tool, _SKIP))
    return ("%s aligns frozen armv6m viper code to 2 bytes (wrong PC-relative constants); "
            "one-line fix: %s" % (tool, FIX))


def require(mpy_root):
    p = problem(mpy_root)
    if p:
        raise SystemExit("meter manifest: " + p)
