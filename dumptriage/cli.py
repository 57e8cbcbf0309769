"""The ``dumptriage`` command: a thin click wrapper that renders what the library returns.

Exit codes: 0 success, 1 a finding at or above ``--fail-on``, 2 unusable input (one line on
stderr, no traceback).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import ClassVar

import click

from dumptriage import __version__
from dumptriage.errors import DumptriageError
from dumptriage.render.safe import safe, safe_block

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_UNUSABLE_INPUT = 2
CONFIDENCES = ("established", "plausible", "anecdotal")  # strongest first


class LazyGroup(click.Group):
    """Subcommands living in other modules are imported only when invoked.

    `dumptriage --help` lists them from the short help kept here, so neither start-up
    nor `analyze` pays for the host-side parsers or the catalogue.
    """

    lazy: ClassVar[dict[str, tuple[str, str, str]]] = {
        "explain": ("dumptriage.cli_explain", "explain_command",
                    "Explain a bugcheck (stop) code and, optionally, its four arguments."),
        "context": ("dumptriage.cli_context", "context_command",
                    "Read host-side files (domain XML, QEMU command line or log, ...)."),
        "collect": ("dumptriage.cli_context", "collect_command",
                    "Gather a live VM's configuration, logs and host facts into a bundle."),
        "rules": ("dumptriage.cli_rules", "rules_command",
                  "List, show, lint and document the knowledge base's rules and facts."),
        "fix": ("dumptriage.cli_fix", "fix_command",
                "Patch a domain XML or Proxmox config with the Hyper-V enlightenments."),
        "batch": ("dumptriage.cli_batch", "batch_command",
                  "Triage every dump under folders, grouped by signature, remembered."),
        "history": ("dumptriage.cli_batch", "history_command",
                    "List the signatures the batch history holds, over time."),
        "symbols": ("dumptriage.cli_symbols", "symbols_command",
                    "List the PDBs and images a dump needs, and which are here."),
        "serve": ("dumptriage.cli_serve", "serve_command",
                  "Run the triage service: an HTTP API and a page to drop dumps on."),
    }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self.lazy])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy:
            import importlib

            module, attribute, _ = self.lazy[cmd_name]
            command: click.Command = getattr(importlib.import_module(module), attribute)
            return command
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, self.lazy[name][2]) if name in self.lazy
                else (name, self.commands[name].get_short_help_str(limit=70))
                for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


# A fixed width keeps --help identical on every terminal (and in the golden files).
@click.group(cls=LazyGroup,
             context_settings={"help_option_names": ["-h", "--help"], "terminal_width": 88,
                               "max_content_width": 88})
@click.version_option(__version__, prog_name="dumptriage")
def cli() -> None:
    """Triage Windows kernel crash dumps (BSODs) from KVM/QEMU guests, on Linux."""


@cli.command()
@click.argument("dump", type=click.Path(dir_okay=False, path_type=str))
@click.option("--json", "as_json", is_flag=True, help="Print the JSON report (schema v1).")
@click.option("--format", "output_format", type=click.Choice(("text", "json", "markdown")),
              default=None, help="text (default), json (as --json) or markdown (for a "
                                 "ticket: findings and fixes first).")
@click.option("--context", "context", multiple=True, type=click.Path(exists=True),
              help="Host-side file, folder or `dumptriage collect` bundle for this VM "
                   "(domain XML, QEMU command line or log, libvirtd log, Proxmox or "
                   "KubeVirt config, host facts). Repeatable.")
@click.option("--vm", "vm", default=None, metavar="NAME",
              help="The VM the dump belongs to (name, UUID or Proxmox VMID) when the "
                   "--context files hold several VMs; default: the one with the most files.")
@click.option("--rules", "rule_dirs", multiple=True,
              type=click.Path(exists=True, file_okay=False),
              help="A folder of extra rule files (*.toml), added to the built-in ones. "
                   "Repeatable.")
@click.option("--fail-on", "fail_on", type=click.Choice(CONFIDENCES), default=None,
              help="Exit with 1 when a finding of this confidence or stronger exists.")
@click.option("--debugger-text", "debugger_text", default=None,
              type=click.Path(exists=True, dir_okay=False),
              help="The dump's saved debugger output (!analyze -v, kv, lmnt): its "
                   "symbolised stack replaces dumptriage's own; disagreements are anomalies.")
@click.option("--debugger", "debugger", default="auto", metavar="auto|PATH|none",
              help="Run cdb/kd on the dump: auto (default) when one is on PATH or in the "
                   "Windows Kits folders, a debugger's PATH, or none.")
@click.option("--symbols", "symbols", default=None, metavar="PATH",
              help="Symbol path: a folder of PDBs, a symbol store, or a _NT_SYMBOL_PATH "
                   "list (srv*CACHE*URL;DIR); names the stack's frames from PDBs and is "
                   "given to the debugger. Default: $_NT_SYMBOL_PATH (its cache only: "
                   "servers are contacted only when --symbols names them).")
@click.option("--debugger-timeout", "debugger_timeout", default=300.0, show_default=True,
              type=click.FloatRange(min=1), help="Seconds before the debugger is stopped.")
@click.pass_context
def analyze(ctx: click.Context, dump: str, as_json: bool, output_format: str | None,
            context: tuple[str, ...],
            vm: str | None, rule_dirs: tuple[str, ...], fail_on: str | None,
            debugger_text: str | None, debugger: str, symbols: str | None,
            debugger_timeout: float) -> None:
    """Read a Windows kernel crash dump and report what it says.

    DUMP is a MEMORY.DMP, a Minidump\\*.dmp or any other PAGEDUMP/PAGEDU64 file: full,
    kernel summary, bitmap (kernel, automatic, active, full) or triage dumps, 32- or
    64-bit; or, recognised by its content, a saved debugger output (!analyze -v, kv,
    lmnt; UTF-8 or UTF-16, quoted in e-mail or pasted in markdown), which gives the same
    report with the facts the text holds. The report gives WinDbg's banner facts (dump
    type, OS build, processors, crash time, uptime), the bugcheck code, its name and what
    its four arguments mean, the kernel's key addresses, the probable culprit with its
    reason, the processors (which one crashed, which one hung), the crashing thread's
    stack (without symbols, or the debugger's when its output is at hand), the loaded and
    unloaded modules (class, PDB, version), and anomalies: odd but survivable facts such
    as a truncated file, each with a stable code. With --context, the VM's virtual
    hardware as read from its host-side files. Then the knowledge base's Findings (cause,
    confidence, evidence, the fix for the VM's platform), the rules an input would decide
    (Not evaluated) and the causes the inputs exclude.

    \b
    Exit codes: 0 report printed; 1 a finding at or above --fail-on;
    2 the file is neither a readable kernel dump nor debugger output.
    """
    import os

    from dumptriage.analysis import analyze as run_analysis
    from dumptriage.render.progress import DownloadProgress

    progress = DownloadProgress(sys.stderr)
    try:
        report = run_analysis(dump, context, vm, rules=rule_dirs, debugger_text=debugger_text,
                              debugger=debugger,
                              symbols=symbols or os.environ.get("_NT_SYMBOL_PATH") or None,
                              # a server in the environment's path is not a request to go
                              # online
                              symbol_downloads=symbols is not None,
                              symbol_progress=progress, debugger_timeout=debugger_timeout)
    finally:
        progress.finish()
    if report.host is None and report.host_choice is not None:  # --context gave nothing
        click.echo(f"dumptriage: warning: --context: {safe(report.host_choice.reason)}; "
                   "no Host section", err=True)
    if as_json or output_format == "json":
        from dumptriage.render.json_out import render_json

        click.echo(render_json(report), nl=False)
    elif output_format == "markdown":
        from dumptriage.render.markdown import render_markdown

        click.echo(render_markdown(report), nl=False)
    else:
        from dumptriage.render.text import render_text

        click.echo(render_text(report), nl=False)
    if fail_on is not None:
        strong = CONFIDENCES[: CONFIDENCES.index(fail_on) + 1]
        if any(f.confidence in strong for f in report.findings):
            ctx.exit(EXIT_FINDINGS)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI in-process and return its exit code (tests call this)."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        # Without standalone mode click returns a command's ctx.exit() code instead of
        # exiting; a command that simply returns gives None.
        returned = cli.main(args=args, prog_name="dumptriage", standalone_mode=False)
    except DumptriageError as err:
        click.echo(f"dumptriage: error: {safe(err)}", err=True)
        return EXIT_UNUSABLE_INPUT
    except click.exceptions.Exit as done:
        return int(done.exit_code)
    except click.ClickException as err:
        # click's messages quote the arguments (a file name may hold escapes).
        import io

        shown = io.StringIO()
        err.show(file=shown)
        click.echo(safe_block(shown.getvalue()), err=True, nl=False)
        return EXIT_UNUSABLE_INPUT
    except click.Abort:
        click.echo("dumptriage: aborted", err=True)
        return EXIT_UNUSABLE_INPUT
    except OSError as err:
        click.echo(f"dumptriage: error: {safe(err.filename or '')}: {safe(err.strerror or err)}",
                   err=True)
        return EXIT_UNUSABLE_INPUT
    return returned if isinstance(returned, int) else EXIT_OK


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
