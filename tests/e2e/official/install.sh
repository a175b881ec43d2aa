#!/usr/bin/env bash
# Installs the official Deepgram v1 clients that tests/e2e/test_official_v1.py drives, pinned, each in its own
# throwaway place outside the repository so that none of them can shadow the project's packages:
#   $CACHE/py-deepgram-4.8.1   a venv with deepgram-sdk 4.8.1 (the last 4.x release)
#   $CACHE/py-deepgram-7.17.0  a venv with deepgram-sdk 7.17.0
#   $CACHE/js-deepgram-5.13.0  an npm prefix with @deepgram/sdk 5.13.0
# CACHE is $VOICEWIRE_TEST_CACHE, else ~/.cache/voicewire-test. Idempotent: a finished install leaves a
# .installed stamp and is skipped next time; an interrupted one is redone.
# Node.js and npm come from Debian's packages when they are missing and this runs as root (as CI does); set
# VOICEWIRE_INSTALL_NODE=0 to leave the system alone (the JS test then skips when `node` is absent).
# Prints what it made on stdout, one NAME=PATH a line (py4, py7: a Python; js: an npm prefix), for the test;
# progress goes to stderr.
set -euo pipefail

CACHE="${VOICEWIRE_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/voicewire-test}"
PYTHON="${PYTHON:-python3}"
PY_VERSIONS=(4.8.1 7.17.0)
JS_VERSION=5.13.0

mkdir -p "$CACHE"

for version in "${PY_VERSIONS[@]}"; do
    venv="$CACHE/py-deepgram-$version"
    [[ -f "$venv/.installed" ]] && continue
    echo "installing deepgram-sdk==$version into $venv" >&2
    rm -rf "$venv"
    "$PYTHON" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --progress-bar off --disable-pip-version-check \
        "deepgram-sdk==$version" >&2
    touch "$venv/.installed"
done
echo "py4=$CACHE/py-deepgram-${PY_VERSIONS[0]}/bin/python"
echo "py7=$CACHE/py-deepgram-${PY_VERSIONS[1]}/bin/python"

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    if [[ "${VOICEWIRE_INSTALL_NODE:-1}" != 0 && "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
        echo "installing Debian's nodejs and npm" >&2
        apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >&2
    else
        echo "node or npm is missing: the official JavaScript client test will be skipped" >&2
        exit 0
    fi
fi

prefix="$CACHE/js-deepgram-$JS_VERSION"
if [[ ! -f "$prefix/.installed" ]]; then
    echo "installing @deepgram/sdk@$JS_VERSION into $prefix" >&2
    rm -rf "$prefix"
    mkdir -p "$prefix"
    npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error --save-exact "@deepgram/sdk@$JS_VERSION" >&2
    touch "$prefix/.installed"
fi
echo "js=$prefix"
