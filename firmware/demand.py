# Power demand (registers 29-37, 293-310; configured by 149 and 150), per
# the addendum's 'Demand': a sub-interval's average power is the energy
# moved in it over its length; present demand is the mean of the last N
# sub-interval averages (N = register 149; 1 = block demand; until N exist,
# the mean of those there are). 150 = 0 is sync-to-comms: 149 is ignored
# (N = 1) and 129 = 21211 closes the sub-interval. Values are signed like
# power: real from import - export energy, reactive from net Q
# (Q1 + Q2 - Q3 - Q4), apparent carries the sign of real. Import peaks are
# the most positive present demands, export peaks the most negative; 129 =
# 21212 sets both to the present demand. Both commands take effect at the
# end of the next 1-second cycle and are to be written "no more frequently
# than every 10 seconds" (datasheet, register 129): ready() says whether
# CMD_GAP_S measured seconds have passed since the last one (registers.py
# answers a faster one with exception 06, busy).

from readings import (
    E_KINDS, E_TOTAL, E_VAH_EXP, E_VAH_IMP, E_VARH_Q1, E_VARH_Q2, E_VARH_Q3, E_VARH_Q4,
    E_WH_EXP, E_WH_IMP,
)

_MAX_N = 6
CMD_GAP_S = 10
_T = E_KINDS * E_TOTAL


class Demand:
    def __init__(self, sub_len=900, n=1):
        self.present = [0.0, 0.0, 0.0]  # W, var, VA: registers 29-31
        self.peak_imp = [0.0, 0.0, 0.0]  # registers 32-34 / 299-304
        self.peak_exp = [0.0, 0.0, 0.0]  # registers 35-37 / 305-310
        self.on_close = None  # called with this Demand after each sub-interval
        self.closed = 0  # sub-intervals closed since start
        self._sync = False
        self.peak_pending = False  # a 21212 taken, not yet applied (the store waits)
        self.seconds = 0  # seconds added since start
        self._cmd_at = [-CMD_GAP_S, -CMD_GAP_S]  # second of the last 21211, 21212
        self.configure(sub_len, n)

    def configure(self, sub_len, n):
        """150 and 149. Restarts the sub-interval and forgets the rolling
        history; present demand and peaks stay until the next close."""
        self.sub_len = sub_len
        self.n = 1 if sub_len == 0 else n
        self._avg = [[0.0] * _MAX_N for _ in range(3)]
        self._navg = 0
        self._head = 0
        self._restart()

    def _restart(self):
        self._sum = [0.0, 0.0, 0.0]  # Ws this sub-interval
        self._secs = 0

    def ready(self, k):
        """21211 (k = 0) or 21212 (k = 1) may be taken now."""
        return self.seconds - self._cmd_at[k] >= CMD_GAP_S

    def sync(self):
        # 129 = 21211: close the sub-interval at the end of the next second
        self._sync = True
        self._cmd_at[0] = self.seconds

    def reset_peaks(self):
        # 129 = 21212: peaks = present demand, at the end of the next second
        self.peak_pending = True
        self._cmd_at[1] = self.seconds

    def add(self, ws):
        """One second's energy array (readings.E_*, watt-seconds)."""
        s = self._sum
        p = ws[_T + E_WH_IMP] - ws[_T + E_WH_EXP]
        s[0] += p
        s[1] += ws[_T + E_VARH_Q1] + ws[_T + E_VARH_Q2] - ws[_T + E_VARH_Q3] - ws[_T + E_VARH_Q4]
        s[2] += ws[_T + E_VAH_IMP] - ws[_T + E_VAH_EXP]
        self._secs += 1
        self.seconds += 1
        if self.sub_len:
            if self._secs >= self.sub_len:
                self._close()
            self._sync = False  # only meaningful in sync-to-comms mode
        elif self._sync:
            self._sync = False
            self._close()
        if self.peak_pending:
            self.peak_pending = False
            for k in range(3):
                self.peak_imp[k] = self.present[k]
                self.peak_exp[k] = self.present[k]

    def _close(self):
        secs = self._secs
        h = self._head
        for k in range(3):
            self._avg[k][h] = self._sum[k] / secs
        self._head = (h + 1) % self.n
        if self._navg < self.n:
            self._navg += 1
        m = self._navg
        for k in range(3):
            a = self._avg[k]
            t = 0.0
            for j in range(m):
                t += a[j]
            d = t / m
            self.present[k] = d
            if d > self.peak_imp[k]:
                self.peak_imp[k] = d
            if d < self.peak_exp[k]:
                self.peak_exp[k] = d
        self.closed += 1
        self._restart()
        if self.on_close is not None:
            self.on_close(self)

    # ---- for the non-volatile store (peaks are NV) --------------------------
    def to_dict(self):
        return {"peak_imp": list(self.peak_imp), "peak_exp": list(self.peak_exp)}

    def from_dict(self, d):
        pi = [float(x) for x in d["peak_imp"]]
        pe = [float(x) for x in d["peak_exp"]]
        if len(pi) != 3 or len(pe) != 3:
            raise ValueError("demand record needs 3 import and 3 export peaks")
        self.peak_imp = pi
        self.peak_exp = pe
