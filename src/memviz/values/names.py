"""The one reading of a type's name, ``module.qualname``: how snapshots, diffs, censuses and
explanations name a type (public as ``memviz.snapshot.type_name``)."""
from __future__ import annotations

_TYPE_MODULE = type.__dict__["__module__"]
_TYPE_QUALNAME = type.__dict__["__qualname__"]


def type_name(cls: type) -> str:
    """``module.qualname`` of a type, read with type's own descriptors (a metaclass cannot
    intervene). Types whose module is unknown are named ``?.qualname``."""
    try:
        module = _TYPE_MODULE.__get__(cls, type)
    except AttributeError:
        module = "?"
    try:
        qualname = _TYPE_QUALNAME.__get__(cls, type)
    except AttributeError:
        qualname = cls.__name__
    if not isinstance(module, str):
        module = repr(module)
    return f"{module}.{qualname}"
