"""``hypebt study SPEC``: an event study, its page, and one summary line per event."""

from __future__ import annotations

import time
from pathlib import Path

from hypebt.cli.common import print_notes, store_of, update_index, workspace_of
from hypebt.core.errors import InputError
from hypebt.core.paths import safe_name
from hypebt.data.bootstrap import ensure_data


def run(args) -> int:
    """Load the spec, get its data, compute the study, write study.html and print the summary."""
    from hypebt.engine.spec import load_spec
    from hypebt.reports import study_page
    from hypebt.research import study

    ws = workspace_of(args)
    spec = load_spec(args.spec, args.set)
    if spec.study is None and spec.events is None:
        raise InputError(f"{args.spec}: a study spec needs an [events] table and optionally [study]")
    store = store_of(args)
    if spec.universe != "all":
        ensure_data(spec, store, ws, args.offline)
    t0 = time.perf_counter()
    inputs = study.prepare(spec, ws, store)
    abnormal, car, summary, skipped = study.compute(inputs.panel, inputs.tradables, inputs.cfg, inputs.names)
    curves = study.curves(abnormal, inputs.cfg.confidence)
    out = Path(args.out) if args.out else ws / "reports" / safe_name(spec.name, "study name")
    study_page.write(inputs, abnormal, car, summary, curves, skipped, out, command=["hypebt", *args.argv])
    print_notes(inputs.notes + skipped, inputs.look_ahead)
    b = inputs.cfg.window[1]
    for row in summary.to_dict("records"):
        print(f"{row['event']}: n={row['n']} mean CAR[0,{b}] {row['mean_car_mkt']:+.2%} (market-adjusted), "
              f"{row['mean_car_mm']:+.2%} (market model), t p={row['t_p']:.3f}, sign p={row['sign_p']:.3f}; "
              f"paper {row['mean_paper']:+.2%} vs tradable {row['mean_tradable']:+.2%} "
              f"(gap {row['mean_gap']:+.2%}, {row['locked_day0']} locked on day 0)")
    print(f"report: {out / 'study.html'}  [{time.perf_counter() - t0:.1f}s]")
    update_index(args, out.parent)
    return 0
