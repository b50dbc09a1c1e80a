"""net_view / net_ha without a broker: the state message is one second's
register image built over several polls, and the set of discovered sensors
follows the system type (configs for phases a meter does not have are
never sent, and removed when the system type drops them)."""

import json
from array import array

import readings as R
from frontend import FrontEnd
from meter import Meter
from net_ha import HaPublisher
from net_view import SENSORS, StateBuild, View


class FakeClient:
    """What HaPublisher needs of net_mqtt.MqttClient: a session that is up."""

    def __init__(self):
        self.up = True
        self.idle = True
        self.connects = 1
        self.sent = []

    def poll(self, now):
        pass

    def publish(self, topic, payload, retain=False):
        self.sent.append((topic, payload, retain))
        return True


def a_meter(system_type=40):
    m = Meter(FrontEnd(24, 2500))
    m.config.apply({"system_type": system_type})
    rd = array("f", [0.0] * R.N_READINGS)
    for k in range(3):
        rd[R.R_VLN + k] = 230.0
        rd[R.R_I + k] = 10.0
        rd[R.R_P + k] = 2070.0
    rd[R.R_P_TOT] = 6210.0
    rd[R.R_FREQ] = 50.0
    m.dsp.seconds = 5
    m.bank.refresh(readings=rd, valid=(1 << R.N_READINGS) - 1)
    return m, rd


def test_a_state_message_is_one_seconds_image_built_a_piece_a_poll():
    m, rd = a_meter()
    v = View(m)
    b = StateBuild(v)
    assert b.STEP == 1
    polls = 1
    while not b.step():
        polls += 1
        if polls == 10:  # the second closes mid-way: the image changes
            rd[R.R_P_TOT] = 7000.0
            m.dsp.seconds = 6
            m.bank.refresh(readings=rd)
    s = json.loads(b.text())
    assert s["t"] == 6 and s["p"] == 7.0  # register 277 in kW, all of second 6
    # begun again at the new snapshot: 3 register runs, then a value a poll
    assert polls == 10 + 3 + len(SENSORS)
    assert s == json.loads(v.state_json())


def test_discovery_follows_the_system_type():
    m, rd = a_meter(40)
    v = View(m)
    h = HaPublisher(v, "127.0.0.1", 1883, prefix="m", period_s=10)
    h.client = c = FakeClient()
    for now in range(200):
        h.poll(now)
    configs = {t.split("/")[3]: p for t, p, r in c.sent if t.endswith("/config")}
    assert c.sent[0] == ("m/status", b"online", True)
    assert "p_c" in configs and "v_cn" in configs and h.states == 1
    # single phase (system type 10): the DSP marks phases B and C not
    # valid, and their registers read QNaN
    m.config.apply({"system_type": 10})
    m.dsp.seconds = 20
    valid = (1 << R.N_READINGS) - 1
    for base in (R.R_VLN, R.R_VLL, R.R_I, R.R_P, R.R_Q, R.R_S, R.R_PF):
        valid &= ~(6 << base)
    m.bank.refresh(readings=rd, valid=valid)
    c.sent.clear()
    for now in range(200, 400):
        h.poll(now)
    gone = {t.split("/")[3] for t, p, r in c.sent if t.endswith("/config") and p == b""}
    assert {"p_b", "p_c", "i_c", "v_bn"} <= gone and "p_a" not in gone
    assert all(r for t, _p, r in c.sent if t.endswith("/config"))  # removals are retained too
    state = json.loads([p for t, p, r in c.sent if t == "m/state"][-1])
    assert state["p_c"] is None and state["p_a"] is not None
