"""The command line: a thin click shell over :mod:`linkaudit.audit`.

``linkaudit PATH...`` audits (the default command); ``linkaudit fix FILE``
rewrites.  The report goes to stdout; progress, warnings and errors go to
stderr, one line per bad input.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import NamedTuple

import click

from linkaudit import __version__
from linkaudit.formats import OutputFormat
from linkaudit.report import FindingKind, Status


class App(NamedTuple):
    """What every subcommand needs: where to write and whether colour is allowed."""

    color: bool
    width: int

    def error(self, message: str) -> None:
        from linkaudit.printable import one_line  # a file name never splits the line nor drives the terminal

        click.echo(f"linkaudit: error: {one_line(message)}", err=True)

    def note(self, message: str) -> None:
        from linkaudit.printable import one_line

        click.echo(f"linkaudit: {one_line(message)}", err=True)


def _want_color(stream) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return bool(getattr(stream, "isatty", lambda: False)())


@contextlib.contextmanager
def _progress_bar(threshold: int = 50):
    """A rich progress bar on stderr, only when stderr is a terminal and there are many objects."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import Progress

    bar: list[Progress] = []
    task: list[int] = []

    def update(done: int, total: int) -> None:
        if total < threshold:
            return
        if not bar:
            bar.append(Progress(console=Console(stderr=True, markup=False, highlight=False), transient=True))
            bar[0].start()
            task.append(bar[0].add_task("auditing", total=total))
        bar[0].update(task[0], completed=done)

    try:
        yield update
    finally:
        if bar:
            bar[0].stop()


class Terminated(SystemExit):
    """SIGTERM or SIGHUP arrived: unwound like Ctrl-C, so temporary files and directories are removed."""


def _unwind_on_signals(ctx: click.Context) -> None:
    """Turn SIGTERM and SIGHUP into an exception (exit 128+N) for the command's lifetime.

    Their default action kills the process on the spot, leaving a wheel's
    extraction directory or ``fix``'s temporary file behind; SIGINT already
    raises KeyboardInterrupt.  Forked pool workers inherit the handlers.
    """
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return

    def unwind(signum: int, _frame: object) -> None:
        raise Terminated(128 + signum)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        old = signal.signal(sig, unwind)
        ctx.call_on_close(lambda sig=sig, old=old: signal.signal(sig, old))


class Linkaudit(click.Command):
    """``linkaudit [OPTIONS] PATHS...`` audits: the audit is the command itself, so its options are
    the top-level ones (``linkaudit --help`` shows them, usage errors say ``Usage: linkaudit``).

    Subcommands (``linkaudit fix ...``) are dispatched on their name before the audit options are
    parsed; ``linkaudit audit PATHS...`` is still accepted as an alias of the audit.  To audit a
    file whose name is a subcommand's, write it as ``./fix``.
    """

    ALIASES = ("audit",)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.subcommands: dict[str, click.Command] = {}

    def command(self, name: str, **kwargs):
        """Decorator: register a subcommand (a plain click command)."""
        def decorator(f) -> click.Command:
            cmd = click.command(name, context_settings=CONTEXT_SETTINGS, **kwargs)(f)
            self.subcommands[name] = cmd
            return cmd
        return decorator

    def make_context(self, info_name, args, parent=None, **extra) -> click.Context:
        extra.setdefault("obj", App(color=_want_color(sys.stdout),
                                    width=int(os.environ.get("COLUMNS", "0") or 0) or 100))
        return super().make_context(info_name, args, parent=parent, **extra)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] in self.ALIASES:
            args = args[1:]
        elif args and args[0] in self.subcommands:
            ctx.meta["linkaudit.subcommand"] = (args[0], args[1:])
            return super().parse_args(ctx, [])
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context):
        _unwind_on_signals(ctx)
        sub = ctx.meta.get("linkaudit.subcommand")
        if sub is None:
            return super().invoke(ctx)
        name, args = sub
        cmd = self.subcommands[name]
        # no parent context: the usage line reads "linkaudit fix [OPTIONS] FILE", not the audit's arguments
        with cmd.make_context(f"{ctx.info_name} {name}", args, obj=ctx.obj) as sub_ctx:
            return cmd.invoke(sub_ctx)

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        super().format_options(ctx, formatter)
        rows = [(name, cmd.get_short_help_str(limit=200)) for name, cmd in self.subcommands.items()]
        if rows:
            with formatter.section("Commands (linkaudit COMMAND --help)"):
                formatter.write_dl(rows)


CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"]}
FAIL_ON_HELP = ("Findings that fail the gate, comma-separated or repeated: "
                + ", ".join(k.value for k in FindingKind) + ", or none.  [default: unused]")


@click.command("linkaudit", cls=Linkaudit, context_settings=CONTEXT_SETTINGS)
@click.argument("paths", nargs=-1, type=click.Path(path_type=str, readable=False))  # unreadable: one error line
@click.option("--format", "fmt", type=click.Choice([f.value for f in OutputFormat]), default="text",
              show_default=True, help="Report format.")
@click.option("--fail-on", "fail_on", multiple=True, metavar="KINDS", help=FAIL_ON_HELP)
@click.option("--allow-empty", is_flag=True,
              help="Exit 0 when no ELF object is found under the inputs (by default that is an error, exit 2, "
                   "so a wrong path cannot pass the gate).")
@click.option("--search-path", "search_paths", multiple=True, type=click.Path(file_okay=False, path_type=str),
              help="Extra directory to find libraries in, after the loader's own rules (repeatable).")
@click.option("--no-python-packages", is_flag=True,
              help="Do not resolve libraries that only installed Python packages (e.g. torch/lib) provide.")
@click.option("--fix-suggestions", is_flag=True, help="Add concrete remedies for each finding.")
@click.option("--output", "-o", "output", type=click.Path(dir_okay=False, readable=False, path_type=str),
              metavar="FILE",
              help="Write the report to FILE; the console still gets the summary.")
@click.option("--config", "config_file", type=click.Path(readable=False, path_type=str), metavar="FILE",
              help="Read settings from FILE (a pyproject.toml or a linkaudit.toml) instead of the nearest "
                   "pyproject.toml's [tool.linkaudit]. Command-line flags override it.")
@click.option("--baseline", "baseline_file", type=click.Path(readable=False, path_type=str), metavar="FILE",
              help="Fail only on findings not recorded in FILE (see --write-baseline).")
@click.option("--write-baseline", "write_baseline_file", type=click.Path(dir_okay=False, readable=False, path_type=str),
              metavar="FILE",
              help="Record every finding of this run in FILE, to accept them with --baseline FILE.")
@click.option("--module", "modules", multiple=True, metavar="NAME",
              help="Audit the ELF files of an installed module or package, found without importing it (repeatable).")
@click.option("--root", "root", type=click.Path(exists=True, file_okay=False, path_type=str), metavar="DIR",
              help="Audit a sysroot or unpacked image: ld.so.cache, default directories and absolute "
                   "RPATH/RUNPATH entries are all looked up under DIR.")
@click.option("--no-default-excludes", is_flag=True,
              help="Also walk build-system scratch directories (CMakeFiles/, temp.*), which directory "
                   "walks skip by default.")
@click.option("--platform", "platform", metavar="NAME",
              help="Audit for a machine whose ld.so platform ($PLATFORM, AT_PLATFORM) is NAME, e.g. haswell, "
                   "x86_64, xeon_phi, i686, v7l. [default: computed from this CPU as glibc does]")
@click.option("--hwcaps", "hwcaps", metavar="NAMES",
              help="Legacy hwcap subdirectories that machine's ld.so searches (glibc < 2.37), comma-separated, "
                   "e.g. x86_64,avx512_1; 'none' for none.")
@click.option("--cpu-level", "cpu_level", metavar="LEVEL",
              help="Best glibc-hwcaps level of that machine (x86-64-v2/v3/v4, power9/10, z13..z17) or 'none'.")
@click.option("--cpuinfo", "cpuinfo", type=click.Path(dir_okay=False, path_type=str), metavar="FILE",
              help="Derive platform, hwcaps and level from FILE, a copy of that machine's /proc/cpuinfo.")
@click.option("--glibc-version", "glibc_version", metavar="X.Y",
              help="Audit for this glibc release. [default: this system's, or the --root's libc]")
@click.option("--jobs", "-j", "jobs", type=click.IntRange(min=0), default=0, metavar="N",
              help="Audit N objects in parallel (worker processes); 0: all cores once a run has 64 objects or "
                   "512 MB of them, else one process. [default: 0]")
@click.version_option(__version__, "--version", prog_name="linkaudit")
@click.pass_obj
def main(app: App, paths: tuple[str, ...], fmt: str, fail_on: tuple[str, ...], allow_empty: bool,
         search_paths: tuple[str, ...], no_python_packages: bool, fix_suggestions: bool, output: str | None,
         config_file: str | None, baseline_file: str | None, write_baseline_file: str | None,
         modules: tuple[str, ...] = (), root: str | None = None, no_default_excludes: bool = False,
         jobs: int = 0, platform: str | None = None, hwcaps: str | None = None, cpu_level: str | None = None,
         cpuinfo: str | None = None, glibc_version: str | None = None) -> None:
    """Tell which linked libraries ELF objects really use, statically.

    Audits ELF files and directories (searched recursively; non-ELF files and .o files are skipped,
    and so are build-system scratch directories: CMakeFiles/, temp.*).

    \b
    linkaudit build/                      audit every ELF object under build/
    linkaudit --fix-suggestions x.so      ... with remedies ready to paste
    linkaudit --format ldd x.so           the classic ldd listing, annotated
    linkaudit fix x.so -o x.fixed.so      drop unused DT_NEEDED entries

    Exit codes: 0 nothing fails the gate, 1 the gate failed, 2 some input could not be audited,
    no ELF object was found, or a usage or configuration error.
    """
    from linkaudit.audit import AuditOptions, audit
    from linkaudit.gate import GatePolicy, evaluate
    from linkaudit.inputs import BUILD_SCRATCH_DIRS
    from linkaudit.loader import default_env

    if not paths and not modules:
        raise click.UsageError("no input: name ELF files or directories to audit")
    kinds, config, baseline = _settings(app, fmt, fail_on, config_file, baseline_file)
    overrides = _loader_overrides(app, config.loader, platform, hwcaps, cpu_level, cpuinfo, glibc_version)
    options = AuditOptions(env=default_env(search_paths or config.search_path, python_packages=not no_python_packages,
                                           root=root, overrides=overrides),
                           exclude=config.exclude, modules=modules, jobs=jobs,
                           skip_dirs=() if no_default_excludes else BUILD_SCRATCH_DIRS)
    with _progress_bar() as progress:
        report = audit(paths, options, progress=progress)
    import gc

    # The report lives until the command ends: the collector need not re-scan it while it is rendered
    # (~60% of the JSON rendering time of a directory); unfrozen again for in-process callers.
    gc.freeze()
    click.get_current_context().call_on_close(gc.unfreeze)
    baseline = _baseline_step(app, report, paths, write_baseline_file, baseline)
    # The gate, computed once: every format and the exit code read report.gate.
    report = evaluate(report, GatePolicy(kinds, config.allow, baseline, tuple(paths), allow_empty=allow_empty))
    gate = report.gate
    assert gate is not None
    if fix_suggestions or any(n.status is Status.MISSING for o in report.objects for n in o.needed):
        from linkaudit.fixes import with_suggestions  # here: most runs have nothing to suggest

        report = with_suggestions(report, full=fix_suggestions)  # missing libraries always get their fixes
    chosen = OutputFormat(fmt)
    _emit(app, report, chosen, output)
    _tell_outcome(app, report, chosen, to_terminal=output is None)
    sys.exit(gate.exit_code)


def _settings(app: App, fmt: str, fail_on: tuple[str, ...], config_file: str | None, baseline_file: str | None):
    """--fail-on, the configuration and the baseline, read once; a bad one exits 2 (as JSON under --format json)."""
    from linkaudit.config import load_config
    from linkaudit.errors import ConfigError
    from linkaudit.gate import DEFAULT_FAIL_ON, ExitCode, evaluate, parse_fail_on

    try:
        kinds = parse_fail_on(fail_on) if fail_on else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--fail-on") from None
    try:
        config = load_config(config_file)
        baseline = None
        if baseline_file:
            from linkaudit.baseline import load_baseline  # here: most runs have no baseline

            baseline = load_baseline(baseline_file)
    except ConfigError as exc:
        app.error(exc.message + (f" ({exc.hint})" if exc.hint else ""))
        if fmt == OutputFormat.JSON.value:  # machines reading stdout get the error in the contract's shape
            from linkaudit.formats.json import JsonFormat
            from linkaudit.report import ErrorEntry, Report

            where = config_file or baseline_file or "pyproject.toml"
            message = exc.message.removeprefix(f"{where}: ")
            click.echo(JsonFormat().format(evaluate(Report((), (ErrorEntry(where, message),)))), nl=False)
        sys.exit(ExitCode.ERROR)
    if kinds is None:
        kinds = config.fail_on if config.fail_on is not None else DEFAULT_FAIL_ON
    return kinds, config, baseline


def _baseline_step(app: App, report, paths: tuple[str, ...], write_baseline_file: str | None, baseline):
    """--write-baseline records this run (which then passes its own gate); --baseline says what got fixed."""
    from linkaudit.display import plural
    from linkaudit.errors import ConfigError
    from linkaudit.gate import ExitCode

    if write_baseline_file:
        from linkaudit.baseline import Baseline, report_entries, write_baseline

        try:
            count = write_baseline(report, write_baseline_file, paths)
        except ConfigError as exc:
            app.error(exc.message)
            sys.exit(ExitCode.ERROR)
        app.note(f"baseline written to {write_baseline_file} ({plural(count, 'finding')})")
        return Baseline(report_entries(report, paths))  # this run passes the gate it just recorded
    if baseline is not None:
        fixed = baseline.fixed(report, paths)
        if fixed:
            click.echo(f"linkaudit: baseline: {plural(len(fixed), 'finding')} fixed since the baseline "
                       f"(refresh it with --write-baseline): "
                       + "; ".join(f"{e.object}: {e.kind.value} {e.library}" for e in fixed), err=True)
    return baseline


def _emit(app: App, report, chosen: OutputFormat, output: str | None) -> None:
    """Render the report in the chosen format to stdout, or to ``output`` with a one-line note on stderr."""
    from linkaudit.display import plural
    from linkaudit.formats import make_format
    from linkaudit.gate import ExitCode
    from linkaudit.printable import escape_bytes

    formatter = make_format(chosen, color=app.color and output is None, width=app.width)
    text = escape_bytes(formatter.format(report))  # file names that are not UTF-8: \xNN, never an encoding error
    if output is None:
        try:
            click.echo(text, nl=False, color=app.color)  # click would strip ANSI codes FORCE_COLOR asked for
        except BrokenPipeError:  # the reader stopped early (`| head`): the run's exit code still stands
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())  # nothing left to flush into the closed pipe at exit
        return
    try:
        with open(output, "w", encoding="utf-8") as fh:
            fh.write(text)
    except OSError as exc:
        app.error(f"{output}: cannot write report: {exc.strerror}")
        sys.exit(ExitCode.ERROR)
    app.note(f"report written to {output} ({chosen.value}); {plural(len(report.objects), 'object')} "
             f"audited, {plural(len(report.gate.failing), 'failing finding')}")


def _tell_outcome(app: App, report, chosen: OutputFormat, to_terminal: bool) -> None:
    """On stderr: each input that could not be audited, no objects found, and (text on a terminal) why the gate failed."""
    from linkaudit.display import plural
    from linkaudit.gate import NO_OBJECTS, ExitCode

    gate = report.gate
    for err in report.errors:
        shown = err.path if err.path and err.path.strip() == err.path else repr(err.path)  # quote "" and " x"
        app.error(f"{shown}: {err.message}")
    if gate.no_objects:
        app.error(NO_OBJECTS)
    if gate.exit_code == ExitCode.FINDINGS and chosen is OutputFormat.TEXT and to_terminal:
        kinds_failing = sorted({f.kind.value for f in gate.failing})
        click.echo(f"linkaudit: gate failed: {plural(len(gate.failing), 'finding')} of "
                   f"{'kind' if len(kinds_failing) == 1 else 'kinds'} {', '.join(kinds_failing)}", err=True)


def _loader_overrides(app: App, base, platform: str | None, hwcaps: str | None, cpu_level: str | None,
                      cpuinfo: str | None, glibc_version: str | None):
    """The configuration's loader parameters with the command line's on top; a bad name exits 2 in one line."""
    from linkaudit.gate import ExitCode
    from linkaudit.hostparams import NO_LEVEL, check_hwcap, check_level, check_platform, parse_glibc_version

    def hwcap_list(text: str) -> tuple[str, ...]:
        names = [h.strip() for h in text.split(",") if h.strip()]
        return () if names in ([], [NO_LEVEL]) else tuple(check_hwcap(h) for h in names)

    def existing(path: str) -> str:
        if not os.path.exists(path):
            raise ValueError(f"{path}: no such file")
        if not os.path.isfile(path):
            raise ValueError(f"{path}: not a regular file")
        return path

    changes: dict[str, object] = {}
    for option, field, value, check in (("--platform", "platform", platform, check_platform),
                                        ("--hwcaps", "hwcaps", hwcaps, hwcap_list),
                                        ("--cpu-level", "cpu_level", cpu_level, check_level),
                                        ("--cpuinfo", "cpuinfo", cpuinfo, existing),
                                        ("--glibc-version", "glibc", glibc_version, parse_glibc_version)):
        if value is None:
            continue
        try:
            changes[field] = check(value)
        except ValueError as exc:
            app.error(f"{option}: {exc}")
            sys.exit(ExitCode.ERROR)
    return base._replace(**changes)


@main.command("fix", short_help="Remove unused DT_NEEDED entries from a built file.")
@click.argument("file", type=click.Path(dir_okay=False, readable=False, path_type=str))
@click.option("-o", "--output", type=click.Path(dir_okay=False, readable=False, path_type=str),
              help="Write the fixed file here (always: a byte-identical copy when nothing is removed).")
@click.option("--in-place", is_flag=True, help="Replace FILE atomically, keeping FILE.orig as a backup.")
@click.option("--incidental", is_flag=True, help="Also remove incidental dependencies.")
@click.option("--include-load-bearing", is_flag=True,
              help="Also remove libraries linked for their load-time side effects (libtorch_cuda, ...).")
@click.option("--search-path", "search_paths", multiple=True, type=click.Path(file_okay=False, path_type=str),
              help="Extra directory to find libraries in (as for the audit).")
@click.option("--no-python-packages", is_flag=True, help="As for the audit.")
@click.option("--clean-rpath", is_flag=True,
              help="Instead: drop the RPATH/RUNPATH elements the audit flags and store the rest as DT_RUNPATH "
                   "(refused if any library would then load from another file).")
@click.pass_obj
def fix_cmd(app: App, file: str, output: str | None, in_place: bool, incidental: bool, include_load_bearing: bool,
            search_paths: tuple[str, ...], no_python_packages: bool, clean_rpath: bool = False) -> None:
    """Remove unused DT_NEEDED entries from FILE (re-audited before anything is replaced)."""
    from pathlib import Path

    from linkaudit.elf import ELF_MAGIC
    from linkaudit.errors import LinkauditError
    from linkaudit.gate import ExitCode
    from linkaudit.loader import default_env
    from linkaudit.printable import one_line  # file names that are not text: \xNN, one line each

    if (output is None) == (not in_place):
        raise click.UsageError("choose exactly one of -o OUT or --in-place")
    source = Path(file)
    try:
        fd = os.open(source, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)  # a FIFO must not block
        try:
            import stat

            head = os.read(fd, 4) if stat.S_ISREG(os.fstat(fd).st_mode) else None
        finally:
            os.close(fd)
    except OSError as exc:
        app.error(f"{file}: cannot read: {exc.strerror}")
        sys.exit(ExitCode.ERROR)
    if head is None:
        app.error(f"{file}: not a regular file; left unchanged")
        sys.exit(ExitCode.ERROR)
    if head != ELF_MAGIC:
        app.error(f"{file}: not an ELF file; left unchanged")
        sys.exit(ExitCode.ERROR)
    from linkaudit.fixer import fix_file

    env = default_env(search_paths, python_packages=not no_python_packages)
    if clean_rpath:
        _clean_rpath(app, source, env, output, in_place)
    try:
        result = fix_file(source, env, Path(output) if output else None, in_place, incidental, include_load_bearing)
    except LinkauditError as exc:
        app.error(f"{exc.message}; {file} left unchanged" if file in exc.message else f"{file}: {exc.message}; left unchanged")
        sys.exit(ExitCode.ERROR)
    if result.destination is None:
        click.echo(one_line(f"{file}: nothing to remove; left unchanged"), err=True)
        sys.exit(ExitCode.OK)
    if result.copied:
        click.echo(one_line(f"{file}: nothing to remove; {result.destination} is a byte-identical copy"), err=True)
        sys.exit(ExitCode.OK)
    for name, why in zip(result.kept, result.kept_why):
        click.echo(one_line(f"{file}: kept {name}: {why}"), err=True)
    for old, new in result.repointed:
        click.echo(one_line(f"{file}: version requirements of {old} re-pointed to {new}"), err=True)
    click.echo(one_line(f"{result.destination}: removed {', '.join(result.removed)}"
                        + (f" (backup: {result.backup})" if result.backup else "")))
    sys.exit(ExitCode.OK)


def _clean_rpath(app: App, source, env, output: str | None, in_place: bool) -> None:
    """``fix --clean-rpath``: one line saying what the search path became; exits."""
    from pathlib import Path

    from linkaudit.errors import LinkauditError
    from linkaudit.gate import ExitCode
    from linkaudit.printable import one_line  # file names that are not text: \xNN, one line each
    from linkaudit.rpathfix import fix_search_path

    try:
        result = fix_search_path(source, env, Path(output) if output else None, in_place)
    except LinkauditError as exc:
        app.error(f"{exc.message}; {source} left unchanged" if str(source) in exc.message
                  else f"{source}: {exc.message}; left unchanged")
        sys.exit(ExitCode.ERROR)
    if result.destination is None:
        copy = f"; {result.copied} is a byte-identical copy" if result.copied else "; left unchanged"
        click.echo(one_line(f"{source}: no RPATH/RUNPATH finding; nothing to change{copy}"), err=True)
        sys.exit(ExitCode.OK)
    new = f"DT_RUNPATH {result.new!r}" if result.new else "no search path"
    click.echo(one_line(f"{result.destination}: search path {result.old!r} -> {new}"
                        + (f" (backup: {result.backup})" if result.backup else "")))
    sys.exit(ExitCode.OK)
