"""memviz's command line: ``python -m memviz`` (or ``memviz``) and its commands.

Every error is one line on standard error that starts with the command (``memviz diff:
...``). Usage errors -- bad arguments, and output files that cannot be written, found
before any work starts -- exit 2 and point to the command's ``--help``; a file that is
missing, unreadable or not a snapshot exits 1; ``run`` exits with the script's own exit
status. ``-`` names standard input for the snapshots ``report`` and ``diff`` read, and
standard output for what ``snapshot -o`` and ``report -o`` write.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

from . import __version__
from ._errors import MemvizError, SnapshotFormatError
from ._report import format_bytes
from ._words import counted

PROG = "memviz"


#: How the messages name standard input ("-") as a snapshot's source.
STDIN = "standard input"


class CommandError(Exception):
    """A failure to report in one line on stderr, exit status 1."""


class _UsageError(Exception):
    """A bad command line: one line on stderr that points to the command's --help, exit
    status 2."""

    def __init__(self, prog: str, message: str):
        super().__init__(message)
        self.prog = prog   # "memviz" or "memviz COMMAND": whose usage was wrong

    def __str__(self) -> str:
        return f"{self.prog}: {self.args[0]}; see: python -m {self.prog} --help"


# --------------------------------------------------------------------------------------
# The commands


def _live_header() -> str:
    from . import capabilities

    caps = capabilities()
    available = ", ".join(c.name for c in caps if c.available) or "none"
    return (f"memviz {__version__}: a live reading of this interpreter "
            f"({sys.executable})\nreadings available: {available}")


def cmd_report(args: argparse.Namespace) -> int:
    from . import snapshot

    files = args.file if isinstance(args.file, list) else [args.file] if args.file else []
    _check_stdin_once(args.prog, files)
    if getattr(args, "output", None):
        return _html_report(args, files)
    if len(files) > 1:
        raise _UsageError(args.prog, "several snapshots need -o FILE.html (or compare two "
                                     "with 'memviz diff OLD.json NEW.json')")
    if not files:
        snap = snapshot()
        _out(_live_header() + "\n\n" + snap.report(args.top))
    else:
        _out(_load(files[0]).report(args.top))
    return 0


def _html_report(args: argparse.Namespace, files: list[str]) -> int:
    """report -o FILE.html: one self-contained page (memviz.htmlreport)."""
    from . import snapshot
    from .htmlreport import render_report

    if args.output != "-":
        _check_outputs(args.prog, {"-o": args.output})
    snaps = [_load(path) for path in files] or [snapshot()]
    names = ([STDIN if path == "-" else os.path.basename(path) for path in files]
             or ["this interpreter, now"])
    page = render_report(snaps, args.top, names=names, min_change=args.min_change)
    if args.output == "-":
        _out(page)
        return 0
    try:
        with open(args.output, "w", encoding="utf-8") as file:
            file.write(page)
    except OSError as error:
        raise CommandError(f"cannot write {args.output}: {_os_reason(error)}") from None
    what = "1 snapshot" if len(snaps) == 1 else f"{len(snaps)} snapshots and what changed"
    print(f"report written to {args.output} ({what})", file=sys.stderr)
    return 0


def cmd_snapshot(args: argparse.Namespace) -> int:
    from . import snapshot

    if args.output in (None, "-"):
        _out(snapshot().to_json(indent=args.indent) + "\n")
        return 0
    _check_outputs(args.prog, {"-o": args.output})
    snap = snapshot()
    _save(snap, args.output)
    summary = [f"snapshot written to {args.output}"]
    if snap.generations is not None:
        summary.append(f"{sum(g.objects for g in snap.generations):,} GC objects")
    if snap.pymalloc is not None:
        summary.append(f"{snap.pymalloc.arenas_current:,} arenas")
    if snap.rss is not None:
        summary.append(f"RSS {format_bytes(snap.rss)}")
    print(", ".join(summary), file=sys.stderr)
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    _check_stdin_once(args.prog, [args.old, args.new])
    old = _load(args.old)
    new = _load(args.new)
    _out((new - old).report(args.top, min_change=args.min_change))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    if args.module is None and args.script is None:
        raise _UsageError(args.prog, "give a script, or -m MODULE")
    # Before the script starts: a bad output path must not cost a whole run, nor replace
    # the script's exit status at the end.
    _check_outputs(args.prog, {"-o": args.output, "--before": args.before})
    target, argv = _run_target(args)
    with _OriginalStdout() as stdout:
        status, tracker, freed = _run_tracked(args, target, argv)
        header = (f"\nmemviz run: {' '.join(argv)} (exit status {status}, "
                  f"{tracker.elapsed:.3f} s)\n{_collect_line(freed)}\n\n")
        try:
            for path, snap in ((args.before, tracker.before), (args.output, tracker.after)):
                if path:
                    _save(snap, path)
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
    import gc
    import runpy

    from . import track

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
    tracker = track()
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
            _out(text, self._stream if usable else sys.stderr)
            return
        fd, self._fd = self._fd, None
        with open(fd, "w", encoding=getattr(self._stream, "encoding", None),
                  errors=getattr(self._stream, "errors", None)) as stream:
            stream.write(text)


def cmd_tour(args: argparse.Namespace) -> int:
    from .tour import main as tour_main

    return tour_main(args)


def _print_script_traceback(error: BaseException) -> None:
    """The traceback as `python SCRIPT.py` prints it: from the script's frame on, without
    memviz's and runpy's frames."""
    import traceback

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
    import importlib.util

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


# --------------------------------------------------------------------------------------
# Helpers


def _os_reason(error: OSError) -> str:
    """Why a file could not be read or written, in the same words for the same problem
    in every command."""
    if isinstance(error, FileNotFoundError):
        return "no such file"
    if isinstance(error, IsADirectoryError):
        return "it is a directory"
    reason = error.strerror or str(error)
    return reason[:1].lower() + reason[1:]   # "permission denied", as "no such file"


def _output_problem(path: str) -> str | None:
    """Why ``path`` cannot be written as an output file, or None when it can."""
    if os.path.isdir(path):
        return "it is a directory"
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        return "no such directory"
    if os.path.exists(path):
        writable = os.access(path, os.W_OK)
    else:
        writable = os.access(directory, os.W_OK | os.X_OK)
    return None if writable else "permission denied"


def _check_outputs(prog: str, outputs: dict[str, str | None]) -> None:
    """A usage error unless every output file given (option: path) can be written: found
    before the work that would have filled them."""
    given = {option: path for option, path in outputs.items() if path}
    for path in given.values():
        problem = _output_problem(path)
        if problem:
            raise _UsageError(prog, f"cannot write {path}: {problem}")
    if len({os.path.abspath(path) for path in given.values()}) < len(given):
        raise _UsageError(prog, f"{' and '.join(given)} name the same file")


def _check_stdin_once(prog: str, paths: list[str]) -> None:
    """Standard input ("-") holds one snapshot: a usage error when it is named twice."""
    if paths.count("-") > 1:
        raise _UsageError(prog, f"'-' ({STDIN}) can be read only once")


def _load(path: str):
    """The snapshot saved in ``path`` (``-``: standard input), or a CommandError that says
    why not."""
    from .snapshot import Snapshot, _read

    try:
        if path == "-":
            return _read(sys.stdin.buffer, STDIN)
        return Snapshot.load(path)
    except OSError as error:
        raise CommandError(f"cannot read {STDIN if path == '-' else path}: "
                           f"{_os_reason(error)}") from None
    except SnapshotFormatError as error:
        # The message starts with the path already.
        raise CommandError(f"not a snapshot memviz can read: {error}") from None


def _save(snap, path: str) -> None:
    try:
        snap.dump(path)
    except OSError as error:
        raise CommandError(f"cannot write {path}: {_os_reason(error)}") from None


def _out(text: str, stream=None) -> None:
    stream = sys.stdout if stream is None else stream
    stream.write(text)
    stream.flush()


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise _UsageError(self.prog, message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description=(
            "Exact readings of CPython's reference counts, garbage collector and pymalloc. "
            "Without a command: a live report of this interpreter (the collector's "
            "generations, the most common types, pymalloc's arenas, size classes and "
            "fragmentation)."
        ),
        epilog=f"Run '{PROG} COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"memviz {__version__}")
    parser.add_argument("--top", type=_positive, default=15, metavar="N",
                        help="types and size classes to list (default 15)")
    parser.set_defaults(func=cmd_report, file=None, prog=parser.prog, min_change=1)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", parser_class=_Parser)

    report = commands.add_parser(
        "report", help="a report of this interpreter, or of saved snapshots (text or HTML)",
        description="Prints the report of a snapshot: a new one of this interpreter, or "
                    "the one saved in FILE. With -o, writes one self-contained HTML page "
                    "instead (tables, the arena map; for several snapshots also what "
                    "changed from each to the next).")
    report.add_argument("file", nargs="*", metavar="FILE.json",
                        help="snapshots saved by 'memviz snapshot -o', '-' for one on "
                             "standard input (default: take one now)")
    report.add_argument("-o", "--output", metavar="FILE.html",
                        help="write the report as an HTML page to FILE.html ('-': standard "
                             "output)")
    report.add_argument("--min-change", type=_positive, default=1, metavar="N",
                        help=_MIN_CHANGE_HELP)
    report.add_argument("--top", type=_positive, default=15, metavar="N",
                        help="types to list (default 15)")
    report.set_defaults(func=cmd_report, prog=report.prog)

    snap = commands.add_parser(
        "snapshot", help="save a snapshot of this interpreter as JSON",
        description="Takes a snapshot of this interpreter and writes it as JSON to FILE "
                    "(standard output without -o). Of interest mostly as a format example: "
                    "to snapshot your own program, call memviz.snapshot().dump(path) in it, "
                    "or use 'memviz run -o'.")
    snap.add_argument("-o", "--output", metavar="FILE.json",
                      help="where to write the snapshot (default: standard output)")
    snap.add_argument("--indent", type=int, default=None, metavar="N",
                      help="indent the JSON by N spaces")
    snap.set_defaults(func=cmd_snapshot, prog=snap.prog)

    diff = commands.add_parser(
        "diff", help="compare two saved snapshots",
        description="Prints what changed from OLD to NEW: objects per type, the collector's "
                    "generations and collections, pymalloc's size classes and arenas, RSS.")
    diff.add_argument("old", metavar="OLD.json", help="the earlier snapshot ('-': standard input)")
    diff.add_argument("new", metavar="NEW.json", help="the later snapshot ('-': standard input)")
    diff.add_argument("--min-change", type=_positive, default=1, metavar="N",
                      help=_MIN_CHANGE_HELP)
    diff.add_argument("--top", type=_positive, default=10, metavar="N",
                      help="changes to list per table (default 10)")
    diff.set_defaults(func=cmd_diff, prog=diff.prog)

    run = commands.add_parser(
        "run", help="run a script or module and report what it left behind",
        usage=f"{PROG} run [-h] [-o FILE.json] [--before FILE.json] [--collect] "
              "[--min-change N] [--top N] "
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
    run.add_argument("--min-change", type=_positive, default=1, metavar="N",
                     help=_MIN_CHANGE_HELP)
    run.add_argument("--top", type=_positive, default=10, metavar="N",
                     help="changes to list per table (default 10)")
    run.add_argument("-m", dest="module", metavar="MODULE",
                     help="run a module as 'python -m MODULE' would")
    run.add_argument("script", nargs="?", metavar="SCRIPT.py")
    run.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the script")
    run.set_defaults(func=cmd_run, prog=run.prog)

    from .tour import configure_parser as tour_options

    tour = commands.add_parser(
        "tour", help="a guided, live walk through refcounts, the collector, pymalloc, "
                     "threads and processes",
        description="Six short lessons run live in this interpreter, each with memviz's "
                    "readings of what just happened. Pauses for Enter between steps when "
                    "standard input is a terminal.")
    tour_options(tour)
    tour.set_defaults(func=cmd_tour, prog=tour.prog)
    return parser


_MIN_CHANGE_HELP = ("list only the types whose count changed by at least N objects; the "
                    "others are summed in one row (default 1: every change)")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _split_run(argv: list[str]) -> tuple[list[str], list[str] | None]:
    """memviz's own arguments, and (for `run -m MODULE args...`) the module's arguments,
    which argparse would otherwise read as memviz's own options."""
    i = 0
    while i < len(argv) and argv[i].startswith("-"):   # options before the command
        i += 2 if argv[i] == "--top" else 1
    if i >= len(argv) or argv[i] != "run":
        return argv, None
    i += 1
    takes_value = {"-o", "--output", "--before", "--top", "--min-change"}
    while i < len(argv):
        arg = argv[i]
        if arg == "-m":
            if i + 1 >= len(argv):
                return argv, None
            return argv[:i + 2], argv[i + 2:]
        if arg.startswith("-m") and not arg.startswith("--"):   # -mMODULE
            return argv[:i + 1], argv[i + 1:]
        if arg in takes_value:
            i += 2
        elif arg.startswith("-") and arg != "-":
            i += 1
        else:
            return argv, None   # a script: argparse's REMAINDER takes what follows it
    return argv, None


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    own, module_args = _split_run(argv)
    prog = PROG   # whose error it is: "memviz COMMAND" once the command is known
    try:
        args, unknown = parser.parse_known_args(own)
        prog = args.prog
        if unknown:   # parse_args would say so as the main parser's, not the command's
            raise _UsageError(prog, f"unrecognized arguments: {' '.join(unknown)}")
        if module_args is not None:
            args.args = module_args
        if args.func is cmd_run and args.module and args.script:
            # `run -m MODULE` with a name argparse took for SCRIPT: it is the module's
            args.args = [args.script, *args.args]
            args.script = None
        return args.func(args)
    except _UsageError as error:
        print(error, file=sys.stderr)
        return 2
    except (CommandError, MemvizError) as error:
        print(f"{prog}: {error}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader went away (`memviz | head`): nothing more to say.
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return 0
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
