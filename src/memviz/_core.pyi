"""Stubs for memviz._core, the cffi extension (API mode). Its functions and structs are
declared in csrc/memviz.h, which is also the cdef; see that file for their meaning."""
from typing import Any

ffi: Any
lib: Any
