"""What the test modules share: markers and oracles, grouped by subject.

* ``support.capabilities``: ``needs(*names)``, the one marker for "this test reads what
  memviz can only read here if ...", and the few conditions that are not memviz
  capabilities (``needs_core``, ``needs_allocator_choice``, ``needs_a_supported_base``).
* ``support.pymalloc``, ``support.refcount``, ``support.gc``, ``support.snapshot``,
  ``support.sites``, ``support.threads``, ``support.html``, ``support.cli``: the oracles
  and helpers more than one test module uses, moved out of the module that established
  them so that no test module imports another.

Children (subinterpreters, ``PYTHONMALLOC=...`` interpreters) import some of these too,
with the tests directory on ``sys.path``: ``support.pymalloc``, ``support.refcount``,
``support.gc`` and ``support.threads`` import memviz and the standard library only
(neither pytest nor hypothesis), so that a child stays small.
"""
