"""Window invariance on the real market: the decision on an order on day D depends only on what was
known by D, never on the run's start, warm-up, universe or end.

- A property test draws (code, day D, start, warm-up, end, universe, order) cases from the shared
  market, seeded, weighted to where windows used to matter (a suspension straddling the start, a
  new listing's first sessions, ST inferred from the bars), builds the market each such run reads
  (:func:`hypebt.engine.backtest.build_market`, what ``prepare`` calls) and checks it against a
  run started long before (the whole market from the data's first session to its last): every
  column the order checks read, on every session the run can see, and the decision on the drawn
  order (fill or refusal, price, size, fees) on D.
- Whole runs through the engine for the cases the issue found (430198 after its suspension,
  000564's inferred ST), from every start that used to disagree.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hypebt.data.calendar import Calendar, store_sessions
from hypebt.engine import backtest as engine
from hypebt.engine.spec import load_spec
from hypebt.market import rules as R
from helpers_engine import make_workspace, write_spec

CASES = 240
SEED = 23


@pytest.fixture(scope="module")
def market(real_store):
    """The whole stored market, the calendar, and the reference: one run from the data's first
    session to its last over every code (a run started long before any case)."""
    from hypebt.market import panel as MP

    dataset = real_store.stock_dataset()
    manifest = real_store.manifest(dataset)
    bars = real_store.load(dataset, columns=MP.bar_columns(manifest["columns"]))
    cal = Calendar(store_sessions(real_store))
    rules = R.for_prices(R.Rules(), adjusted=True)
    first = pd.Timestamp(manifest["first_date"])
    codes = tuple(sorted(bars["code"].astype(str).unique()))
    whole = cal.between(bars["date"].min(), bars["date"].max())
    ref, at, _ = engine.build_market(bars, codes, cal, whole, 0, first, set(), rules, real_store)
    assert at == 0
    code_arr = bars["code"].astype(str).to_numpy()
    bounds = np.flatnonzero(np.r_[True, code_arr[1:] != code_arr[:-1], True])
    rows = {code_arr[a]: (a, b) for a, b in zip(bounds[:-1], bounds[1:])}
    return {"bars": bars, "rows": rows, "cal": cal, "rules": rules, "first": first, "ref": ref, "store": real_store}


def bars_of(market, codes):
    return pd.concat([market["bars"].iloc[slice(*market["rows"][c])] for c in codes], ignore_index=True)


def decision(code, cols, i, day, side, at, shares, rules):
    """What the order checks decide on a market order from these columns (the rules the desk calls)."""
    if cols["suspended"][i]:
        return ("suspended",)
    bar = R.Bar(*(float(cols[k][i]) for k in ("open", "high", "low", "close")))
    up, down = float(cols["limit_up"][i]), float(cols["limit_down"][i])
    limits = R.Limits(None if up != up else up, None if down != down else down)
    trade = "buy" if side in ("buy", "cover") else "sell"
    price = R.slipped_price(trade, bar.close if at == "close" else bar.open, bar, rules)
    if side == "short":
        prev = float(cols["prev_close"][i])
        refusal, _ = R.check_short_price(at, prev if prev == prev else None, bar, rules)
        if refusal:
            return (refusal, price)
    reason = R.check_fill(trade, price, bar, limits, locked=bool(cols[f"locked_{'up' if trade == 'buy' else 'down'}"][i]),
                          rules=rules)
    if reason:
        return (reason, price)
    cap = R.volume_cap(code, trade, float(cols["volume"][i]), shares if trade == "sell" else 0, rules)
    size = shares if cap is None else min(shares, cap)
    return ("filled", price, size, R.fees(trade, size, price, day, rules) if size else None)


def draw_cases(market, n, seed):
    """``n`` cases: (kind, code, D, start, warmup, end, other codes, side, at, shares)."""
    rng = random.Random(seed)
    ref = market["ref"]
    sessions = ref.sessions
    suspended = ref.columns["suspended"]
    traded = ~suspended
    listed = ~ref.listed_before_data
    inferred = ref.st_source == 1  # status.SOURCES: "inferred"
    gaps = np.argwhere(suspended[:, 1:] & ~suspended[:, :-1])  # (code, last session before a gap)
    st_cells = np.argwhere(inferred & traded & ref.columns["st"])
    codes = ref.codes
    cases = []
    while len(cases) < n:
        kind = ("straddle", "listing", "st", "random")[len(cases) % 4]
        if kind == "straddle":
            j, before = gaps[rng.randrange(len(gaps))]
            after = np.flatnonzero(traded[j, before + 1:])
            if not len(after):
                continue
            d = before + 1 + after[0]  # the session it trades again
            start = rng.randint(before + 1, d)  # a start inside the suspension (or on the day back)
        elif kind == "listing":
            j = rng.choice(np.flatnonzero(listed & traded.any(axis=1)))
            first = np.flatnonzero(traded[j])[:8]
            d = int(rng.choice(first))
            start = rng.randint(max(first[0] - 3, 0), d)
        elif kind == "st":
            j, d = st_cells[rng.randrange(len(st_cells))]
            start = rng.randint(max(d - 15, 0), d)
        else:
            j = rng.randrange(len(codes))
            days = np.flatnonzero(traded[j])
            if not len(days):
                continue
            d = int(rng.choice(days))
            start = rng.randint(max(d - 250, 0), d)
        if start >= len(sessions) - 1:
            continue
        end = rng.randint(max(d, start + 1), len(sessions) - 1)
        others = tuple(rng.sample(codes, rng.randint(0, 3)))
        side, at = rng.choice(["buy", "sell", "short", "cover"]), rng.choice(["open", "close"])
        cases.append((kind, codes[j], sessions[d], sessions[start], rng.choice([0, 0, 1, 5, 20, 60]), sessions[end],
                      others, side, at, 100 * rng.randint(1, 50)))
    return cases


def test_every_decision_equals_a_run_started_long_before(market):
    ref, cal, rules = market["ref"], market["cal"], market["rules"]
    cases = draw_cases(market, CASES, SEED)
    assert len({c[0] for c in cases}) == 4 and len(cases) >= 200
    for kind, code, d, start, warmup, end, others, side, at, shares in cases:
        universe = tuple(dict.fromkeys((code, *others)))
        sessions = cal.between(start, end)
        panel, pos, lead = engine.build_market(bars_of(market, universe), universe, cal, sessions, warmup,
                                               market["first"], set(), rules, market["store"])
        case = f"{kind} case: {code} on {d.date()}, start {start.date()}, warmup {warmup}, end {end.date()}, " \
               f"with {others}"
        seen = panel.window(pos - lead)  # what the run can read: its warm-up and its sessions
        seen = seen.window(max(seen.sessions.searchsorted(ref.sessions[0]), 0))  # (before any data: nothing to compare)
        lo = ref.sessions.get_indexer([seen.sessions[0]])[0]
        want = ref.window(lo, lo + len(seen.sessions))
        assert want.sessions.equals(seen.sessions), case
        j, jr = seen.index[code], ref.index[code]
        for name, values in seen.columns.items():
            assert np.array_equal(values[j], want.columns[name][jr], equal_nan=True), f"{name}: {case}"
        i = seen.sessions.get_indexer([d])[0]
        run_cols = {k: v[j] for k, v in seen.columns.items()}
        ref_cols = {k: v[jr] for k, v in want.columns.items()}
        assert decision(code, run_cols, i, d.date(), side, at, shares, rules) == \
            decision(code, ref_cols, i, d.date(), side, at, shares, rules), case


def run_buy(store, tmp_path, code, day, start, *, warmup=0, end=None, others=()):
    """A whole run of the engine buying 1,000 shares of ``code`` at ``day``'s open: its order row."""
    ws = tmp_path / "ws"
    if not (ws / "strategies").exists():
        make_workspace(ws)
    cal = Calendar(store_sessions(store))
    n = len(cal.between(start, day)) - 1  # the run's session number of ``day``
    name = f"b{start.replace('-', '')}_{warmup}_{len(others)}"
    end = end or str(cal.offset(day, 3).date())  # a run has at least two sessions
    spec = write_spec(ws, name, {"strategy": "script", "codes": [code, *others], "start": start,
                                 "end": end, "warmup": warmup, "benchmark": "sh000300"})
    prep = engine.prepare(load_spec(spec), ws, store)
    res = engine.run(prep, {"plan": [[n, "open", "buy_shares", code, 1000]]})
    rows = res.orders[res.orders["code"] == code].to_dict("records")
    assert len(rows) == 1 and str(rows[0]["date"]) == day, rows
    return rows[0]["status"], rows[0]["reason"], rows[0]["price"]


def test_430198_after_its_suspension_is_refused_from_every_start(real_store, tmp_path):
    """Suspended 2023-12-04..08, back on 2023-12-11 locked at +30 % all day (一字板): a buy at that
    open is refused whatever the start, the limit coming from the close before the suspension
    (5.05), not from a price the window happened to begin with."""
    got = {s: run_buy(real_store, tmp_path, "430198", "2023-12-11", s)
           for s in ("2023-12-01", "2023-12-04", "2023-12-05", "2023-12-08", "2023-12-11")}
    got["warm-up"] = run_buy(real_store, tmp_path, "430198", "2023-12-11", "2023-12-05", warmup=3,
                             end="2024-01-31", others=("000564",))
    assert set(got.values()) == {("refused", "locked_limit_up", 6.56)}, got


def test_000564_st_status_is_inferred_from_its_whole_history(real_store, tmp_path):
    """000564 sat locked at its 5 % ST limit before 2023-05; its status on 2023-12-26 comes from its
    whole stored history: a buy at that open (1.44, at the ST limit-up 1.45 within the qfq
    tolerance) is refused from a 2023-05-04 start and from a 2023-12-20 start alike, as from the
    data's first session."""
    got = {s: run_buy(real_store, tmp_path, "000564", "2023-12-26", s) for s in ("2021-01-04", "2023-05-04", "2023-12-20")}
    assert set(got.values()) == {("refused", "limit_up", 1.44)}, got


def test_a_universe_files_names_do_not_change_a_decision(real_store, tmp_path):
    """603963 opened 2021-01-06 at 8.37 (+6.6 % on 7.85: under its 10 % limit-up, over a 5 % ST one). A
    universe file drawn up later that names it "*ST" (as a 2024 names snapshot would) says nothing of
    its status in 2021: the buy fills there as in a run that lists the code alone."""
    ws = make_workspace(tmp_path / "ws")
    (ws / "data" / "universes" / "named.csv").write_text(
        "code,name,snapshot_date,source,kind\n603963,*ST大理,2024-06,a later names snapshot,list\n", "utf-8")
    got = {}
    for name, top in (("listed", {"codes": ["603963"]}), ("named", {"universe": "named"})):
        spec = write_spec(ws, name, {"strategy": "script", **top, "start": "2021-01-04", "end": "2021-01-08",
                                     "benchmark": "sh000300"})
        res = engine.run(engine.prepare(load_spec(spec), ws, real_store), {"plan": [[2, "open", "buy_shares", "603963", 1000]]})
        got[name] = res.orders[["date", "status", "reason", "price"]].astype(str).values.tolist()
    assert got["named"] == got["listed"] and got["listed"][0][:2] == ["2021-01-06", "filled"], got


def test_a_stock_back_from_a_suspension_over_the_datas_start_is_no_new_listing(real_store, tmp_path):
    """300182 (listed in 2010) has no stored bar before 2021-01-07, three sessions after the data's
    first: from the bars alone it looks like a listing day (no limit, five sessions without one on
    ChiNext, a new listing for ``exclude``). With the store's listings table saying it listed in
    2010, that bar has its 20 % limit from the close before it (its pct_change) and it is seasoned."""
    from hypebt.data import reference
    from hypebt.data.store import Store

    root = tmp_path / "store"
    root.mkdir()
    for dataset in real_store.datasets():
        (root / dataset).symlink_to(real_store.root / dataset, target_is_directory=True)
    store = Store(root)
    ws = make_workspace(tmp_path / "ws")
    spec = load_spec(write_spec(ws, "back", {"strategy": "script", "codes": ["300182"], "start": "2021-01-04",
                                             "end": "2021-01-29", "exclude": ["new_listing"], "benchmark": "sh000300"}))
    day = pd.Timestamp("2021-01-07")
    before = engine.prepare(spec, ws, store)  # no listings table: the bars' reading
    j, i = before.panel.index["300182"], before.panel.sessions.get_indexer([day])[0]
    assert np.isnan(before.panel.columns["limit_up"][j, i]) and not before.members[j, i]
    reference.save(store, "listings", pd.DataFrame({"code": ["300182"], "list_date": ["2010-08-20"], "delist_date": [""]}),
                   source="test", as_of="2024-05-22")
    prep = engine.prepare(spec, ws, store)
    up = prep.panel.columns["limit_up"][j, i]
    assert prep.panel.listed_before_data[j] and up == pytest.approx(3.33 / 1.031 * 1.2, abs=0.006)
    assert prep.members[j, i] and not np.isnan(prep.panel.columns["limit_up"][j, i:i + 5]).any()
