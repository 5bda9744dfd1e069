"""memviz's command line: ``python -m memviz`` (or ``memviz``) and its commands.

Usage errors exit 2 (argparse); a file that is missing, unreadable or not a snapshot
exits 1 with a one-line message on standard error; ``run`` exits with the script's own
exit status.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

from . import __version__
from ._errors import MemvizError, SnapshotFormatError
from ._report import format_bytes
from ._words import plural

PROG = "memviz"


class CommandError(Exception):
    """A failure to report in one line on stderr, exit status 1."""


# --------------------------------------------------------------------------------------
# The commands


def _live_header() -> str:
    from . import capabilities

    caps = capabilities()
    available = ", ".join(c.name for c in caps if c.available) or "none"
    return (f"memviz {__version__}: a live reading of this interpreter "
            f"({sys.executable})\nreadings available: {available}")


def cmd_report(args: argparse.Namespace) -> int:
    from . import Snapshot, snapshot

    files = args.file if isinstance(args.file, list) else [args.file] if args.file else []
    if getattr(args, "output", None):
        return _html_report(args, files)
    if len(files) > 1:
        raise _UsageError("report: several snapshots need -o FILE.html (or compare two "
                          "with 'memviz diff OLD.json NEW.json')")
    if not files:
        snap = snapshot()
        _out(_live_header() + "\n\n" + snap.report(args.top))
    else:
        _out(_load(Snapshot, files[0]).report(args.top))
    return 0


def _html_report(args: argparse.Namespace, files: list[str]) -> int:
    """report -o FILE.html: one self-contained page (memviz.htmlreport)."""
    from . import Snapshot, snapshot
    from .htmlreport import render_report

    snaps = [_load(Snapshot, path) for path in files] or [snapshot()]
    names = [("standard input" if path == STDIN else os.path.basename(path))
             for path in files] or ["this interpreter, now"]
    page = render_report(snaps, args.top, names=names)
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

    snap = snapshot()
    if args.output in (None, "-"):
        _out(snap.to_json(indent=args.indent) + "\n")
        return 0
    try:
        snap.dump(args.output)
    except OSError as error:
        raise CommandError(f"cannot write {args.output}: {_os_reason(error)}") from None
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
    from . import Snapshot

    if args.old == args.new == STDIN:
        raise _UsageError(f"{PROG} diff: standard input (-) can be only one of OLD.json and "
                          "NEW.json", command="diff")
    old = _load(Snapshot, args.old)
    new = _load(Snapshot, args.new)
    _out((new - old).report(args.top))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    import runpy

    from . import track

    if args.module is not None:
        target, argv = args.module, [args.module, *args.args]
        _check_module(target)
    elif args.script is not None:
        target, argv = args.script, [args.script, *args.args]
        if not os.path.isfile(target):
            reason = "no such file" if not os.path.exists(target) else "not a file"
            raise CommandError(f"cannot run {target}: {reason}")
        if not os.access(target, os.R_OK):
            raise CommandError(f"cannot run {target}: not readable")
    else:
        raise _UsageError("run: give a script, or -m MODULE", command="run")
    # A path memviz cannot write is found now, not after the script has run for an hour.
    for option, path in (("-o", args.output), ("--before", args.before)):
        if path:
            _check_writable(option, path)
    report_stream = _ReportStream()

    saved_argv, saved_path0 = sys.argv[:], sys.path[0] if sys.path else None
    sys.argv = argv
    if args.module is None:
        # As `python SCRIPT.py`: the script's directory comes first on sys.path.
        sys.path[0:1] = [os.path.dirname(os.path.abspath(target))]
    import pkgutil  # noqa: F401 - runpy imports it on first use: not the script's doing

    # memviz's own start-up garbage (argparse's, the imports') is not the script's doing:
    # collected before the first snapshot, so the report shows what the script did.
    import gc

    gc.collect()
    status = 0
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
            # Cyclic garbage is not left behind: the next collection frees it. Without
            # --collect it is in the last reading, and the report says so.
            unreachable = gc.collect() if args.collect else None
    finally:
        sys.argv = saved_argv
        if saved_path0 is not None and args.module is None:
            sys.path[0] = saved_path0
    del left_behind
    _flush_quietly(sys.stdout)   # the script's own output first, wherever it now goes
    for path, snap in ((args.before, tracker.before), (args.output, tracker.after)):
        if path:
            try:
                snap.dump(path)
            except OSError as error:
                raise CommandError(f"cannot write {path}: {_os_reason(error)}") from None
    if unreachable is None:
        collected = ("not collected before the last reading: cyclic garbage the next "
                     "collection would free counts as left behind (--collect collects first)")
    else:
        collected = (f"collected before the last reading: {unreachable:,} unreachable "
                     f"{plural(unreachable, 'object')} found and freed")
    report_stream.write(f"\nmemviz run: {' '.join(argv)} (exit status {status}, "
                        f"{tracker.elapsed:.3f} s)\n{collected}\n\n" + tracker.report(args.top))
    return status


class _ReportStream:
    """Where ``run`` prints its report: the standard output memviz started with, although
    the script may have replaced ``sys.stdout`` (the report is not the script's to
    swallow) or closed it (``sys.stdout.close()``; ``json.tool`` does). A duplicate of its
    file descriptor is made before the script runs; standard error when neither is left."""

    def __init__(self) -> None:
        self._stdout, self._stderr = sys.stdout, sys.stderr
        try:
            self._fd: int | None = os.dup(self._stdout.fileno())
        except (AttributeError, OSError, ValueError):   # no stdout, or not a file (capsys)
            self._fd = None

    def write(self, text: str) -> None:
        try:
            if self._stdout is not None and not self._stdout.closed:
                _write(self._stdout, text)
            elif self._fd is not None:
                with os.fdopen(self._fd, "w", encoding="utf-8", errors="backslashreplace") as out:
                    self._fd = None
                    out.write(text)
            else:
                _write(self._stderr, text)
        finally:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


def _write(stream, text: str) -> None:
    stream.write(text)
    stream.flush()


def _flush_quietly(stream) -> None:
    """Flush a stream the script may have closed or replaced by something without flush."""
    try:
        stream.flush()
    except (AttributeError, OSError, ValueError):
        pass


def _check_writable(option: str, path: str) -> None:
    """A usage error unless ``path`` can be created or overwritten as a file."""
    directory = os.path.dirname(path) or "."
    if os.path.isdir(path):
        reason = "it is a directory"
    elif not os.path.isdir(directory):
        reason = f"no such directory {directory}"
    elif not os.access(directory, os.W_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
        reason = "permission denied"
    else:
        return
    raise _UsageError(f"{PROG} run: cannot write {option} {path}: {reason}; "
                      "the script was not started", command="run")


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
    return error.strerror or str(error)


#: A snapshot path of "-" is standard input, as `snapshot` writes to standard output when
#: given no file: `memviz snapshot | memviz report -`.
STDIN = "-"


def _load(cls, path: str):
    try:
        # /dev/stdin: Snapshot.load's size limit and messages then hold for a pipe too.
        return cls.load("/dev/stdin" if path == STDIN else path)
    except FileNotFoundError:
        raise CommandError(f"cannot read {path}: no such file") from None
    except IsADirectoryError:
        raise CommandError(f"cannot read {path}: it is a directory") from None
    except OSError as error:
        raise CommandError(f"cannot read {path}: {_os_reason(error)}") from None
    except SnapshotFormatError as error:
        # The message starts with the path already.
        raise CommandError(f"not a snapshot memviz can read: {error}") from None


def _out(text: str) -> None:
    _write(sys.stdout, text)


class _UsageError(Exception):
    """A command line memviz cannot act on: exit status 2, and a pointer to the help of
    the command (``command``) or of memviz."""

    def __init__(self, message: str, command: str | None = None) -> None:
        super().__init__(message)
        self.help = f"{PROG} {command} --help" if command else f"{PROG} --help"


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        # prog is "memviz" or "memviz COMMAND": point to the help of the command at hand.
        command = self.prog.partition(" ")[2] or None
        raise _UsageError(f"{self.prog}: {message}", command=command)


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
    parser.set_defaults(func=cmd_report, file=None)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", parser_class=_Parser)

    report = commands.add_parser(
        "report", help="a report of this interpreter, or of saved snapshots (text or HTML)",
        description="Prints the report of a snapshot: a new one of this interpreter, or "
                    "the one saved in FILE. With -o, writes one self-contained HTML page "
                    "instead (tables, the arena map; for several snapshots also what "
                    "changed from each to the next).")
    report.add_argument("file", nargs="*", metavar="FILE.json",
                        help="snapshots saved by 'memviz snapshot -o' (default: take one now)")
    report.add_argument("-o", "--output", metavar="FILE.html",
                        help="write the report as an HTML page to FILE.html ('-': standard "
                             "output)")
    report.add_argument("--top", type=_positive, default=15, metavar="N",
                        help="types to list (default 15)")
    report.set_defaults(func=cmd_report)

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
    snap.set_defaults(func=cmd_snapshot)

    diff = commands.add_parser(
        "diff", help="compare two saved snapshots",
        description="Prints what changed from OLD to NEW: objects per type, the collector's "
                    "generations and collections, pymalloc's size classes and arenas, RSS.")
    diff.add_argument("old", metavar="OLD.json")
    diff.add_argument("new", metavar="NEW.json")
    diff.add_argument("--top", type=_positive, default=10, metavar="N",
                      help="changes to list per table (default 10)")
    diff.set_defaults(func=cmd_diff)

    run = commands.add_parser(
        "run", help="run a script or module and report what it left behind",
        usage=f"{PROG} run [-h] [-o FILE.json] [--before FILE.json] [--top N] [--collect] "
              "(-m MODULE | SCRIPT.py) [args ...]",
        description="Runs a Python script (as 'python SCRIPT.py args' would: as __main__, "
                    "with sys.argv, keeping its exit status) or a module (-m) under "
                    "memviz.track(), then prints what it left behind (objects per type, "
                    "pymalloc blocks and arenas, RSS), the collections it triggered and, "
                    "when tracemalloc is tracing ('python -X tracemalloc -m memviz run "
                    "SCRIPT.py'), where the objects of the types that grew most were "
                    "allocated. "
                    "memviz's options come before the script; everything after the script "
                    "or module name is passed to it.")
    run.add_argument("-o", "--output", metavar="FILE.json",
                     help="also save the snapshot taken when the script ended")
    run.add_argument("--before", metavar="FILE.json",
                     help="also save the snapshot taken before the script started")
    run.add_argument("--top", type=_positive, default=10, metavar="N",
                     help="changes to list per table (default 10)")
    run.add_argument("--collect", action="store_true",
                     help="collect cyclic garbage before the last reading, so the report "
                          "lists only what is still reachable")
    run.add_argument("-m", dest="module", metavar="MODULE",
                     help="run a module as 'python -m MODULE' would")
    run.add_argument("script", nargs="?", metavar="SCRIPT.py")
    run.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the script")
    run.set_defaults(func=cmd_run)

    from .tour import configure_parser as tour_options

    tour = commands.add_parser(
        "tour", help="a guided, live walk through refcounts, the collector, pymalloc, "
                     "threads and processes",
        description="Six short lessons run live in this interpreter, each with memviz's "
                    "readings of what just happened. Pauses for Enter between steps when "
                    "standard input is a terminal.")
    tour_options(tour)
    tour.set_defaults(func=cmd_tour)
    return parser


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
    takes_value = {"-o", "--output", "--before", "--top"}   # --collect takes none
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
    try:
        args = parser.parse_args(own)
        if module_args is not None:
            args.args = module_args
        if getattr(args, "func", None) is cmd_run and args.module and args.script:
            # `run -m MODULE` with a name argparse took for SCRIPT: it is the module's
            args.args = [args.script, *args.args]
            args.script = None
        return args.func(args)
    except _UsageError as error:
        print(f"{error}\nRun '{error.help}' for usage.", file=sys.stderr)
        return 2
    except CommandError as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return 1
    except MemvizError as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader went away (`memviz | head`): nothing more to say.
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return 0
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
