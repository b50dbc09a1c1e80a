# The register map: ONE declarative table of every Modbus register, from
# which tools/gen_docs.py writes docs/registers.md, docs/registers.csv and
# firmware/regtable.py, the compact form (one 10-byte record a row,
# tools/regtable_gen.py) registers.py answers from. This module, with its
# texts, stays on the host: neither tools/deploy.py nor manifest.py puts it
# on the board (docs/memory.md).
#
# A row is (reg, fmt, units, scale, src, rw, nv, name, desc):
#   reg    first register, base 1 as the datasheet (protocol address reg-1)
#   fmt    UInt SInt ULong SLong Float (native), uint16 int16 uint32 sunssf
#          acc32 bitfield32 string(n) (SunSpec; n characters, n/2 registers)
#   units  the register's unit as the datasheet (or the SunSpec model) writes it
#   scale  E W V I: times 10^(register 141 140 139 138); 0.0001 0.01 100:
#          fixed; X_SF: times 10^(that SunSpec scale-factor point); '' none
#   src    where the value comes from (registers.py, via regtable.py):
#            rd.<reading>      DSP reading (readings.R_*), QNAN when not valid
#            en.<kind>.<ph>    energy accumulator, ph A B C or T (total)
#            dm.<p|q|s>[_pk_imp|_pk_exp]  demand (W, var, VA)
#            cfg.<key>         configuration value (config.py), R/W ones writable
#            ctr.<name>        pulse counters; st.errors st.resets: 146, 147
#            ss.<point>        SunSpec scale factor, model ID or event bits
#            id.<mn|md|opt|vr|sn> identity strings; fw: firmware version
#            cmd: register 129; const.<n>; qnan
#            rtc.<i>           clock word 155 + i (rtc.py)
#            log.<i>           log status word 160 + i (datalog.py)
#            nv.<i>            store status 7401 (0), failed store writes (1) (app.py)
#            seal              the calibration unlock 7210-7211 (config.py)
#   rw     'R' or 'R/W';  nv: 1 if kept over a power cycle
#   name   SunSpec point name ('' for native registers)
#
# Decisions on the datasheet's duplicated or mislabelled rows are in
# DECISIONS below and are printed beside the table in docs/registers.md.

FW_VERSION = 1000  # register 7001: 'V1.000' (addendum 'Identity')
VENDOR = "OpenMeter"
PRODUCT = "S4100C"
MODEL = "S4100-compatible FDS"  # SunSpec Md
ID_STRING = "OpenMeter S4100-compatible Power Meter Full Data Set RUNNING OS Version "

R = "R"
RW = "R/W"

_PH = ("A", "B", "C")
_LL = ("AB", "BC", "CA")
_LL_TXT = ("A-B", "B-C", "A-C")  # the datasheet's names for 103-105, 389-394


def _widths(fmt):
    if fmt in ("ULong", "SLong", "Float", "uint32", "acc32", "bitfield32"):
        return 2
    if fmt.startswith("string(") or fmt.startswith("String("):
        return int(fmt[7:-1]) // 2
    return 1


def width(fmt):
    return _widths(fmt)


_rows = []


def _r(reg, fmt, units, scale, src, rw, nv, desc, name=""):
    _rows.append((reg, fmt, units, scale, src, rw, nv, name, desc))


# ---- Integer data: summary of active phases (1-42) -------------------------
_r(1, "SLong", "kWh", "E", "en.wh_net.T", R, 1, "Real Energy: Net (Import - Export)")
_r(3, "ULong", "kWh", "E", "en.wh_imp.T", R, 1, "Real Energy: Quadrants 1 & 4 Import")
_r(5, "ULong", "kWh", "E", "en.wh_exp.T", R, 1, "Real Energy: Quadrants 2 & 3 Export")
_r(7, "ULong", "kVARh", "E", "en.q1.T", R, 1, "Reactive Energy - Quadrant 1")
_r(9, "ULong", "kVARh", "E", "en.q2.T", R, 1, "Reactive Energy - Quadrant 2")
_r(11, "ULong", "kVARh", "E", "en.q3.T", R, 1, "Reactive Energy - Quadrant 3")
_r(13, "ULong", "kVARh", "E", "en.q4.T", R, 1, "Reactive Energy - Quadrant 4")
_r(15, "SLong", "kVAh", "E", "en.vah_net.T", R, 1, "Apparent Energy: Net (Import - Export)")
_r(17, "ULong", "kVAh", "E", "en.vah_imp.T", R, 1, "Apparent: Quadrants 1 & 4 Import")
_r(19, "ULong", "kVAh", "E", "en.vah_exp.T", R, 1, "Apparent: Quadrants 2 & 3 Export")
_r(21, "SInt", "kW", "W", "rd.P_TOT", R, 0, "Total Instantaneous Real (P) Power")
_r(22, "SInt", "kVAR", "W", "rd.Q_TOT", R, 0, "Total Instantaneous Reactive (Q) Power")
_r(23, "UInt", "kVA", "W", "rd.S_TOT", R, 0, "Total Instantaneous Apparent (S) Power (vector sum)")
_r(24, "SInt", "Ratio", "0.0001", "rd.PF_TOT", R, 0, "Total Power Factor (total kW / total kVA)")
_r(25, "UInt", "Volt", "V", "rd.VLL_AVG", R, 0, "Voltage, L-L (U), average of active phases")
_r(26, "UInt", "Volt", "V", "rd.VLN_AVG", R, 0, "Voltage, L-N (V), average of active phases")
_r(27, "UInt", "Amp", "I", "rd.I_AVG", R, 0, "Current, average of active phases")
_r(28, "UInt", "Hz", "0.01", "rd.FREQ", R, 0, "Frequency")
_r(29, "SInt", "kW", "W", "dm.p", R, 0, "Total Real Power Present Demand")
_r(30, "SInt", "kVAR", "W", "dm.q", R, 0, "Total Reactive Power Present Demand")
_r(31, "SInt", "kVA", "W", "dm.s", R, 0, "Total Apparent Power Present Demand")
_r(32, "SInt", "kW", "W", "dm.p_pk_imp", R, 1, "Total Real Power Max. Demand, import (most positive)")
_r(33, "SInt", "kVAR", "W", "dm.q_pk_imp", R, 1, "Total Reactive Power Max. Demand, import (most positive)")
_r(34, "SInt", "kVA", "W", "dm.s_pk_imp", R, 1, "Total Apparent Power Max. Demand, import (most positive)")
_r(35, "SInt", "kW", "W", "dm.p_pk_exp", R, 1, "Total Real Power Max. Demand, export (most negative)")
_r(36, "SInt", "kVAR", "W", "dm.q_pk_exp", R, 1, "Total Reactive Power Max. Demand, export (most negative)")
_r(37, "SInt", "kVA", "W", "dm.s_pk_exp", R, 1, "Total Apparent Power Max. Demand, export (most negative)")
_r(38, "UInt", "", "", "qnan", R, 0, "Reserved, returns 0x8000 (QNaN)")
_r(39, "ULong", "", "", "ctr.pulses_imp", R, 1, "Pulse Counter 1 (Import Real Energy)")
_r(41, "ULong", "", "", "ctr.pulses_exp", R, 1, "Pulse Counter 2 (Export Real Energy)")

# ---- Integer data: per phase (43-112) ----------------------------------------
# per-phase energies: (integer ULong base, float base, units, source, text);
# the same eight rows stand at 43-90 and at 317-364
_PER_PHASE_E = (
    (43, 317, "kWh", "wh_imp", "Accumulated Real Energy, Phase %s, import"),
    (49, 323, "kWh", "wh_exp", "Accumulated Real Energy, Phase %s, export"),
    (55, 329, "kVARh", "q1", "Accumulated Q1 Reactive Energy, Phase %s"),
    (61, 335, "kVARh", "q2", "Accumulated Q2 Reactive Energy, Phase %s"),
    (67, 341, "kVARh", "q3", "Accumulated Q3 Reactive Energy, Phase %s"),
    (73, 347, "kVARh", "q4", "Accumulated Q4 Reactive Energy, Phase %s"),
    (79, 353, "kVAh", "vah_imp", "Accumulated Apparent Energy, Phase %s, import"),
    (85, 359, "kVAh", "vah_exp", "Accumulated Apparent Energy, Phase %s, export"),
)
for _base, _fbase, _u, _k, _d in _PER_PHASE_E:
    for _i in range(3):
        _r(_base + 2 * _i, "ULong", _u, "E", "en.%s.%s" % (_k, _PH[_i]), R, 1, _d % _PH[_i])
for _i in range(3):
    _r(91 + _i, "SInt", "kW", "W", "rd.P." + _PH[_i], R, 0, "Real Power (P), Phase " + _PH[_i])
for _i in range(3):
    _r(94 + _i, "SInt", "kVAR", "W", "rd.Q." + _PH[_i], R, 0, "Reactive Power (Q), Phase " + _PH[_i])
for _i in range(3):
    _r(97 + _i, "UInt", "kVA", "W", "rd.S." + _PH[_i], R, 0, "Apparent Power (S), Phase " + _PH[_i])
for _i in range(3):
    _r(100 + _i, "SInt", "Ratio", "0.0001", "rd.PF." + _PH[_i], R, 0, "Power Factor (PF), Phase " + _PH[_i])
for _i in range(3):
    _r(103 + _i, "UInt", "Volt", "V", "rd.VLL." + _LL[_i], R, 0, "Voltage (U), Phase " + _LL_TXT[_i])
for _i in range(3):
    _r(106 + _i, "UInt", "Volt", "V", "rd.VLN." + _PH[_i], R, 0, "Voltage (V), Phase %s-N" % _PH[_i])
for _i in range(3):
    _r(109 + _i, "UInt", "Amp", "I", "rd.I." + _PH[_i], R, 0, "Current, Phase " + _PH[_i])
_r(112, "UInt", "", "", "qnan", R, 0, "Reserved, Returns 0x8000 (QNaN)")

# ---- Configuration (129-154) ---------------------------------------------------
_r(129, "UInt", "", "", "cmd", RW, 0,
   "Reset: 30078 clear energy, 21211 demand sync, 21212 peaks = present demand, "
   "16640 reset logging, 16498 clear pulse counts; reads 0")
_r(130, "UInt", "", "", "cfg.system_type", RW, 1, "System Type: 10, 11, 12, 31, 40")
_r(131, "UInt", "Amps", "", "cfg.ct_primary", RW, 1, "CT Ratio - Primary (5-32000 A)")
_r(132, "UInt", "", "", "cfg.ct_secondary", RW, 1, "CT Ratio - Secondary Interface (1 = 1 V, 3 = 1/3 V)")
_r(133, "UInt", "", "100", "cfg.pt_ratio", RW, 1, "PT Ratio x 100 (1-32000 = 0.01-320.00)")
_r(134, "UInt", "", "", "cfg.system_voltage", RW, 1,
   "System Voltage, L-L (L-N in type 10); refused outside 82-660 V divided by the PT ratio")
_r(135, "UInt", "kW", "W", "cfg.reg135", R, 1, "Theoretical Maximum System Power")
_r(136, "UInt", "", "", "const.0", R, 0, "Reserved, always returns 0")
_r(137, "UInt", "", "", "cfg.display_units", RW, 1, "Display Units: 0 = IEC, 1 = IEEE")
_r(138, "SInt", "", "", "cfg.sf_i", R, 0, "Scale Factor I (Current)")
_r(139, "SInt", "", "", "cfg.sf_v", R, 0, "Scale Factor V (Voltage)")
_r(140, "SInt", "", "", "cfg.sf_w", R, 0, "Scale Factor W (Power)")
_r(141, "SInt", "", "", "cfg.sf_e", R, 0, "Scale Factor E (Energy)")
_r(142, "UInt", "%", "", "cfg.pl_volts", RW, 1, "Phase Loss Voltage Threshold, % of system voltage (1-99)")
_r(143, "UInt", "%", "", "cfg.pl_imbal", RW, 1, "Phase Loss Imbalance Threshold, % (1-99)")
_r(144, "UInt", "Wh", "", "cfg.pulse_wh", RW, 1, "Wh per Pulse Output Contact Closure: 10000, 1000, 100, 10")
_r(145, "UInt", "msec", "", "cfg.pulse_ms", R, 1, "Pulse Contact Closure Duration: 500, 250, 100, 50, 25, 10")
_r(146, "UInt", "", "", "st.errors", R, 0,
   "Error Bitmap (bits 0-6 DSP, 7 store alert (7401), 8-13 alarms, 14-15 pulse output)")
_r(147, "UInt", "", "", "st.resets", R, 1, "Count of Energy Accumulator resets")
_r(148, "UInt", "", "", "const.0", R, 0, "Reserved (returns 0)")
_r(149, "UInt", "", "", "cfg.demand_n", RW, 1, "Number of Sub-Intervals per Demand Interval (1-6)")
_r(150, "UInt", "Seconds", "", "cfg.demand_len", RW, 1,
   "Sub-Interval Length in seconds (0 = sync-to-comms, 10-32767)")
_r(151, "UInt", "", "", "const.0", R, 0, "Reserved (returns 0)")
_r(152, "UInt", "", "", "cfg.power_ups", R, 1, "Power Up Counter (0-32767, then 0)")
_r(153, "UInt", "", "", "const.0", R, 1, "Output Configuration (always 0: NO energy, NC phase loss)")
_r(154, "UInt", "", "", "const.0", R, 0, "Reserved, returns 0")
# 155-178: real-time clock and data logging (addendum; rtc.py, datalog.py)
_r(155, "UInt", "", "", "rtc.0", RW, 0, "Clock: Month (high byte, 1-12) / Day (low byte, 1-31)")
_r(156, "UInt", "", "", "rtc.1", RW, 0, "Clock: Year (high byte, 0-199 = 2000-2199) / Hour (low byte, 0-23)")
_r(157, "UInt", "", "", "rtc.2", RW, 0, "Clock: Minutes (high byte, 0-59) / Seconds (low byte, 0-59)")
_r(158, "UInt", "", "", "cfg.log_page", RW, 0,
   "Log read page: 1-10 selects log buffer n at 8000-13759 and pauses logging; 0 resumes")
_r(159, "UInt", "", "", "cfg.log_mode", RW, 1,
   "Logging configuration: bit 0 = 1 single-shot (0 circular), bit 1 = 1 halt; other bits 0")
_r(160, "UInt", "", "", "log.0", R, 0,
   "Log status: bit 0 buffer full, 1 read collision 1, 2 read collision 2, 3 log reset, "
   "4 logging interrupted, 5 clock changed")
_r(161, "UInt", "", "", "log.1", R, 1, "Logged entry count since the last log reset (0-32767, saturating)")
_r(162, "UInt", "", "", "log.2", R, 0, "Reserved (returns 0)")
_r(163, "UInt", "", "", "log.3", R, 0, "Reserved (returns 0)")
_r(164, "ULong", "kWh", "E", "log.4", R, 1, "Real import energy (as 3-4) at the newest log entry")
_r(166, "UInt", "", "", "log.6", R, 1, "Newest log entry time: Month/Day (as 155)")
_r(167, "UInt", "", "", "log.7", R, 1, "Newest log entry time: Year/Hour (as 156)")
_r(168, "UInt", "", "", "log.8", R, 1, "Newest log entry time: Minutes/Seconds (as 157)")
for _i in range(10):
    _r(169 + _i, "UInt", "", "", "cfg.log_ptr%d" % (_i + 1), RW, 1,
       "Log register pointer %d: register (1-157) logged in buffer %d" % (_i + 1, _i + 1))

# ---- Floating point data: summary of active phases (257-316) ---------------------
_r(257, "Float", "kWh", "", "en.wh_net.T", R, 1, "Accumulated Real Energy: Net (Import - Export)")
_r(259, "Float", "kWh", "", "en.wh_imp.T", R, 1, "Real Energy: Quadrants 1 & 4 Import")
_r(261, "Float", "kWh", "", "en.wh_exp.T", R, 1, "Real Energy: Quadrants 2 & 3 Export")
_r(263, "Float", "kVARh", "", "en.q1.T", R, 1, "Reactive Energy: Quadrant 1")
_r(265, "Float", "kVARh", "", "en.q2.T", R, 1, "Reactive Energy: Quadrant 2")
_r(267, "Float", "kVARh", "", "en.q3.T", R, 1, "Reactive Energy: Quadrant 3")
_r(269, "Float", "kVARh", "", "en.q4.T", R, 1, "Reactive Energy: Quadrant 4")
_r(271, "Float", "kVAh", "", "en.vah_net.T", R, 1, "Apparent Energy: Net (Import - Export)")
_r(273, "Float", "kVAh", "", "en.vah_imp.T", R, 1, "Apparent Energy: Quadrants 1 & 4 Import")
_r(275, "Float", "kVAh", "", "en.vah_exp.T", R, 1, "Apparent Energy: Quadrants 2 & 3 Export")
_r(277, "Float", "kW", "", "rd.P_TOT", R, 0, "Total Net Instantaneous Real (P) Power")
_r(279, "Float", "kVAR", "", "rd.Q_TOT", R, 0, "Total Net Instantaneous Reactive (Q) Power")
_r(281, "Float", "kVA", "", "rd.S_TOT", R, 0, "Total Net Instantaneous Apparent (S) Power")
_r(283, "Float", "Ratio", "", "rd.PF_TOT", R, 0, "Total Power Factor (Total kW / Total kVA)")
_r(285, "Float", "Volt", "", "rd.VLL_AVG", R, 0, "Voltage, L-L (U), average of active phases")
_r(287, "Float", "Volt", "", "rd.VLN_AVG", R, 0, "Voltage, L-N (V), average of active phases")
_r(289, "Float", "Amp", "", "rd.I_AVG", R, 0, "Current, average of active phases")
_r(291, "Float", "Hz", "", "rd.FREQ", R, 0, "Frequency")
_r(293, "Float", "kW", "", "dm.p", R, 0, "Total Real Power Present Demand")
_r(295, "Float", "kVAR", "", "dm.q", R, 0, "Total Reactive Power Present Demand")
_r(297, "Float", "kVA", "", "dm.s", R, 0, "Total Apparent Power Present Demand")
_r(299, "Float", "kW", "", "dm.p_pk_imp", R, 1, "Total Real Power Max. Demand, import")
_r(301, "Float", "kVAR", "", "dm.q_pk_imp", R, 1, "Total Reactive Power Max. Demand, import")
_r(303, "Float", "kVA", "", "dm.s_pk_imp", R, 1, "Total Apparent Power Max. Demand, import")
_r(305, "Float", "kW", "", "dm.p_pk_exp", R, 1, "Total Real Power Max. Demand, export")
_r(307, "Float", "kVAR", "", "dm.q_pk_exp", R, 1, "Total Reactive Power Max. Demand, export")
_r(309, "Float", "kVA", "", "dm.s_pk_exp", R, 1, "Total Apparent Power Max. Demand, export")
_r(311, "Float", "", "", "qnan", R, 0, "Reserved, reports QNAN (0x7FC00000)")
_r(313, "Float", "", "1", "ctr.pulses_imp", R, 0, "Pulse Counter 1 (Import Real Energy)")
_r(315, "Float", "", "1", "ctr.pulses_exp", R, 0, "Pulse Counter 2 (Export Real Energy)")

# ---- Floating point data: per phase (317-408) ---------------------------------
for _base, _fbase, _u, _k, _d in _PER_PHASE_E:
    for _i in range(3):
        _r(_fbase + 2 * _i, "Float", _u, "", "en.%s.%s" % (_k, _PH[_i]), R, 1, _d % _PH[_i])
_FLOAT_PH = (
    (365, "kW", "P", "Real Power, Phase %s"),
    (371, "kVAR", "Q", "Reactive Power, Phase %s"),
    (377, "kVA", "S", "Apparent Power, Phase %s"),
    (383, "Ratio", "PF", "Power Factor, Phase %s"),
)
for _base, _u, _k, _d in _FLOAT_PH:
    for _i in range(3):
        _r(_base + 2 * _i, "Float", _u, "", "rd.%s.%s" % (_k, _PH[_i]), R, 0, _d % _PH[_i])
for _i in range(3):
    _r(389 + 2 * _i, "Float", "Volt", "", "rd.VLL." + _LL[_i], R, 0, "Voltage, Phase " + _LL_TXT[_i])
for _i in range(3):
    _r(395 + 2 * _i, "Float", "Volt", "", "rd.VLN." + _PH[_i], R, 0, "Voltage, Phase %s-N" % _PH[_i])
for _i in range(3):
    _r(401 + 2 * _i, "Float", "Amp", "", "rd.I." + _PH[_i], R, 0, "Current, Phase " + _PH[_i])
_r(407, "Float", "", "", "qnan", R, 0, "Reserved, Reports QNAN (0x7FC00000)")

# ---- Identity and vendor block ------------------------------------------------------
_r(7001, "UInt", "", "", "fw", R, 1, "Firmware Version, Operating System (1000 = V1.000)")
_r(7101, "UInt", "", "", "cfg.address", RW, 1, "Modbus address, 1-247 (vendor register)")
_r(7102, "UInt", "baud", "", "cfg.baud", RW, 1,
   "Baud rate: 1200, 2400, 4800, 9600, 19200, 38400 (vendor register)")
_r(7103, "UInt", "", "", "cfg.parity", RW, 1, "Parity: 0 = none, 1 = odd, 2 = even (vendor register)")

# ---- Calibration (vendor block 7201-7209; tools/calibrate.py) ---------------------------
# cal.gain.<ch>: config cal_gains[ch] x 10000; cal.phase.<ph>: cal_phases[ph] in
# millidegrees (the current's extra lag the DSP removes). Written through
# Config.apply like any setting: refused values are exception 3.
_CH = ("Va", "Vb", "Vc", "Ia", "Ib", "Ic")
for _i in range(6):
    _r(7201 + _i, "UInt", "", "0.0001", "cal.gain.%d" % _i, RW, 1,
       "Calibration gain, channel %s, x 10000 (5000-20000 = 0.5-2.0; 10000 = 1)" % _CH[_i])
for _i in range(3):
    _r(7207 + _i, "SInt", "deg", "0.001", "cal.phase.%d" % _i, RW, 1,
       "Phase correction, phase %s, millidegrees (-10000..10000): the current's lag removed" % _PH[_i])

# ---- Calibration seal and store status (issue 13; vendor 7210-7217, 7401-7403) -------
# One contiguous block of additions, docs/storage.md and the DECISIONS below.
_r(7210, "ULong", "s", "", "seal", RW, 0,
   "Calibration unlock: write the SETUP password (0-99999) to open 7201-7209 for 300 s, a value "
   "over 99999 to seal them at once; reads the seconds left (0 = sealed)")
_r(7212, "UInt", "", "", "cfg.cal_count", R, 1,
   "Calibration changes: writes that changed 7201-7209 (saturates at 65535)")
_r(7213, "UInt", "", "", "cfg.cal_t0", R, 1, "Last calibration change: Month/Day (as 155)")
_r(7214, "UInt", "", "", "cfg.cal_t1", R, 1, "Last calibration change: Year/Hour (as 156)")
_r(7215, "UInt", "", "", "cfg.cal_t2", R, 1, "Last calibration change: Minutes/Seconds (as 157)")
_r(7216, "UInt", "", "", "cfg.cal_pu", R, 1, "Last calibration change: power-up count (152) then")
_r(7217, "UInt", "", "", "cfg.cal_fails", R, 1,
   "Calibration unlocks refused for a wrong password (saturates at 65535)")
_r(7401, "UInt", "", "", "nv.0", RW, 1,
   "Store status: bit 0 saving fails, bit 1 store corrupt at start (defaults), bit 2 older record "
   "loaded at start, bit 3 a stored field out of range (its default used); write 0 to "
   "acknowledge bits 1-3. Any bit: 146 bit 7")
_r(7402, "ULong", "", "", "nv.1", R, 0, "Failed store writes since power-up (wrapping at 2^32)")

# ---- Acquisition diagnostics (vendor block 7301-7302) ---------------------------------
_r(7301, "ULong", "frames", "", "ctr.frames_gap", R, 0,
   "ADC frames billed as a gap since power-up: lost, overrun or CRC-dropped frames whose energy "
   "is estimated from the power around them (vendor register)")

# ---- Clipping (issue 12, DSP; vendor 7303-7304) -------------------------------------
# A sample at a converter's rail sets its channel's bit 0-5 of 146 for that
# second (docs/dsp.md 'Over-range and clipping'); this counts them.
_r(7303, "ULong", "samples", "", "ctr.clipped", R, 0,
   "Samples at a converter's rail (clipped) since power-up, all six channels; each also sets its "
   "channel's over-range bit of 146 for that second (vendor register)")

# ---- SunSpec common model (40001-40069) ----------------------------------------------
_r(40001, "uint32", "", "", "const.0x53756E53", R, 1, "ASCII 'SunS': start of the SunSpec blocks", "SunS")
_r(40003, "uint16", "", "", "const.1", R, 1, "SunSpec common model ID", "ID")
_r(40004, "uint16", "", "", "const.65", R, 1, "Length of the common model block (legacy 65)", "L")
_r(40005, "string(32)", "", "", "id.mn", R, 1, "Manufacturer", "Mn")
_r(40021, "string(32)", "", "", "id.md", R, 1, "Model", "Md")
_r(40037, "string(16)", "", "", "id.opt", R, 1, "Options", "Opt")
_r(40045, "string(16)", "", "", "id.vr", R, 1, "Version", "Vr")
_r(40053, "string(32)", "", "", "id.sn", R, 1, "Serial number", "SN")
_r(40069, "uint16", "", "", "cfg.address", RW, 1, "Modbus device address (same as 7101)", "DA")

# ---- SunSpec meter model 201/202/203/204 (40070-40176) --------------------------------
# Point names as model 203/204; model 201 names 40082-40084 PPVphAB/BC/CA
# (SS_NAMES_201).
_r(40070, "uint16", "", "", "ss.ID", R, 1, "Meter model ID by system type: 10, 11 -> 201, 12 -> 202, "
   "40 -> 203, 31 -> 204", "ID")
_r(40071, "uint16", "", "", "const.105", R, 1, "Length of the meter model block", "L")
_SS_GROUPS = (
    (40072, "A", "A_SF", "I_SUM", "I", _PH, ("A", "AphA", "AphB", "AphC"), "AC current (sum of phases)"),
    (40077, "V", "V_SF", "VLN_AVG", "VLN", _PH, ("PhV", "PhVphA", "PhVphB", "PhVphC"),
     "Voltage L-N (average)"),
    (40081, "V", "V_SF", "VLL_AVG", "VLL", _LL, ("PPV", "PhVphAB", "PhVphBC", "PhVphCA"),
     "Voltage L-L (average)"),
    (40088, "W", "W_SF", "P_TOT", "P", _PH, ("W", "WphA", "WphB", "WphC"), "Real power"),
    (40093, "VA", "VA_SF", "S_TOT", "S", _PH, ("VA", "VAphA", "VAphB", "VAphC"), "Apparent power"),
    (40098, "var", "VAR_SF", "Q_TOT", "Q", _PH, ("VAR", "VARphA", "VARphB", "VARphC"), "Reactive power"),
    (40103, "Pct", "PF_SF", "PF_TOT", "PF", _PH, ("PF", "PFphA", "PFphB", "PFphC"), "Power factor"),
)
for _base, _u, _sf, _tot, _k, _phs, _names, _d in _SS_GROUPS:
    _r(_base, "int16", _u, _sf, "rd." + _tot, R, 0, _d + ", total", _names[0])
    for _i in range(3):
        _r(_base + 1 + _i, "int16", _u, _sf, "rd.%s.%s" % (_k, _phs[_i]), R, 0,
           "%s, phase %s" % (_d, _phs[_i]), _names[1 + _i])
    if _base != 40077:  # L-N and L-L share V_SF at 40085
        _r(_base + 4, "sunssf", "", "", "ss." + _sf, R, 0, _sf + " scale factor", _sf)
_r(40086, "int16", "Hz", "Hz_SF", "rd.FREQ", R, 0, "Frequency", "Hz")
_r(40087, "sunssf", "", "", "ss.Hz_SF", R, 0, "Hz scale factor", "Hz_SF")
_SS_E = (
    (40108, "Wh", "TotWh_SF", "wh_exp", "TotWhExp", "Real energy exported"),
    (40116, "Wh", "TotWh_SF", "wh_imp", "TotWhImp", "Real energy imported"),
    (40125, "VAh", "TotVAh_SF", "vah_exp", "TotVAhExp", "Apparent energy exported"),
    (40133, "VAh", "TotVAh_SF", "vah_imp", "TotVAhImp", "Apparent energy imported"),
    (40142, "varh", "TotVArh_SF", "q1", "TotVArhImpQ1", "Reactive energy, quadrant 1"),
    (40150, "varh", "TotVArh_SF", "q2", "TotVArhImpQ2", "Reactive energy, quadrant 2"),
    (40158, "varh", "TotVArh_SF", "q3", "TotVArhExpQ3", "Reactive energy, quadrant 3"),
    (40166, "varh", "TotVArh_SF", "q4", "TotVArhExpQ4", "Reactive energy, quadrant 4"),
)
for _base, _u, _sf, _k, _n, _d in _SS_E:
    _r(_base, "acc32", _u, _sf, "en.%s.T" % _k, R, 1, _d + ", total", _n)
    for _i in range(3):
        _r(_base + 2 + 2 * _i, "acc32", _u, _sf, "en.%s.%s" % (_k, _PH[_i]), R, 1,
           "%s, phase %s" % (_d, _PH[_i]), _n + "Ph" + _PH[_i])
    if _base in (40116, 40133, 40166):
        _r(_base + 8, "sunssf", "", "", "ss." + _sf, R, 0, _sf + " scale factor", _sf)
_r(40175, "bitfield32", "", "", "ss.Evt", R, 0, "Meter event flags (from register 146)", "Evt")
_r(40177, "uint16", "", "", "const.0xFFFF", R, 1, "End block ID", "ID")
_r(40178, "uint16", "", "", "const.0", R, 1, "End block length", "L")

SS_NAMES_201 = {"PhVphAB": "PPVphAB", "PhVphBC": "PPVphBC", "PhVphCA": "PPVphCA"}
SS_MODEL_BY_TYPE = {10: 201, 11: 201, 12: 202, 40: 203, 31: 204}

# Blocks the Modbus server answers: (first, last) registers, base 1. Inside
# a block, registers no row covers read as GAP_WORD; everything outside
# every block is 'illegal data address' (exception 2).
BLOCKS = ((1, 408), (7001, 7001), (7101, 7103), (7201, 7217), (7301, 7304), (7401, 7403),
          (40001, 40178))
GAP_WORD = 0x8000
# Data-log buffer window (addendum): with page n (158) selected, 8000 + k is
# buffer n's k-th newest entry; unwritten entries, 13760 and everything with
# page 0 read LOG_WORD. Read-only.
LOG_WINDOW = (8000, 13760)
LOG_WORD = 0x8000

ROWS = tuple(_rows)
del _rows

DECISIONS = (
    ("32-37, 299-310", "The datasheet lists the 'Max. Demand' triple twice. 32-34 and 299-304 are "
     "the import peaks (most positive present demand), 35-37 and 305-310 the export peaks (most "
     "negative). 129 = 21212 sets all six to the present demand. [addendum 'Demand']"),
    ("43-54, 317-328", "Per-phase real energy appears twice; the first A, B, C triple is import, the "
     "second export (the datasheet's Import/Export side labels)."),
    ("79-90, 353-364", "Per-phase apparent energy appears twice; first triple import, second export."),
    ("365-388", "The datasheet labels all twelve floats 'Phase A'; they are A, B, C of real, reactive, "
     "apparent power and power factor, as the integer registers 91-102."),
    ("41-42, 315-316", "Pulse counter 2 counts export real energy (the 39-42 text); 315-316's "
     "'Export Reactive Energy' is taken as a typo."),
    ("39-42", "Pulse counters wrap at 2^32; the floats 313-316 are the same counts as float and "
     "roll over with them."),
    ("22, 30", "Reactive power and demand are signed (SInt) whatever the Range column says."),
    ("105, 393-394", "'Voltage A-C' is the C-A line voltage (same magnitude)."),
    ("1-20, 43-90", "Energies wrap modulo 2^32 (the SLong nets as two's complement) when the count "
     "exceeds the register; register 141 is chosen so that takes at least 10 years at the "
     "theoretical maximum power (135)."),
    ("QNAN", "Values not valid in the system type read 0x8000 (16-bit), 0x7FC00000 (float); the "
     "per-phase energy ULongs of phases the system type lacks read 0x8000 0x0000 (MSR 0x8000)."),
    ("113-128, 179-256", "Undocumented gaps inside 1-408 read 0x8000 (like the datasheet's own "
     "reserved 38 and 112) so one request may span them; every register outside the blocks "
     "1-408, 7001, 7101-7103, 7201-7217, 7301-7304, 7401-7403, 8000-13760, 40001-40178 is an "
     "illegal data "
     "address "
     "(exception 2), "
     "and so is any request that touches one."),
    ("131", "CT primary 5-32000 A (the datasheet's specification and the DSP), not 1-32000."),
    ("134", "The 82-660 V check (134 / PT ratio) is made when 134 is written; the datasheet asks "
     "for 133 before 134, so a 133 write alone is not refused for it."),
    ("144-145", "A 144 value with no pulse duration that keeps up with 135 is refused "
     "(exception 3). A 130/131/133/134 change that leaves none is accepted: 145 reads 10 and "
     "146 bit 15 is set, 144 is kept."),
    ("151", "Reserved, reads 0, not writable (exception 2)."),
    ("138-141", "Scale factors are the finest power of ten in -4..4 that keeps the +20 % "
     "over-range value within +-32767: current 1.2 x CT, voltage 2 x 1.2 x 347 V x PT "
     "(L-L of two terminals in anti-phase), power phases x 1.2 x 347 V x PT x 1.2 x CT (the L-L "
     "bound for types 11 and 31). Energy: see 1-20. SunSpec SFs are chosen the same way in SI "
     "units (A_SF for the sum of the phase currents). TotWh_SF (and the VAh, varh SFs): the "
     "finest SF >= 0 whose 2^32 acc32 counts hold a year at 135's power (config.ACC32_YEARS); "
     "1 Wh (SF 0) up to 489 kW, e.g. the defaults: 4.7 years to the roll-over at full power."),
    ("155-178, 8000-13760", "Clock and data logging, docs/logging.md. 155-157 pack Month/Day, "
     "Year/Hour, Minutes/Seconds, first named in the high byte; a write may cover any of them and "
     "the result is checked as a whole: an impossible date is refused (exception 3) and changes "
     "nothing. The clock is not NV unless the board has a battery-backed RTC: a power cycle "
     "restarts it at 2000-01-01 00:00:00 (160 bit 5). 158 is not kept over a power cycle (starts "
     "at 0). Pointers 169-178 take 1-157: the addendum's 1-154 plus the clock words 155-157, "
     "the datasheet's own defaults for pointers 8-10. While a page is selected, rows of closing "
     "sub-intervals are written to flash but held out of view (161, 164-168 and 8000+ frozen) "
     "and published when 158 returns to 0; 160 bit 1 = one held, bit 2 = more than one; none is lost."),
    ("129 = 16640", "Reset logging: empties all ten buffers, 161 = 0, 160 bit 3 set for the running "
     "and the next sub-interval."),
    ("150, 149", "Changing either restarts the demand sub-interval and forgets the rolling "
     "history; present demand and peaks stay until the next sub-interval closes."),
    ("7101-7103", "Communication settings (no datasheet register): address, baud rate as the "
     "number itself, parity 0 none 1 odd 2 even. The passwords have no register."),
    ("7201-7209", "Calibration (no datasheet register): six channel gains x 10000 and three "
     "phase corrections in millidegrees, kept in the store; written by tools/calibrate.py from a "
     "reference source's known V, I and PF. Any subset may be written in one request; the result "
     "is checked as a whole (gains 0.5-2.0, phases +-10 degrees) and a refused value is "
     "exception 3 with nothing changed. Sealed: a write without an unlock (7210-7211) is "
     "exception 1 and changes nothing."),
    ("7210-7217", "Calibration seal: writing the SETUP password (the display's S PWD SETUP, "
     "0-99999, default 00000) as a ULong to 7210-7211 (both words in one request) opens "
     "7201-7209 for 300 measured seconds; a value over 99999 seals them at once; a power cycle "
     "seals them. A wrong password is exception 3, counted in 7217, and every unlock in the next "
     "10 s is exception 6 (busy): 100 000 passwords take >= 11.6 days. A write that changes "
     "7201-7209 is counted in 7212 and stamped with the clock (7213-7215, as 155-157) and the "
     "power-up count (7216); these are kept in the store, cleared by nothing. An unlock in the "
     "same request as a calibration write does not open it."),
    ("7401-7403", "Store status (docs/storage.md): bit 0 while saves fail (the last save could "
     "not write a slot), bits 1-3 latched at start until a master writes 0 to 7401 (kept in the "
     "store until then): 1 the store held data but no good record (factory defaults), 2 the "
     "newest record was bad and an older one was loaded, 3 a stored field was out of range and "
     "took its default. Bits 1 and 2 also count in 147 (the energy went back). Any bit sets "
     "146 bit 7 (the datasheet's reserved bit) and SunSpec Evt bit 16 (M_EVENT_OEM01). Other "
     "values written: exception 3. 7402-7403: failed slot writes since power-up."),
    ("129 = 21211, 21212", "Not more often than every 10 s (datasheet): one within 10 measured "
     "seconds of the last of the same command is exception 6 (busy) and changes nothing."),
    ("Writes", "A write that changes a kept value (configuration, 7201-7209, 129 = 30078 or "
     "16498, 7401) is saved in the store before the reply; if the store cannot save it the reply "
     "is exception 4 (the change stays in effect, 7401 bit 0 is set and the save is retried "
     "every second). A write of the present value saves nothing. Saves asked by writes are "
     "rate-limited: 30 at once, then one per 300 s; beyond that exception 6 (busy), nothing "
     "changed (docs/storage.md)."),
    ("7301-7302", "Frames billed as a gap (no datasheet register): every ADC frame the meter did "
     "not measure (lost while interrupts were off, a ring overrun, a CRC error) is billed at the "
     "power measured around it and counted here, 32-bit, wrapping, from 0 at power-up."),
    ("7303-7304", "Clipped samples (no datasheet register): samples at a converter's rail, found "
     "by the board's decode, 32-bit, wrapping, from 0 at power-up; the datasheet's 'Metering "
     "Over-Range' bits 0-5 of 146 are set for the second of any of them, besides RMS > 120 %."),
    ("40069", "DA, the Modbus address (the datasheet's second '40068' row); writable, the same "
     "value as 7101."),
    ("40108-40176", "Laid out as pysunspec2's model JSON; acc32 energies in Wh/VAh/varh with their "
     "SFs. Not implemented: int16/sunssf 0x8000, uint16 0xFFFF, acc32 0, bitfield32 0xFFFFFFFF; "
     "points of absent phases read not implemented. SunSpec clients treat acc32 0 as not "
     "implemented, so a freshly reset meter's energies are invisible until the first Wh (at "
     "TotWh_SF 0, see 138-141)."),
    ("40175", "Evt bits: 2 power failure and 3 under voltage (146 bits 8-10, phase loss), 4 low PF "
     "(bits 11-13), 5 over current (bits 3-5), 6 over voltage (bits 0-2), 16 OEM01 the store "
     "alert (bit 7, 7401)."),
)
