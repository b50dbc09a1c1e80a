// One long run of the meter on the emulated Pico for make bench
// (tools/bench_chip.py writes the plan and reads the result):
//
//   node tools/emu/bench_chip.mjs PLAN.json --out RESULT.json
//
// PLAN: firmware, fs, frames, fs_hz, seconds, window_from, window_to,
//   adc_stop_at (the ADS131M06 stops converting: the ring drains and the
//   last report of tools/emu/bench_main.py counts every frame), events
//   [{at, modbus: [pdu]}] as tools/emu/run_meter.mjs.
// RESULT: CPU in the window (busy %, WFE idle %, cycles per exception), the
// ADC's conversions and frames clocked in the window and in total, every
// Modbus transaction with its reply (times from the end of the request's
// last stop bit, at wire timing), the USB output, and for every line the
// probe prints ('@B ...', '@H ...') the emulated time and the ADC's counts
// when it reached the host. A boot that fails (a traceback) ends the run
// early with the output so far.
import fs from 'fs';
import { Pico } from './pico.mjs';
import { ADS131M06, Fram, LcdBackpack, ModbusMaster, PinRecorder } from './board.mjs';
import { PIN } from './run_meter.mjs';

export function runBench(plan) {
  const wall0 = Date.now();
  const pico = new Pico({ firmware: plan.firmware, fsImage: plan.fs, bootrom: plan.bootrom });
  const mcu = pico.mcu;
  for (const gp of [PIN.powerFail, ...PIN.buttons]) mcu.gpio[gp].setInputValue(true);
  const adc = new ADS131M06(pico, { frames: plan.frames, fs: plan.fs_hz || 2500, cs: PIN.adcCs, drdy: PIN.drdy, reset: PIN.adcReset });
  const fram = new Fram(pico, { cs: PIN.framCs, image: plan.fram_in });
  const lcd = new LcdBackpack(pico);
  const master = new ModbusMaster(pico, { rx: PIN.uartRx, de: PIN.de });
  const pins = new PinRecorder(pico, { pulse: PIN.pulse, alarm: PIN.alarm, led: PIN.led, de: PIN.de });

  // each line from the probe with the emulated time and the ADC's counts
  const lines = [];
  let partial = '';
  let traceback = false;
  const onData = pico.cdc.onSerialData;
  pico.cdc.onSerialData = (buf) => {
    onData(buf);
    partial += Buffer.from(buf).toString('latin1');
    let k;
    while ((k = partial.indexOf('\n')) >= 0) {
      const text = partial.slice(0, k).replace(/\r$/, '');
      partial = partial.slice(k + 1);
      if (text.startsWith('Traceback')) traceback = true;
      if (text.startsWith('@')) lines.push({ s: pico.seconds, conv: adc.conversions, clocked: adc.framesClocked, text });
    }
  };
  const failed = () => traceback;

  const result = { plan: { ...plan } };
  pico.boot();
  const seconds = +plan.seconds;
  const from = +plan.window_from, to = +(plan.window_to ?? seconds);
  const events = [...(plan.events || [])];
  if (plan.adc_stop_at !== undefined) events.push({ at: +plan.adc_stop_at, adcStop: true });
  events.push({ at: from, mark: 'a' }, { at: to, mark: 'b' });
  events.sort((x, y) => x.at - y.at);
  const modbus = [];
  const marks = {};
  let stopped = false;
  for (const ev of events) {
    if (ev.at > seconds) break;
    pico.run(ev.at * 1e9 - pico.nanos, failed);
    if (failed()) { pico.run(0.3e9); stopped = true; break; }
    if (ev.mark) marks[ev.mark] = { snap: pico.snapshot(), conv: adc.conversions, clocked: adc.framesClocked };
    else if (ev.adcStop) { adc.convAlarm.cancel(); adc.riseAlarm.cancel(); result.adcStoppedS = pico.seconds; }
    else if (ev.modbus) {
      if (master.ready) modbus.push({ at: ev.at, t: master.request(ev.modbus) });
      else modbus.push({ at: ev.at, t: null });
    }
  }
  if (!stopped) pico.run(seconds * 1e9 - pico.nanos, failed);
  if (marks.a && marks.b) {
    result.cpu = pico.usage(marks.a.snap, marks.b.snap);
    result.window = { from, to, conversions: marks.b.conv - marks.a.conv, clocked: marks.b.clocked - marks.a.clocked };
  }
  result.adc = adc.report();
  result.adc.conversions = adc.conversions;
  result.adc.framesClocked = adc.framesClocked;
  result.modbus = modbus.map(({ at, t }, k) => {
    if (!t) return { at, reply: null, note: 'UART0 not enabled by the firmware: not sent' };
    const next = modbus.slice(k + 1).find((m) => m.t);
    const r = master.reply(t, next ? next.t.startNs : Infinity);
    delete r.bytes;
    return { at, ...r };
  });
  result.lines = lines;
  result.lcd = lcd.report();
  result.fram = { writes: fram.report().writes, bytesWritten: fram.report().bytesWritten };
  result.pins = pins.report();
  result.watchdog = { enabled: pico.watchdog.ctrl.some((c) => c.enable), feeds: pico.watchdog.loads,
    triggers: pico.watchdog.triggers.map((n) => n / 1e9) };
  result.usbOutput = pico.out.length > 20000 ? pico.out.slice(0, 4000) + '\n...\n' + pico.out.slice(-8000) : pico.out;
  result.traceback = failed();
  result.emulatedSeconds = pico.seconds;
  result.wallSeconds = (Date.now() - wall0) / 1000;
  return result;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  if (!args[0]) {
    console.error('usage: node tools/emu/bench_chip.mjs PLAN.json [--out RESULT.json]');
    process.exit(2);
  }
  const result = runBench(JSON.parse(fs.readFileSync(args[0], 'utf8')));
  const text = JSON.stringify(result);
  const k = args.indexOf('--out');
  if (k >= 0) fs.writeFileSync(args[k + 1], text);
  else process.stdout.write(text + '\n');
}
