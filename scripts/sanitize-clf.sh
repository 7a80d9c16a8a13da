#!/usr/bin/env bash
# The C fast path's tests against a build of lib/logs/parsing/_clf.c with ASan and UBSan:
# a read or write out of bounds, a use after free, a signed overflow or any other undefined
# behaviour the tests reach fails the run (non-zero exit) with the sanitizer's report.
#
# The module is built once, into a temporary copy of lib/ and tests/ (the repository's own
# in-place build is left alone), and the tests run there with that copy first on PYTHONPATH.
# Python is the repository's .venv/bin/python unless PYTHON says otherwise (`make
# test-sanitizers` passes the Makefile's). The extension is built without -fwrapv (which
# Python's own flags add, making signed overflow defined and invisible to UBSan).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
python=${PYTHON:-.venv/bin/python}
[[ $python = /* ]] || python=$root/$python
tests=(test_fast_path.py test_local_engine.py test_clf_fuzz.py test_clf_hash.py test_clf_grammar.py
  test_tails.py)

libasan=$(gcc -print-file-name=libasan.so)
if [[ $libasan != /* ]]; then
  echo "sanitize-clf: gcc has no libasan.so (Debian: apt-get install libasan8)" >&2
  exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/sanitize-clf.XXXXXX")
trap 'rm -rf "$work"' EXIT
tree=$work/tree
mkdir "$tree"
tar -C "$root" --exclude='*.so' --exclude=__pycache__ -cf - lib tests pyproject.toml |
  tar -C "$tree" -xf -
# tests/conftest.py looks for the real NASA slice beside the tree, in ../shared/data
if [[ -d $root/../shared ]]; then ln -s "$root/../shared" "$work/shared"; fi

read -r include suffix < <("$python" -c 'import sysconfig as s
print(s.get_paths()["include"], s.get_config_var("EXT_SUFFIX"))')
gcc -shared -fPIC -I"$include" -Wall \
  -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -O1 -g \
  -o "$tree/lib/logs/parsing/_clf$suffix" "$tree/lib/logs/parsing/_clf.c" -lz

cd "$tree"
export PYTHONPATH=$tree
export LD_PRELOAD=$libasan                 # the ASan runtime must come before everything
export ASAN_OPTIONS=detect_leaks=0         # CPython and polars keep memory to the end, by design
export UBSAN_OPTIONS=print_stacktrace=1
export PYTHONMALLOC=malloc                 # every Python object a malloc of its own, bounds seen
"$python" - "$tree" <<'EOF'
import sys

import lib.logs.parsing._clf as clf

print("sanitize-clf: the tests import", clf.__file__)
if not clf.__file__.startswith(sys.argv[1] + "/"):
    sys.exit("sanitize-clf: that is not the sanitized build")
EOF
# --capture=sys: a sanitizer writes its report to file descriptor 2 and ends the process, which
# pytest's default capture (of the descriptors) would swallow with it
"$python" -m pytest -p no:cacheprovider --capture=sys -q "${tests[@]/#/tests/unit/logs/}"
