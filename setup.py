import platform

from setuptools import setup

# The C core reads CPython's internal structures; other implementations get the
# pure-Python package, whose readings then raise memviz.UnsupportedInterpreter.
if platform.python_implementation() == "CPython":
    setup(cffi_modules=["src/memviz/_build.py:ffibuilder"])
else:
    setup()
