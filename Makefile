# Quick start: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# On the project's build machines a CPU build of torch 2.13.0 lies on disk; installing it
# first keeps pip from resolving the torch range to a multi-GB CUDA build. Elsewhere, if that
# exact version is unavailable, the project's own range (torch>=2.1,<3) applies.
TORCH_PIN ?= torch==2.13.0

$(VENV)/.installed: pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip >/dev/null 2>&1 || true
	$(PIP) install -q "$(TORCH_PIN)" || echo "note: $(TORCH_PIN) not available here; using the project's torch range"
	$(PIP) install -q -e ".[test,mujoco,minari]"
	touch $@

.PHONY: install demo test bench clean
install: $(VENV)/.installed

demo: $(VENV)/.installed
	$(VENV)/bin/goplan demo

test: $(VENV)/.installed
	$(PY) -m pytest tests

# results are named after the machine (vendor, family, model, torch's CPU kernels), so that a run on
# another CPU does not overwrite the figures the docs quote for this one
MACHINE_TAG = $(shell $(PY) -c "from goplan.hardware import machine_record as m; r = m('cpu'); print('-'.join(str(r[k]).replace(' ', '') for k in ('cpu_vendor', 'cpu_family', 'cpu_model_number', 'torch_cpu_capability')))" 2>/dev/null || echo unknown)
bench: $(VENV)/.installed
	$(PY) benchmarks/speed.py --json benchmarks/results/cpu-$(MACHINE_TAG).json
	$(PY) benchmarks/speed.py --json benchmarks/results/cpu-$(MACHINE_TAG)-bf16.json --precision bf16

clean:
	rm -rf $(VENV) runs build *.egg-info
