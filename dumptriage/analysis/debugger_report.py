"""A debugger transcript's facts in the report's own shapes (banner, bugcheck, stack).

A saved ``!analyze -v`` (or the output of cdb run on a dump) says most of what a dump
header says, in WinDbg's words; here those words become the same records a dump gives, so
that renderers, facts and rules treat both inputs alike. What the text does not say stays
None: a transcript never tells the container's signature, header size or file size.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from dumptriage.analysis.culprit import blame
from dumptriage.analysis.debugger_names import ModuleNames
from dumptriage.analysis.labels import classify_modules, name_os
from dumptriage.catalogue.drivers import classify
from dumptriage.dump.containers.header import BANNERS
from dumptriage.dump.kernel.modules import ModuleMap
from dumptriage.model.debugger import DebuggerFrame, DebuggerSummary, Transcript
from dumptriage.model.dump import Frame, Module
from dumptriage.model.header import BugCheck, DumpInfo, OsInfo
from dumptriage.model.report import Culprit

# WinDbg's banner kinds (the text before the colon) -> DUMP_TYPE names (model.header).
_KINDS = {
    "Kernel Complete Dump File": "full",
    "Full Kernel Dump File": "full",
    "Kernel Summary Dump File": "kernel_summary",
    "Mini Kernel Dump File": "triage",
}
# WinDbg's placeholders where its analysis found nothing to name.
_UNNAMED = {"unknown_image", "unknown_module", "analysis_inconclusive", "memory_corruption",
            "hardware", "hardware_disk", "hardware_ram", "corrupt_module"}
_MONTHS = {m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug",
                                       "Sep", "Oct", "Nov", "Dec"), start=1)}
# "Wed Mar 15 13:11:54.777 2017 (GMT+8)" (6.x) or "Mon Jul 12 14:25:56.942 2021 (UTC + 2:00)"
# (10.x): local time of the machine that ran the debugger, and its offset from UTC.
_SESSION = re.compile(r"^\w{3} (?P<mon>\w{3}) +(?P<day>\d{1,2}) (?P<h>\d{1,2}):(?P<m>\d\d):"
                      r"(?P<s>\d\d)(?:\.(?P<ms>\d{1,3}))? (?P<year>\d{4}) \((?:GMT|UTC) ?"
                      r"(?P<sign>[+-]) ?(?P<oh>\d{1,2})(?::(?P<om>\d\d))?\)")


def dump_info(t: Transcript) -> DumpInfo | None:
    """The banner as a DumpInfo; None when the text has no kernel version line."""
    if t.build is None or t.arch is None:
        return None
    kind = _KINDS.get(t.dump_kind or "", "unknown")
    if t.dump_kind == "Kernel Bitmap Dump File":
        kind = "bitmap_full" if "Full address space" in (t.banner or "") else "bitmap_kernel"
    os = OsInfo(build=t.build, nt_version=None, product_name=None, checked=bool(t.checked),
                product_type=t.product_type, suite_mask=None, suites=t.suites)
    info = DumpInfo(
        signature=None, arch=t.arch, machine=None, pae=None, dump_type_code=None,
        dump_type=kind, banner=t.banner or _banner_for(kind), header_size=None, os=os,
        processors=t.processors, system_time=session_utc(t.session_time),
        uptime_seconds=t.uptime_seconds, comment=None, directory_table_base=None,
        ps_loaded_module_list=t.ps_loaded_module_list, ps_active_process_head=None,
        pfn_database=None, kd_debugger_data_block=None, kernel_base=t.kernel_base,
        attributes=None, file_size=None, expected_size=None)
    return name_os(info)


def _banner_for(kind: str) -> str:
    codes = {"full": 1, "kernel_summary": 2, "triage": 4, "bitmap_full": 5, "bitmap_kernel": 6}
    return BANNERS.get(codes.get(kind, 0), "debugger transcript (no dump banner in the text)")


def session_utc(text: str | None) -> str | None:
    """``Debug session time`` as ISO 8601 UTC, like a dump header's SystemTime."""
    found = _SESSION.match(text or "")
    if found is None or found["mon"] not in _MONTHS:
        return None
    try:
        local = datetime(int(found["year"]), _MONTHS[found["mon"]], int(found["day"]),
                         int(found["h"]), int(found["m"]), int(found["s"]),
                         int((found["ms"] or "0").ljust(3, "0")) * 1000, tzinfo=UTC)
    except ValueError:
        return None
    offset = timedelta(hours=int(found["oh"]), minutes=int(found["om"] or 0))
    utc = local - offset if found["sign"] == "+" else local + offset
    return utc.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def bugcheck(t: Transcript) -> BugCheck | None:
    if t.bugcheck_code is None:
        return None
    args = (*t.bugcheck_args, 0, 0, 0, 0)[:4]
    if t.arch is not None:
        width = 32 if t.arch == "x86" else 64
    else:  # no banner: an argument above 32 bits says the dump was 64-bit
        width = 64 if any(a > 0xFFFFFFFF for a in args) else 32
    return BugCheck(t.bugcheck_code, (args[0], args[1], args[2], args[3]), width)


def frames(t: Transcript, names: ModuleNames, loaded: ModuleMap) -> list[Frame]:
    """STACK_TEXT / k rows as Frames. A row's RetAddr is where the frame *below* it runs,
    so frame i's code address is row i-1's return address (the top frame's is not shown).
    ``loaded``: the modules with their ranges (the dump's, or the transcript's lm)."""
    out = []
    for i, row in enumerate(t.stack):
        address = t.stack[i - 1].return_address if i else None
        holder = loaded.find(address) if address else None
        if holder is not None and address is not None:
            module: str | None = holder.name
            offset: int | None = address - holder.base
        else:  # "qutmdrv+0x4db": without a symbol the offset is from the module's base
            module = names.image(row.module) if row.module else None
            offset = row.offset if row.symbol is None else None
            if row.module == "nt" and address and t.kernel_base and address >= t.kernel_base:
                offset = address - t.kernel_base  # the banner's "Kernel base ="
        out.append(Frame(address=address, stack_address=row.child_sp, module=module,
                         offset=offset, symbol=_site(row), method="debugger"))
    return out


def _site(row: DebuggerFrame) -> str | None:
    """The call site as WinDbg spells it (``nt!KeBugCheckEx+0x1e``, ``qutmdrv+0x4db``),
    rebuilt from its parts: the raw text may carry suffixes and names with spaces
    (``nt! ?? ::FNODOBFM::`string'+0x2d``)."""
    if row.module is None:
        return row.call_site or None
    offset = "" if row.offset is None else f"+{row.offset:#x}"
    if row.symbol:
        return f"{row.module}!{row.symbol}{offset}"
    return f"{row.module}{offset}"


def listed_modules(t: Transcript, names: ModuleNames) -> list[Module]:
    """The ``lm``/``lmnt`` listing as loaded modules (classified like a dump's)."""
    modules = [Module(name=names.image(m.name), base=m.start, size=max(m.end - m.start, 0),
                      timestamp=m.timestamp, checksum=None, path=None,
                      timestamp_is_hash=m.reproducible) for m in t.modules]
    return classify_modules(modules)


def culprit(t: Transcript, stack: list[Frame], modules: list[Module],
            names: ModuleNames) -> Culprit | None:
    """WinDbg's own verdict when it named an image; else the first non-inbox module on the
    debugger's stack, by the same rule as for a dump's stack."""
    for said, reason in ((t.probably_caused_by, "WinDbg !analyze: Probably caused by"),
                         (t.key("IMAGE_NAME"), "WinDbg !analyze: IMAGE_NAME")):
        if said and said.lower() not in _UNNAMED and "." in said:
            return Culprit(names.image(said), f"{reason} : {said}")
    known = {m.name.lower(): (m.name, m.module_class, m.vendor) for m in modules}
    suspects: list[tuple[str, str, str | None]] = []
    for frame in stack:
        if frame.module is None:
            continue
        entry = known.get(frame.module.lower()) or (frame.module, *classify(frame.module))
        if entry[1] != "inbox" and entry not in suspects:
            suspects.append(entry)
    return blame(suspects, "on the crashing thread's stack (the debugger's STACK_TEXT)")


def summary(t: Transcript, source: str, path: str | None,
            names: ModuleNames) -> DebuggerSummary:
    irql = t.key("CURRENT_IRQL")
    return DebuggerSummary(
        source=source, path=path, version=t.debugger_version,
        symbols_ok=not t.missing_symbols, build_string=t.build_string, dump_path=t.dump_path,
        missing_symbols=t.missing_symbols,
        # 10.x repeats the bucket in its Key/Value block ("Failure.Bucket"), which survives
        # in pastes cut before the FAILURE_BUCKET_ID line.
        bucket=t.key("FAILURE_BUCKET_ID") or t.analysis_key("Failure.Bucket")
        or t.key("BUCKET_ID"), bucket_id=t.key("BUCKET_ID"),
        default_bucket_id=t.key("DEFAULT_BUCKET_ID"), bugcheck_str=t.key("BUGCHECK_STR"),
        symbol_name=t.key("SYMBOL_NAME"), module_name=t.key("MODULE_NAME"),
        image_name=t.key("IMAGE_NAME"), probably_caused_by=t.probably_caused_by,
        process_name=t.key("PROCESS_NAME"),
        current_irql=int(irql, 16) if irql and re.fullmatch(r"[0-9a-fA-F]{1,2}", irql) else None,
        module_images=names.resolved(), machine_name=t.machine_name,
        image_load_errors=t.image_load_errors)
