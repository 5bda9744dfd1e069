"""The cffi builder of memviz's C core (API mode), named by setup.py's ``cffi_modules``.

The cdef is csrc/memviz.h itself, minus its preprocessor lines, so the C side and
the Python side cannot drift apart.
"""
import os
import sysconfig
from pathlib import Path

from cffi import FFI

# setuptools wants paths relative to the project root, where setup.py runs.
CSRC = "csrc"
SOURCES = ["core.c", "gcread.c", "census.c", "dominators.c", "paths.c", "unreachable.c",
           "objects.c", "pymalloc.c", "elfsyms.c"]
_HEADER = Path(__file__).resolve().parents[2] / CSRC / "memviz.h"


def _cdef_text() -> str:
    header = _HEADER.read_text()
    return "\n".join(line for line in header.splitlines() if not line.lstrip().startswith("#"))


# CI and development builds hold the C core to zero warnings; users' compilers are not.
# CPython's headers are not memviz's code: named as system headers (-isystem, which GCC
# lets win over setuptools' -I of the same directory), their own warnings (3.14's
# internal headers have unused parameters) do not fail the build.
STRICT_CFLAGS = (
    ["-Wall", "-Wextra", "-Werror", "-isystem", sysconfig.get_path("include")]
    if os.environ.get("MEMVIZ_STRICT_CFLAGS") else []
)

# MEMVIZ_SANITIZE=1: AddressSanitizer + UndefinedBehaviorSanitizer in the C core only
# (CPython itself is not rebuilt). The extension then needs the sanitizer runtimes loaded
# first: LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)"
# (see .ci/run's sanitizer job). Any UB report aborts (-fno-sanitize-recover).
SANITIZE_FLAGS = (
    ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer",
     "-g", "-O1"]
    if os.environ.get("MEMVIZ_SANITIZE") else []
)

ffibuilder = FFI()
ffibuilder.cdef(_cdef_text())
ffibuilder.set_source(
    "memviz._core",
    '#include "memviz.h"',
    sources=[f"{CSRC}/{name}" for name in SOURCES],
    include_dirs=[CSRC],
    # The internal headers need Py_BUILD_CORE_MODULE as a compiler define (cffi's
    # generated C includes Python.h first) and the full, non-limited API.
    define_macros=[("Py_BUILD_CORE_MODULE", "1"), ("_CFFI_NO_LIMITED_API", None)],
    # cffi asks for the free-threaded stable ABI on 3.15t even without the limited API.
    extra_compile_args=["-UPy_TARGET_ABI3T", "-std=c11", *STRICT_CFLAGS, *SANITIZE_FLAGS],
    extra_link_args=[flag for flag in SANITIZE_FLAGS if flag.startswith("-f")],
    py_limited_api=False,
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
