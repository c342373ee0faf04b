"""``hypebt report index`` (rebuild reports/index.html) and ``hypebt report prune`` (old runs)."""

from __future__ import annotations

from pathlib import Path

from hypebt.cli.common import workspace_of
from hypebt.core.errors import InputError


def run(args) -> int:
    """Rebuild the reports folder's index page, or prune old runs first; print what was done."""
    from hypebt.reports import history
    from hypebt.reports.index import refresh, write_index

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
        note = refresh(reports)
        print(f"index: {reports / 'index.html'}" + (f" ({note})" if note else ""))
        return 0
    print(f"index: {write_index(reports)}")
    return 0
