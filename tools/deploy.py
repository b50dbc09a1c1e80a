"""Compile the firmware and one board for the RP2040 and copy it to a board.

    python tools/deploy.py --board pico_ads131m06 --port /dev/ttyACM0
    python tools/deploy.py --board pico_onboard --stage-only   # no board needed
    python tools/deploy.py --package-json                      # rewrite package.json

Steps: tools/build_mpy.build() cross-compiles firmware/ and boards/ with
`mpy-cross -march=armv6m`; the chosen board's files are staged in
build/deploy/<board>/ as the board's filesystem will hold them:
    lib/<firmware module>.mpy    every firmware/*.py except HOST_ONLY
    lib/<board>.mpy              the board module
    lib/drivers/<driver>.mpy     boards/drivers/*.py
    board.py                     `from <board> import *`: the runtime imports `board`
    main.py                      firmware/main.py as source (the entry point), if present
then mpremote removes the old /lib tree and copies the staged tree:
    mpremote connect PORT exec <rm -r /lib> + fs cp -r lib : + fs cp board.py :board.py ...
"""

import argparse
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import build_mpy  # noqa: E402

ROOT = build_mpy.ROOT
VERSION = "0.1.0"


# boards/ modules that are not boards: shared by the RP2040 board modules
SHARED = ("board_common.py",)
# firmware/ modules that do not go into /lib: main.py (the entry point, as
# source), regmap.py (the register table with its texts, for tools/ and
# docs; the board reads the generated regtable.py). manifest.py freezes the
# same set.
HOST_ONLY = ("main.py", "regmap.py")
# The network (issue 14, docs/network.md): modbus_tcp.py and firmware/net*.py
# go only onto a board with a radio (NET_BOARDS: the board module it builds
# on), with the web page (net_page.html) and the settings file /net.json.
NET_BOARDS = {"pico_w_ads131m06": ("pico_ads131m06.py",)}
NET_PAGE = "net_page.html"
NET_SETTINGS = os.path.join(ROOT, "net.local.json")  # untracked (.gitignore)


def net_module(f):
    return f == "modbus_tcp.py" or (f.startswith("net") and f.endswith(".py"))


# METER_* environment variables -> /net.json keys (they override net.local.json)
_NET_ENV = (("METER_WIFI_SSID", "wifi_ssid", str), ("METER_WIFI_PASSWORD", "wifi_password", str),
            ("METER_HOSTNAME", "hostname", str), ("METER_MQTT_HOST", "mqtt_host", str),
            ("METER_MQTT_PORT", "mqtt_port", int), ("METER_MQTT_USER", "mqtt_user", str),
            ("METER_MQTT_PASSWORD", "mqtt_password", str), ("METER_MQTT_PREFIX", "mqtt_prefix", str),
            ("METER_MQTT_PERIOD_S", "mqtt_period_s", int), ("METER_HTTP_PORT", "http_port", int),
            ("METER_MODBUS_TCP_PORT", "modbus_tcp_port", int))


def net_settings(path=NET_SETTINGS, env=None):
    """The Pico W's /net.json: net.local.json (never committed), then the
    METER_* environment variables over it. Credentials never enter the
    repository. Bad values stop the deploy with the reason."""
    env = os.environ if env is None else env
    s = {}
    if os.path.exists(path):
        with open(path) as fh:
            try:
                s = json.load(fh)
            except ValueError as e:
                raise SystemExit("deploy: %s is not JSON: %s" % (path, e)) from None
        if not isinstance(s, dict):
            raise SystemExit("deploy: %s must hold one JSON object" % path)
    for var, key, kind in _NET_ENV:
        if var in env:
            try:
                s[key] = kind(env[var])
            except ValueError:
                raise SystemExit("deploy: %s=%r is not a number" % (var, env[var])) from None
    s["page"] = "/lib/" + NET_PAGE
    return s


def boards():
    return sorted(f[:-3] for f in os.listdir(os.path.join(ROOT, "boards"))
                  if f.endswith(".py") and f != "sim.py" and f not in SHARED)


def board_py(board):
    return ("# Written by tools/deploy.py: the board this filesystem runs.\n"
            "BOARD = %r\n"
            "from %s import *  # noqa: F401,F403\n" % (board, board))


def _py(dirname):
    d = os.path.join(ROOT, dirname)
    return sorted(f for f in os.listdir(d) if f.endswith(".py"))


DEPLOY_OPT = 3  # mpy-cross -O3: no line-number tables, ~4.5 KB more heap (docs/memory.md)


def stage(board, build_dir=None, opt=DEPLOY_OPT):
    """Compile and lay out the board's filesystem; returns the stage dir.
    opt: mpy-cross -O level (3, the default: no line numbers in tracebacks,
    ~5 % less bytecode in the heap; 0 for a debugging build; docs/memory.md)."""
    # a private build_dir compiles into its own mpy dir: stages made at the
    # same time do not share build/mpy
    mpy_dir = os.path.join(ROOT, "build", "mpy") if build_dir is None else build_dir.rstrip("/") + ".mpy"
    _sizes, failures = build_mpy.build(mpy_dir, opt)
    if failures:
        raise SystemExit("mpy-cross failed on %d file(s)" % failures)
    out = build_dir or os.path.join(ROOT, "build", "deploy", board)
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(os.path.join(out, "lib", "drivers"))
    net = board in NET_BOARDS
    for f in _py("firmware"):
        if f not in HOST_ONLY and (net or not net_module(f)):
            shutil.copy(os.path.join(mpy_dir, "firmware", f[:-3] + ".mpy"), os.path.join(out, "lib"))
    if net:
        shutil.copy(os.path.join(ROOT, "firmware", NET_PAGE), os.path.join(out, "lib"))
        with open(os.path.join(out, "net.json"), "w") as fh:
            json.dump(net_settings(), fh)
    for f in (board + ".py",) + SHARED + NET_BOARDS.get(board, ()):
        shutil.copy(os.path.join(mpy_dir, "boards", f[:-3] + ".mpy"), os.path.join(out, "lib"))
    for f in _py(os.path.join("boards", "drivers")):
        shutil.copy(os.path.join(mpy_dir, "boards", "drivers", f[:-3] + ".mpy"),
                    os.path.join(out, "lib", "drivers"))
    with open(os.path.join(out, "board.py"), "w") as fh:
        fh.write(board_py(board))
    main = os.path.join(ROOT, "firmware", "main.py")
    if os.path.exists(main):
        shutil.copy(main, os.path.join(out, "main.py"))
    return out


_RM_LIB = ("import os\n"
           "def rm(p):\n"
           " try:\n"
           "  for e in os.ilistdir(p):\n"
           "   q = p + '/' + e[0]\n"
           "   rm(q) if e[1] == 0x4000 else os.remove(q)\n"
           "  os.rmdir(p)\n"
           " except OSError:\n"
           "  pass\n"
           "rm('/lib')\n")


def mpremote():
    exe = os.path.join(os.path.dirname(sys.executable), "mpremote")
    return exe if os.path.exists(exe) else "mpremote"


def deploy_command(port, staged):
    cmd = [mpremote(), "connect", port, "exec", _RM_LIB,
           "+", "fs", "cp", "-r", "lib", ":",
           "+", "fs", "cp", "board.py", ":board.py"]
    if os.path.exists(os.path.join(staged, "main.py")):
        cmd += ["+", "fs", "cp", "main.py", ":main.py"]
    if os.path.exists(os.path.join(staged, "net.json")):
        cmd += ["+", "fs", "cp", "net.json", ":net.json"]
    return cmd + ["+", "reset"]


def package_json():
    """mip's package.json: every firmware, board and driver source file,
    installed flat into /lib (urls relative to this file)."""
    urls = [[f, "firmware/" + f] for f in _py("firmware") if f not in HOST_ONLY]
    urls += [[f, "boards/" + f] for f in _py("boards") if f != "sim.py"]
    urls += [["drivers/" + f, "boards/drivers/" + f] for f in _py(os.path.join("boards", "drivers"))]
    return json.dumps({"urls": urls, "deps": [], "version": VERSION}, indent=2) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--board", default="pico_ads131m06", choices=boards())
    ap.add_argument("--port", default="auto", help="serial port for mpremote (default: auto)")
    ap.add_argument("--stage-only", action="store_true", help="compile and stage, do not copy")
    ap.add_argument("--dry-run", action="store_true", help="print the mpremote command")
    ap.add_argument("--package-json", action="store_true", help="rewrite package.json and exit")
    ap.add_argument("--opt", type=int, default=DEPLOY_OPT, choices=(0, 1, 2, 3),
                    help="mpy-cross -O level (default 3: no line numbers, less heap; 0 to debug)")
    a = ap.parse_args(argv)
    if a.package_json:
        with open(os.path.join(ROOT, "package.json"), "w") as fh:
            fh.write(package_json())
        print("wrote package.json")
        return 0
    staged = stage(a.board, opt=a.opt)
    if a.board in NET_BOARDS and not net_settings().get("wifi_ssid"):
        print("deploy: no Wi-Fi settings (net.local.json or METER_WIFI_SSID): %s will run without"
              " its network (docs/network.md)" % a.board)
    n = sum(len(files) for _d, _s, files in os.walk(staged))
    print("staged %d files for %s in %s" % (n, a.board, os.path.relpath(staged, ROOT)))
    if a.stage_only:
        return 0
    cmd = deploy_command(a.port, staged)
    if a.dry_run:
        print(" ".join(c if " " not in c and "\n" not in c else repr(c) for c in cmd))
        return 0
    return subprocess.call(cmd, cwd=staged)


if __name__ == "__main__":
    sys.exit(main())
