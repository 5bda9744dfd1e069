"""``memviz run [options] (-m MODULE | SCRIPT.py) [args ...]``: runs a script or module
under ``memviz.track()`` and reports what it left behind."""
from __future__ import annotations

import argparse
import gc
import importlib.util
import os
import runpy
import sys
import traceback
from typing import TextIO

from .. import track
from .._words import counted
from ._common import (MIN_CHANGE_HELP, PROG, CommandError, UsageError, check_outputs, out,
                      positive, save)


def add_to(commands) -> None:
    """Adds the command to the parser's subcommands."""
    run = commands.add_parser(
        "run", help="run a script or module and report what it left behind",
        usage=f"{PROG} run [-h] [-o FILE.json] [--before FILE.json] [--collect] "
              "[--census] [--min-change N] [--top N] "
              "(-m MODULE | SCRIPT.py) [args ...]",
        description="Runs a Python script (as 'python SCRIPT.py args' would: as __main__, "
                    "with sys.argv, keeping its exit status) or a module (-m) under "
                    "memviz.track(), then prints what it left behind (objects per type, "
                    "pymalloc blocks and arenas, RSS), the collections it triggered and, "
                    "when tracemalloc is tracing ('python -X tracemalloc -m memviz run "
                    "SCRIPT.py'), where the objects of the types that grew most were "
                    "allocated, on the standard output memviz started with (whatever the "
                    "script did to sys.stdout). memviz's options come before the script; "
                    "everything after the script or module name is passed to it.")
    run.add_argument("-o", "--output", metavar="FILE.json",
                     help="also save the snapshot taken when the script ended")
    run.add_argument("--before", metavar="FILE.json",
                     help="also save the snapshot taken before the script started")
    run.add_argument("--collect", action="store_true",
                     help="collect cyclic garbage (gc.collect()) before the last reading: "
                          "without it, garbage the next collection frees counts as left "
                          "behind")
    run.add_argument("--census", action="store_true",
                     help="also take a census (every object, tracked by the collector or "
                          "not, with its bytes) before and after, and list the changes of "
                          "bytes by type; the snapshots -o and --before save keep them")
    run.add_argument("--min-change", type=positive, default=1, metavar="N",
                     help=MIN_CHANGE_HELP)
    run.add_argument("--top", type=positive, default=10, metavar="N",
                     help="changes to list per table (default 10)")
    run.add_argument("-m", dest="module", metavar="MODULE",
                     help="run a module as 'python -m MODULE' would")
    run.add_argument("script", nargs="?", metavar="SCRIPT.py")
    run.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the script")
    run.set_defaults(func=cmd_run, prog=run.prog)


def cmd_run(args: argparse.Namespace) -> int:
    if args.module is None and args.script is None:
        raise UsageError(args.prog, "give a script, or -m MODULE")
    # Before the script starts: a bad output path must not cost a whole run, nor replace
    # the script's exit status at the end.
    check_outputs(args.prog, {"-o": args.output, "--before": args.before})
    target, argv = _run_target(args)
    with _OriginalStdout() as stdout:
        status, tracker, freed = _run_tracked(args, target, argv)
        header = (f"\nmemviz run: {' '.join(argv)} (exit status {status}, "
                  f"{tracker.elapsed:.3f} s)\n{_collect_line(freed)}\n\n")
        try:
            for path, snap in ((args.before, tracker.before), (args.output, tracker.after)):
                if path:
                    save(snap, path)
        finally:
            stdout.write(header + tracker.report(args.top, min_change=args.min_change))
    return status


def _run_target(args: argparse.Namespace) -> tuple[str, list[str]]:
    """What `run` runs, and its sys.argv; CommandError when there is nothing to run."""
    if args.module is not None:
        _check_module(args.module)
        return args.module, [args.module, *args.args]
    target = args.script
    if not os.path.isfile(target):
        reason = "no such file" if not os.path.exists(target) else "not a file"
        raise CommandError(f"cannot run {target}: {reason}")
    if not os.access(target, os.R_OK):
        raise CommandError(f"cannot run {target}: not readable")
    return target, [target, *args.args]


def _run_tracked(args: argparse.Namespace, target: str, argv: list[str]):
    """Runs the script or module under memviz.track(), as python would run it: (its exit
    status, the tracker, the objects ``--collect`` freed or None)."""
    saved_argv, saved_path0 = sys.argv[:], sys.path[0] if sys.path else None
    sys.argv = argv
    if args.module is None:
        # As `python SCRIPT.py`: the script's directory comes first on sys.path.
        sys.path[0:1] = [os.path.dirname(os.path.abspath(target))]
    import pkgutil  # noqa: F401 - runpy imports it on first use: not the script's doing

    # memviz's own start-up garbage (argparse's, the imports') is not the script's doing:
    # collected before the first snapshot, so the report shows what the script did.
    gc.collect()
    status = 0
    freed = None
    tracker = track(census=args.census)
    # The script's globals: what it left behind includes them, and the tracker reads the
    # allocation sites at its exit, so they must still be alive then.
    left_behind = None
    try:
        with tracker:
            try:
                if args.module is not None:
                    left_behind = runpy.run_module(target, run_name="__main__", alter_sys=True)
                else:
                    left_behind = runpy.run_path(target, run_name="__main__")
            except SystemExit as stop:
                left_behind = _script_globals(stop)
                status = _exit_status(stop.code)
            except BaseException as error:   # noqa: BLE001 - the script's, reported as python would
                left_behind = _script_globals(error)
                _print_script_traceback(error)
                status = 130 if isinstance(error, KeyboardInterrupt) else 1
            if args.collect:
                # Cyclic garbage is not left behind: the next collection frees it.
                freed = gc.collect()
    finally:
        sys.argv = saved_argv
        if saved_path0 is not None and args.module is None:
            sys.path[0] = saved_path0
    del left_behind
    return status, tracker, freed


def _collect_line(freed: int | None) -> str:
    """What `run` did about cyclic garbage before its last reading."""
    if freed is None:
        return ("not collected before the last reading (cyclic garbage may be counted; "
                "--collect to collect first)")
    return f"collected before the last reading: {counted(freed, 'unreachable object')} freed"


class _OriginalStdout:
    """The standard output memviz started with, for the report `run` prints after the
    script: the script may close sys.stdout (`json.tool` does), replace it, or close its
    file descriptor. A duplicate of the descriptor, taken before the script starts,
    outlives all three."""

    _stream: TextIO
    _fd: int | None   # the duplicate; None when there is none, or once it is used

    def __enter__(self) -> _OriginalStdout:
        self._stream = sys.stdout
        try:
            self._fd = os.dup(self._stream.fileno())
        except (AttributeError, OSError, ValueError):
            # No standard output, or not a file: main() called with sys.stdout a StringIO.
            self._fd = None
        return self

    def __exit__(self, *exc_info) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def write(self, text: str) -> None:
        """Writes ``text`` after everything the script printed."""
        for stream in (sys.stdout, self._stream):   # the script's, then memviz's
            try:
                stream.flush()
            except (AttributeError, ValueError, OSError):
                pass   # gone (None, closed): nothing of it waits to be written
        if self._fd is None:
            usable = self._stream is not None and not self._stream.closed
            out(text, self._stream if usable else sys.stderr)
            return
        fd, self._fd = self._fd, None
        with open(fd, "w", encoding=getattr(self._stream, "encoding", None),
                  errors=getattr(self._stream, "errors", None)) as stream:
            stream.write(text)


def _print_script_traceback(error: BaseException) -> None:
    """The traceback as `python SCRIPT.py` prints it: from the script's frame on, without
    memviz's and runpy's frames."""
    tb = error.__traceback__
    while tb is not None and not (tb.tb_frame.f_code.co_name == "<module>"
                                  and tb.tb_frame.f_globals.get("__name__") == "__main__"):
        tb = tb.tb_next
    traceback.print_exception(type(error), error, tb or error.__traceback__)


def _script_globals(error: BaseException) -> dict | None:
    """The globals of the script (or module) that raised ``error``: its module-level
    frame in the traceback. runpy returns them only when the script ends normally."""
    tb = error.__traceback__
    while tb is not None:
        frame = tb.tb_frame
        if frame.f_code.co_name == "<module>" and frame.f_globals.get("__name__") == "__main__":
            return frame.f_globals
        tb = tb.tb_next
    return None


def _check_module(name: str) -> None:
    """CommandError unless ``python -m name`` would find something to run."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError) as error:
        raise CommandError(f"cannot run -m {name}: {error}") from None
    if spec is None:
        raise CommandError(f"cannot run -m {name}: no module named {name!r}")


def _exit_status(code) -> int:
    """What `python SCRIPT.py` exits with after `sys.exit(code)`."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1
