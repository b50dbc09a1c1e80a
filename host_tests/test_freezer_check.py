# manifest.py refuses a MicroPython tree whose freezer (tools/mpy-tool.py)
# aligns frozen armv6m native code to 2 bytes (v1.28.0), and freezes
# neither main.py nor the host-only modules. _V1_28_0 is the part of
# v1.28.0's RawCodeNative.__init__ that decides the alignment, as upstream
# has it (github.com/micropython/micropython, tag v1.28.0, tools/mpy-tool.py).
import os

import pytest

import freezer_check as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_V1_28_0 = '''
        # Allow single-byte alignment by default for x86/x64.
        # ARM needs word alignment, ARM Thumb needs halfword, due to instruction size.
        # Xtensa needs word alignment due to the 32-bit constant table embedded in the code.
        if config.native_arch in (
            MP_NATIVE_ARCH_ARMV6,
            MP_NATIVE_ARCH_XTENSA,
            MP_NATIVE_ARCH_XTENSAWIN,
        ):
            # ARMV6 or Xtensa -- four byte align.
            self.fun_data_attributes += " __attribute__ ((aligned (4)))"
        elif (
            MP_NATIVE_ARCH_ARMV6M <= config.native_arch <= MP_NATIVE_ARCH_ARMV7EMDP
        ) or MP_NATIVE_ARCH_RV32IMC <= config.native_arch <= MP_NATIVE_ARCH_RV64IMC:
            # ARMVxxM or RV{32,64}IMC -- two byte align.
            self.fun_data_attributes += " __attribute__ ((aligned (2)))"
'''
# the one-line fix FIX names
_FIXED = _V1_28_0.replace("            MP_NATIVE_ARCH_ARMV6,\n",
                          "            MP_NATIVE_ARCH_ARMV6,\n            MP_NATIVE_ARCH_ARMV6M,\n")


def _tree(tmp_path, text):
    (tmp_path / "tools").mkdir()
    (tmp_path / "tools" / "mpy-tool.py").write_text(text)
    return str(tmp_path)


def test_v1_28_0_freezer_is_refused_with_the_fix_named(tmp_path, monkeypatch):
    monkeypatch.delenv("METER_SKIP_FREEZER_CHECK", raising=False)
    assert F.aligns_armv6m_to_4(_V1_28_0) is False
    p = F.problem(_tree(tmp_path, _V1_28_0))
    assert "2 bytes" in p and F.FIX in p and "MP_NATIVE_ARCH_ARMV6M" in F.FIX and "\n" not in p
    with pytest.raises(SystemExit):
        F.require(str(tmp_path))


def test_fixed_freezer_is_accepted(tmp_path, monkeypatch):
    monkeypatch.delenv("METER_SKIP_FREEZER_CHECK", raising=False)
    assert F.aligns_armv6m_to_4(_FIXED) is True
    assert F.problem(_tree(tmp_path, _FIXED)) is None
    F.require(str(tmp_path))


def test_unrecognised_or_missing_freezer_is_refused_unless_skipped(tmp_path, monkeypatch):
    monkeypatch.delenv("METER_SKIP_FREEZER_CHECK", raising=False)
    assert F.aligns_armv6m_to_4("def f():\n    pass\n") is None
    assert "not laid out" in F.problem(_tree(tmp_path, "x = 1\n"))
    assert "cannot read" in F.problem(str(tmp_path / "nowhere"))
    assert "MPY_DIR" in F.problem(None)
    monkeypatch.setenv("METER_SKIP_FREEZER_CHECK", "1")
    assert F.problem(None) is None


class _ManifestFile:
    # what tools/manifestfile.py hands a manifest: bound methods of an
    # object holding the path variables
    def __init__(self, mpy_dir):
        self._path_vars = {"MPY_DIR": mpy_dir, "PORT_DIR": "/port"}
        self.modules = []
        self.packages = []
        self.includes = []

    def include(self, path):
        self.includes.append(path)

    def module(self, name, base_path="."):
        self.modules.append(base_path + "/" + name)

    def package(self, name, base_path="."):
        self.packages.append(base_path + "/" + name)

    def metadata(self, **kw):
        pass


def _run_manifest(mf):
    g = {"include": mf.include, "module": mf.module, "package": mf.package, "metadata": mf.metadata,
         "__file__": os.path.join(ROOT, "manifest.py")}
    with open(os.path.join(ROOT, "manifest.py")) as f:
        exec(f.read(), g)


def test_manifest_finds_mpy_dir_and_refuses_v1_28_0(tmp_path, monkeypatch):
    monkeypatch.delenv("METER_SKIP_FREEZER_CHECK", raising=False)
    mf = _ManifestFile(_tree(tmp_path, _V1_28_0))
    assert F.mpy_dir(mf.include) == str(tmp_path)
    with pytest.raises(SystemExit) as e:
        _run_manifest(mf)
    assert F.FIX in str(e.value)
    assert mf.modules == []  # refused before anything is frozen


def test_manifest_freezes_firmware_without_main_or_host_only_modules(tmp_path, monkeypatch):
    monkeypatch.delenv("METER_SKIP_FREEZER_CHECK", raising=False)
    monkeypatch.setenv("METER_BOARD", "pico_ads131m06")
    mf = _ManifestFile(_tree(tmp_path, _FIXED))
    _run_manifest(mf)
    names = [m.rsplit("/", 1)[1] for m in mf.modules]
    assert "main.py" not in names and "regmap.py" not in names and "modbus_tcp.py" not in names
    for needed in ("runtime.py", "registers.py", "regtable.py", "pico_ads131m06.py", "board.py"):
        assert needed in names, needed
    assert mf.packages == ["boards/drivers"]
    assert mf.includes == ["$(PORT_DIR)/boards/manifest.py"]
