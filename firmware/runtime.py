# The board's main loop (firmware/main.py: run(board.make_hardware())).
# The hardware is the board module's (boards/*.py make_hardware(): buses,
# pins, the front-end driver, and the watchdog through hw.watchdog()); this
# module imports no machine. It builds the board-independent runtime
# (app.App) with the board's store (hw.store_backend, the reference
# board's F-RAM; else files on its filesystem), and drives it the way
# tools/simboard.py does in the simulator, from one loop on core 0
# (docs/runtime.md: why one core, what each task costs, the watchdog):
#
#   acquisition  front-end ring -> read_block() into one of two
#                preallocated blocks -> app.samples() (DSP; a closed second
#                leaves the meter model's jobs: energy/demand, pulse and
#                alarm outputs, register image, save)
#   second's jobs  meter.work(): one job in a turn without a block
#   Modbus       RS485.service(RtuSlave) every turn
#   outputs      the pulse contact's timing every turn
#   buttons      polled every BUTTON_MS -> app.key()
#   display      app.frame() every DISPLAY_MS and after a key; HD44780.show()
#                of it in the next free turn
#   health       every HEALTH_MS: front-end fault -> wrench, readings QNAN
#                while no data, re-init; power-fail re-arm; watchdog feed
#
# Between turns the loop sleeps (time.sleep_ms: WFE on the RP2040) until
# the next turn is due, TURN_MS after the last one began, or sooner for a
# pulse-contact edge; each turn does little (docs/runtime.md 'The loop').
#
# Power fail: the input's edge IRQ only schedules self._pf_ref (a bound
# method made in __init__, no allocation in the handler); the save runs at
# the next bytecode boundary, before any further loop work.
from array import array

import micropython
from micropython import const

from app import App
from modbus_rtu import RtuSlave, stop_bits
from nvstore import FileBackend, NvStore
from rs485 import RS485

NV_A = "/nv_a.bin"  # the two store slots on littlefs, boards without a store_backend
NV_B = "/nv_b.bin"

_NO_DATA = const(2)  # the drivers' FAULT_NO_DATA bit
_RESET = const(8)  # ads131m06.FAULT_RESET: the chip lost its configuration
_PART_DSP = const(0)
_PART_MODBUS = const(1)
_PART_DISPLAY = const(2)
PARTS = ("dsp", "modbus", "display")


def _uart_parity(p):
    # machine.UART: None, 0 = even, 1 = odd
    return None if p == "N" else 0 if p == "E" else 1


def _rtc(hw):
    # the board's calendar clock (machine.RTC) behind 155-157, if it has one
    r = getattr(hw, "rtc", None)
    if r is None:
        return None
    from rtc import Rtc

    return Rtc(r, battery=getattr(hw, "rtc_battery", False))


class Runtime:
    BLOCK_FRAMES = 128  # frames per read_block: 51 ms at 2500/s, half the ring
    MIN_FRAMES = 64  # wait for this many (26 ms): the DSP's per-call cost stays small
    TURN_MS = 20  # a turn's period when nothing is due sooner (docs/runtime.md 'The loop')
    SLICE_MS = 2  # while a request is arriving: how often the loop looks for its end
    BUTTON_MS = 20  # = Buttons.DEBOUNCE_MS: a press is seen 20-40 ms after it settles
    DISPLAY_MS = 500  # the heart blinks at 500 ms; readings change once a second
    HEALTH_MS = 100
    WDT_MS = 4000  # > a worst-case save (~440 ms stall) with room; RP2040 max 8388
    # a part is alive while its heartbeat is younger than this
    ALIVE_MS = (2500, 1000, 1500)  # dsp (a second + slack), modbus loop, display
    RETRY_MS = 5000  # re-initialise a front-end that lost data or its configuration

    def __init__(self, hw, store=None, clock=None, wdt=None):
        if clock is None:
            import time as clock
        self.hw = hw
        self.clock = clock
        if store is None:
            # the board's own store when it has one (pico_ads131m06: two
            # slots in its SPI F-RAM, written with interrupts on: no frame
            # lost), else two files on the flash filesystem (pico_onboard)
            if hasattr(hw, "check_store"):
                hw.check_store()  # e.g. is the F-RAM there (else: files + wrench)
            backend = getattr(hw, "store_backend", None)
            if backend is None:
                backend = FileBackend(NV_A, NV_B)
            store = NvStore(backend)
        self.app = app = App(hw.frontend, hw.pulse, hw.alarm, store,
                             serial=getattr(hw, "serial", "0"),
                             pulse_closed_level=hw.pulse_closed_level,
                             alarm_closed_level=hw.alarm_closed_level,
                             disable_irq=getattr(hw, "disable_irq", None),
                             enable_irq=getattr(hw, "enable_irq", None),
                             log_flash=getattr(hw, "log_flash", None),  # datalog.BlockFlash
                             clock=_rtc(hw))
        self.meter = m = app.meter
        m.spread = True  # the closed second's work, one job a turn (step)
        app.board_alert = bool(getattr(hw, "board_alert", False))
        # start-up: App/Persist fall back to factory defaults (with the
        # wrench) on a corrupt store; a store that cannot even be read or
        # written must not stop the meter either
        self.store_error = False
        try:
            self.fresh = app.boot()
        except OSError:  # the filesystem itself fails: run without a store
            self.store_error = True
            app.persist = None
            self.fresh = app.boot()
        cfg = m.config
        cfg.listeners.append(self._config_changed)
        self.source = hw.source
        # Modbus RTU on RS-485: the UART follows the configuration (7102/7103)
        # (the board's RX-line watcher frames requests by the wire, its DE
        # timer drops DE at the last stop bit; without them, the loop: rs485.py)
        self.rs485 = RS485(hw.uart, hw.de, cfg.baud,
                           watcher=getattr(hw, "rs485_watcher", None), clock=clock,
                           de_timer=getattr(hw, "rs485_de", None))
        self.rtu = RtuSlave(app.pdu, cfg, self._comm_change)
        self._comm_change(cfg.baud, cfg.parity_char, stop_bits(cfg.parity_char))
        self.buttons = hw.make_buttons()  # the board's debouncer (drivers/buttons.py)
        # the board's network services (boards/pico_w_ads131m06.py hands in
        # make_services -> net.Network), polled once in a turn without a
        # long task, each poll a bounded non-blocking step; None elsewhere
        mk = getattr(hw, "make_services", None)
        self.services = mk(app) if mk is not None else None
        self.lcd = None
        self.lcd_errors = 0
        self._make_lcd()
        b = self.BLOCK_FRAMES
        self._bufs = (array("i", bytes(24 * b)), array("i", bytes(24 * b)))
        self._k = 0
        self._n = 0  # frames the last turn processed
        self._fs = int(getattr(hw.source, "fs", 0) or 2500)  # frames a second
        now = clock.ticks_ms()
        self.t0 = now
        self.beat = [now, now, now]  # heartbeats, PARTS order
        self.errors = [0, 0, 0]  # exceptions caught per part
        self.last_error = None
        self._seconds = m.dsp.seconds
        self._btn_ms = self._disp_ms = self._health_ms = now
        self._acq_ms = now  # look at the front-end's ring from then on
        self._frame_due = True
        self._lcd_text = None  # a frame made, not yet written to the LCD
        self._pulse = app.pulse
        # the sleep between turns: the board's wait that a received byte
        # ends (board_common.rx_waiter), else a plain sleep
        self._rx_wait = getattr(hw, "rx_wait", None) or clock.sleep_ms
        self._led = getattr(hw, "led", None)
        self.frames = 0  # frames handed to the DSP
        self.fault = 0  # the front-end's fault bits (drivers' FAULT_*)
        self._lost = 0  # the driver's lost-frame count already billed
        self._clipped = 0  # the driver's clipped-sample count already handed over
        self.fe_running = False
        self._retry_ms = now
        self.reinits = 0
        self.wdt_feeds = 0
        # power fail: edge IRQ -> schedule -> save
        self.pf_saves = 0
        self._pf_armed = True
        self._pf_ref = self._power_fail
        self._pf_irq_ref = self._pf_irq
        pf = getattr(hw, "powerfail", None)
        self._pf_level = getattr(hw, "powerfail_active_level", 0)
        if pf is not None:
            trig = pf.IRQ_FALLING if self._pf_level == 0 else pf.IRQ_RISING
            pf.irq(handler=self._pf_irq_ref, trigger=trig, hard=True)
        self._start_frontend(now)
        # the watchdog last: once started it cannot be stopped (RP2040)
        if wdt is None and hasattr(hw, "watchdog"):
            wdt = hw.watchdog(self.WDT_MS)
        self.wdt = wdt
        if wdt is not None:
            wdt.feed()

    # ---- set-up helpers -------------------------------------------------------
    def _make_lcd(self):
        from ui_glyphs import GLYPHS

        try:
            lcd = self.hw.make_lcd()  # the board's HD44780 driver
            lcd.glyphs(GLYPHS)
            self.lcd = lcd
        except OSError:  # no display answering on the bus: run without it
            self.lcd = None
            self.lcd_errors += 1

    def _start_frontend(self, now):
        src = self.source
        self._retry_ms = now
        try:
            if hasattr(self.hw, "start"):
                self.hw.start()
            else:
                src.init()
                src.start()
            self.fe_running = True
        except OSError as e:  # the chip does not answer: alert, keep serving Modbus
            self.fe_running = False
            self.fault |= _NO_DATA
            self.last_error = e
            self.app.frontend_fault(True)

    def _comm_change(self, baud, parity, stop):
        # RtuSlave calls this after the reply that changed 7102/7103 has left
        self.hw.uart.init(baudrate=baud, bits=8, parity=_uart_parity(parity), stop=stop)
        self.rs485.set_baud(baud)

    def _config_changed(self, keys):
        if "ct_secondary" in keys and hasattr(self.source, "set_ct_secondary"):
            try:
                self.source.set_ct_secondary(self.meter.config.ct_secondary)
            except (OSError, ValueError) as e:
                self.last_error = e

    # ---- power fail -----------------------------------------------------------
    def _pf_irq(self, pin):
        # hard IRQ: no allocation; the bound method was made in __init__
        if self._pf_armed:
            self._pf_armed = False
            micropython.schedule(self._pf_ref, 0)

    def _power_fail(self, _arg):
        self.app.power_fail()
        self.pf_saves += 1

    # ---- the loop -------------------------------------------------------------
    # Every function the loop calls each turn (or each block) keeps its
    # state (locals + value stack + 2 words a try) within 11 words: the
    # stock firmware gives a bigger frame a heap block at every call, and
    # finding one in the fragmented heap cost ~35 000 cycles a call on the
    # emulated chip (docs/runtime.md 'Frames from the heap'; checked by
    # tools/frame_check.py HOT). Hence step() is a row of small calls.
    def step(self):
        """One turn of the main loop; returns the frames processed."""
        now = self.clock.ticks_ms()
        # Modbus first: a request whose t3.5 has passed is answered before
        # the turn's long task
        self._modbus(now)
        self._n = 0
        self._pulse.tick(now)  # the menu's clock is ticked with its frames (_display)
        if self.services is not None:  # the board's network (net.Network): catches its own faults
            self.services.poll(now)
        if self.clock.ticks_diff(now, self._btn_ms) >= self.BUTTON_MS:
            self._keys(now)
        # one long task a turn: a block, a job, else the display or health
        # (a turn of their own)
        if not (self._acquire(now) or self._second_job()):
            self._idle_work(now)
        return self._n

    def _modbus(self, now):
        try:
            self._serve(now)
        except Exception:  # not 'as e': binding it costs a heap frame a call
            self._failed(_PART_MODBUS)  # its heartbeat stops: the watchdog decides

    def _serve(self, now):
        self.rs485.service(self.rtu)
        self.beat[_PART_MODBUS] = now

    def _acquire(self, now):
        if not self.fe_running or self.clock.ticks_diff(now, self._acq_ms) < 0:
            return False
        if self._short(now):
            return False
        try:
            self._block(now)
        except Exception:  # a bug: counted; the watchdog decides
            self._failed(_PART_DSP)
        return True

    def _short(self, now):
        # fewer than MIN_FRAMES wait: look again when they can be there,
        # not every turn (the DMA-register read costs ~0.1 ms on the chip)
        a = self.source.available()
        if a >= self.MIN_FRAMES:
            return False
        self._acq_ms = self.clock.ticks_add(now, (self.MIN_FRAMES - a) * 1000 // self._fs)
        return True

    def _block(self, now):
        buf = self._bufs[self._k]
        n = self.source.read_block(buf, self.BLOCK_FRAMES)
        self._n = n
        self._bill_lost()
        self._flag_clipped()
        if n:
            self._k ^= 1  # the other block next: the one in use is never overwritten
            self.app.samples(buf, n)
            self.frames += n
            self._second_beat(now)

    def _bill_lost(self):
        # frames the driver could not hand over (overrun, bad CRC): billed
        # at the power measured around them
        lost = getattr(self.source, "lost", 0)
        if lost != self._lost:
            self.app.frames_lost(lost - self._lost)
            self._lost = lost

    def _flag_clipped(self):
        # samples at a converter rail (the driver's decode): register 146
        # bits 0-5 for this second, 7303-7304
        clipped = getattr(self.source, "clipped", 0)
        if clipped != self._clipped:
            self._hand_clipped(clipped)

    def _hand_clipped(self, clipped):
        self.app.clipped(self.source.take_clip_mask(), (clipped - self._clipped) & 0x3FFFFFFF)
        self._clipped = clipped

    def _second_beat(self, now):
        s = self.meter.dsp.seconds
        if s != self._seconds:
            self._seconds = s
            self.beat[_PART_DSP] = now
            if self._led is not None:
                self._led.value(s & 1)

    def _second_job(self):
        # the last closed second's jobs, one a turn and never in a turn
        # that decoded a block: no turn carries the whole second
        if not self.meter.busy:
            return False
        try:
            self.meter.work()
        except Exception:
            self._failed(_PART_DSP)
        return True

    def _keys(self, now):
        self._btn_ms = now
        ev = self.buttons.poll(now)
        if ev:
            i = 0
            while i < len(ev):  # a for would make an iterator each poll
                self.app.key(ev[i], now)
                i += 1
            self._frame_due = True

    def _idle_work(self, now):
        if self._lcd_text is not None:
            self._show()
        elif self._frame_due or self.clock.ticks_diff(now, self._disp_ms) >= self.DISPLAY_MS:
            self._display(now)
        elif self.clock.ticks_diff(now, self._health_ms) >= self.HEALTH_MS:
            self._health_ms = now
            self._health(now)

    def nap_ms(self, began):
        """How long to sleep after a turn that began at `began` (ticks_ms):
        until TURN_MS after it, or sooner for the pulse contact's next edge
        or the end of a reply's wire time (DE drops then)."""
        d = self.TURN_MS - self.clock.ticks_diff(self.clock.ticks_ms(), began)
        if self._pulse.busy or self._pulse.pending:
            d = self._sooner(d, self._pulse.due_in(self.clock.ticks_ms()))
        if self.rs485.sending:
            d = self._sooner(d, (self.rs485.release_due_us() + 999) // 1000)
        return d

    @staticmethod
    def _sooner(d, due):
        return due if 0 <= due < d else d

    def _failed(self, part):
        self.errors[part] += 1

    def _caught(self, part, e):
        self.errors[part] += 1
        self.last_error = e

    def _display(self, now):
        self._disp_ms = now
        self._frame_due = False
        try:
            self.app.tick(now)  # the menu's clock: heart, messages, inactivity
            f = self.app.frame()
            self.beat[_PART_DISPLAY] = now
        except Exception as e:
            self._caught(_PART_DISPLAY, e)
            return
        if self.lcd is not None:
            self._lcd_text = f  # written in a turn of its own (_show)

    def _show(self):
        # the LCD's I2C write (~7 ms at 100 kHz for a changed line), apart
        # from the frame's text so neither makes a long turn
        f = self._lcd_text
        self._lcd_text = None
        try:
            self.lcd.show(f)
        except OSError:  # a loose display connector: retried next frame
            self.lcd_errors += 1

    def _health(self, now):
        clock = self.clock
        src = self.source
        f = 0
        if self.fe_running:
            f = src.fault(now)
        else:
            f = _NO_DATA
        if f and not self.fault:
            self._retry_ms = now  # re-initialise if it lasts RETRY_MS
        if bool(f) != bool(self.fault):
            self.app.frontend_fault(f != 0)
        if f & _NO_DATA and not self.fault & _NO_DATA:
            # nothing measured: the readings are not known any more (QNAN
            # on Modbus, '----' on the display); energy simply stops
            self.meter.bank.refresh(valid=0)
        self.fault = f
        if f & (_NO_DATA | _RESET) and clock.ticks_diff(now, self._retry_ms) >= self.RETRY_MS:
            self.reinits += 1
            if self.fe_running:
                try:
                    src.stop()
                except OSError:
                    pass
            self._start_frontend(now)
        # power fail: re-armed once the input is back to normal
        pf = getattr(self.hw, "powerfail", None)
        if pf is not None and not self._pf_armed and pf.value() != self._pf_level:
            self._pf_armed = True
        if self.wdt is not None and self.alive(now):
            self.wdt.feed()
            self.wdt_feeds += 1

    def alive(self, now):
        """Every part has shown a heartbeat recently. The DSP counts as alive
        without seconds while the front-end is in a known fault (alert
        raised, re-initialised every RETRY_MS): resetting the board would not
        mend the ADC and would take Modbus away."""
        d = self.clock.ticks_diff
        for p in range(len(PARTS)):
            if d(now, self.beat[p]) >= self.ALIVE_MS[p]:
                if p == _PART_DSP and self.fault & (_NO_DATA | _RESET):
                    continue
                return False
        return True

    def status(self):
        src = self.source
        return {
            "frames": self.frames, "seconds": self.meter.dsp.seconds, "fault": self.fault,
            "lost": getattr(src, "lost", 0), "overruns": getattr(src, "overruns", 0),
            "crc_errors": getattr(src, "crc_errors", 0), "reinits": self.reinits,
            "wdt_feeds": self.wdt_feeds, "pf_saves": self.pf_saves, "errors": list(self.errors),
            "lcd_errors": self.lcd_errors, "store_error": self.store_error,
        }

    def run(self, max_seconds=None):
        clock = self.clock
        while True:
            began = clock.ticks_ms()
            self.step()
            if max_seconds is not None and \
                    clock.ticks_diff(clock.ticks_ms(), self.t0) >= 1000 * max_seconds:
                return self
            self._wait(self.nap_ms(began))

    def _wait(self, d):
        # Asleep (WFE on the RP2040) until the next turn is due, d ms, or
        # until Modbus has a request to answer: while the line is quiet the
        # board's rx_wait sleeps until the first byte of a request arrives;
        # from then on the loop looks every SLICE_MS for the watcher's
        # frame-end event, so a reply leaves within SLICE_MS of the
        # request's t3.5 (plus a long task in progress), however long TURN_MS is.
        while d > 0:
            if self.rs485.ready():
                return
            d -= self._nap(d)

    def _nap(self, d):
        t = self.clock.ticks_ms()
        if self.rs485.rx_idle():
            self._rx_wait(d)
        else:
            self.clock.sleep_ms(d if d < self.SLICE_MS else self.SLICE_MS)
        return self.clock.ticks_diff(self.clock.ticks_ms(), t) or 1


def run(hw, store=None, clock=None, wdt=None, max_seconds=None):
    rt = Runtime(hw, store, clock, wdt)
    return rt.run(max_seconds)
