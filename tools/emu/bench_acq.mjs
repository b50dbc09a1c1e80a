// The ADS131M06 acquisition on the emulated Pico (docs/acquisition.md):
//
//   node tools/emu/bench_acq.mjs --fs FS.img [--fw FIRMWARE.bin] [--seconds 3]
//        [--board pico_ads131m06|pico_onboard]
//
// FS.img: the deploy stage without main.py (tools/emu/bench_acq.py builds
// it), so nothing runs at boot; tools/emu/bench_acq_device.py is then run
// over the raw REPL: the board's make_hardware(), the ADC's init() and
// start(), and read_block() in a loop for --seconds with GP8 high around
// each call. The ADC model's codes carry their conversion number n
// (Va = n, Vb = -n, Vc = 2n + 1, Ia = 7n mod 2^20, Ib = -3n, Ic = 12345 - n),
// so the device checks every decoded frame exactly and that no number is
// skipped. Prints one JSON object: DRDY edges vs frames clocked in the
// window, the CPU per exception in the window (an IRQ per frame would show
// 2500 entries a second), read_block's cycles (GP8 regions) per frame, and
// the device's own counts (frames, bad, gaps, CRC errors, overruns, lost).
// pico_onboard: the RP2040's own ADC free-running round robin; the
// emulated ADC's codes count conversions (ADC0: 7 m mod 4096, ADC1:
// 13 m + 100 mod 4096 for its m-th conversion), so the device checks each
// frame's interpolated voltage and current exactly, and the frame numbers'
// continuity. rp2040js sets the next round-robin channel with the wrong
// mask (AINSEL & 12 instead of & 7: ADC1 after ADC0 becomes ADC0 again);
// corrected here.
import fs from 'fs';
import os from 'os';
import path from 'path';
import { Pico } from './pico.mjs';
import { ADS131M06 } from './board.mjs';

const args = process.argv.slice(2);
const opt = (k, d) => { const i = args.indexOf(k); return i >= 0 ? args[i + 1] : d; };
const fw = opt('--fw', process.env.PICO_FIRMWARE || new URL('../../../shared/rp2/micropython-v1.28.0-RPI_PICO.bin', import.meta.url).pathname);
const seconds = +opt('--seconds', 3);
const boardName = opt('--board', 'pico_ads131m06');
if (!opt('--fs')) {
  console.error('usage: node tools/emu/bench_acq.mjs --fs FS.img [--fw FIRMWARE.bin] [--seconds S]');
  process.exit(2);
}
const FS = 2500;
const n = FS * (seconds + 20); // boot and set-up take a few emulated seconds
const codes = new Int32Array(6 * n);
for (let k = 0; k < n; k++) codes.set([k, -k, 2 * k + 1, (7 * k) & 0xfffff, -3 * k, 12345 - k], 6 * k);
const framesPath = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'acq-')), 'codes.frames');
fs.writeFileSync(framesPath, Buffer.from(codes.buffer));

const t0 = Date.now();
const pico = new Pico({ firmware: fw, fsImage: opt('--fs') });
let adc;
if (boardName === 'pico_onboard') {
  const a = pico.mcu.adc;
  Object.defineProperty(a, 'activeChannel', {
    get() { return (this.cs >> 12) & 7; },
    set(ch) { this.cs = (this.cs & ~(7 << 12)) | ((ch & 7) << 12); },
  });
  const m = [0, 0];
  adc = { conversions: 0, framesClocked: 0, crcErrors: 0, commands: {} };
  a.onADCRead = (ch) => {
    const k = ch < 2 ? m[ch]++ : 0;
    a.channelValues[ch] = ch === 0 ? (7 * k) & 0xfff : ch === 1 ? (13 * k + 100) & 0xfff : 0;
    adc.conversions++;
    if (ch === 1) adc.framesClocked++;
    a.currentChannel = ch;
    a.sampleAlarm.schedule(a.sampleTime * 1000);
  };
} else adc = new ADS131M06(pico, { frames: framesPath, fs: FS });
// GP8 marker: core cycles between each rise and the next fall
const marks = [];
let rise = null;
pico.mcu.gpio[8].addListener((st) => {
  const c = pico.mcu.core.cycles;
  if (st === 1 || st === 'high' || String(st).toLowerCase().includes('high')) rise = c;
  else if (rise !== null) { marks.push(c - rise); rise = null; }
});
pico.boot();
pico.rawRepl();
const dev = fs.readFileSync(new URL('./bench_acq_device.py', import.meta.url), 'utf8');
const setup = pico.exec(dev + `\nsetup(${JSON.stringify(boardName)})\n`);
if (setup.timeout || setup.stderr) {
  process.stdout.write(JSON.stringify({ error: 'set-up failed', stdout: setup.stdout, stderr: setup.stderr }, null, 1) + '\n');
  process.exit(1);
}
const a = pico.snapshot();
const c0 = adc.conversions, f0 = adc.framesClocked;
const m0 = marks.length;
const loop = pico.exec(`measure(${seconds})\n`, (seconds + 60) * 1e9);
const b = pico.snapshot();
const usage = pico.usage(a, b);
let device = null;
try { device = JSON.parse(loop.stdout.trim().split('\n').pop()); } catch (e) { device = { stdout: loop.stdout, stderr: loop.stderr }; }
const regions = marks.slice(m0);
if (device && device.ns) {
  const ns = device.ns;
  device.blocks = { calls: ns.length, minFrames: Math.min(...ns), maxFrames: Math.max(...ns) };
}
const frames = device && device.ns ? device.ns.reduce((x, y) => x + y, 0) : 0;
const cycles = regions.reduce((x, y) => x + y, 0);
const out = {
  firmware: path.basename(fw), board: boardName, seconds, setup: setup.stdout.trim(),
  window: boardName === 'pico_onboard'
    ? { fromS: usage.fromS, toS: usage.toS, conversions: adc.conversions - c0, currentConversions: adc.framesClocked - f0 }
    : { fromS: usage.fromS, toS: usage.toS, drdyEdges: adc.conversions - c0, framesClocked: adc.framesClocked - f0,
      modelCrcErrors: adc.crcErrors, commands: adc.commands },
  cpu: usage,
  readBlock: { calls: regions.length, frames, cycles, cyclesPerFrame: frames ? Math.round(cycles / frames) : null,
    cyclesPerCall: regions.length ? { min: Math.min(...regions), max: Math.max(...regions) } : null,
    pctOfCoreAt2500PerS: frames ? +((100 * (cycles / frames) * FS) / usage.clkSys).toFixed(2) : null },
  device: device && device.ns ? Object.fromEntries(Object.entries(device).filter(([k]) => k !== 'ns')) : device,
  wallSeconds: (Date.now() - t0) / 1000,
};
process.stdout.write(JSON.stringify(out, null, 1) + '\n');
