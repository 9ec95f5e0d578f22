# Shared set-up for scripts/demo and scripts/test: a virtual environment in .venv with the project installed.
# Sourced, not run. Needs Python 3.11 or newer.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_install() {
    command -v apt-get >/dev/null || { echo "please install: $*" >&2; exit 1; }
    echo "installing $* with apt-get" >&2
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || {
    echo "factory-twin needs Python 3.11 or newer as '$PYTHON' (set PYTHON=/path/to/python3.11)" >&2; exit 1; }

if [ ! -x "$ROOT/.venv/bin/python" ]; then
    "$PYTHON" -m venv "$ROOT/.venv" 2>/dev/null || {
        rm -rf "$ROOT/.venv"
        apt_install "python3-venv"
        "$PYTHON" -m venv "$ROOT/.venv"
    }
fi
VENV="$ROOT/.venv/bin"
# Reinstall only when the project's metadata changed since the last install.
STAMP="$ROOT/.venv/.installed-${EXTRAS:-base}"
if [ ! -f "$STAMP" ] || [ "$ROOT/pyproject.toml" -nt "$STAMP" ]; then
    "$VENV/python" -m pip install -q --upgrade pip
    "$VENV/python" -m pip install -q -e "$ROOT${EXTRAS:+[$EXTRAS]}"
    touch "$STAMP"
fi
