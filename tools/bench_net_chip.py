"""The network code's costs on the emulated RP2040 (make bench only): the
Pico W board's filesystem, exactly as `make deploy BOARD=pico_w_ads131m06`
stages it, on the stock RPI_PICO firmware (tools/emu/). That firmware has
no radio: the board must run as the reference board (the meter measures,
no network module loads), which this checks first. Then, over the raw
REPL, the pieces a network poll runs, timed with ticks_us on the chip:
  build_step   net_view.StateBuild.step, mean and worst of a whole build's
               steps (3 register runs, then STEP values into JSON each)
  state        a whole state message (every StateBuild step)
  config       one HA discovery config (net_ha.HaPublisher.config_json)
  publish_head the MQTT PUBLISH header of a state message (the payload is
               sent after it, not copied)
and the heap the network modules take when imported (gc.mem_free before
and after; the Pico W's radio and lwIP buffers are outside the GC heap).

    python tools/bench_net_chip.py [--seconds 3]    # prints JSON
"""

import argparse
import json
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[0:0] = [HERE, os.path.join(HERE, "emu")]
import chip  # noqa: E402
import deploy  # noqa: E402

BOARD = "pico_w_ads131m06"
SCENARIO = os.path.join(chip.ROOT, "host_tests", "scenarios", "emu_wye347_no_load.json")

# run on the chip after main.py is stopped; `socket` and `select` stand in
# for the modules the stock Pico firmware lacks (only imported, never used)
SCRIPT = r"""
import gc, sys, time
class _S:
    POLLOUT = 4
sys.modules['socket'] = _S
sys.modules['select'] = _S
gc.collect()
f0 = gc.mem_free()
import net, net_view, net_mqtt, net_ha, net_http, net_tcp, modbus_tcp
gc.collect()
f1 = gc.mem_free()
from array import array
import board
from meter import Meter
m = Meter(board.frontend(), serial='E6614103E7')
m.bank.refresh(readings=array('f', [230.5] * 29), valid=(1 << 29) - 1)
v = net_view.View(m)
def us(f, n):
    # (mean, worst) us a call; the mean from one window around all n calls
    # (no ticks_us inside it), the worst from single timed calls
    gc.collect()
    t = time.ticks_us()
    for _ in range(n):
        f()
    mean = time.ticks_diff(time.ticks_us(), t) // n
    worst = 0
    for _ in range(n):
        t = time.ticks_us()
        f()
        d = time.ticks_diff(time.ticks_us(), t)
        worst = d if d > worst else worst
    return (mean, worst)
b = [net_view.StateBuild(v)]
def step():
    if b[0].step():
        b[0] = net_view.StateBuild(v)
def state():
    s = net_view.StateBuild(v)
    while not s.step():
        pass
class _P:
    pass
p = _P()
p.node = 'meter_E6614103E7'; p.state_topic = 'meter/state'; p.status_topic = 'meter/status'
p.period_s = 10; p.serial = 'E6614103E7'; p.vendor = 'OpenMeter'; p.model = 'S4100'; p.version = '1.000'
p._tail = net_ha.HaPublisher._config_tail(p)
txt = v.state_json()
import struct
buf = bytearray(72)
gc.collect()
r = {'heap_net_modules': f0 - f1, 'heap_free_after': gc.mem_free(),
     'build_step_us': us(step, 20), 'state_us': us(state, 5),
     'config_us': us(lambda: net_ha.HaPublisher.config_json(p, 3), 10),
     'publish_head_us': us(lambda: net_mqtt.publish_head(b'meter/state', len(txt)), 10),
     'state_bytes': len(txt),
     'read_36_us': us(lambda: m.bank.read(256, 36, buf, 0), 20),
     'unpack_us': us(lambda: struct.unpack_from('>f', buf, 40), 20),
     'empty_us': us(lambda: None, 20),
     'fmt_g7_us': us(lambda: '%.7g' % 12345.678, 20),
     'fmt_int_us': us(lambda: '%d' % int(12345.678 * 1000), 20)}
print('@NET', r)
"""


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=3.0, help="emulated seconds of the meter first")
    a = ap.parse_args(argv)
    problems = chip.missing_parts()
    if problems:
        sys.exit("bench_net_chip: the emulated Pico cannot run: " + "; ".join(problems))
    d = tempfile.mkdtemp(prefix="emu-net-")
    image = chip.filesystem(d, BOARD)
    frames = chip.frames_file(SCENARIO, os.path.join(d, "net.frames"), a.seconds + 1)
    read_129 = [1, 3, 0, 129, 0, 1]  # register 130, the system type, over RS-485
    r = chip.run_plan({"fs": image, "frames": frames, "fs_hz": 2500, "seconds": a.seconds,
                       "window_from": 1.0, "events": [{"at": a.seconds - 0.5, "modbus": read_129}],
                       "script": SCRIPT, "script_timeout": 120}, d, "net")
    out = r.get("script") or {}
    line = [x for x in (out.get("stdout") or "").split("\n") if x.startswith("@NET")]
    res = {"board": BOARD, "staged_net_files": sorted(f for f in os.listdir(os.path.join(d, "stage", "lib"))
                                                      if deploy.net_module(f[:-4] + ".py")),
           "usb_tail": r.get("usbOutput", "")[-700:].split("raw REPL")[0],
           "rs485_reply_130": [t.get("regs") for t in r.get("modbus") or []],
           "script_stderr": out.get("stderr")}
    if line:
        res.update(eval(line[0][5:], {}))  # a dict literal printed by the chip
    print(json.dumps(res, indent=1))
    return 0 if line else 1


if __name__ == "__main__":
    sys.exit(main())
