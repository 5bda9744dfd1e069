"""The bridge to the compiled core: loads it, says what this interpreter is, and turns
the core's status codes into memviz's exceptions.

Every other module reaches the C core through here, so an interpreter the core cannot
read (PyPy, a free-threaded build, an unknown version) is described in one place and
``import memviz`` itself never fails.
"""
from __future__ import annotations

import platform
import sys
import sysconfig

from ._errors import CollectorRunning, MemvizError, PymallocUnavailable, UnsupportedInterpreter

#: The newest CPython minor version whose internal layout memviz knows.
NEWEST_KNOWN = (3, 15)
OLDEST_KNOWN = (3, 10)

try:
    from ._core import ffi, lib
except ImportError as exc:  # PyPy, a build without the extension, an isolated
    # subinterpreter (3.12+: it refuses single-phase extensions such as cffi's)
    ffi = lib = None
    _LOAD_ERROR: str | None = f"memviz's C core is not available here ({exc})"
else:
    _LOAD_ERROR = None

objects = None
_REGISTER_ERROR: str | None = None
if lib is not None:
    _registered = lib.mv_register_objects_module(id(sys.modules))
    if _registered == 0:
        from . import _objects as objects  # type: ignore[attr-defined]  # noqa: E402
    elif _registered == lib.MV_ERR_WRONG_INTERPRETER:
        _REGISTER_ERROR = (
            "memviz cannot read a subinterpreter of CPython 3.10 or 3.11 (the C core would "
            "get the main interpreter's thread state back, and read the main interpreter)"
        )


def free_threaded() -> bool:
    return bool(sysconfig.get_config_var("Py_GIL_DISABLED"))


def describe_interpreter() -> str:
    """'CPython 3.12.1', 'CPython 3.14.7 (free-threaded)', 'PyPy 7.3.17 (Python 3.10.14)'."""
    implementation = platform.python_implementation()
    python = platform.python_version()
    if implementation != "CPython":
        version = ".".join(str(part) for part in sys.implementation.version[:3])
        return f"{implementation} {version} (Python {python})"
    return f"CPython {python}" + (" (free-threaded)" if free_threaded() else "")


def interpreter_problem() -> str | None:
    """Why the C core cannot read this interpreter's internals, or None when it can."""
    if platform.python_implementation() != "CPython":
        return "memviz reads CPython's internal structures; this is not CPython"
    if free_threaded():
        return (
            "free-threaded builds keep no generation lists, allocate with mimalloc instead of "
            "pymalloc, and split reference counts between threads (biased for deferred ones)"
        )
    if not OLDEST_KNOWN <= sys.version_info[:2] <= NEWEST_KNOWN:
        known = "{}.{}".format(*OLDEST_KNOWN), "{}.{}".format(*NEWEST_KNOWN)
        return f"memviz knows the internal layout of CPython {known[0]} to {known[1]} only"
    return _LOAD_ERROR or _REGISTER_ERROR


def unsupported(reading: str, reason: str) -> UnsupportedInterpreter:
    return UnsupportedInterpreter(f"{reading} is not available on {describe_interpreter()}: {reason}")


def require_core(reading: str):
    """The cffi lib, or UnsupportedInterpreter naming the interpreter and the reason."""
    problem = interpreter_problem()
    if problem is not None:
        raise unsupported(reading, problem)
    return lib


def require_objects(reading: str):
    """The C-API module memviz._objects, or UnsupportedInterpreter."""
    require_core(reading)
    if objects is None:
        raise unsupported(reading, "memviz's C-API functions could not be registered")
    return objects


def status_error(reading: str, status: int) -> MemvizError:
    """The exception for a status code the C core returned."""
    message = ffi.string(lib.mv_status_message(status)).decode()
    if status == lib.MV_ERR_COLLECTING:
        return CollectorRunning(f"{reading}: {message}")
    if status == lib.MV_ERR_PYMALLOC_OFF:
        return PymallocUnavailable(f"{reading}: {message}")
    if status in (lib.MV_ERR_UNSUPPORTED, lib.MV_ERR_WRONG_INTERPRETER, lib.MV_ERR_NO_SYMBOLS):
        return unsupported(reading, message)
    if status == lib.MV_ERR_NO_MEMORY:
        return MemoryError(f"{reading}: {message}")
    return MemvizError(f"{reading}: {message} (status {status})")


def check(reading: str, status: int) -> None:
    if status != lib.MV_OK:
        raise status_error(reading, status)


def from_reading_error(reading: str, error: Exception) -> MemvizError:
    """The public exception for a memviz._objects.ReadingError."""
    status = error.args[0]
    return status_error(reading, status)


def interpreter_id() -> int:
    return objects.interpreter_id()
