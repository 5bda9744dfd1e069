"""memviz's exceptions: one base class, one subclass per way a reading can be refused."""


class MemvizError(RuntimeError):
    """Base class of every error memviz raises about a reading."""


class UnsupportedInterpreter(MemvizError):
    """A reading cannot work on this interpreter (PyPy, a free-threaded build, a CPython
    version or patch release whose layout memviz does not know, a subinterpreter whose
    state is out of reach). The message names the interpreter and the reason."""


class PymallocUnavailable(MemvizError):
    """pymalloc is not the object allocator (PYTHONMALLOC=malloc, a free-threaded build,
    PYTHONMALLOC=mimalloc); the message names the allocator that is active."""


class CollectorRunning(MemvizError):
    """The cyclic collector is running (a reading was asked for from a finalizer, a weakref
    callback or a gc.callbacks hook): its lists are half-built and are not read."""


class SnapshotFormatError(MemvizError, ValueError):
    """A saved snapshot (JSON text, a file, a pickle's state) is not one memviz can read:
    not JSON, truncated, another format or version, or a field of the wrong type. The
    message names the field and what is wrong with it."""
