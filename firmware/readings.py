# Index names for the DSP's once-a-second results, shared by everything that
# reads them (meter model, register map, display) without importing the DSP.
from micropython import const

# Readings (array('f'), N_READINGS long); bit R_x of Readings.valid says
# whether slot R_x means anything in the configured system type.
R_VLN = const(0)  # 3: V L-N, phases A, B, C (V)
R_VLL = const(3)  # 3: V L-L, A-B, B-C, C-A (V)
R_I = const(6)  # 3: current, A, B, C (A)
R_P = const(9)  # 3: real power per phase (W, + import)
R_Q = const(12)  # 3: reactive power per phase (var, + inductive)
R_S = const(15)  # 3: apparent power per phase (VA)
R_PF = const(18)  # 3: power factor per phase (signed like P)
R_P_TOT = const(21)
R_Q_TOT = const(22)
R_S_TOT = const(23)  # vector sum: sqrt(P**2 + Q**2), as register 23
R_PF_TOT = const(24)
R_VLL_AVG = const(25)
R_VLN_AVG = const(26)
R_I_AVG = const(27)
R_FREQ = const(28)
N_READINGS = const(29)

# Energy moved in the second (array('f'), watt-seconds), per phase A, B, C
# and for the total (index 3): E_BASE * phase + kind.
E_WH_IMP = const(0)  # real, P > 0 (Q1 + Q4)
E_WH_EXP = const(1)  # real, P < 0 (Q2 + Q3)
E_VARH_Q1 = const(2)  # reactive, per IEEE 1459 quadrant
E_VARH_Q2 = const(3)
E_VARH_Q3 = const(4)
E_VARH_Q4 = const(5)
E_VAH_IMP = const(6)  # apparent, by the sign of P
E_VAH_EXP = const(7)
E_KINDS = const(8)
E_TOTAL = const(3)  # 'phase' index of the totals
N_ENERGIES = const(32)

# Flags (an int): register 146 bits 0-6 come straight from here.
F_V_OVR_A = const(0x01)
F_V_OVR_B = const(0x02)
F_V_OVR_C = const(0x04)
F_I_OVR_A = const(0x08)
F_I_OVR_B = const(0x10)
F_I_OVR_C = const(0x20)
F_FREQ = const(0x40)  # out of 45-65 Hz, or not enough voltage to measure it
