"""Threads that C starts: a pthread whose start routine is one of the C core's readings
(``c_thread``, ``join``), no Python code in it (test_stress.py's tests of them).

Imports memviz and the standard library only: subinterpreters import it.
"""
from __future__ import annotations

import ctypes

from memviz import _native


_LIBC = ctypes.CDLL(None, use_errno=True)
_pthread_t = ctypes.c_ulong
_LIBC.pthread_create.argtypes = [ctypes.POINTER(_pthread_t), ctypes.c_void_p, ctypes.c_void_p,
                                 ctypes.c_void_p]
_LIBC.pthread_create.restype = ctypes.c_int
_LIBC.pthread_join.argtypes = [_pthread_t, ctypes.POINTER(ctypes.c_void_p)]
_LIBC.pthread_join.restype = ctypes.c_int
#: The same functions called with the GIL held (PyDLL does not release it).
_LIBC_HOLDING_GIL = ctypes.PyDLL(None)
_LIBC_HOLDING_GIL.pthread_create.argtypes = _LIBC.pthread_create.argtypes
_LIBC_HOLDING_GIL.usleep.argtypes = [ctypes.c_uint]


def _address(cdata) -> int:
    return int(_native.ffi.cast("uintptr_t", cdata))


def _function(name: str) -> int:
    return _address(_native.ffi.addressof(_native.lib, name))


def c_thread(function: str, buffer, *, holding_gil: bool = False) -> _pthread_t:
    """Starts a pthread whose start routine is the C core's ``function`` itself, called
    with ``buffer``: no Python code, no thread state until the reading makes one."""
    tid = _pthread_t()
    create = (_LIBC_HOLDING_GIL if holding_gil else _LIBC).pthread_create
    assert create(ctypes.byref(tid), None, _function(function), _address(buffer)) == 0
    return tid


def join(tid: _pthread_t) -> int:
    """The thread's status: the reading's int return value (start routines return a
    pointer; the C core's readings return an int in its low 32 bits)."""
    result = ctypes.c_void_p()
    assert _LIBC.pthread_join(tid, ctypes.byref(result)) == 0
    return ctypes.c_int32((result.value or 0) & 0xFFFFFFFF).value
