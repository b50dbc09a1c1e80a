// The meter on the emulated Pico, as on a board: the stock firmware boots,
// main.py runs, the board's parts answer, and a plan drives it from outside.
//
//   node tools/emu/run_meter.mjs PLAN.json [--out RESULT.json]
//
// PLAN (paths relative to the current directory):
//   firmware     MicroPython .bin (../shared/rp2/micropython-v1.28.0-RPI_PICO.bin)
//   fs           littlefs image (tools/emu/mkfs.py), as `make deploy` would fill it
//   frames       ADC codes (tools/emu/frames.py), fs_hz (default 2500)
//   fram_in      F-RAM contents to start with (absent: a new chip, all 0xFF)
//   fram_out     where to write the F-RAM contents at the end
//   seconds      emulated seconds to run from reset
//   window_from  start of the CPU accounting window (default 1 s)
//   events       [{at: s, modbus: [pdu bytes]} | {at, pin: gp, level: 0/1}
//                 | {at, lcd_ack: bool} | {at, adc_corrupt_crc: bool}], in any order
//   script       optional MicroPython source run over the raw REPL at the end
//                (Ctrl-C first: for diagnosis, never for the meter's checks)
// Prints one JSON object (also to --out): boot, USB output, Modbus
// transactions, pins, LCD, F-RAM, ADC, watchdog, CPU use in the window.
import fs from 'fs';
import { Pico } from './pico.mjs';
import { ADS131M06, Fram, LcdBackpack, ModbusMaster, PinRecorder } from './board.mjs';

// boards/pico_ads131m06.py PINS
export const PIN = { uartRx: 1, de: 2, framCs: 6, powerFail: 9, buttons: [10, 11, 12, 13], pulse: 14, alarm: 15,
  adcCs: 17, drdy: 20, adcReset: 21, led: 25 };

export function runPlan(plan) {
  const wall0 = Date.now();
  const pico = new Pico({ firmware: plan.firmware, fsImage: plan.fs, bootrom: plan.bootrom });
  const mcu = pico.mcu;
  // pulled-up inputs read high (rp2040js does not model pulls)
  for (const gp of [PIN.powerFail, ...PIN.buttons]) mcu.gpio[gp].setInputValue(true);
  const adc = new ADS131M06(pico, { frames: plan.frames, fs: plan.fs_hz || 2500, cs: PIN.adcCs, drdy: PIN.drdy, reset: PIN.adcReset });
  const fram = new Fram(pico, { cs: PIN.framCs, image: plan.fram_in });
  const lcd = new LcdBackpack(pico);
  const master = new ModbusMaster(pico, { rx: PIN.uartRx, de: PIN.de });
  const pins = new PinRecorder(pico, { pulse: PIN.pulse, alarm: PIN.alarm, led: PIN.led, de: PIN.de, adcCs: PIN.adcCs });

  const result = { plan: { ...plan }, emulator: 'rp2040js 1.4.1 (tools/emu/pico.mjs)' };
  pico.boot();
  result.usbEnumeratedS = pico.seconds;

  const seconds = +plan.seconds;
  const from = Math.min(plan.window_from ?? 1, seconds);
  const events = [...(plan.events || [])].sort((a, b) => a.at - b.at);
  const modbus = [];
  let snapA = null, adcA = null;
  const atWindow = () => { pico.pcHist = new Map(); pico.fnHist = new Map(); snapA = pico.snapshot(); adcA = { c: adc.conversions, f: adc.framesClocked }; };
  if (pico.seconds >= from) atWindow();
  for (const ev of events) {
    if (ev.at > seconds) break;
    if (!snapA && ev.at >= from) { pico.runUntil(from); atWindow(); }
    pico.runUntil(ev.at);
    if (ev.modbus) {
      if (master.ready) modbus.push({ at: ev.at, t: master.request(ev.modbus) });
      else modbus.push({ at: ev.at, t: null, req: ev.modbus });
    } else if (ev.pin !== undefined) {
      mcu.gpio[ev.pin].setInputValue(!!ev.level);
    } else if (ev.lcd_ack !== undefined) {
      lcd.ack = !!ev.lcd_ack;
    } else if (ev.adc_corrupt_crc !== undefined) {
      adc.corruptCrc = !!ev.adc_corrupt_crc;
    }
  }
  if (!snapA) { pico.runUntil(from); atWindow(); }
  pico.runUntil(seconds);
  const snapB = pico.snapshot();
  result.cpu = pico.usage(snapA, snapB);
  if (pico.diag && process.env.EMU_PC_OUT) {
    fs.writeFileSync(process.env.EMU_PC_OUT, JSON.stringify([...pico.pcHist.entries()].sort((x, y) => y[1] - x[1])));
    fs.writeFileSync(process.env.EMU_PC_OUT + '.fn', JSON.stringify([...pico.fnHist.entries()].sort((x, y) => y[1] - x[1])));
  }
  result.adc = { ...adc.report(), window: { drdyEdges: adc.conversions - adcA.c, framesClocked: adc.framesClocked - adcA.f } };
  result.modbus = modbus.map(({ at, t, req }, k) => {
    if (!t) return { at, req, reply: null, note: 'UART0 not enabled by the firmware: not sent' };
    const next = modbus.slice(k + 1).find((m) => m.t);
    return { at, ...master.reply(t, next ? next.t.startNs : Infinity) };
  });
  result.de = master.deEdges;
  result.uartTx = pico.uartTx[0].length;
  result.pins = pins.report();
  result.lcd = lcd.report();
  result.fram = fram.report();
  result.watchdog = { enabled: pico.watchdog.ctrl.some((c) => c.enable), ctrl: pico.watchdog.ctrl.map((c) => ({ s: c.ns / 1e9, enable: c.enable, trigger: c.trigger })),
    loads: pico.watchdog.loads, loadTimes: pico.watchdog.loadTimes.map((n) => n / 1e9),
    triggers: pico.watchdog.triggers.map((n) => n / 1e9) };
  if (plan.fram_out) fram.save(plan.fram_out);
  if (plan.script) {
    pico.rawRepl();
    result.script = pico.exec(plan.script, (plan.script_timeout || 60) * 1e9);
    result.afterScript = { adc: adc.report(), lcd: lcd.report(), fram: fram.report(), pins: pins.report() };
  }
  result.usbOutput = pico.out;
  result.traceback = pico.out.includes('Traceback');
  result.warnings = pico.warnings;
  result.emulatedSeconds = pico.seconds;
  result.wallSeconds = (Date.now() - wall0) / 1000;
  result.cpuSeconds = process.cpuUsage().user / 1e6; // this process's own time (the machine may be shared)
  return result;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  if (!args[0]) {
    console.error('usage: node tools/emu/run_meter.mjs PLAN.json [--out RESULT.json]');
    process.exit(2);
  }
  const plan = JSON.parse(fs.readFileSync(args[0], 'utf8'));
  const result = runPlan(plan);
  const text = JSON.stringify(result, null, 1);
  const k = args.indexOf('--out');
  if (k >= 0) fs.writeFileSync(args[k + 1], text);
  else process.stdout.write(text + '\n');
}
