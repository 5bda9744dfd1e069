"""The command line run in this process: ``main(ARGS)``'s exit status and output
(``run_main``), and the one-line error a bad input must give (``one_line_error``)."""
from __future__ import annotations

from memviz.cli import main


def run_main(capsys, *args: str) -> tuple[int, str, str]:
    """main(ARGS) in this process: (exit status, stdout, stderr)."""
    try:
        status = main(list(args))
    except SystemExit as stop:   # argparse's --help and --version
        status = stop.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def one_line_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]
