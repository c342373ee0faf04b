"""What a study page says in words: the headline, day-0 context, the company the event concerns,
and big tables trimmed to their top and bottom rows. Plain functions of the study's frames; the
page template escapes everything they return."""

from __future__ import annotations

import math

import pandas as pd

from hypebt.core.i18n import N_

TOP_N = 25


def _pct(x) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:+.2%}"


def _p(p) -> str:
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "n/a"
    return f"{p:.2g}" if p < 0.001 else f"{p:.3f}"


def _stat(t) -> str:
    return "n/a" if t is None or (isinstance(t, float) and math.isnan(t)) else f"{t:.2f}"


def headline(row: dict, main: tuple[int, int], market: str, prefix: str = "") -> list[str]:
    """Sentences leading the page for one summary row (usually "all events"): the mean CAR of the
    main window, the robust test chosen and why, and the plain t-test beside it.

    ``prefix`` "" for the market-adjusted figures, "mm_" for the market model's.
    """
    lo, hi = main
    model = N_("market model") if prefix else N_("market-adjusted")
    mean = row.get("mean_car_mm" if prefix else "mean_car_mkt")
    n = row.get("n")
    if prefix:
        out = [N_("Mean CAR[%(lo)s,%(hi)s] %(mean)s (%(model)s, against %(market)s; %(n)s stock-events)", lo=lo, hi=hi,
                  mean=_pct(mean), model=model, market=market, n=n)]
    else:
        out = [N_("Mean CAR[%(lo)s,%(hi)s] %(mean)s (%(model)s, against %(market)s; %(n)s stock-events, median "
                  "%(median)s, %(positive)s positive)", lo=lo, hi=hi, mean=_pct(mean), model=model, market=market, n=n,
                  median=_pct(row.get("median_car_mkt")), positive=row.get("positive"))]
    p = row.get(f"{prefix}headline_p")
    verdict = "n/a" if p is None or (isinstance(p, float) and math.isnan(p)) else \
        N_("significant at 5 %") if p < 0.05 else N_("not significant at 5 %")
    out.append(N_("%(test)s: t = %(t)s, p = %(p)s, %(verdict)s.", test=row.get(f"{prefix}headline_test"),
                  t=_stat(row.get(f"{prefix}headline_t")), p=_p(p), verdict=verdict))
    why = row.get(f"{prefix}headline_why")
    if why and not prefix:  # the market model's reason is the same; said once
        out.append(N_("Why this test: %(why)s.", why=why))
    t_plain = row.get("t_stat") if not prefix else None
    if t_plain is not None:
        out.append(N_("The plain cross-sectional t-test, which assumes independent stocks, gives t = %(t)s (p = %(p)s).",
                      t=_stat(t_plain), p=_p(row.get("t_p"))))
    return out


def day0_context(events: list[dict]) -> list[str]:
    """One line per event whose day 0 follows a market closure. ``events``: dicts with ``id``,
    ``day0``, ``prev_session``, ``span_days`` and ``closure`` (see study_returns.closure_days)."""
    out = []
    for ev in events:
        if ev.get("closure"):
            out.append(N_("%(id)s: day 0 (%(day0)s) follows a market closure; its return spans %(days)s calendar days "
                          "since the close of %(prev)s, and carries every piece of news of those days, not only the "
                          "event's.", id=ev["id"], day0=ev["day0"], days=ev["span_days"], prev=ev["prev_session"]))
    return out


def company_rows(car: pd.DataFrame, codes_by_event: dict[str, tuple[str, ...]], main: tuple[int, int]) -> list[dict]:
    """The stocks the events concern (an event's ``codes``, else the spec's codes): their own CAR,
    BHAR and paper/tradable figures over the main window."""
    lo, hi = main
    out = []
    for ev, codes in codes_by_event.items():
        for rec in car[(car["event"] == ev) & car["code"].isin(codes)].to_dict("records"):
            out.append({"event": ev, "code": rec["code"], "name": rec.get("name", ""),
                        f"CAR[{lo},{hi}] market-adjusted": rec.get(f"car_mkt[{lo},{hi}]"),
                        f"CAR[{lo},{hi}] market model": rec.get(f"car_mm[{lo},{hi}]"),
                        f"BHAR[{lo},{hi}]": rec.get(f"bhar_mkt[{lo},{hi}]"),
                        "paper BHAR": rec.get("paper_abnormal"), "tradable BHAR": rec.get("tradable_abnormal")})
    return out


def trim(frame: pd.DataFrame, by: str, n: int = TOP_N) -> tuple[pd.DataFrame, int]:
    """The ``n`` rows with the largest and the ``n`` with the smallest ``by`` (rows without a
    value after them), or the whole frame when it has at most ``2 n`` rows; and the full row count."""
    total = len(frame)
    if total <= 2 * n:
        return frame, total
    ranked = frame.sort_values(by, ascending=False, na_position="last", kind="stable")
    valid = ranked[ranked[by].notna()]
    if len(valid) <= 2 * n:
        return ranked.head(2 * n), total
    return pd.concat([valid.head(n), valid.tail(n)]), total
