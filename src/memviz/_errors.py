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
