"""The shipped backtests on forward-adjusted prices (qfq) and on traded prices (raw), side by side.

Imports the shared qfq market (``ashare/market.parquet``, 2021-01..2024-05) into one temporary
store and the raw market (``ashare_raw/market_raw.parquet``, traded prices with their factor,
2021-01..2026-05) into another, each with the CSI 300, runs every spec of ``backtests/`` that has
a strategy on both, and prints one Markdown table (the README's "before / after").

Usage::

    python benchmarks/compare_bases.py [--data ../shared/data] [--specs sora_hype,chatgpt_confirm]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import tomllib
import warnings
from pathlib import Path

import hypebt
from hypebt.cli.main import main as main_cli
from hypebt.data.importers import import_paths
from hypebt.data.store import Store

REPO = Path(__file__).resolve().parents[1]
# The shared hikyuu snapshots and when each was published (../shared/data/README.md).
SNAPSHOTS = (("gnbk-2019-02-17.ini", "2019-02-17T18:59"), ("gnbk-2023-12-18T19.ini", "2023-12-18T19:25"),
             ("gnbk-2023-12-18T22.ini", "2023-12-18T22:25"), ("gnbk-2024-01-02.ini", "2024-01-02T15:55"))


def shipped_specs() -> list[str]:
    """The specs of backtests/ that run a strategy (studies have none)."""
    out = []
    for path in sorted((REPO / "backtests").glob("*.toml")):
        if "strategy" in tomllib.loads(path.read_text("utf-8")):
            out.append(path.stem)
    return out


def figures(res) -> dict:
    s = res.stats
    return {"return": s.get("total_return"), "sharpe": s.get("sharpe"), "max_dd": s.get("max_drawdown"),
            "trades": s.get("n_trades"), "refused": s.get("refused_orders"), "fees": s.get("fees"),
            "distributions": s.get("distributions", 0.0), "dividend_tax": s.get("dividend_tax", 0.0)}


def fmt(value, kind) -> str:
    if value is None:
        return "-"
    if kind == "pct":
        return f"{value:+.2%}"
    if kind == "num":
        return f"{value:.2f}"
    if kind == "cny":
        return f"{value:,.0f}"
    return f"{value:,}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    env = os.environ.get("HYPEBT_SHARED_DATA")
    ap.add_argument("--data", type=Path, default=Path(env) if env else REPO.parent / "shared" / "data")
    ap.add_argument("--specs", help="comma-separated spec names (default: every shipped backtest)")
    args = ap.parse_args(argv)
    specs = args.specs.split(",") if args.specs else shipped_specs()
    index = args.data / "index" / "sh000300.csv"
    t0 = time.perf_counter()
    rows = []
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stores = {"qfq": Store(Path(tmp) / "qfq"), "raw": Store(Path(tmp) / "raw")}
        import_paths(stores["qfq"], [args.data / "ashare" / "market.parquet", index], adjust="qfq")
        import_paths(stores["raw"], [args.data / "ashare_raw" / "market_raw.parquet", index], adjust="raw")
        for store in stores.values():  # the dated concept-board snapshots the board universes read
            for file, published in SNAPSHOTS:
                main_cli(["--home", str(store.root), "data", "concepts", "import",
                      str(args.data / "concepts" / "hikyuu" / file), "--published", published])
        for name in specs:
            for basis, store in stores.items():
                res = hypebt.backtest(str(REPO / "backtests" / f"{name}.toml"), workspace=REPO, home=store.root,
                                      offline=True)
                rows.append((name, basis, figures(res)))
    cols = [("return", "pct"), ("sharpe", "num"), ("max_dd", "pct"), ("trades", "int"), ("refused", "int"),
            ("fees", "cny"), ("distributions", "cny"), ("dividend_tax", "cny")]
    heads = ["return", "Sharpe", "max drawdown", "closed trades", "refused", "fees, CNY", "distributions, CNY",
             "dividend tax, CNY"]
    print("| backtest | prices | " + " | ".join(heads) + " |")
    print("|---|---|" + "---|" * len(cols))
    for name, basis, f in rows:
        print(f"| {name} | {basis} | " + " | ".join(fmt(f[c], k) for c, k in cols) + " |")
    print(f"\n{len(rows)} runs in {time.perf_counter() - t0:.0f}s; load average "
          f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
