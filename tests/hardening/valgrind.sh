#!/usr/bin/env bash
# valgrind memcheck over memviz's readings' tests, with pymalloc on (the readings under
# test are pymalloc's), child interpreters traced too.
#
#   bash tests/hardening/valgrind.sh [VERSION] [pytest arguments...]
#   bash tests/hardening/valgrind.sh 3.12                      refcount, gc, pymalloc tests
#   bash tests/hardening/valgrind.sh 3.11 tests/test_gc.py -k generation
#
# Too slow for CI's budget (memcheck runs CPython 20-50x slower): run it by hand. It
# builds memviz into a fresh virtualenv of the interpreter (pyenv's 3.10-3.13; Debian's
# 3.14/3.15 through ../shared/tools/sid-python run on sid's stripped ld.so, under which
# valgrind 3.19 cannot start: exit status 2), runs pytest under memcheck with
# tests/hardening/valgrind-python.supp, keeps one log per process in $VALGRIND_OUT
# (default: a new directory under /tmp) and prints, per log, the errors memcheck found
# and how many of them have a frame in memviz's C core. Exit status: 0 when the tests
# passed and no error has a frame in memviz's C core, 1 otherwise; errors entirely in
# CPython or libc (seen only in children run with PYTHONMALLOC=malloc: 3.11's start-up,
# glibc's vectorized wmemcmp) are listed but are not memviz's. Leaks are not checked:
# CPython does not free everything at exit, by design.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
shared=$(cd "$root/.." && pwd)/shared
version=${1:-3.12}
shift || true
tests=("$@")
[ ${#tests[@]} -gt 0 ] || tests=(tests/test_refcount.py tests/test_gc.py tests/test_pymalloc.py)
out=${VALGRIND_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/memviz-valgrind.XXXXXX")}
mkdir -p "$out"

command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)" >&2; exit 2; }
case $version in
  3.1[0-3]) python=$(ls -d "$(pyenv root)/versions/$version".*/bin/python"$version" | sort -V | tail -n 1) ;;
  *) "$shared/tools/sid-python" install "$version" >&2; python=$("$shared/tools/sid-python" path "$version") ;;
esac

venv="$out/venv-$version"
"$python" -m venv "$venv"
# setuptools reuses build/'s object files when they look newer (a sanitizer build's would
# not run under valgrind): build from scratch, as .ci/run does.
rm -rf "$root/build"
PIP_DISABLE_PIP_VERSION_CHECK=1 "$venv/bin/python" -m pip install -q "$root[test]"
echo "memcheck: CPython $version, ${tests[*]}; logs in $out"

started=$(date +%s)
status=0
# pip and the compiler (test_pymalloc builds memviz for Debian's python3.11 once per
# source change) run untraced; every Python process of the tests is traced.
(cd "$root" && valgrind --tool=memcheck \
    --suppressions="$root/tests/hardening/valgrind-python.supp" \
    --num-callers=40 --track-origins=no --leak-check=no \
    --trace-children=yes --trace-children-skip='*/gcc,*/cc1,*/as,*/ld,*/collect2,*/x86_64-linux-gnu-*' \
    --trace-children-skip-by-arg='pip,*/pip,*pip-runner*,*/pip/*' \
    --log-file="$out/memcheck.%p.log" \
    "$venv/bin/python" -m pytest "${tests[@]}" -q -p no:cacheprovider) || status=$?
elapsed=$(( $(date +%s) - started ))

# Debian's 3.14/3.15 (sid-python) run through sid's own, stripped ld.so, which valgrind
# 3.19 cannot start a program under (it needs ld.so's strlen symbol): say so, not "failed".
if grep -l "Fatal error at startup" "$out"/memcheck.*.log >/dev/null 2>&1; then
  grep -h -A4 "Fatal error at startup" "$out"/memcheck.*.log | head -n 5 >&2
  echo "memcheck could not start CPython $version here; use pyenv's 3.10-3.13" >&2
  exit 2
fi

processes=0 with_errors=0 errors=0 in_memviz=0
for log in "$out"/memcheck.*.log; do
  processes=$((processes + 1))
  count=$(sed -n 's/.*ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' "$log" | tail -n 1)
  count=${count:-0}
  if [ "$count" -gt 0 ]; then
    with_errors=$((with_errors + 1))
    errors=$((errors + count))
    # An error "in memviz" has a stack frame in the C core: one of csrc/'s files (with
    # debug info), cffi's generated memviz._core.c, or the shared object itself.
    mine=$(awk '/^==[0-9]+== [A-Z]/ {inerr=1; hit=0}
                /\((core|gcread|objects|pymalloc|elfsyms)\.c:[0-9]+\)|memviz\._core\.c:|_core\.cpython/ {
                  if (inerr && !hit) {n++; hit=1}}
                /^==[0-9]+== $/ {inerr=0}
                END {print n+0}' "$log")
    in_memviz=$((in_memviz + mine))
    echo "--- $log: $count errors, $mine with a frame in memviz's C core"
    grep -E '^==[0-9]+== (Invalid|Conditional|Use of|Syscall|Source and|Mismatched|Argument)' "$log" | sort | uniq -c | head -20
  fi
done
echo "memcheck: pytest exit status $status, $processes processes traced, $errors errors in $with_errors of them ($in_memviz in memviz's C core), ${elapsed} s"
[ "$status" -eq 0 ] && [ "$in_memviz" -eq 0 ]
