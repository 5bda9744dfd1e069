"""memviz's version: one place, for the package, the CLI and the reports."""
__version__ = "0.1.0"
