"""``hypebt report index``: rebuild reports/index.html."""

from __future__ import annotations

from pathlib import Path

from hypebt.cli.common import workspace_of


def run(args) -> int:
    """Write the reports folder's index page and print its path."""
    from hypebt.reports.index import write_index

    reports = Path(args.reports) if args.reports else workspace_of(args) / "reports"
    path = write_index(reports)
    print(f"index: {path}")
    return 0
