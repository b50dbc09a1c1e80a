// Chip figures of the meter on the emulated Pico, for make bench (tools/bench.py):
//
//   node tools/emu/bench_meter.mjs --fs FS.img --frames F.bin [--fw FIRMWARE.bin]
//        [--seconds 8] [--window-from 3] [--poll-from 3] [--poll-every 0.5]
//        [--pdu "01 03 01 00 00 24"] [--fram FRAM.bin]
//
// Builds the images with tools/emu/mkfs.py (the deploy stage) and
// tools/emu/frames.py (a scenario), runs the meter from reset for --seconds
// emulated seconds with a Modbus request every --poll-every seconds, and
// prints one JSON object: CPU in the window (busy %, WFE idle %, cycles and
// entries per exception number), DRDY edges vs frames clocked, every Modbus
// reply with its latency, pin edge counts, watchdog feeds, LCD bytes.
// Emulated figures are lower bounds (no XIP cache misses, no exception
// stacking cycles): compare versions, do not read them as silicon timings.
import { runPlan } from './run_meter.mjs';

const args = process.argv.slice(2);
const opt = (k, d) => { const i = args.indexOf(k); return i >= 0 ? args[i + 1] : d; };
const fw = opt('--fw', process.env.PICO_FIRMWARE || new URL('../../../shared/rp2/micropython-v1.28.0-RPI_PICO.bin', import.meta.url).pathname);
if (!opt('--fs')) {
  console.error('usage: node tools/emu/bench_meter.mjs --fs FS.img --frames F.bin [--seconds S] [--poll-every S] [--pdu HEX]');
  process.exit(2);
}
const seconds = +opt('--seconds', 8);
const from = +opt('--window-from', Math.min(3, seconds / 2));
const pollFrom = +opt('--poll-from', from);
const every = +opt('--poll-every', 0.5);
const pdu = opt('--pdu', '01 03 01 00 00 24').trim().split(/\s+/).map((h) => parseInt(h, 16));
const events = [];
for (let t = pollFrom; every > 0 && t < seconds - 0.05; t += every) events.push({ at: +t.toFixed(6), modbus: pdu });

const r = runPlan({ firmware: fw, fs: opt('--fs'), frames: opt('--frames'), fs_hz: +opt('--fs-hz', 2500),
  fram_in: opt('--fram', null), seconds, window_from: from, events });
const replies = r.modbus.filter((m) => m.reply !== null);
const lat = replies.filter((m) => m.crcOk).map((m) => m.firstByteMs);
const summary = {
  firmware: fw, seconds, window: { from, to: seconds },
  started: !r.traceback,
  cpu: r.cpu,
  adc: { drdyEdges: r.adc.window.drdyEdges, framesClocked: r.adc.window.framesClocked,
    notClocked: r.adc.window.drdyEdges - r.adc.window.framesClocked, crcErrors: r.adc.crcErrors },
  modbus: { sent: replies.length, answered: lat.length,
    latencyMs: lat.length ? { min: Math.min(...lat), max: Math.max(...lat), mean: lat.reduce((a, b) => a + b, 0) / lat.length } : null,
    replies: r.modbus.map((m) => ({ at: m.at, ok: !!m.crcOk, bytes: m.bytes ? m.bytes.length : 0, firstByteMs: m.firstByteMs ?? null })) },
  pins: Object.fromEntries(Object.entries(r.pins).map(([k, v]) => [k, { gp: v.gp, rises: v.rises, falls: v.falls }])),
  watchdog: { enabled: r.watchdog.enabled, feeds: r.watchdog.loads, triggers: r.watchdog.triggers.length },
  lcd: { bytes: r.lcd.bytes, lines: r.lcd.lines },
  fram: { writes: r.fram.writes, bytesWritten: r.fram.bytesWritten },
  usbOutputTail: r.usbOutput.slice(-600),
  emulatedSeconds: r.emulatedSeconds, wallSeconds: r.wallSeconds,
};
process.stdout.write(JSON.stringify(summary, null, 1) + '\n');
