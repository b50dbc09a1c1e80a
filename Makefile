# Energy meter firmware: host build, tests, benchmarks, simulator.
# Everything runs from a virtual environment made from requirements.txt,
# so a machine with only python3, pip and make can run every target.

PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
MP      = $(VENV)/bin/micropython
SCENARIO ?= tools/scenarios/default.json

.PHONY: venv test test-cpython test-mp mpy lint bench demo sim docs clean

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --disable-pip-version-check -q -r requirements.txt
	touch $@

# The one test command (README, .ci/run): CPython tests, the same firmware
# tests under the real MicroPython unix port, an armv6m cross-compile of
# everything that goes onto the board, and the linter. Any failure fails.
test: venv
	$(PY) -m pytest -q host_tests
	$(MP) tools/mp_test.py
	$(PY) tools/build_mpy.py
	$(VENV)/bin/ruff check .

test-cpython: venv
	$(PY) -m pytest -q host_tests

test-mp: venv
	$(MP) tools/mp_test.py

mpy: venv
	$(PY) tools/build_mpy.py

lint: venv
	$(VENV)/bin/ruff check .

$(VENV)/.bench-installed: requirements-bench.txt $(VENV)/.installed
	$(VENV)/bin/pip install --disable-pip-version-check -q -r requirements-bench.txt
	touch $@

bench: venv $(VENV)/.bench-installed
	$(PY) tools/bench.py

# Feed a scenario's synthetic waveforms through the DSP, print each second.
demo: venv
	$(PY) tools/demo.py --scenario $(SCENARIO)

# The virtual meter on the bundled scenario: Modbus RTU on a pseudo-terminal
# (its path is printed), Modbus TCP on 127.0.0.1:$(MODBUS_TCP_PORT), the LCD
# and live readings in the terminal (arrow keys are the buttons).
MODBUS_TCP_PORT ?= 5020
sim: venv
	$(PY) tools/sim.py --scenario $(SCENARIO) --modbus-tcp $(MODBUS_TCP_PORT) $(SIMFLAGS)

docs: venv
	$(PY) tools/gen_docs.py

clean:
	rm -rf build .pytest_cache .ruff_cache bench/results.json

# ---- the board (issue 8): pin maps, flashing, REPL -------------------------
# make deploy BOARD=pico_ads131m06 PORT=/dev/ttyACM0   (PORT defaults to auto)
BOARD ?= pico_ads131m06
PORT  ?= auto
MPREMOTE = $(VENV)/bin/mpremote

.PHONY: pinmaps deploy repl reset package-json

pinmaps: venv
	$(PY) tools/gen_pinmaps.py

deploy: venv
	$(PY) tools/deploy.py --board $(BOARD) --port $(PORT)

repl: venv
	$(MPREMOTE) connect $(PORT) repl

reset: venv
	$(MPREMOTE) connect $(PORT) reset

package-json: venv
	$(PY) tools/deploy.py --package-json
