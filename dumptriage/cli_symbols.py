"""`dumptriage symbols DUMP`: the symbol-store files a dump needs, and which are here.

A thin wrapper over ``dumptriage.symbols.needs.plan``: read the dump, list per module the
store keys (image by TimeDateStamp+SizeOfImage when the dump holds no PDB id, then the PDB
by GUID+age) with the URLs to fetch them from; nothing is downloaded. Exit 0 when listed,
2 for an unusable dump.
"""

from __future__ import annotations

import json

import click

from dumptriage.render.safe import safe

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dumptriage.symbols.needs import ModuleNeeds, Plan


@click.command("symbols")
@click.argument("dump", type=click.Path(dir_okay=False, path_type=str))
@click.option("--symbols", "symbols", default=None, metavar="PATH",
              help="Symbol path: folders of PDBs, symbol stores, srv*CACHE*URL;... "
                   "(else _NT_SYMBOL_PATH). Nothing is downloaded.")
@click.option("--all", "all_modules", is_flag=True,
              help="Every loaded module, not only those on the crashing thread's stack.")
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
def symbols_command(dump: str, symbols: str | None, all_modules: bool, as_json: bool) -> None:
    """List the store keys and URLs of the PDBs (and images) DUMP needs, and which are here.

    Like symchk's manifest: for each module on the crashing thread's stack (--all: every
    module), the exact store paths (name.pdb/GUIDAGE/name.pdb; for minidumps first the
    image, name.sys/TIMESTAMPSIZE/name.sys, whose RSDS record gives the PDB's key), whether
    each is present along the symbol path, and the URLs to fetch the missing ones from on a
    machine with network access (the path's servers, else Microsoft's). Nothing is
    downloaded.

    \b
    Exit codes: 0 list printed; 2 the file is not a readable dump.
    """
    from dumptriage.analysis import analyze
    from dumptriage.symbols.needs import plan
    from dumptriage.symbols.search_path import from_environment

    report = analyze(dump)
    result = plan(report, from_environment(symbols), all_modules=all_modules)
    if as_json:
        data = {"dump": dump, **result.to_dict()}
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    click.echo(render(result), nl=False)


def render(result: Plan) -> str:
    lines = [f"Symbol path: {safe(result.search_path) if result.search_path else '(none)'}"]
    lines += [f"  warning: {safe(w)}" for w in result.warnings]
    lines.append(f"URLs from: {', '.join(result.servers)}")
    lines.append("")
    missing: list[str] = []
    unknown = 0
    for module in result.modules:
        lines += _module(module)
        for need in module.needs:
            if need.path is None:
                unknown += 1
            elif need.here is None and need.urls:
                missing.append(need.urls[0])
    lines.append("")
    if not missing and not unknown:
        lines.append("Every file needed is here.")
    else:
        lines.append(f"Missing: {len(missing)} file(s)"
                     + (f"; {unknown} PDB key(s) known only once the image is here"
                        if unknown else "") + ".")
        lines += [f"  {safe(url)}" for url in missing]
    return "\n".join(lines) + "\n"


def _module(module: ModuleNeeds) -> list[str]:
    where = {"dump": "PDB id from the dump", "store image": "PDB id from the store's image",
             None: "no PDB id yet"}[module.pdb_id_from]
    stack = "" if module.on_stack else ", not on the stack"
    out = [f"{safe(module.module)}  ({where}{stack})",
           f"  status: {safe(module.status)}"]
    for need in module.needs:
        if need.path is None:
            out.append(f"  {need.kind:<5}  ? (the key is read from the image once it is here)")
            continue
        state = f"here: {safe(need.here)}" if need.here else "missing"
        out.append(f"  {need.kind:<5}  {safe(need.path)}  {state}")
    return out
