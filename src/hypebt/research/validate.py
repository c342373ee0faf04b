"""Event-level validation of a sweep: would the parameters picked on earlier events have held on the next?

``hypebt sweep SPEC --validate events`` runs, besides the sweep itself, **each event alone** with
every combination: the same prepared data and period, the strategy seeing only that event
(:func:`hypebt.engine.backtest.only_events`), so an event's figure is not mixed with the positions
of its neighbours. **An event's figure** is computed on that run's daily returns over the event's
own window: from its first tradable session for ``[sweep] event_window`` sessions (default 20, cut
at the run's end), with the ranking metric of :func:`hypebt.engine.metrics.from_returns`. Returns
outside the window (positions held longer) are counted and reported, never silently dropped:
raise ``event_window`` when they show.

**A figure over several events** (in-sample) is the same metric on their windows' returns put end
to end in time order. Then, per held-out event:

- *walk-forward*: for each event from the ``validate_from``-th on (time order; default the 3rd),
  the combination with the best in-sample figure on the earlier events is chosen, and scored on
  the held-out event. "Earlier" means finished: only events whose windows had ended before the
  held-out event's first tradable session count (an event a few days before it was not yet known
  in full); an event with none gets a row without a choice;
- *leave-one-out*: the combination best on all the other events, later ones included (a test of
  how much the choice depends on the event left out, not a trading simulation), is scored on it.

Ties go to the first combination in the plan's order; a combination without a figure (no return
at all in the training windows: ``sharpe`` is undefined) is never chosen over one with a figure.
``validation.csv`` has one row per method and held-out event: the event, its first session, the
training events, the chosen parameters, ``is_<metric>`` / ``oos_<metric>`` (and total returns),
the hindsight best figure on that event and the chosen combination's rank there. Every figure can
be recomputed from a plain run: ``hypebt run SPEC --set events.ids=["<event>"] --set <params>``,
its ``returns.csv`` cut to the window (a test does exactly that).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hypebt.core.errors import InputError
from hypebt.engine import metrics

METRICS = ("sharpe", "sortino", "total_return", "cagr", "max_drawdown")  # figures of returns alone
DEFAULT_WINDOW = 20
DEFAULT_FROM = 3


@dataclass(frozen=True)
class EventWindow:
    """One event's window: rows ``start..stop-1`` of the run's sessions."""

    event: str
    day0: pd.Timestamp
    start: int
    stop: int


def windows(prep, length: int) -> list[EventWindow]:
    """Each event's window, in time order (first tradable session, then the catalogue's order)."""
    index = prep.session_index
    out = []
    for t in prep.events:
        i = index[t.session]
        out.append(EventWindow(t.event.id, t.session, i, min(i + length, len(prep.sessions))))
    return sorted(out, key=lambda w: w.start)


def check(plan, prep, where: str) -> None:
    """Refuse what event validation cannot do: a metric that is not a figure of returns, too few events."""
    if plan.metric not in METRICS:
        raise InputError(f"{where}: --validate events ranks by a figure of the returns ({', '.join(METRICS)}); "
                         f"the metric {plan.metric!r} needs trades: set [sweep] metric = \"sharpe\" or another")
    n = len(prep.events)
    if n < 2:
        raise InputError(f"{where}: --validate events needs at least 2 events in the run, found {n}; widen the "
                         "[events] filter or the period")
    if plan.validate_from > n:
        raise InputError(f"{where}: [sweep] validate_from = {plan.validate_from} but the run has only {n} events; "
                         "lower it (walk-forward scores events from that one on)")


def window_figures(returns: np.ndarray, w: EventWindow) -> dict:
    """An event run's figures over its window, and what it returned outside it."""
    inside = returns[w.start:w.stop]
    outside = np.concatenate([returns[:w.start], returns[w.stop:]])
    figs = metrics.from_returns(pd.Series(inside, dtype="float64"))
    figs["outside_window_return"] = float(np.prod(1 + outside) - 1) if len(outside) else 0.0
    figs["outside_window_sessions"] = int(np.count_nonzero(outside))
    return figs


def _figure(returns: list, metric: str) -> float:
    """``metric`` of several windows' returns put end to end (NaN when undefined, or when a run
    among them failed)."""
    if any(r is None for r in returns):
        return float("nan")
    joined = np.concatenate(returns) if returns else np.array([], dtype="float64")
    value = metrics.from_returns(pd.Series(joined, dtype="float64"))[metric]
    return float("nan") if value is None else float(value)


def _best(values: np.ndarray) -> int | None:
    """Position of the largest figure (the first on ties); None when none is defined."""
    if np.isnan(values).all():
        return None
    return int(np.nanargmax(values))


def table(combos: list[dict], wins: list[EventWindow], returns: dict, metric: str, first: int) -> pd.DataFrame:
    """``validation.csv``: walk-forward and leave-one-out rows (see the module doc).

    ``returns[(combo index, event id)]``: that event run's returns over its window.
    """
    params = list(combos[0]) if combos else []
    n = len(wins)
    own = np.array([[_figure([returns.get((c, w.event))], metric) for w in wins] for c in range(len(combos))])
    own_total = np.array([[_figure([returns.get((c, w.event))], "total_return") for w in wins] for c in range(len(combos))])
    rows = []
    # Walk-forward trains only on events whose windows had ended before the held-out event's first
    # session: an earlier event whose window runs past it was not yet known in full.
    plans = [("walk_forward", k, [j for j in range(n) if wins[j].stop <= wins[k].start]) for k in range(first - 1, n)] + \
            [("leave_one_out", k, [j for j in range(n) if j != k]) for k in range(n)]
    for method, k, train in plans:
        ins = np.array([_figure([returns.get((c, wins[j].event)) for j in train], metric) if train else float("nan")
                        for c in range(len(combos))])
        chosen = _best(ins)
        w = wins[k]
        row = {"method": method, "event": w.event, "day0": str(w.day0.date()), "train_events": len(train),
               "train": ";".join(wins[j].event for j in train)}
        row.update({p: (combos[chosen][p] if chosen is not None else None) for p in params})
        oos = own[chosen, k] if chosen is not None else float("nan")
        ranks = pd.Series(own[:, k]).rank(ascending=False, method="min")
        row.update({
            f"is_{metric}": ins[chosen] if chosen is not None else float("nan"),
            f"oos_{metric}": oos,
            "is_total_return": _figure([returns.get((chosen, wins[j].event)) for j in train], "total_return")
            if chosen is not None else float("nan"),
            "oos_total_return": own_total[chosen, k] if chosen is not None else float("nan"),
            f"best_oos_{metric}": float(np.nanmax(own[:, k])) if not np.isnan(own[:, k]).all() else float("nan"),
            "oos_rank": int(ranks[chosen]) if chosen is not None and not math.isnan(oos) else None,
            "combinations": len(combos),
        })
        rows.append(row)
    return pd.DataFrame(rows)


def summary(frame: pd.DataFrame, combos: list[dict], wins: list[EventWindow], returns: dict, metric: str) -> dict:
    """In-sample best against out-of-sample: the best combination on every event (in-sample, the figure
    a sweep reports) and the out-of-sample figure of each method, over the events it held out."""
    everything = np.array([_figure([returns.get((c, w.event)) for w in wins], metric) for c in range(len(combos))])
    best = _best(everything)
    out = {"metric": metric, "events": [w.event for w in wins],
           "in_sample_best": None if best is None else {"params": combos[best], metric: float(everything[best])}}
    for method in ("walk_forward", "leave_one_out"):
        part = frame[frame["method"] == method]
        chosen = []
        for r in part.itertuples(index=False):
            rec = r._asdict()
            if rec[f"is_{metric}"] == rec[f"is_{metric}"]:  # a combination was chosen
                c = next(i for i, combo in enumerate(combos) if all(combo[p] == rec[p] for p in combo))
                chosen.append(returns.get((c, rec["event"])))
        out[method] = {"held_out": len(part), "scored": len(chosen), metric: _figure(chosen, metric) if chosen else None,
                       "total_return": _figure(chosen, "total_return") if chosen else None,
                       "mean_oos_rank": float(part["oos_rank"].dropna().mean()) if part["oos_rank"].notna().any()
                       else None}
    return out


@dataclass
class Validation:
    """What ``--validate events`` found: ``frame`` (validation.csv), ``summary`` (in-sample best against
    out-of-sample), ``figures`` (every combination's figure on every event), and the counts of event
    runs that failed or returned outside their window."""

    frame: pd.DataFrame
    summary: dict
    figures: pd.DataFrame
    failed: int
    outside: int


def compute(prep, plan, store, keys: dict) -> Validation:
    """Build :class:`Validation` from the event runs stored under ``keys`` ((combination, event) -> key)."""
    arrays = store.return_arrays(keys.values())
    frame_all = store.frame()
    figs = frame_all.set_index("key") if len(frame_all) else frame_all
    wins = windows(prep, plan.event_window)
    returns = {ck: arrays.get(k) for ck, k in keys.items()}
    returns = {ck: v for ck, v in returns.items() if v is not None}
    rows = []
    outside = 0
    for (c, ev), k in keys.items():
        rec = {"event": ev, **plan.combos[c]}
        if k in arrays and k in figs.index:
            rec[plan.metric] = figs.at[k, plan.metric]
            rec["total_return"] = figs.at[k, "total_return"]
            rec["outside_window_return"] = figs.at[k, "outside_window_return"]
            outside += bool(figs.at[k, "outside_window_sessions"])
        rows.append(rec)
    frame = table(plan.combos, wins, returns, plan.metric, plan.validate_from)
    summ = _plain(summary(frame, plan.combos, wins, returns, plan.metric))
    summ.update(event_window=plan.event_window, validate_from=plan.validate_from,
                failed_runs=len(keys) - len(returns), runs_outside_window=outside)
    return Validation(frame, summ, pd.DataFrame(rows), len(keys) - len(returns), outside)


def _plain(value):
    """NaN as None, numpy numbers as Python ones (summary.json)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return None if math.isnan(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value
