"""Limits on traded prices, over the whole raw dataset: do the limits explain every bar?

Imports ``<data>/ashare_raw/market_raw.parquet`` as it is (``--adjust raw``, its ``adj_factor``
kept) into a temporary store, loads it back and measures two sets of limit prices against every bar:

1. **the engine's**: the market panel a run builds (:func:`hypebt.research.limit_audit.audit`, which
   reads :func:`hypebt.market.panel.build`): the reference price on ex-dates, the board's band, the
   dated ST status the engine's checks apply — this data has no dated ST list, so it is inferred
   from the bars up to each session, its own one-price bar included (a risk warning and its removal
   are announced before the open; strategies see the status a session later,
   :mod:`hypebt.market.status`) —, a new listing's free sessions;
2. **an independent computation** (``tests/rulecheck.py``: the exchanges' rules worked out again
   without ``hypebt.market``), with ST status only from dated evidence: the vendor's ``[ST股]`` lists
   of the dated hikyuu snapshots in ``<data>/concepts/hikyuu`` (the sessions of their dates; the data
   holds no dated name history and no ``st_history``). Nothing is inferred and nothing chosen after
   the fact: a main-board stock without dated evidence gets the board's 10 % band.

For each it prints the share of one-price sessions at the computed limit (target >= 99.9 %) and
the share of rows inside their limits (target >= 99.99 %), and the exceptions it cannot explain
(count, then the first 20); then where the two sets of limits differ, and why. Prints timings and
the load average; asserts nothing (figures belong here, not in tests).

Usage::

    python benchmarks/bench_limits_raw.py [--data ../shared/data] [--exceptions out.csv] [--show 20]
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from hypebt.data.importers import import_paths
from hypebt.data.store import Store
from hypebt.research.limit_audit import LOCK_MOVE, audit

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the independent rule check of the test suite
import rulecheck  # noqa: E402

TARGETS = {"at_limit": 0.999, "inside": 0.9999}
EPS = 1e-6


def dated_st_lists(folder: Path) -> dict[pd.Timestamp, set[str]]:
    """date -> codes of each hikyuu snapshot's ``[ST股]`` / ``[ST板块]`` pseudo-board (the date in its
    file name: as published that day)."""
    out: dict[pd.Timestamp, set[str]] = {}
    for path in sorted(folder.glob("gnbk-*.ini")):
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("gbk")
        day = pd.Timestamp(re.match(r"gnbk-(\d{4}-\d{2}-\d{2})", path.name).group(1))
        board, codes = None, set()
        for line in text.splitlines():
            line = line.strip()
            if line.startswith("["):
                board = line.strip("[]")
            elif board in ("ST股", "ST板块") and "," in line:
                codes.add(line.split(",")[1].strip())
        if codes:
            out[day] = out.get(day, set()) | codes
    return out


def independent(bars: pd.DataFrame, st_dated: dict, show: int) -> tuple[list[str], pd.DataFrame, dict]:
    """The figures of the independent computation, its exceptions and its limits (frame on bars' index)."""
    lim = rulecheck.exchange_limits(bars, st_dated)
    o, h, lo, c = (bars[k].to_numpy(dtype="float64") for k in ("open", "high", "low", "close"))
    ref, up, down = (lim[k].to_numpy() for k in ("reference", "up", "down"))
    has = ~np.isnan(up)
    with np.errstate(invalid="ignore"):
        move = c / ref - 1
        one = has & (h - lo <= EPS) & (np.abs(move) >= LOCK_MOVE)
        at = (np.abs(c - up) <= EPS) | (np.abs(c - down) <= EPS)
        inside = has & (h <= up + EPS) & (lo >= down - EPS)
        # what a missed row fits instead, as a description only (the 5 % band of a main-board ST stock)
        main = bars["code"].astype(str).map(rulecheck.board).eq("main").to_numpy()
        fen = np.rint(ref * 100)
        up5, down5 = np.floor((fen * 105 + 50) / 100) / 100, np.floor((fen * 95 + 50) / 100) / 100
        st_band = main & ~lim["st"].to_numpy() & np.where(
            one, (np.abs(c - up5) <= EPS) | (np.abs(c - down5) <= EPS), (h <= up5 + EPS) & (lo >= down5 - EPS))
    miss_at, miss_in = one & ~at, has & ~inside
    rows = []
    for what, mask in (("one-price, not at the limit", miss_at), ("outside the limits", miss_in)):
        for i in np.flatnonzero(mask):
            rows.append([bars["code"].iat[i], str(bars["date"].iat[i].date()), what,
                         "at the ST band, no dated ST evidence" if st_band[i] else "unexplained",
                         ref[i], up[i], down[i], o[i], h[i], lo[i], c[i]])
    exc = pd.DataFrame(rows, columns=["code", "date", "what", "kind", "reference", "limit_up", "limit_down", "open",
                                      "high", "low", "close"]).sort_values(["code", "date"], kind="stable")
    n_one, n_at = int(one.sum()), int((one & at).sum())
    n_has, n_in = int(has.sum()), int(inside.sum())
    counts = exc.groupby(["what", "kind"]).size()
    sessions_st = sorted(d.date().isoformat() for d in st_dated)
    covered = int(lim["st"].sum())
    lines = [
        f"independent computation (tests/rulecheck.py: exchange rules recomputed, ST only from the dated lists "
        f"[ST股] of {', '.join(sessions_st) or 'none'}: {covered:,} main-board stock-sessions ST, every other one the "
        f"board's band)",
        f"  share of one-price sessions at the computed limit: {n_at / max(n_one, 1):.4%} of {n_one:,} "
        f"(target >= {TARGETS['at_limit']:.1%}: {'met' if n_at >= TARGETS['at_limit'] * n_one else 'NOT met'})",
        f"  share of rows inside their limits: {n_in / max(n_has, 1):.4%} of {n_has:,} "
        f"(target >= {TARGETS['inside']:.2%}: {'met' if n_in >= TARGETS['inside'] * n_has else 'NOT met'})",
        f"  exceptions it cannot explain: {len(exc):,} (" + "; ".join(f"{what}, {kind}: {n:,}" for (what, kind), n
                                                                    in counts.items()) + ")",
    ]
    unexplained = exc[exc["kind"] == "unexplained"]
    for title, part in (("first of those at the ST band", exc[exc["kind"] != "unexplained"]),
                        ("first of the unexplained", unexplained)):
        if len(part):
            lines.append(f"  {title} ({min(show, len(part))} of {len(part):,}):")
            with pd.option_context("display.width", 220, "display.max_columns", 20):
                lines += ["    " + x for x in part.drop(columns="kind").head(show).to_string(index=False).splitlines()]
    return lines, exc, {"one": one, "limits": lim}


def compare(bars: pd.DataFrame, lim: pd.DataFrame, st_dated: dict) -> list[str]:
    """Where the engine's limits and the independent ones differ, and why."""
    from hypebt.market import panel as MP
    from hypebt.market import status as MS

    sessions = pd.DatetimeIndex(np.unique(bars["date"].to_numpy()))
    panel = MP.build(bars, sessions, first_store_date=sessions[0])
    j = pd.Index(panel.codes).get_indexer(bars["code"].astype(str))
    s = sessions.get_indexer(bars["date"])
    shown_up, shown_down, shown_st, e_st = (panel.columns[k][j, s] for k in ("limit_up", "limit_down", "st", "st_day"))
    # the limits the order checks apply: the session's own ST status (shown to strategies a session later)
    e_up, e_down = MS.day_limits(list(bars["code"].astype(str)), bars["date"].to_numpy(), panel.columns["prev_close"][j, s],
                                 shown_up, shown_down, shown_st, e_st)
    i_st = lim["st"].to_numpy()
    # the independent limits with the engine's ST status: the rule itself compared, ST aside
    again = rulecheck.exchange_limits(bars, None)
    st_rows = np.flatnonzero(e_st & bars["code"].astype(str).map(rulecheck.board).eq("main").to_numpy())
    up, down = again["up"].to_numpy().copy(), again["down"].to_numpy().copy()
    fen = np.rint(again["reference"].to_numpy()[st_rows] * 100)
    keep = ~np.isnan(up[st_rows])
    up[st_rows] = np.where(keep, np.floor((fen * 105 + 50) / 100) / 100, np.nan)
    down[st_rows] = np.where(keep, np.floor((fen * 95 + 50) / 100) / 100, np.nan)

    def same(a, b):
        with np.errstate(invalid="ignore"):
            return (np.isnan(a) & np.isnan(b)) | (np.abs(a - b) <= EPS)

    rule_diff = ~(same(e_up, up) & same(e_down, down))
    st_diff = e_st != i_st
    lines = [
        "engine against the independent computation:",
        f"  with the engine's ST status given to both, limit prices differ on {int(rule_diff.sum()):,} of "
        f"{len(bars):,} rows (reference price on ex-dates, rounding, bands, new listings)",
        f"  ST status differs on {int(st_diff.sum()):,} stock-sessions (the engine's inferred from the bars up to "
        f"each session, {int(e_st.sum()):,} ST; the independent one from the dated lists only, {int(i_st.sum()):,} ST)",
    ]
    for day, codes in sorted(st_dated.items()):
        on = (bars["date"] == day).to_numpy()
        main = on & bars["code"].astype(str).map(rulecheck.board).eq("main").to_numpy()
        listed = main & bars["code"].astype(str).isin(codes).to_numpy()
        if on.any():
            lines.append(f"  on {day.date()}: the dated list names {int(listed.sum())} main-board stocks that traded; "
                         f"the engine had {int((listed & e_st).sum())} of them as ST, and "
                         f"{int((main & ~listed & e_st).sum())} stocks not on the list as ST")
    return lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    env = os.environ.get("HYPEBT_SHARED_DATA")
    ap.add_argument("--data", type=Path, default=Path(env) if env else REPO.parent / "shared" / "data")
    ap.add_argument("--exceptions", type=Path, help="write both computations' exceptions to this CSV")
    ap.add_argument("--show", type=int, default=20, help="exceptions listed per kind (default 20)")
    args = ap.parse_args(argv)
    path = args.data / "ashare_raw" / "market_raw.parquet"
    if not path.is_file():
        print(f"no raw dataset at {path}", file=sys.stderr)
        return 3
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "store")
        t0 = time.perf_counter()
        import_paths(store, [path], adjust="raw")
        t1 = time.perf_counter()
        bars = store.load("stock_raw")
        t2 = time.perf_counter()
    bars = bars.sort_values(["code", "date"], kind="stable").reset_index(drop=True)
    bars["code"] = bars["code"].astype(str)
    result = audit(bars)
    t3 = time.perf_counter()
    st_dated = dated_st_lists(args.data / "concepts" / "hikyuu")
    ind_lines, ind_exc, extra = independent(bars, st_dated, args.show)
    cmp_lines = compare(bars, extra["limits"], st_dated)
    t4 = time.perf_counter()
    print(f"bench_limits_raw: {path} ({len(bars):,} rows, {bars['code'].nunique():,} stocks, "
          f"{bars['date'].min().date()}..{bars['date'].max().date()})")
    print("engine (the market panel a run builds: hypebt.market.panel via hypebt.research.limit_audit)")
    frame = result.exceptions_frame()
    for line in result.lines(show=0):
        print("  " + line)
    print(f"  target one-price at the limit >= {TARGETS['at_limit']:.1%}: "
          f"{'met' if result.at_limit_share >= TARGETS['at_limit'] else 'NOT met'}; rows inside >= "
          f"{TARGETS['inside']:.2%}: {'met' if result.inside_share >= TARGETS['inside'] else 'NOT met'}")
    unexplained = frame[frame["kind"] == "unexplained"]
    for title, part in (("first of the engine's exceptions", frame),
                        ("the engine's exceptions no kind describes", unexplained)):
        if len(part):
            print(f"  {title} ({min(args.show, len(part))} of {len(part):,}):")
            with pd.option_context("display.width", 220, "display.max_columns", 20):
                for x in part.head(args.show).to_string(index=False).splitlines():
                    print("    " + x)
    for line in ind_lines + cmp_lines:
        print(line)
    print(f"timings: import {t1 - t0:.1f}s, load {t2 - t1:.1f}s, engine audit {t3 - t2:.1f}s, independent and "
          f"comparison {t4 - t3:.1f}s; load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.exceptions:
        both = pd.concat([frame.assign(by="engine"), ind_exc.assign(by="independent")], ignore_index=True)
        both.to_csv(args.exceptions, index=False)
        print(f"exceptions written to {args.exceptions}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
