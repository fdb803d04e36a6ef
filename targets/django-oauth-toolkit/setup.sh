#!/usr/bin/env bash
# Creates (or refreshes) the virtualenv for one django-oauth-toolkit version:
#   targets/django-oauth-toolkit/setup.sh 3.4.1     → targets/django-oauth-toolkit/.venv-3.4.1/
# Installs exactly the pinned, hashed wheels of requirements-<version>.txt from PyPI. The venv
# records the sha256 of its requirements file; a changed file makes it stale and rebuilt. The
# harness's adapter runs this script itself when the venv is missing or stale.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
version="${1:?usage: setup.sh VERSION (a requirements-VERSION.txt next to this script)}"
requirements="$here/requirements-$version.txt"
venv="$here/.venv-$version"
[ -f "$requirements" ] || { echo "no $requirements" >&2; exit 2; }
stamp="$(sha256sum "$requirements" | cut -d' ' -f1)"
if [ -x "$venv/bin/python" ] && [ "$(cat "$venv/.requirements-sha256" 2>/dev/null)" = "$stamp" ]; then
    exit 0
fi
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps \
    --require-hashes --only-binary=:all: -r "$requirements"
echo "$stamp" > "$venv/.requirements-sha256"
echo "$venv ready (django-oauth-toolkit $version)"
