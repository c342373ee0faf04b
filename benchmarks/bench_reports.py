"""Report benchmark: how big every page is and how long writing it takes.

Imports ``<data>/ashare/market.parquet`` and ``<data>/index/sh000300.csv`` into a temporary
store (or uses ``--home STORE`` that already holds them), then runs, through the CLI, the
reports a user reads: ``hypebt run backtests/sora_hype.toml`` (report.html + tearsheet),
a small sweep of ``backtests/iflytek_release_short.toml`` (sweep.html + the best runs),
``hypebt study backtests/sora_study.toml`` and the index. Prints each command's wall time,
then every HTML file with its size, and how much of it is the embedded plotly.js (the price
of working offline). Not a test: figures belong here, not in assertions.

Usage::

    python benchmarks/bench_reports.py [--data ../shared/data] [--home STORE] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from hypebt.cli import main as cli  # noqa: E402
from hypebt.data.importers import import_paths  # noqa: E402
from hypebt.data.store import Store  # noqa: E402
from hypebt.reports import charts  # noqa: E402


def default_data() -> Path:
    env = os.environ.get("HYPEBT_SHARED_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


def timed(label: str, argv: list[str]) -> float:
    t0 = time.perf_counter()
    rc = cli.main(argv)
    seconds = time.perf_counter() - t0
    if rc != 0:
        raise SystemExit(f"bench_reports: {label} failed (exit {rc})")
    print(f"{label:<44} {seconds:7.1f} s")
    return seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=default_data())
    ap.add_argument("--home", type=Path, help="a store that already holds the market and sh000300")
    ap.add_argument("--keep", type=Path, help="write the reports here (default: a temporary folder)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-reports-") as tmp:
        tmp = Path(tmp)
        home = args.home
        if home is None:
            home = tmp / "store"
            t0 = time.perf_counter()
            import_paths(Store(home), [args.data / "ashare" / "market.parquet", args.data / "index" / "sh000300.csv"])
            print(f"{'import market + sh000300 (setup)':<44} {time.perf_counter() - t0:7.1f} s")
        out = args.keep or tmp / "reports"
        base = ["--workspace", str(REPO), "--home", str(home)]
        timed("run sora_hype (report.html + tearsheet)",
              [*base, "run", str(REPO / "backtests/sora_hype.toml"), "--offline", "--out", str(out / "sora_hype")])
        timed("run sora_hype --no-html",
              [*base, "run", str(REPO / "backtests/sora_hype.toml"), "--offline", "--no-html",
               "--out", str(out / "sora_hype_nohtml")])
        timed("sweep iflytek, 20 combinations, top 3",
              [*base, "sweep", str(REPO / "backtests/iflytek_release_short.toml"), "--offline", "--workers", "1",
               "--top", "3", "--set", "sweep.hold_days=[1, 2, 3, 4, 5]", "--set", "sweep.offset=[-1, 0]",
               "--set", "sweep.stop_loss=[0.0, 0.5]", "--out", str(out / "iflytek_sweep")])
        timed("study sora_study",
              [*base, "study", str(REPO / "backtests/sora_study.toml"), "--offline", "--out", str(out / "sora_study")])
        timed("report index", [*base, "report", "index", "--reports", str(out)])
        plotly = len(charts.plotly_js().encode())
        print(f"\nplotly.js embedded in each page with charts: {plotly / 1e6:.2f} MB")
        print(f"{'page':<52} {'size':>10} {'without plotly.js':>18}")
        for page in sorted(out.rglob("*.html")):
            size = page.stat().st_size
            text = page.read_text("utf-8")
            own = size - plotly if "Plotly.newPlot" in text else size
            print(f"{str(page.relative_to(out)):<52} {size / 1e6:8.2f} MB {own / 1e3:14.0f} kB")


if __name__ == "__main__":
    main()
