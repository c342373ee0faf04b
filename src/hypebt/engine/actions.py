"""A run's price basis and its corporate actions.

On traded prices (``stock_raw``) the price falls on each ex-date and the holder is paid: the run
credits every distribution (:mod:`hypebt.market.corporate`: from the store's dividend records, else
derived from the adjustment factor as a cash-equivalent). On adjusted prices (qfq, hfq) the prices
already hold the distributions: nothing is credited, so nothing is counted twice.

One run reads one basis: :func:`check_basis` refuses a universe whose codes are stored on another
basis than the run's, and traded prices with the adjustment factor for some codes or rows and not
others (their distributions and signals would not be comparable).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from hypebt.core.errors import DataError
from hypebt.core.i18n import N_
from hypebt.data import reference
from hypebt.data.store import Store
from hypebt.market import corporate as C
from hypebt.market.exdates import factor_timing


def check_basis(store: Store, dataset: str, codes, bars: pd.DataFrame, where: str, notes: list,
                board_universe: bool = False) -> None:
    """Refuse a run that would mix price bases (see the module docstring) with a one-line
    :class:`DataError` saying how to get one basis. A board universe (codes drawn from dated
    snapshots, some of them delisted) only notes its codes stored on another basis."""
    missing = sorted(set(codes) - set(bars["code"].unique()))
    if missing:
        for other in store.datasets():
            if other.startswith("stock_") and other != dataset:
                elsewhere = sorted(set(missing) & set(store.code_ranges(other).index))
                if elsewhere and board_universe:
                    notes.append(N_("%(n)s code(s) of the boards are stored only as %(other)s prices, left out: one "
                                    "run reads one price basis (%(basis)s)", n=len(elsewhere),
                                    other=other.removeprefix("stock_"), basis=dataset.removeprefix("stock_")))
                elif elsewhere:
                    raise DataError(
                        f"{where}: {len(elsewhere)} code(s) of the universe are stored only as "
                        f"{other.removeprefix('stock_')} prices ({', '.join(elsewhere[:5])}), the run reads "
                        f"{dataset.removeprefix('stock_')}: one run reads one price basis; import or fetch their "
                        f"{dataset.removeprefix('stock_')} bars, or set adjust = \"{other.removeprefix('stock_')}\"")
    if "adj_factor" in bars:
        has = bars["adj_factor"].notna().to_numpy()
        if has.any() and not has.all():
            without = sorted(bars.loc[~has, "code"].astype(str).unique())
            raise DataError(
                f"{where}: traded prices with an adjustment factor for some rows and without for others "
                f"({', '.join(without[:5])}{' ...' if len(without) > 5 else ''} lack it): their distributions "
                "could not be credited alike; import those codes again with adj_factor (hypebt data fetch "
                "--adjust raw), or run on qfq (adjust = \"qfq\")")


def align_factors(bars: pd.DataFrame, notes: list) -> pd.DataFrame:
    """``bars`` (canonical, sorted by code and date) with each move of ``adj_factor`` on its ex-date
    (:func:`hypebt.market.exdates.factor_timing`: a move one session after the price drop is put on
    the drop; one the prices contradict is taken out), so the distribution, that day's limits and the
    adjusted signals all read the same day; each change is noted. Bars without a factor are returned
    as they are."""
    if "adj_factor" not in bars or bars.empty or bars["adj_factor"].isna().any():
        return bars
    codes = bars["code"].astype(str).to_numpy()
    cols = [bars[k].to_numpy("float64") for k in ("high", "low", "close", "adj_factor")]
    days = bars["date"].to_numpy("datetime64[D]")
    factor = cols[3].copy()
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    changed = False
    for lo, hi in zip(starts, np.r_[starts[1:], len(bars)]):
        t = factor_timing(codes[lo], days[lo:hi], *(c[lo:hi] for c in cols))
        for moved, ex in t.late:
            notes.append(N_("%(code)s: the adjustment factor moves on %(moved)s, a session after the price drop of "
                            "%(ex)s: the distribution and the limits of the ex-date are put on %(ex)s",
                            code=codes[lo], moved=moved, ex=ex))
        for day in t.contradicted:
            notes.append(N_("%(code)s: the adjustment factor moves on %(day)s but the price does not (the bar is "
                            "inside the limits of the previous close, not of the factor's reference price): no "
                            "distribution is credited there", code=codes[lo], day=day))
        if t.late or t.contradicted:
            factor[lo:hi] = t.factor
            changed = True
    return bars.assign(adj_factor=factor) if changed else bars


def run_actions(store: Store, manifest: dict, bars: pd.DataFrame, codes, sessions: pd.DatetimeIndex,
                calendar: pd.DatetimeIndex, notes: list, tax: bool = True) -> dict[str, list[C.Action]]:
    """The corporate actions the run credits, per code (empty on adjusted prices), with notes
    (``tax``: dividend tax is charged, so an estimated one is said)."""
    adjust = manifest.get("adjust")
    if adjust != "raw":
        notes.append(N_("prices are adjusted (%(adjust)s): distributions are already in them, none is credited",
                        adjust=adjust))
        return {}
    records = reference.load(store, "dividends")
    if records is not None:
        records = C.records_from_table(records[records["code"].isin(list(codes))])
    first, last = sessions[0].date(), sessions[-1].date()
    has_factor = "adj_factor" in bars
    out: dict[str, list[C.Action]] = {}
    for code, g in bars.groupby("code", sort=False, observed=True):
        code, days = str(code), g["date"].tolist()
        factor = g["adj_factor"].to_numpy() if has_factor else None
        acts, _ = C.actions_for(code, days, g["close"].to_numpy(), factor, (records or {}).get(code))
        acts = [a for a in acts if first <= a.ex_date <= last]
        if acts:
            out[code] = with_record_dates(acts, calendar)
        fell = [d for d in C.factor_anomalies(days, factor) if first <= d <= last] if has_factor else []
        if fell:
            notes.append(N_("%(code)s: the adjustment factor falls on %(days)s: no distribution explains it, nothing is "
                            "credited there", code=code, days=", ".join(d.isoformat() for d in fell[:5])))
    n = sum(len(a) for a in out.values())
    derived = sum(a.derived for acts in out.values() for a in acts)
    if n:
        notes.append(N_("corporate actions on traded prices: %(n)s ex-date(s) of the universe in the run, credited "
                        "to what is held then; %(rec)s from dividend records, %(der)s derived from the adjustment "
                        "factor as cash-equivalent distributions (records say whether it was cash, bonus shares or "
                        "rights: hypebt data dividends)", n=n, rec=n - derived, der=derived))
    if derived and tax:
        notes.append(N_("dividend tax on the %(n)s distribution(s) derived from the adjustment factor is an estimate: "
                        "a move under 1/11 of the previous close is taxed as cash, a larger one holds new shares, "
                        "whose value is not taxed (only the cash left after the most whole new shares per 10 it "
                        "allows); dividend records make it exact (差别化红利税: 财税〔2012〕85号 from 2013-01-01, "
                        "财税〔2015〕101号 from 2015-09-08)", n=derived))
    if not has_factor:
        notes.append(_no_factor_note(list(codes), records or {}))
    return out


def _no_factor_note(codes: list[str], records: dict):
    """The one note of a run on traded prices without an adjustment factor: the ex-dates are then known
    from dividend records alone, so a code without them is credited nothing (a note, not a refusal:
    fills, fees and limits on every other session are right, and a run that holds nothing across an
    ex-date is unaffected; the note says whose figures miss what)."""
    missing = sorted(c for c in codes if not records.get(c))
    if not missing:
        return N_("prices are traded (raw) without an adjustment factor: fills, lots, fees and limits use them; "
                  "distributions are credited from the dividend records, which every code of the run has; signals "
                  "see the traded close")
    return N_("prices are traded (raw) without an adjustment factor and %(n)s of the run's %(total)s code(s) have no "
              "dividend records (%(codes)s): their distributions cannot be credited (a holder across an ex-date "
              "takes the price drop without the payment), their ex-date limits start from the previous close, not "
              "the exchange's reference price, and signals see the traded close; import the prices with their "
              "adj_factor (hypebt data fetch --adjust raw) or dividend records (hypebt data dividends)",
              n=len(missing), total=len(codes), codes=", ".join(missing[:5]) + (" ..." if len(missing) > 5 else ""))


def with_record_dates(actions: list[C.Action], calendar: pd.DatetimeIndex) -> list[C.Action]:
    """Each action with its record date (the last session before its ex-date) where the record lacks it.

    >>> acts = with_record_dates([C.Action("600519", pd.Timestamp("2024-06-19").date(), cash=30.876)],
    ...                          pd.DatetimeIndex(["2024-06-17", "2024-06-18", "2024-06-19"]))
    >>> acts[0].record_date
    datetime.date(2024, 6, 18)
    """
    days = np.asarray(calendar, dtype="datetime64[D]")
    out = []
    for a in actions:
        if a.record_date is None:
            i = int(np.searchsorted(days, np.datetime64(a.ex_date, "D"))) - 1
            if i >= 0:
                a = dataclasses.replace(a, record_date=days[i].astype(object))
        out.append(a)
    return out


def ledger(distributions) -> pd.DataFrame:
    """``corporate_actions.csv``: every row a run's corporate actions booked (columns
    :data:`hypebt.market.corporate.COLUMNS`), by date then code; rows of one day and code keep the
    order they were booked in (cash before the shares of one action, a sale's tax after them).

    Rows are booked when the run learns of them, not on their date: cash paid on a later pay date is
    booked on its ex-date, so the booking order alone is not the ledger's."""
    frame = pd.DataFrame(distributions.rows if distributions is not None else [], columns=C.COLUMNS)
    if len(frame):
        frame = frame.sort_values(["date", "code"], kind="stable").reset_index(drop=True)
    return frame


def figures(distributions) -> dict:
    """The run's corporate-action figures for ``stats.json`` (CNY): ``distributions`` received by longs
    (cash dividends and cash-equivalents, before tax), ``dividend_tax`` charged at sales (negative),
    ``short_compensation`` paid by shorts (negative), and ``receivable`` declared but not yet paid."""
    d = distributions
    return {"distributions": round(d.total("cash_dividend") + d.total("cash_equivalent"), 2),
            "dividend_tax": d.total("dividend_tax"), "short_compensation": d.total("short_compensation"),
            "receivable": d.receivable}
