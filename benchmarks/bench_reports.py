"""Report benchmark: how much disk the reports take, how big every page is, how long writing takes.

Imports ``<data>/ashare/market.parquet`` and ``<data>/index/sh000300.csv`` into a temporary
store (or uses ``--home STORE`` that already holds them), copies the workspace (backtests,
strategies, data) to a temporary folder and runs there, through the CLI, what a user reads:
``hypebt run backtests/sora_hype.toml`` (report.html + tearsheet), the Sora sweep
(``hypebt sweep backtests/sora_hype.toml``: 72 combinations, the top 3 run again into full run
folders), ``hypebt study backtests/sora_study.toml`` and the index, all into the workspace's
``reports/`` (plotly.js is shared there once, in ``reports/_assets/``). Prints each command's wall
time, ``du -sh`` of the Sora run folder and of the Sora sweep folder, then every HTML file with its
size, and the load average. Not a test: figures belong here, not in assertions.

Usage::

    python benchmarks/bench_reports.py [--data ../shared/data] [--home STORE] [--keep DIR] [--lang zh]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from hypebt.cli import main as cli  # noqa: E402
from hypebt.data.importers import import_paths  # noqa: E402
from hypebt.data.store import Store  # noqa: E402


def default_data() -> Path:
    env = os.environ.get("HYPEBT_SHARED_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


def timed(label: str, argv: list[str]) -> float:
    t0 = time.perf_counter()
    rc = cli.main(argv)
    seconds = time.perf_counter() - t0
    if rc != 0:
        raise SystemExit(f"bench_reports: {label} failed (exit {rc})")
    print(f"{label:<48} {seconds:7.1f} s")
    return seconds


def du(path: Path) -> str:
    """``du -sh PATH`` as printed (symbolic links not followed)."""
    return subprocess.run(["du", "-sh", str(path)], capture_output=True, text=True, check=True).stdout.strip()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=default_data())
    ap.add_argument("--home", type=Path, help="a store that already holds the market and sh000300")
    ap.add_argument("--keep", type=Path, help="make the workspace here (default: a temporary folder)")
    ap.add_argument("--lang", choices=("zh", "en"), default="en", help="language of the pages (default en)")
    args = ap.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f} (start)")
    with tempfile.TemporaryDirectory(prefix="bench-reports-") as tmp:
        tmp = Path(tmp)
        home = args.home
        if home is None:
            home = tmp / "store"
            t0 = time.perf_counter()
            import_paths(Store(home), [args.data / "ashare" / "market.parquet", args.data / "index" / "sh000300.csv"])
            print(f"{'import market + sh000300 (setup)':<48} {time.perf_counter() - t0:7.1f} s")
        ws = args.keep or tmp / "ws"
        for name in ("backtests", "strategies", "data"):
            shutil.copytree(REPO / name, ws / name, ignore=shutil.ignore_patterns("store", "__pycache__"),
                            dirs_exist_ok=True)
        out = ws / "reports"
        base = ["--workspace", str(ws), "--home", str(home)]
        lang = ["--lang", args.lang]
        timed("run sora_hype (report.html + tearsheet)",
              [*base, "run", str(ws / "backtests/sora_hype.toml"), "--offline", *lang])
        timed("sweep sora_hype, 72 combinations, top 3 (2 workers)",
              [*base, "sweep", str(ws / "backtests/sora_hype.toml"), "--offline", "--workers", "2", *lang])
        timed("study sora_study",
              [*base, "study", str(ws / "backtests/sora_study.toml"), "--offline", *lang])
        timed("report index", [*base, "report", "index", "--reports", str(out), *lang])
        run_folder = (out / "sora_hype" / "latest").resolve()
        print()
        print(f"Sora run folder:   {du(run_folder)}")
        print(f"Sora sweep folder: {du(out / 'sora_hype_sweep')}")
        print(f"shared assets:     {du(out / '_assets')}")
        print(f"whole reports/:    {du(out)}")
        print(f"\n{'page':<56} {'size':>10}")
        for page in sorted(p for p in out.rglob("*.html") if "latest" not in p.parts):
            print(f"{str(page.relative_to(out)):<56} {page.stat().st_size / 1e3:7.0f} kB")
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f} (end)")


if __name__ == "__main__":
    main()
