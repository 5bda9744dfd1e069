"""Renderers: text (``text``), HTML (``html``) and the arena map (``arenamap``: terminal
and SVG), fed by the figures of memviz's values (``view``: one computation of each figure
the renderers share). A renderer reads nothing of the interpreter, and imports no value
or reading module: it is handed the values, and shows what they hold.
"""
