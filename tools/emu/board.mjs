// The reference board's parts around the emulated RP2040 (boards/pico_ads131m06.py
// PINS): the ADS131M06 on SPI0, the F-RAM on SPI1, the PCF8574 LCD backpack on
// I2C0, a Modbus RTU master on UART0/GP1, and recorders for the output pins.
import fs from 'fs';
import { GPIOPinState } from 'rp2040js';

export function crc16Ccitt(bytes, n = bytes.length, crc = 0xffff) {
  for (let k = 0; k < n; k++) {
    crc ^= bytes[k] << 8;
    for (let b = 0; b < 8; b++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

export function crc16Modbus(bytes) {
  let crc = 0xffff;
  for (const x of bytes) {
    crc ^= x;
    for (let b = 0; b < 8; b++) crc = crc & 1 ? (crc >>> 1) ^ 0xa001 : crc >>> 1;
  }
  return crc;
}

const hex = (bytes) => bytes.map((b) => b.toString(16).padStart(2, '0')).join(' ');

// ---- ADS131M06 -------------------------------------------------------------
// Frames of 8 words of 24 bits (MODE WLENGTH 24, the reset value the driver
// keeps): the response to the previous frame's command, six channels, CRC.
// DRDY (GP20) falls at every conversion (fs from reset, the ADC's CLKIN being
// there from the start) and rises at the first SCLK of a read, or just before
// the next conversion when nobody reads (datasheet 8.5.1.3). The channel codes
// come from a frames file (tools/emu/frames.py: int32 little-endian, six a
// frame, Va Vb Vc Ia Ib Ic, conversion n at n/fs s after reset); a read
// returns the latest conversion, so missed frames are skipped as on the chip.
// Commands: NULL, RESET, RREG, WREG (one register); with MODE.RX_CRC_EN the
// input CRC of every frame, NULL included, is checked: a bad one sets
// STATUS.CRC_ERR and drops the command, except a WREG, which executes all
// the same (docs/acquisition.md). GP21 (SYNC/RESET) low resets the registers.
export class ADS131M06 {
  constructor(pico, { frames = null, fs = 2500, spi = 0, cs = 17, drdy = 20, reset = 21 } = {}) {
    const mcu = pico.mcu;
    this.pico = pico;
    this.spi = mcu.spi[spi];
    this.fs = fs;
    this.codes = frames ? ADS131M06.readFrames(frames) : new Int32Array(0);
    this.framesInFile = this.codes.length / 6;
    this.drdyPin = mcu.gpio[drdy];
    this.conversions = 0; // DRDY falling edges so far
    this.framesClocked = 0; // complete frames read (>= 24 bytes under CS)
    this.crcErrors = 0;
    this.commands = {};
    this.corruptCrc = false; // a test can break the output CRC (a bad SPI line)
    this.resetRegisters();
    this.drdyPin.setInputValue(true);
    this.drdyLow = false;
    this.convAlarm = pico.clock.createAlarm(() => this.convert());
    this.riseAlarm = pico.clock.createAlarm(() => this.raiseDrdy());
    this.periodNs = 1e9 / fs;
    this.convAlarm.schedule(this.periodNs);
    mcu.gpio[cs].addListener((st) => (st === GPIOPinState.Low ? this.select() : this.deselect()));
    const resetPin = mcu.gpio[reset];
    resetPin.addListener((st) => { if (st === GPIOPinState.Low) this.resetRegisters(); });
    this.byteAlarm = pico.clock.createAlarm(() => this.byteDone());
    this.spi.onTransmit = (v) => {
      this.mosi = v;
      this.byteAlarm.schedule((8 * 1e9) / (this.spi.clockFrequency || 8e6));
    };
  }

  static readFrames(path) {
    const b = fs.readFileSync(path);
    if (b.length % 24) throw new Error(`${path}: ${b.length} bytes is not whole frames of 6 x int32`);
    return new Int32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
  }

  resetRegisters() {
    this.regs = new Map([[0x00, 0x2620], [0x02, 0x0510], [0x03, 0x3f0e], [0x04, 0], [0x05, 0]]);
    this.resetFlag = true;
    this.crcErr = false;
    this.answer = { kind: 'status' };
    this.tx = null;
  }

  status() {
    // LOCK, RESET, CRC_ERR, WLENGTH 24 (01), DRDY5..0 set (fresh data)
    return 0x8000 | (this.crcErr ? 0x1000 : 0) | (this.resetFlag ? 0x0400 : 0) | 0x0100 | 0x3f;
  }

  convert() {
    this.conversions++;
    this.drdyLow = true;
    this.drdyPin.setInputValue(false);
    this.convAlarm.schedule(this.periodNs);
    // unread: DRDY pulses high 2 tCLKIN (~0.4 us) before the next conversion
    this.riseAlarm.schedule(this.periodNs - 400);
  }

  raiseDrdy() {
    if (!this.drdyLow) return;
    this.drdyLow = false;
    this.riseAlarm.cancel();
    this.drdyPin.setInputValue(true);
  }

  // the latest conversion's code on channel ch, with the PGA gain
  code(ch) {
    const n = this.conversions - 1;
    if (n < 0 || n >= this.framesInFile) return 0;
    const gainReg = ch < 4 ? this.regs.get(0x04) : this.regs.get(0x05);
    const gain = 1 << ((gainReg >> (4 * (ch % 4))) & 7);
    const v = this.codes[6 * n + ch] * gain;
    return Math.max(-8388608, Math.min(8388607, v));
  }

  select() {
    let resp;
    const a = this.answer;
    if (a.kind === 'reset') resp = 0xff26;
    else if (a.kind === 'rreg') resp = a.addr === 0x01 ? this.status() : this.regs.get(a.addr) ?? 0;
    else if (a.kind === 'wreg') resp = 0x4000 | (a.addr << 7);
    else resp = this.status();
    const words = [resp << 8];
    for (let ch = 0; ch < 6; ch++) words.push(this.code(ch) & 0xffffff);
    const out = [];
    for (const w of words) out.push((w >> 16) & 0xff, (w >> 8) & 0xff, w & 0xff);
    const crc = crc16Ccitt(out);
    out.push(crc >> 8, (crc & 0xff) ^ (this.corruptCrc ? 0x01 : 0), 0);
    this.tx = out;
    this.rx = [];
  }

  byteDone() {
    const i = this.rx ? this.rx.length : 0;
    if (this.rx) {
      if (i === 0) this.raiseDrdy(); // the first SCLK of a read
      this.rx.push(this.mosi);
    }
    this.spi.completeTransmit(this.rx && this.tx && i < 24 ? this.tx[i] : 0);
  }

  deselect() {
    const c = this.rx;
    this.rx = null;
    if (!c || c.length < 24) return;
    this.framesClocked++;
    const cmd = (c[0] << 8) | c[1];
    const rxCrc = (this.regs.get(0x02) & 0x1000) !== 0;
    const isWreg = (cmd & 0xe000) === 0x6000;
    const nData = isWreg ? (cmd & 0x7f) + 1 : 0;
    if (rxCrc) {
      const p = 3 * (1 + nData);
      const crc = crc16Ccitt(c, p);
      if (crc !== ((c[p] << 8) | c[p + 1])) {
        // CRC_ERR set and the command ignored, except WREG, which the
        // ADS131M06 executes despite it (docs/acquisition.md)
        this.crcErrors++;
        this.crcErr = true;
        if (!isWreg) { this.answer = { kind: 'status' }; return; }
      }
    }
    const name = cmd === 0 ? 'null' : cmd === 0x0011 ? 'reset' : (cmd & 0xe000) === 0xa000 ? 'rreg' : isWreg ? 'wreg' : 'other';
    this.commands[name] = (this.commands[name] || 0) + 1;
    if (name === 'reset') { this.resetRegisters(); this.answer = { kind: 'reset' }; }
    else if (name === 'rreg') {
      const addr = (cmd >> 7) & 0x3f;
      this.answer = { kind: 'rreg', addr };
      if (addr === 0x01) this.crcErr = false; // reading STATUS clears CRC_ERR
    } else if (isWreg) {
      const addr = (cmd >> 7) & 0x3f;
      const v = (c[3] << 8) | c[4];
      this.regs.set(addr, v);
      if (addr === 0x02 && !(v & 0x0400)) this.resetFlag = false;
      this.answer = { kind: 'wreg', addr };
    } else this.answer = { kind: 'status' };
  }

  report() {
    return { conversions: this.conversions, framesClocked: this.framesClocked, framesInFile: this.framesInFile,
      crcErrors: this.crcErrors, commands: this.commands, resetFlag: this.resetFlag };
  }
}

// ---- F-RAM (CY15B104Q, 512 KB) on SPI1, CS GP6 ---------------------------
// WREN, WRDI, RDSR, WRSR, READ, WRITE with 3 address bytes; writes need WEL,
// which a completed WRITE clears. A new chip reads 0xFF; load()/save() keep
// its memory in a file across emulator runs (a restart keeps the store).
export class Fram {
  constructor(pico, { spi = 1, cs = 6, size = 524288, image = null } = {}) {
    this.spi = pico.mcu.spi[spi];
    this.size = size;
    this.mem = new Uint8Array(size).fill(0xff);
    if (image && fs.existsSync(image)) this.load(image);
    this.wel = false;
    this.op = null;
    this.ops = { read: 0, write: 0, wren: 0, rdsr: 0 };
    this.bytesWritten = 0;
    this.writeLog = []; // {ns, addr, n}: every completed WRITE
    this.pico = pico;
    pico.mcu.gpio[cs].addListener((st) => (st === GPIOPinState.Low ? this.select() : this.deselect()));
    this.alarm = pico.clock.createAlarm(() => this.byteDone());
    this.spi.onTransmit = (v) => {
      this.mosi = v;
      this.alarm.schedule((8 * 1e9) / (this.spi.clockFrequency || 16e6));
    };
  }

  load(path) {
    const b = fs.readFileSync(path);
    if (b.length !== this.size) throw new Error(`${path}: ${b.length} bytes, the F-RAM has ${this.size}`);
    this.mem.set(b);
  }

  save(path) { fs.writeFileSync(path, this.mem); }

  select() { this.op = { n: 0, code: null, addr: 0, count: 0, start: 0 }; }

  deselect() {
    const s = this.op;
    this.op = null;
    if (s && s.code === 0x02 && s.n > 4) {
      this.wel = false;
      this.writeLog.push({ ns: this.pico.nanos, addr: s.start, n: s.count });
    }
  }

  byteDone() {
    const v = this.mosi, s = this.op;
    let miso = 0xff;
    if (s) {
      if (s.n === 0) {
        s.code = v;
        if (v === 0x06) { this.wel = true; this.ops.wren++; }
        else if (v === 0x04) this.wel = false;
        else if (v === 0x03) this.ops.read++;
        else if (v === 0x02) this.ops.write++;
        else if (v === 0x05) this.ops.rdsr++;
      } else if (s.code === 0x05) miso = this.wel ? 0x02 : 0x00;
      else if (s.code === 0x02 || s.code === 0x03) {
        if (s.n <= 3) { s.addr = ((s.addr << 8) | v) >>> 0; if (s.n === 3) s.start = s.addr % this.size; }
        else {
          const a = s.addr % this.size;
          if (s.code === 0x03) miso = this.mem[a];
          else if (this.wel) { this.mem[a] = v; this.bytesWritten++; s.count++; }
          s.addr++;
        }
      }
      s.n++;
    }
    this.spi.completeTransmit(miso);
  }

  report() {
    return { ops: this.ops, bytesWritten: this.bytesWritten, writes: this.writeLog.length,
      writeLog: this.writeLog.slice(-50).map((w) => ({ s: w.ns / 1e9, addr: w.addr, n: w.n })) };
  }
}

// ---- PCF8574 + HD44780 16x2 LCD on I2C0 at 0x27 ----------------------------
// Every byte written to the expander is recorded with its time; the HD44780
// behind it is decoded from the expander bits (boards/drivers/hd44780.py:
// P0 RS, P1 RW, P2 E, P3 backlight, P4-P7 D4-D7): a nibble latches on E's
// falling edge; 8-bit mode (one nibble an instruction) until a function set
// with DL = 0, then two nibbles a byte, high first. DDRAM rows start at 0x00
// and 0x40; CGRAM writes define glyphs and do not touch the screen.
export const GLYPH_TEXT = ['^', 'v', 'W', '*']; // firmware/ui_menu.py: CGRAM glyphs 0-3

export class HD44780 {
  constructor() {
    this.ddram = new Uint8Array(0x80).fill(0x20);
    this.addr = 0;
    this.cgram = false;
    this.fourBit = false;
    this.high = null; // the first nibble of a byte in 4-bit mode
    this.lastE = false;
    this.backlight = false;
    this.displayOn = false;
    this.instructions = 0;
    this.characters = 0;
  }

  expanderByte(b) {
    const e = (b & 0x04) !== 0;
    this.backlight = (b & 0x08) !== 0;
    if (this.lastE && !e && !(b & 0x02)) this.nibble(b >> 4, (b & 0x01) !== 0);
    this.lastE = e;
  }

  nibble(n, rs) {
    if (!this.fourBit) {
      // 8-bit interface: D7-D4 only; the low bits read as 0
      if (!rs) this.instruction(n << 4);
      return;
    }
    if (this.high === null) { this.high = n; return; }
    const byte = (this.high << 4) | n;
    this.high = null;
    if (rs) this.data(byte);
    else this.instruction(byte);
  }

  instruction(c) {
    this.instructions++;
    if (c & 0x80) { this.addr = c & 0x7f; this.cgram = false; }
    else if (c & 0x40) this.cgram = true;
    else if (c & 0x20) { this.fourBit = (c & 0x10) === 0; this.high = null; }
    else if (c & 0x08) this.displayOn = (c & 0x04) !== 0;
    else if (c === 0x01) { this.ddram.fill(0x20); this.addr = 0; this.cgram = false; }
    else if ((c & 0xfe) === 0x02) { this.addr = 0; this.cgram = false; }
  }

  data(b) {
    this.characters++;
    if (this.cgram) return;
    this.ddram[this.addr & 0x7f] = b;
    this.addr = (this.addr + 1) & 0x7f;
  }

  line(row) {
    let s = '';
    for (let k = 0; k < 16; k++) {
      const c = this.ddram[(row ? 0x40 : 0) + k];
      s += c < 8 ? GLYPH_TEXT[c] ?? '?' : String.fromCharCode(c);
    }
    return s;
  }

  lines() { return [this.line(0), this.line(1)]; }
}

export class LcdBackpack {
  constructor(pico, { i2c = 0, addr = 0x27, hz = 100000 } = {}) {
    const bus = pico.mcu.i2c[i2c];
    const bit = 1e9 / hz;
    this.pico = pico;
    this.lcd = new HD44780();
    this.bytes = []; // {ns, b}
    this.screens = []; // {s, lines}: each change of the decoded text
    this.nacks = 0;
    this.ack = true; // the test can make the backpack stop answering
    let selected = false;
    let pending = null;
    const alarm = pico.clock.createAlarm(() => { const f = pending; pending = null; f(); });
    const after = (ns, f) => { pending = f; alarm.schedule(ns); };
    bus.onStart = () => after(bit, () => bus.completeStart());
    bus.onConnect = (a) => {
      selected = a === addr && this.ack;
      if (!selected) this.nacks++;
      after(9 * bit, () => bus.completeConnect(selected));
    };
    bus.onWriteByte = (v) => {
      this.bytes.push({ ns: pico.nanos, b: v });
      this.lcd.expanderByte(v);
      this.noteScreen();
      after(9 * bit, () => bus.completeWrite(true));
    };
    bus.onReadByte = () => after(9 * bit, () => bus.completeRead(0xff));
    bus.onStop = () => after(bit, () => bus.completeStop());
  }

  noteScreen() {
    const l = this.lcd.lines();
    const last = this.screens[this.screens.length - 1];
    if (!last || last.lines[0] !== l[0] || last.lines[1] !== l[1]) this.screens.push({ s: this.pico.nanos / 1e9, lines: l });
  }

  // screens: each change of the decoded text with the time it lasted
  // until (null: still shown); a frame is written a character at a time,
  // so the screens in between last microseconds
  report() {
    const shown = this.screens.map((x, k) => ({ ...x, until: k + 1 < this.screens.length ? this.screens[k + 1].s : null }));
    return { bytes: this.bytes.length, nacks: this.nacks, instructions: this.lcd.instructions, characters: this.lcd.characters,
      backlight: this.lcd.backlight, displayOn: this.lcd.displayOn, lines: this.lcd.lines(),
      screens: shown.filter((x) => x.until === null || x.until - x.s >= 0.01), screenChanges: this.screens.length };
  }
}

// ---- output pin recorder -----------------------------------------------------
export class PinRecorder {
  constructor(pico, pins) {
    this.edges = {};
    for (const [name, gp] of Object.entries(pins)) {
      const rec = (this.edges[name] = { gp, edges: [] });
      pico.mcu.gpio[gp].addListener((st) => {
        if (st === GPIOPinState.High || st === GPIOPinState.Low) rec.edges.push({ s: pico.nanos / 1e9, v: st === GPIOPinState.High ? 1 : 0 });
      });
    }
  }

  report() {
    const r = {};
    for (const [name, { gp, edges }] of Object.entries(this.edges)) {
      r[name] = { gp, rises: edges.filter((e) => e.v === 1).length, falls: edges.filter((e) => e.v === 0).length,
        last: edges.length ? edges[edges.length - 1].v : null, edges: edges.length > 1000 ? edges.slice(-1000) : edges };
    }
    return r;
  }
}

// ---- Modbus RTU master on UART0 ----------------------------------------------
// A request goes out at wire timing: each character is 11 bits (start, 8
// data LSB first, parity or a second stop bit, stop). The RX pin GP1 is
// driven bit by bit (so a PIO watching the line sees the real silences) and
// the UART peripheral gets the byte when its (first) stop bit is sampled,
// in the middle of bit 9 (8N2) or bit 10 (8E1, 8O1). TX bytes are taken from UARTDR writes with their times; the DE
// pin GP2 (MAX3485 DE and /RE) is recorded.
export class ModbusMaster {
  constructor(pico, { uart = 0, rx = 1, de = 2 } = {}) {
    this.pico = pico;
    this.uartIndex = uart;
    this.u = pico.mcu.uart[uart];
    this.rxPin = pico.mcu.gpio[rx];
    this.rxPin.setInputValue(true); // idle line (the MAX3485's RO, bus biased)
    this.line = true;
    this.log = [];
    this.queue = []; // bit events of the request being sent
    this.alarm = pico.clock.createAlarm(() => this.nextEvent());
    this.deEdges = [];
    pico.mcu.gpio[de].addListener((st) => {
      if (st === GPIOPinState.High || st === GPIOPinState.Low) this.deEdges.push({ s: pico.nanos / 1e9, v: st === GPIOPinState.High ? 1 : 0 });
    });
  }

  get ready() { return this.u.enabled && Number.isFinite(this.u.baudRate) && this.u.baudRate > 0; }

  parityBit(b) {
    const lcr = this.u.lineCtrlRegister;
    if (!(lcr & 0x02)) return 1; // PEN off: a second stop bit
    let ones = 0;
    for (let k = 0; k < 8; k++) ones += (b >> k) & 1;
    return lcr & 0x04 ? ones & 1 ? 0 : 1 : ones & 1; // EPS: even
  }

  // pdu: bytes without the CRC; returns the transaction record
  request(pdu) {
    const req = [...pdu];
    const crc = crc16Modbus(req);
    req.push(crc & 0xff, crc >> 8);
    const bitNs = 1e9 / this.u.baudRate;
    const t = { req, baud: this.u.baudRate, startNs: this.pico.nanos, txFrom: this.pico.uartTx[this.uartIndex].length };
    const start = this.pico.nanos;
    const parity = (this.u.lineCtrlRegister & 0x02) !== 0;
    const ev = [];
    req.forEach((b, k) => {
      const t0 = start + k * 11 * bitNs;
      const bits = [0];
      for (let i = 0; i < 8; i++) bits.push((b >> i) & 1);
      bits.push(this.parityBit(b), 1);
      bits.forEach((v, i) => ev.push({ ns: t0 + i * bitNs, level: v }));
      ev.push({ ns: t0 + (parity ? 10.5 : 9.5) * bitNs, feed: b });
    });
    t.endNs = start + req.length * 11 * bitNs;
    ev.sort((a, b) => a.ns - b.ns);
    this.queue.push(...ev);
    this.queue.sort((a, b) => a.ns - b.ns);
    this.log.push(t);
    this.schedule();
    return t;
  }

  schedule() {
    if (this.queue.length) this.alarm.schedule(Math.max(0, this.queue[0].ns - this.pico.nanos));
  }

  nextEvent() {
    while (this.queue.length && this.queue[0].ns <= this.pico.nanos + 0.5) {
      const e = this.queue.shift();
      if (e.feed !== undefined) this.u.feedByte(e.feed);
      else if (!!e.level !== this.line) { this.line = !!e.level; this.rxPin.setInputValue(this.line); }
    }
    this.schedule();
  }

  // the reply to transaction t: the TX bytes written after the request
  // began; times from the end of the request's last stop bit to the first
  // reply start bit, and DE (GP2) around the reply on the wire
  reply(t, until = Infinity) {
    const tx = this.pico.uartTx[this.uartIndex].slice(t.txFrom).filter((x) => x.ns < until);
    const bytes = tx.map((x) => x.b);
    const r = { req: hex(t.req), atS: t.startNs / 1e9, baud: t.baud, reply: hex(bytes), bytes };
    if (bytes.length) {
      const first = tx[0], last = tx[tx.length - 1];
      r.firstByteMs = ((first.wireNs ?? first.ns) - t.endNs) / 1e6;
      r.lastByteEndMs = ((last.endNs ?? last.ns) - t.endNs) / 1e6;
      r.dropped = tx.filter((x) => x.dropped).length;
      const rise = this.deEdges.filter((e) => e.v === 1 && e.s * 1e9 <= (first.wireNs ?? first.ns)).pop();
      const fall = this.deEdges.find((e) => e.v === 0 && rise && e.s > rise.s);
      if (rise) r.deRiseBeforeFirstStartUs = ((first.wireNs ?? first.ns) - rise.s * 1e9) / 1e3;
      if (fall) r.deFallAfterLastStopUs = (fall.s * 1e9 - (last.endNs ?? last.ns)) / 1e3;
    }
    if (bytes.length >= 4) {
      const c = crc16Modbus(bytes.slice(0, -2));
      r.crcOk = (c & 0xff) === bytes[bytes.length - 2] && c >> 8 === bytes[bytes.length - 1];
    } else r.crcOk = false;
    if (r.crcOk && (bytes[1] === 0x03 || bytes[1] === 0x04)) {
      r.regs = [];
      for (let k = 0; k < bytes[2]; k += 2) r.regs.push((bytes[3 + k] << 8) | bytes[4 + k]);
    }
    if (r.crcOk && bytes[1] & 0x80) r.exception = bytes[2];
    return r;
  }
}
