"""``hypebt report index`` (rebuild reports/index.html), ``hypebt report prune`` (old runs) and
``hypebt report pack`` (one self-contained HTML file of a page, to send)."""

from __future__ import annotations

from pathlib import Path

from hypebt.cli.common import lang_of, workspace_of
from hypebt.core.errors import InputError, OutputError


def run(args) -> int:
    """Rebuild the reports folder's index page, prune old runs first, or pack a page; print what was done."""
    from hypebt.reports import history
    from hypebt.reports.index import refresh, write_index

    if args.report_command == "pack":
        return pack(args)
    lang = lang_of(args)
    reports = Path(args.reports) if args.reports else workspace_of(args) / "reports"
    if args.report_command == "prune":
        if args.names:
            bases = [reports / n for n in args.names]
            missing = [b.name for b in bases if not history.runs(b)]
            if missing:
                raise InputError(f"{reports}: no run history for {', '.join(missing)}; "
                                 "names are the folders under reports/ holding <timestamp>/ runs")
        else:
            bases = [p for p in sorted(reports.iterdir()) if p.is_dir() and history.runs(p)] if reports.is_dir() else []
        for base in bases:
            deleted = history.prune(base, args.keep)
            print(f"{base.name}: deleted {len(deleted)} old run(s), kept {len(history.runs(base))}")
        note = refresh(reports, lang)
        print(f"index: {reports / 'index.html'}" + (f" ({note})" if note else ""))
        return 0
    print(f"index: {write_index(reports, lang)}")
    return 0


def pack(args) -> int:
    """Write the page at ``args.path`` with its scripts inlined: one file that opens offline anywhere."""
    from hypebt.core import fsio
    from hypebt.reports import assets
    from hypebt.reports.index import human

    page = assets.page_of(Path(args.path))
    out = Path(args.out) if args.out else assets.packed_name(page)
    if out.resolve() == page.resolve():
        raise InputError(f"{out}: is the page itself; choose another --out")
    text = assets.pack(page)
    try:
        fsio.write_text(out, text)
    except OSError as exc:
        raise OutputError(f"{out}: cannot write the packed page ({exc.strerror}); choose another --out") from None
    print(f"packed: {out} ({human(len(text.encode('utf-8')))}, opens offline; links to the files beside "
          f"{page.name} are not in it)")
    return 0
