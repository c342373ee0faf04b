"""Bad input at the command line: one table of cases, each refused cleanly and changing nothing.

Every case runs ``hypebt.cli.main.main`` on a copy of one tiny workspace + store (3 stocks, 60 sessions,
a CSI 300, a toy strategy, a universe, an event catalogue, a previous report) with one thing wrong,
and asserts:

- the documented exit code (2 bad input, 3 data, 5 output);
- stderr is exactly one line, starting ``hypebt: error:``, naming the file / row / field / key
  concerned (a case-specific fragment) and, where reasonable, how to fix it;
- no ``Traceback`` on stdout or stderr;
- nothing changed: the paths and SHA-256 of every file and folder under the case's root (the
  parent of the workspace: store, reports, workspace, inputs, the current folder) are the same
  before and after; a case may also name paths outside the root that must not appear.

Cases: 74, by class (ids carry the class prefix)
  import  (imp-*)  23  data import: unknown format, missing / renamed column, GBK, empty file,
                       header only, duplicated / unsorted / future / invalid dates, NaN / zero /
                       negative / non-numeric prices, high < low, negative volume, bad code in a
                       market parquet, file name without a code, corrupt parquet, a bar in two
                       files, an index CSV without an index code, a folder, a missing file
  spec    (spec-*) 24  hypebt run SPEC: invalid TOML, not UTF-8, missing file, unknown key
                       (did you mean), wrong types, start > end, bad date, no data in the period,
                       unknown strategy / parameter (did you mean), wrong parameter type, no
                       universe, unknown / empty / absent / zero-stripped universe, spec codes that
                       are not A-share codes, benchmark not in the store, [rules] key and value,
                       --set without '=' and with a bad key, events.ids of the wrong type
  events  (ev-*)    8  event filter and catalogue CSV: unknown catalogue, filter matching nothing,
                       unknown id, unparsable time, duplicate ids, missing column, scheduled not a
                       boolean, a header cell holding a line break
  sweep   (sweep-*) 7  hypebt sweep: empty grid, grid over --max-combinations, unknown parameter,
                       a dangerous constraint (never run), unknown metric, random without n,
                       walk_forward = 1
  study   (study-*) 3  hypebt study: bad window, unknown [study] key, estimation overlapping window
  path    (path-*)  9  names used as paths: run name "../escape", "/abs", with a NUL byte, strategy
                       "../../etc/passwd", data concepts --name ../evil, --out under a file (run,
                       sweep, study: exit 5), report index --reports a file (exit 5)
Zero / negative prices use ``--adjust raw``: qfq imports drop such rows with a warning, by design
(forward adjustment can push old prices to zero). "--out under a file" stands for a read-only
folder, as the tests run as root, which ignores a folder's mode.

Separate tests: the unmodified inputs succeed (so every case fails for its own reason); an event
time without an offset is Beijing time; events outside the data are reported, not dropped.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from helpers_engine import BENCH, make_workspace, write_store
from helpers_sweep import TOY_STRATEGY, market
from hypebt.cli.main import main

N_SESSIONS = 60
UNI_HEADER = "code,name,snapshot_date,source,kind\n"
UNIVERSE = UNI_HEADER + "600000,浦发银行,2024-01,test,list\n600001,邯郸钢铁,,,\n"
EVENTS = ("id,name,company,time,known_time,scheduled,tags,codes,source\n"
          "alpha,Alpha,ACME,2024-01-10T10:00+08:00,,false,ai;video,,https://example.com/a\n"
          "beta,Beta,ACME,2024-02-05,,true,ai,,https://example.com/b\n")
EV_HEADER = "id,name,company,time,known_time,scheduled,tags,codes,source\n"
AK_HEADER = "日期,开盘,收盘,最高,最低,成交量,成交额,振幅,涨跌幅,涨跌额,换手率"
AK_ROWS = [
    "2024-01-02,10.00,10.20,10.50,9.90,1000,1020000.0,6.0,2.0,0.2,0.5",
    "2024-01-03,10.20,10.40,10.60,10.10,1100,1144000.0,4.9,1.96,0.2,0.55",
    "2024-01-04,10.40,10.30,10.50,10.20,900,927000.0,2.9,-0.96,-0.1,0.45",
    "2024-01-05,10.30,10.60,10.70,10.30,1200,1272000.0,3.9,2.91,0.3,0.6",
]
INDEX_CSV = "date,open,high,low,close,volume\n2024-01-02,3500,3550,3450,3520,8000000000\n"

# A good spec, as TOML text per key: a case changes, adds or drops keys.
TOP = {"name": '"bad"', "strategy": '"toy"', "universe": '"uni"', "benchmark": f'"{BENCH}"',
       "margin_list": '"margin"', "start": "2024-01-02", "end": "2024-03-20", "cash": "1_000_000"}
TABLES = {"events": {"catalogue": '"ev"'}, "params": {"hold_days": "3"},
          "sweep": {"hold_days": "[1, 2]", "gap": "[1, 2]"}}
DANGER = "\"__import__('os').system('touch x')\""  # TOML string; never to be run
STUDY = {"window": "[-2, 3]", "estimation": "[-20, -3]", "min_estimation": "5", "car_windows": "[[0, 1], [0, 3]]"}


# --- the shared workspace ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    """root/{ws, store, in, cwd}: built once, copied per case."""
    root = tmp_path_factory.mktemp("bad_input_base")
    ws = make_workspace(root / "ws", margin=("600000", "600001"), strategies={"toy": TOY_STRATEGY})
    (ws / "data" / "universes" / "uni.csv").write_text(UNIVERSE, "utf-8")
    (ws / "data" / "events" / "ev.csv").write_text(EVENTS, "utf-8")
    (ws / "backtests").mkdir()
    prev = ws / "reports" / "prev"
    prev.mkdir(parents=True)
    (prev / "stats.json").write_text('{"total_return": 0.1}\n', "utf-8")
    (prev / "manifest.json").write_text('{"kind": "run", "name": "prev"}\n', "utf-8")
    (ws / "reports" / "index.html").write_text("<html>previous index</html>\n", "utf-8")
    write_store(root / "store", market(N_SESSIONS))
    (root / "in").mkdir()
    (root / "cwd").mkdir()
    return root


@pytest.fixture
def case_root(base, tmp_path, monkeypatch) -> Path:
    root = tmp_path / "root"
    shutil.copytree(base, root)
    for var in ("HYPEBT_HOME", "HYPEBT_DEBUG", "HYPEBT_SHARED_DATA"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(root / "cwd")
    return root


def snapshot(root: Path) -> dict[str, str]:
    """Every file (sha256) and folder ("dir") under ``root``; Python's bytecode caches left out."""
    out = {}
    for p in sorted(root.rglob("*")):
        if "__pycache__" in p.parts:
            continue
        rel = str(p.relative_to(root))
        if p.is_symlink():  # e.g. reports/<name>/latest: where it points, not what it holds
            out[rel] = f"link -> {p.readlink()}"
        else:
            out[rel] = "dir" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
    return out


# --- building a case -----------------------------------------------------------------------------

def spec_text(top: dict | None = None, tables: dict | None = None, drop=()) -> str:
    """The good spec with keys replaced (``None`` drops a key or a table)."""
    t = {k: v for k, v in {**TOP, **(top or {})}.items() if v is not None and k not in drop}
    lines = [f"{k} = {v}" for k, v in t.items()]
    merged = {name: dict(keys) for name, keys in TABLES.items()}
    for name, keys in (tables or {}).items():
        if keys is None:
            merged.pop(name, None)
        else:
            merged[name] = {**merged.get(name, {}), **keys}
    for name, keys in merged.items():
        if name in drop:
            continue
        lines.append(f"\n[{name}]")
        lines += [f"{k} = {v}" for k, v in keys.items() if v is not None]
    return "\n".join(lines) + "\n"


def put(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, "utf-8")
    return path


def run_argv(root: Path, text: str, *extra: str, cmd: str = "run") -> list[str]:
    spec = put(root / "ws" / "backtests" / "bad.toml", text)
    tail = {"run": ["--offline", "--no-html"], "sweep": ["--offline", "--no-html", "--workers", "1"],
            "study": ["--offline"]}[cmd]
    return [cmd, str(spec), *tail, *extra]


def spec_case(top=None, tables=None, drop=(), *extra, cmd="run") -> Callable[[Path], list[str]]:
    return lambda root: run_argv(root, spec_text(top, tables, drop), *extra, cmd=cmd)


def raw_spec(text: str, *extra: str, cmd="run") -> Callable[[Path], list[str]]:
    return lambda root: run_argv(root, text, *extra, cmd=cmd)


def csv_rows(rows=None, header=AK_HEADER) -> str:
    return header + "\n" + "\n".join(AK_ROWS if rows is None else rows) + "\n"


def replaced(row: int, col: int, value: str) -> list[str]:
    """AK_ROWS with field ``col`` (0-based) of data row ``row`` (1-based) replaced."""
    rows = [r.split(",") for r in AK_ROWS]
    rows[row - 1][col] = value
    return [",".join(r) for r in rows]


def imp(name: str, content: str | bytes, *extra: str) -> Callable[[Path], list[str]]:
    return lambda root: ["data", "import", str(put(root / "in" / name, content)), *extra]


# Seven sessions (the first five of a code are never held to a limit: a listing trades free).
WEEK_ROWS = AK_ROWS + [
    "2024-01-08,10.60,10.50,10.70,10.40,1000,1050000.0,2.8,-0.94,-0.1,0.5",
    "2024-01-09,10.50,10.60,10.70,10.40,1000,1060000.0,2.9,0.95,0.1,0.5",
]


def with_calendar_lacking(day: str) -> Callable[[Path], list[str]]:
    """The store's exchange calendar stored without ``day``; a file with a bar on it."""
    def setup(root: Path) -> list[str]:
        from hypebt.data.store import Store

        store = Store(root / "store")
        store.write_calendar([d for d in pd.bdate_range("2023-12-01", "2024-04-30") if str(d.date()) != day],
                             source="test")
        return ["data", "import", str(put(root / "in" / "600519.csv", csv_rows()))]
    return setup


def market_parquet(root: Path) -> list[str]:
    t = pd.DataFrame({"code": ["600519", "999999"], "日期": ["2024-01-02", "2024-01-02"], "开盘": [10.0, 10.0],
                      "收盘": [10.2, 10.2], "最高": [10.5, 10.5], "最低": [9.9, 9.9], "成交量": [1000, 1000]})
    path = root / "in" / "market.parquet"
    pq.write_table(pa.Table.from_pandas(t, preserve_index=False), path)
    return ["data", "import", str(path)]


def two_files(root: Path) -> list[str]:
    a = put(root / "in" / "600519.csv", csv_rows())
    b = put(root / "in" / "x" / "600519.csv", csv_rows(AK_ROWS[2:]))
    return ["data", "import", str(a), str(b)]


def with_universe(text: str, name: str = "uni") -> Callable[[Path], list[str]]:
    def setup(root: Path) -> list[str]:
        put(root / "ws" / "data" / "universes" / f"{name}.csv", text)
        return run_argv(root, spec_text({"universe": f'"{name}"'}))
    return setup


def with_events(text: str) -> Callable[[Path], list[str]]:
    def setup(root: Path) -> list[str]:
        put(root / "ws" / "data" / "events" / "ev.csv", text)
        return run_argv(root, spec_text())
    return setup


def out_under_file(cmd: str) -> Callable[[Path], list[str]]:
    # Tests run as root, which ignores a read-only mode: a folder under a *file* cannot be created by anyone.
    def setup(root: Path) -> list[str]:
        blocker = put(root / "cwd" / "a_file", "not a folder\n")
        tables = {"study": STUDY} if cmd == "study" else None
        return run_argv(root, spec_text(None, tables), "--out", str(blocker / "sub"), cmd=cmd)
    return setup


def reports_is_a_file(root: Path) -> list[str]:
    return ["report", "index", "--reports", str(put(root / "cwd" / "reports_file", "x\n"))]


def case(case_id: str, setup: Callable[[Path], list[str]], code: int, fragments: list[str], *,
         outside: tuple[Path, ...] = (), workspace: bool = True):
    """One row of the table; ``outside``: paths beyond the case's root that must not appear;
    ``workspace=False``: run without ``--workspace`` (from the case's current folder, root/cwd)."""
    return pytest.param(case_id, setup, code, fragments, outside, workspace, id=case_id)


BOOM_STRATEGY = '''
"""Test strategy with a typo in a field name, two calls deep in on_open."""

from hypebt import Strategy


class Boom(Strategy):
    PARAMS = {"hold_days": 3}

    def signal(self, code):
        return self.bar(code, 1).adjclos

    def on_open(self, day):
        if self.session_no > 1:
            self.signal(self.universe[0])
'''


def boom(root: Path) -> list[str]:
    put(root / "ws" / "strategies" / "boom.py", BOOM_STRATEGY)
    return run_argv(root, spec_text({"strategy": '"boom"'}))


EXIT_STRATEGY = '''
"""Test strategy that ends the process from a hook ({how})."""

import sys

from hypebt import Strategy
{top}

class Quitter(Strategy):
    PARAMS = {{"hold_days": 3, "gap": 1}}

    def on_open(self, day):
        if self.session_no == 2:
            {how}
'''


def quitter(how: str, cmd: str = "run", at_import: bool = False) -> Callable[[Path], list[str]]:
    """A strategy calling ``how`` (sys.exit(0), exit(), raise SystemExit) in on_open, or when imported."""
    def setup(root: Path) -> list[str]:
        text = EXIT_STRATEGY.format(how=how, top=f"\n{how}\n" if at_import else "")
        put(root / "ws" / "strategies" / "quitter.py", text)
        if cmd == "list":
            return ["list"]
        return run_argv(root, spec_text({"strategy": '"quitter"'}), cmd=cmd)
    return setup


def with_index(keep: Callable[[pd.DatetimeIndex], pd.DatetimeIndex], calendar: bool = False):
    """The store's CSI 300 cut to ``keep(dates)`` (and, ``calendar``, the exchange calendar stored
    whole first, so the calendar does not come from the index)."""
    def setup(root: Path) -> list[str]:
        from hypebt.data.store import Store

        store = Store(root / "store")
        idx = store.load("index")
        if calendar:
            store.write_calendar(idx["date"], source="test")
        dates = keep(pd.DatetimeIndex(idx["date"]))
        store.write("index", idx[idx["date"].isin(dates)].reset_index(drop=True), source="test", adjust="none")
        return run_argv(root, spec_text())
    return setup


COLLIDING = TOY_STRATEGY.replace('"trace": ""', '"trace": "", "top": 1, "n": 2')


def colliding(sweep: dict, nested: dict | None = None, cmd: str = "sweep") -> Callable[[Path], list[str]]:
    """A strategy with parameters named like sweep settings (``top``, ``n``), swept by ``sweep``
    and ``[sweep.params]`` ``nested``."""
    def setup(root: Path) -> list[str]:
        put(root / "ws" / "strategies" / "coll.py", COLLIDING)
        tables = {"sweep": {"gap": None, **sweep}, **({"sweep.params": nested} if nested else {})}
        return run_argv(root, spec_text({"strategy": '"coll"'}, tables), cmd=cmd)
    return setup


def spec_outside_workspace(root: Path) -> list[str]:
    spec = put(root / "in" / "bad.toml", spec_text())
    return ["run", str(spec), "--offline", "--no-html"]


def loose_date(root: Path) -> list[str]:
    return run_argv(root, spec_text({"start": "2024-1-2"}))


def not_utf8(root: Path) -> list[str]:
    spec = put(root / "ws" / "backtests" / "bad.toml", spec_text().encode("utf-8") + "# 注释\n".encode("gbk"))
    return ["run", str(spec), "--offline"]


# case(id, setup(root) -> argv after --home/--workspace, exit code, fragments stderr must contain)
CASES = [
    # --- data import ---------------------------------------------------------------------------
    case("imp-unknown-format", imp("600519.xlsx", b"PK\x03\x04"),
         2, ["600519.xlsx", "unknown format .xlsx", ".csv and .parquet"]),
    case("imp-missing-column", imp("600519.csv", csv_rows([",".join(r.split(",")[:5]) for r in AK_ROWS],
                                                         "日期,开盘,收盘,最高,最低")),
         2, ["600519.csv", "missing column(s) 成交量", "rename"]),
    case("imp-renamed-column", imp("600519.csv", csv_rows(None, AK_HEADER.replace("成交量", "成交数量"))),
         2, ["600519.csv", "成交量 (did you mean '成交数量'?)"]),
    case("imp-gbk", imp("600519.csv", csv_rows().encode("gbk")), 2, ["600519.csv", "not UTF-8", "save it as UTF-8"]),
    case("imp-empty-file", imp("600519.csv", b""), 2, ["600519.csv", "empty", "header row"]),
    case("imp-header-only", imp("600519.csv", AK_HEADER + "\n"), 2, ["600519.csv", "header only"]),
    case("imp-duplicated-date", imp("600519.csv", csv_rows(replaced(2, 0, "2024-01-02"))),
         2, ["600519.csv: row 2: field 'date'", "duplicate", "--lenient"]),
    case("imp-unsorted-dates", imp("600519.csv", csv_rows([AK_ROWS[1], AK_ROWS[0], *AK_ROWS[2:]])),
         2, ["600519.csv: row 2: field 'date'", "sorted ascending"]),
    case("imp-future-date", imp("600519.csv", csv_rows(replaced(4, 0, "2099-01-05"))),
         2, ["600519.csv: row 4: field 'date'", "in the future"]),
    case("imp-nan-price", imp("600519.csv", csv_rows(replaced(3, 1, ""))),
         2, ["600519.csv: row 3: field 'open'", "missing (NaN)", "开盘 is empty"]),
    case("imp-zero-price", imp("600519.csv", csv_rows(replaced(3, 2, "0")), "--adjust", "raw"),
         2, ["600519.csv: row 3: field", "zero or negative"]),
    case("imp-negative-price", imp("600519.csv", csv_rows(replaced(1, 4, "-9.90")), "--adjust", "raw"),
         2, ["600519.csv: row 1: field 'low'", "zero or negative"]),
    case("imp-high-below-low", imp("600519.csv", csv_rows(replaced(2, 3, "10.00"))),
         2, ["600519.csv: row 2: field 'high'", "below low", "fix the row"]),
    case("imp-negative-volume", imp("600519.csv", csv_rows(replaced(1, 5, "-1"))),
         2, ["600519.csv: row 1: field 'volume'", "negative", "成交量 = -1"]),
    case("imp-parquet-bad-code", market_parquet,
         2, ["market.parquet: row 2: field 'code'", "'999999'", "A-share code"]),
    case("imp-file-name-no-code", imp("prices.csv", csv_rows()),
         2, ["prices.csv", "does not give a stock code", "600519.csv"]),
    case("imp-price-not-a-number", imp("600519.csv", csv_rows(replaced(2, 2, "abc"))),
         2, ["600519.csv: row 2: field '收盘'", "'abc' is not a number"]),
    case("imp-date-not-a-date", imp("600519.csv", csv_rows(replaced(3, 0, "2024-13-45"))),
         2, ["600519.csv: row 3: field '日期'", "'2024-13-45' is not a date", "YYYY-MM-DD"]),
    case("imp-corrupt-parquet", imp("market.parquet", b"PAR1 this is not a parquet file PAR1"),
         2, ["market.parquet", "not a readable parquet file"]),
    case("imp-bar-in-two-files", two_files, 2, ["600519 2024-01-04", "two of the files", "one file"]),
    case("imp-index-name-no-code", imp("csi300.csv", INDEX_CSV),
         2, ["csi300.csv", "the file name gives no code", "sh000300.csv"]),
    case("imp-empty-folder", lambda root: ["data", "import", str(root / "in")], 2,
         ["in: no .csv or .parquet files in this folder"]),
    case("imp-missing-file", lambda root: ["data", "import", str(root / "in" / "600519.csv")],
         2, ["600519.csv: no such file"]),
    # --- issue 26: bars that cannot exist, and a short file over a stored history -----------------
    case("imp-weekend-date", imp("600519.csv", csv_rows(replaced(4, 0, "2024-01-06"))),
         2, ["600519.csv: 600519 2024-01-06: field 'date'", "not a trading session (a Saturday or Sunday)",
             "--lenient"]),
    case("imp-holiday-date", imp("600519.csv", csv_rows(replaced(1, 0, "2024-01-01"))),
         2, ["600519.csv: 600519 2024-01-01: field 'date'", "not a trading session (per exchange_calendars' XSHG)"]),
    case("imp-holiday-store-calendar", with_calendar_lacking("2024-01-03"),
         2, ["600519 2024-01-03: field 'date'", "not a trading session (per the store's exchange calendar)"]),
    case("imp-index-holiday", imp("sh000300.csv", INDEX_CSV.replace("2024-01-02", "2024-01-01")),
         2, ["sh000300.csv: sh000300 2024-01-01: field 'date'", "not a trading session"]),
    case("imp-price-beyond-limit", imp("600519.csv", csv_rows(WEEK_ROWS[:6] + [
        "2024-01-10,10.60,102.00,102.00,10.50,1200,1272000.0,3.9,2.91,0.3,0.6"])),
         2, ["600519.csv: 600519 2024-01-10: field 'high': 102 is +862% from the previous close 10.6",
             "beyond any daily limit (sh_main board: 10% a session)", "--lenient"]),
    case("imp-price-beyond-limit-down", imp("600519.csv", csv_rows(WEEK_ROWS[:6] + [
        "2024-01-10,10.60,1.06,10.70,1.00,1200,1272000.0,3.9,2.91,0.3,0.6"])),
         2, ["600519 2024-01-10: field 'low': 1 is -91% from the previous close 10.6"]),
    case("imp-short-file-over-stored-history", imp("600000.csv", csv_rows(), "--adjust", "raw"),
         2, ["600000: the store holds 60 bar(s) (2024-01-02..2024-03-25), the file(s) 4 (2024-01-02..2024-01-05)",
             "would drop 56 stored bar(s) of 1 code(s)", "give --merge", "or --replace"]),
    # --- specs (hypebt run SPEC --offline) -----------------------------------------------------
    case("spec-invalid-toml", raw_spec('name = "bad"\nstrategy = toy\n'), 2, ["bad.toml", "invalid TOML", "line 2"]),
    case("spec-not-utf8", not_utf8,
         2, ["bad.toml", "not UTF-8", "save the spec as UTF-8"]),
    case("spec-missing-file", lambda root: ["run", str(root / "ws" / "backtests" / "nope.toml"), "--offline"],
         2, ["nope.toml: spec file not found"]),
    case("spec-unknown-key", spec_case({"strategi": '"toy"'}, drop=("strategy",)),
         2, ["bad.toml", "unknown spec key 'strategi'", "did you mean 'strategy'"]),
    case("spec-cash-wrong-type", spec_case({"cash": '"lots"'}), 2, ["bad.toml", "cash must be a number", "'lots'"]),
    case("spec-cash-negative", spec_case({"cash": "-5"}), 2, ["bad.toml", "cash must be positive"]),
    case("spec-start-after-end", spec_case({"start": "2024-03-01", "end": "2024-02-01"}),
         2, ["bad.toml", "start 2024-03-01 is after end 2024-02-01", "swap"]),
    case("spec-start-not-a-date", spec_case({"start": '"2024-13-01"'}),
         2, ["bad.toml", "start = '2024-13-01' is not a date"]),
    case("spec-period-without-data", spec_case({"start": "2030-01-01", "end": "2030-02-01"}),
         3, ["bad.toml", "no data between 2030-01-01 and 2030-02-01", "the store has 2024-01-02"]),
    case("spec-unknown-strategy", spec_case({"strategy": '"tyo"'}),
         2, ["unknown strategy 'tyo'", "did you mean 'toy'"]),
    case("spec-unknown-parameter", spec_case(None, {"params": {"hold_dayz": "3"}}),
         2, ["bad.toml", "unknown parameter of strategy toy 'hold_dayz'", "did you mean 'hold_days'"]),
    case("spec-parameter-wrong-type", spec_case(None, {"params": {"hold_days": '"three"'}}),
         2, ["bad.toml", "parameter 'hold_days' must be int", "'three'"]),
    case("spec-no-universe", spec_case(drop=("universe",)), 2, ["bad.toml", "give a universe", "codes ="]),
    case("spec-unknown-universe", spec_case({"universe": '"unii"'}),
         2, ["unknown universe 'unii'", "did you mean 'uni'"]),
    case("spec-empty-universe", with_universe(UNI_HEADER, "empty"),
         2, ["empty.csv", "header only, no rows"]),
    case("spec-universe-codes-absent", with_universe(UNI_HEADER + "600519,A,2024,t,list\n000001,B,,,\n", "absent"),
         3, ["bad.toml", "none of the universe's 2 codes is in the store", "hypebt data fetch 600519 000001"]),
    case("spec-universe-lost-zeros", with_universe(UNI_HEADER + "2230,X,2024,t,list\n", "zeros"),
         2, ["zeros.csv: row 1: field 'code'", "'2230'", "'002230'"]),
    case("spec-codes-not-a-share", spec_case({"codes": "[2230]"}, drop=("universe",)),
         2, ["bad.toml", "2230", "002230"]
         ),
    case("spec-benchmark-missing", spec_case({"benchmark": '"sh000905"'}),
         3, ["benchmark sh000905 is not in the store", "hypebt data fetch --index sh000905"]),
    case("spec-rules-unknown-key", spec_case(None, {"rules": {"stamp_dutty": "0.001"}}),
         2, ["bad.toml [rules]", "unknown rules key 'stamp_dutty'", "did you mean 'stamp_duty'"]),
    case("spec-rules-negative", spec_case(None, {"rules": {"borrow_rate": "-0.1"}}),
         2, ["bad.toml [rules]", "'borrow_rate' must not be negative", "-0.1"]),
    case("spec-set-without-equals", spec_case(None, None, (), "--set", "hold_days"),
         2, ["--set 'hold_days'", "key=value"]),
    case("spec-set-bad-key", spec_case(None, None, (), "--set", "a.b.c=1"), 2, ["--set a.b.c", "params.KEY"]),
    case("spec-events-ids-not-a-list", spec_case(None, {"events": {"ids": '"alpha"'}}),
         2, ["bad.toml", "events.ids must be a list"]),
    # --- events: the filter and the catalogue CSV ---------------------------------------------
    case("ev-unknown-catalogue", spec_case(None, {"events": {"catalogue": '"evv"'}}),
         2, ["data/events", "unknown event catalogue 'evv'", "did you mean 'ev'"]),
    case("ev-filter-matches-nothing", spec_case(None, {"events": {"tag": '"nomatch"'}}),
         2, ["bad.toml", "the event filter ev[tag=nomatch] matches no event"]),
    case("ev-unknown-id", spec_case(None, {"events": {"ids": '["alpah"]'}}),
         2, ["unknown event id 'alpah'", "did you mean 'alpha'"]),
    case("ev-unparsable-time", with_events(EV_HEADER + "alpha,Alpha,ACME,next tuesday,,false,,,\n"),
         2, ["ev.csv: row 1: field 'time'", "'next tuesday' is not a valid time", "2024-02-16T02:00+08:00"]),
    case("ev-duplicate-id", with_events(EVENTS + "alpha,Alpha 2,ACME,2024-02-20,,false,,,\n"),
         2, ["ev.csv: row 3: field 'id'", "'alpha' is already used by row 1", "unique"]),
    case("ev-missing-column", with_events("id,name,company\nalpha,Alpha,ACME\n"),
         2, ["ev.csv: header: missing column 'time'", "expected: id,name"]),
    case("ev-scheduled-not-boolean", with_events(EV_HEADER + "alpha,Alpha,ACME,2024-01-10,,maybe,,,\n"),
         2, ["ev.csv: row 1: field 'scheduled'", "'maybe' is not a boolean", "true or false"]),
    case("ev-header-line-break", with_events('id,name,"ti\nme"\nalpha,Alpha,2024-01-10\n'),
         2, ["ev.csv", "missing column 'time'"]
         ),
    # --- sweeps --------------------------------------------------------------------------------
    case("sweep-empty-grid", spec_case(None, {"sweep": {"hold_days": "[]"}}, cmd="sweep"),
         2, ["bad.toml [sweep]", "sweep.hold_days is an empty list", "at least one value"]),
    case("sweep-over-cap", spec_case(None, {"sweep": {"hold_days": "[1, 2, 3, 4]", "gap": "[1, 2, 3]"}},
                                 (), "--max-combinations", "10", cmd="sweep"),
         2, ["bad.toml [sweep]", "12 combinations, over the cap of 10", "--max-combinations"]),
    case("sweep-unknown-parameter", spec_case(None, {"sweep": {"hold_dayz": "[1, 2]"}}, cmd="sweep"),
         2, ["bad.toml [sweep]", "'hold_dayz'", "did you mean 'hold_days'"]),
    case("sweep-dangerous-constraint", spec_case(None, {"sweep": {"constraints": DANGER}}, cmd="sweep"),
         2, ["bad.toml [sweep]", "'__import__'"]),
    case("sweep-unknown-metric", spec_case(None, {"sweep": {"metric": '"sharp"'}}, cmd="sweep"),
         2, ["unknown ranking metric 'sharp'", "did you mean 'sharpe'"]),
    case("sweep-random-without-n", spec_case(None, {"sweep": {"method": '"random"'}}, cmd="sweep"),
         2, ["bad.toml [sweep]", "needs n = a positive whole number"]),
    case("sweep-walk-forward-one", spec_case(None, {"sweep": {"walk_forward": "1"}}, cmd="sweep"),
         2, ["bad.toml [sweep]", "walk_forward must be 0", ">= 2"]),
    # --- studies -------------------------------------------------------------------------------
    case("study-bad-window", spec_case(None, {"study": {**STUDY, "window": "[5, -5]"}}, cmd="study"),
         2, ["bad.toml [study]", "window must be two whole numbers", "[5, -5]"]),
    case("study-unknown-key", spec_case(None, {"study": {**STUDY, "windwo": "[-2, 3]"}}, cmd="study"),
         2, ["bad.toml [study]", "unknown study key 'windwo'", "did you mean 'window'"]),
    case("study-estimation-overlaps", spec_case(None, {"study": {**STUDY, "estimation": "[-20, 0]"}}, cmd="study"),
         2, ["bad.toml [study]", "estimation window [-20, 0] must end before"]),
    # --- names used as paths -------------------------------------------------------------------
    case("path-run-name-dotdot", spec_case({"name": '"../escape"'}), 2, ["run name '../escape' is not a safe name"]),
    case("path-run-name-absolute", spec_case({"name": '"/abs"'}), 2, ["run name '/abs' is not a safe name"],
         outside=(Path("/abs"),)),
    case("path-run-name-nul", spec_case({"name": '"a\\u0000b"'}), 2, ["run name 'a\\x00b' is not a safe name"]),
    case("path-strategy-traversal", spec_case({"strategy": '"../../etc/passwd"'}),
         2, ["strategy name '../../etc/passwd' is not a safe name"]),
    case("path-concepts-name", lambda root: ["data", "concepts", "BK0001", "--name", "../evil"],
         2, ["universe name '../evil' is not a safe name"]),
    case("path-catalogue-traversal", spec_case(None, {"events": {"catalogue": '"../../../etc/passwd"'}}),
         2, ["event catalogue '../../../etc/passwd' is neither a name nor a .csv path"]),
    case("path-catalogue-outside-csv", spec_case(None, {"events": {"catalogue": '"../../../etc/x.csv"'}}),
         2, ["event catalogue '../../../etc/x.csv' is outside the workspace", "copy it into"]),
    case("path-catalogue-dotdot-name", spec_case(None, {"events": {"catalogue": '".."'}}),
         2, ["event catalogue name '..' is not a safe name"]),
    case("path-universe-traversal", spec_case({"universe": '"../../../etc/passwd"'}),
         2, ["universe '../../../etc/passwd' is neither a name nor a .csv path"]),
    case("path-universe-absolute-csv", spec_case({"universe": '"/etc/hypebt-probe.csv"'}),
         2, ["universe '/etc/hypebt-probe.csv' is outside the workspace"]),
    case("path-margin-list-outside", spec_case({"margin_list": '"../../in/m.csv"'}),
         2, ["universe '../../in/m.csv' is outside the workspace"]),
    case("path-fetch-universe-outside", lambda root: ["data", "fetch", "--universe", "/etc/passwd.csv"],
         2, ["universe '/etc/passwd.csv' is outside the workspace"]),
    case("path-run-out-under-file", out_under_file("run"), 5, ["a_file", "cannot write", "--out"]),
    case("path-sweep-out-under-file", out_under_file("sweep"), 5, ["a_file", "cannot write", "--out"]
         ),
    case("path-study-out-under-file", out_under_file("study"), 5, ["a_file", "cannot write", "--out"]),
    case("path-report-index-file", reports_is_a_file, 5, ["reports_file", "cannot write"]),
    # --- issue 15: what used to exit 0 with a plausible wrong answer ---------------------------
    case("fail-margin-list-missing", spec_case({"margin_list": '"margin_eligible"'}),
         2, ["bad.toml: margin_list", "unknown margin-lending list 'margin_eligible'", "known: margin, uni"]),
    case("fail-study-set-window", spec_case(None, {"study": STUDY}, (), "--set", "window=[-3,10]", cmd="study"),
         2, ["--set window", "a study reads no strategy parameter 'window'", "did you mean study.window?"]),
    case("fail-study-set-typo", spec_case(None, {"study": STUDY}, (), "--set", "windw=1", cmd="study"),
         2, ["--set windw", "did you mean study.window?"]),
    case("fail-list-not-a-workspace", lambda root: ["list"],
         2, ["cwd is not a hypebt workspace (no strategies/ or data/ folder)", "--workspace FOLDER"], workspace=False),
    case("fail-spec-outside-workspace", spec_outside_workspace,
         2, ["bad.toml: no workspace above the spec", "cwd is not a hypebt workspace", "--workspace FOLDER"],
         workspace=False),
    case("fail-strategy-runtime-error", boom,
         2, ["strategy boom failed", "boom.py:11 in on_open (line 11 is in signal)",
             "AttributeError: 'BarView' object has no attribute 'adjclos'", "did you mean 'adjclose'",
             "(rerun with --debug for the traceback)"]),
    case("fail-start-loose-date", loose_date,
         2, ["bad.toml: line 6: start = 2024-1-2 is not a date", "write 2024-01-02"]),
    case("fail-run-set-sweep-key", spec_case(None, None, (), "--set", "sweep.hold_days=[1,2]"),
         2, ["--set sweep.hold_days", "hypebt run does not read [sweep]", "use hypebt sweep"]),
    # --- issue 26: numbers that are not numbers (TOML nan / inf pass every comparison) -----------
    case("nan-cash", spec_case({"cash": "nan"}), 2, ["bad.toml: cash = nan is not a number", "finite number"]),
    case("nan-cash-inf", spec_case({"cash": "inf"}), 2, ["bad.toml: cash = inf is not a number"]),
    case("nan-param", spec_case(None, {"params": {"fraction": "nan"}}),
         2, ["bad.toml: params.fraction = nan is not a number"]),
    case("nan-param-set", spec_case(None, None, (), "--set", "fraction=-inf"),
         2, ["bad.toml: params.fraction = -inf is not a number"]),
    case("nan-rules", spec_case(None, {"rules": {"commission_min": "inf"}}),
         2, ["bad.toml: rules.commission_min = inf is not a number"]),
    case("nan-rules-dated", spec_case(None, {"rules": {"stamp_duty": "[[2023-08-28, nan]]"}}),
         2, ["bad.toml: rules.stamp_duty[0][1] = nan is not a number"]),
    case("nan-sweep-value", spec_case(None, {"sweep": {"fraction": "[0.5, nan]"}}, cmd="sweep"),
         2, ["bad.toml: sweep.fraction[1] = nan is not a number"]),
    case("nan-sweep-range", spec_case(None, {"sweep": {"fraction": "{start = 0.1, stop = inf, step = 0.1}"}},
                                       cmd="sweep"),
         2, ["bad.toml: sweep.fraction.stop = inf is not a number"]),
    case("nan-study", spec_case(None, {"study": {**STUDY, "confidence": "nan"}}, cmd="study"),
         2, ["bad.toml: study.confidence = nan is not a number"]),
    # --- issue 26: sweeps that would report 0.0 for no data, or lose a parameter -----------------
    case("sweep-split-after-period", spec_case(None, {"sweep": {"split": "2030-01-01"}}, cmd="sweep"),
         2, ["bad.toml [sweep]: split = 2030-01-01 leaves 57 session(s) in sample and 0 out of sample",
             "at least 2 sessions on each side"]),
    case("sweep-split-before-period", spec_case(None, {"sweep": {"split": "2020-01-01"}}, cmd="sweep"),
         2, ["split = 2020-01-01 leaves 0 session(s) in sample and 57 out of sample"]),
    case("sweep-split-not-a-date", spec_case(None, {"sweep": {"split": '"soon"'}}, cmd="sweep"),
         2, ["bad.toml [sweep]: split = 'soon' is not a date", "split = 2024-03-01"]),
    case("sweep-walk-forward-too-many", spec_case(None, {"sweep": {"walk_forward": "40"}}, cmd="sweep"),
         2, ["bad.toml [sweep]: walk_forward = 40 windows of the run's 57 session(s)", "at most 28 windows"]),
    case("sweep-param-named-like-a-setting", colliding({"top": "[1, 2]"}),
         2, ["bad.toml [sweep]: top is both a sweep setting and a parameter of strategy coll",
             "[sweep.params] table (top = [...])"]),
    case("sweep-param-in-both-places", colliding({"hold_days": "[1]"}, {"hold_days": "[2]"}),
         2, ["hold_days is given both in [sweep] and in [sweep.params]"]),
    # --- issue 26: the period is the one the run says ---------------------------------------------
    case("period-benchmark-ends-early", with_index(lambda d: d[:30]),
         3, ["bad.toml: the trading calendar", "lacks 27 day(s) on which the stocks traded", "ends 2024-02-12",
             "hypebt data fetch --calendar"]),
    case("period-benchmark-gap", with_index(lambda d: d.delete([20, 21, 22])),
         3, ["bad.toml: the trading calendar", "lacks 3 day(s)", "2024-01-30, 2024-01-31, 2024-02-01"]),
    case("period-benchmark-gap-with-calendar", with_index(lambda d: d.delete([20, 21]), calendar=True),
         3, ["bad.toml: benchmark sh000300 has no bar on 2 of the run's", "2024-01-30, 2024-01-31",
             "hypebt data fetch --index sh000300"]),
    case("period-benchmark-short-with-calendar", with_index(lambda d: d[:40], calendar=True),
         3, ["benchmark sh000300 has no bar on 17 of the run's 57 sessions", "stored 2024-01-02..2024-02-26"]),
    # --- issue 26: sys.exit() in strategy code is a failure, never a quiet exit 0 ---------------
    case("exit-run-sys-exit-0", quitter("sys.exit(0)"),
         2, ["strategy quitter failed", "quitter.py:14 in on_open", "SystemExit: 0", "must not call sys.exit()"]),
    case("exit-run-raise-systemexit", quitter("raise SystemExit"), 2, ["quitter.py:14 in on_open", "SystemExit"]),
    case("exit-run-generator-exit", quitter("raise GeneratorExit"), 2, ["quitter.py:14 in on_open", "GeneratorExit"]),
    case("exit-run-own-base-exception", quitter("raise type('Escape', (BaseException,), {})()"),
         2, ["quitter.py:14 in on_open", "Escape", "must not call sys.exit()"]),
    case("exit-run-at-import", quitter("sys.exit(0)", at_import=True),
         2, ["quitter.py: cannot load strategy: SystemExit: 0", "must not call sys.exit()"]),
    case("exit-list-at-import", quitter("exit()", cmd="list", at_import=True),
         2, ["1 strategy file(s) cannot load", "quitter.py: cannot load strategy: SystemExit"]),
    case("exit-sweep-at-import", quitter("sys.exit(0)", cmd="sweep", at_import=True),
         2, ["quitter.py: cannot load strategy: SystemExit: 0"]),
    case("fail-benchmark-without-prefix", spec_case({"benchmark": '"000300"'}),
         2, ["bad.toml: benchmark '000300' is not an index code", "did you mean 'sh000300'?"]),
]


@pytest.mark.parametrize("case_id, setup, code, fragments, outside, workspace", CASES)
def test_bad_input_is_refused_cleanly(case_root, capsys, case_id, setup, code, fragments, outside, workspace):
    root = case_root
    argv = ["--home", str(root / "store"), *(["--workspace", str(root / "ws")] if workspace else []), *setup(root)]
    before = snapshot(root)
    outside_before = {str(p): p.exists() for p in outside}
    rc = main(argv)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err, err
    assert (rc, err.count("\n")) == (code, 1), f"exit {rc}, stderr:\n{err}"
    assert err.startswith("hypebt: error: ") and err.endswith("\n"), err
    for frag in fragments:
        assert frag in err, f"{frag!r} not in {err!r}"
    after = snapshot(root)
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    assert not changed, f"{case_id} changed {changed}"
    assert {str(p): p.exists() for p in outside} == outside_before


def test_case_count():
    assert len(CASES) >= 45


# --- the same inputs, unbroken, succeed ---------------------------------------------------------

@pytest.mark.parametrize("cmd", ["run", "sweep", "study", "import"])
def test_the_unbroken_inputs_succeed(case_root, capsys, cmd):
    """Each class above breaks one thing of inputs that work: the refusals are for that one thing."""
    root = case_root
    if cmd == "import":
        argv = ["data", "import", str(put(root / "in" / "600519.csv", csv_rows()))]
    else:
        argv = run_argv(root, spec_text(None, {"study": STUDY} if cmd == "study" else None), cmd=cmd)
    rc = main(["--home", str(root / "store"), "--workspace", str(root / "ws"), *argv])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert "error" not in err


# --- issue 15: where hypebt changes what was asked, or a command fails after writing ------------
# These commands write their outputs (a report, a sweep's results table), so "nothing changed" is
# replaced by: everything outside the command's own output folder is unchanged. Stderr holds exactly
# one line besides a sweep's plan line ("sweep NAME: N combination(s) ..."), naming what and where.

def corrupt_stats(root: Path) -> list[str]:
    put(root / "ws" / "reports" / "prev" / "stats.json", '{"total_return": 0.1,')
    return ["report", "index"]


def all_failed(root: Path) -> list[str]:
    return run_argv(root, spec_text(None, {"sweep": {"hold_days": "[1]", "gap": "[1, 2]"}}),
                    "--set", "explode=1", cmd="sweep")


def some_failed(root: Path) -> list[str]:
    return run_argv(root, spec_text(), "--set", "explode=1", cmd="sweep")


STUDY_ALPHA = {"events": {"ids": '["alpha"]'}, "study": STUDY}


IDLE_STRATEGY = '''
"""Test strategy that never trades."""

from hypebt import Strategy


class Idle(Strategy):
    PARAMS = {"hold_days": 3}
'''


def idle_sweep(root: Path) -> list[str]:
    put(root / "ws" / "strategies" / "idle.py", IDLE_STRATEGY)
    return run_argv(root, spec_text({"strategy": '"idle"'}, {"sweep": {"hold_days": "[1, 2]", "gap": None}}),
                    cmd="sweep")


def quitting_sweep(root: Path) -> list[str]:
    put(root / "ws" / "strategies" / "quitter.py", EXIT_STRATEGY.format(how="sys.exit(0)", top=""))
    return run_argv(root, spec_text({"strategy": '"quitter"'}, {"sweep": {"hold_days": "[1, 2]", "gap": None}}),
                    cmd="sweep")

LOUD_CASES = [
    pytest.param(spec_case({"end": "2025-06-30"}), 0, "note: ",
                 ["bad.toml: end 2025-06-30 is after the store's last bar", "the run ends there"],
                 ("ws/reports/bad",), id="warn-end-beyond-data"),
    pytest.param(spec_case({"end": "2025-06-30"}, {"study": STUDY}, cmd="study"), 0, "note: ",
                 ["bad.toml: end 2025-06-30 is after the store's last bar", "the study ends there"],
                 ("ws/reports/bad",), id="warn-study-end-beyond-data"),
    pytest.param(spec_case(None, STUDY_ALPHA, cmd="study"), 0, "warning: ",
                 ["bad.toml: no market-model figures", "estimation window [-20, -3]", "min_estimation"],
                 ("ws/reports/bad",), id="warn-estimation-too-short"),
    pytest.param(some_failed, 0, "warning: ",
                 ["bad.toml: 2 of 4 combination(s) failed", "toy refuses hold_days=1", "results.csv"],
                 ("ws/reports/bad_sweep",), id="warn-sweep-some-failed"),
    pytest.param(all_failed, 2, "hypebt: error: ",
                 ["bad.toml: all 2 combination(s) failed", "toy.py:", "toy refuses hold_days=1", "results.csv"],
                 ("ws/reports/bad_sweep",), id="fail-sweep-all-failed"),
    pytest.param(quitting_sweep, 2, "hypebt: error: ",
                 ["bad.toml: all 2 combination(s) failed", "SystemExit: 0", "results.csv"],
                 ("ws/reports/bad_sweep",), id="exit-sweep-sys-exit-in-hook"),
    pytest.param(idle_sweep, 0, "warning: ",
                 ["bad.toml: no combination traded (all 2 flat): no best is named"],
                 ("ws/reports/bad_sweep",), id="sweep-nothing-traded-names-no-best"),
    pytest.param(corrupt_stats, 0, "warning: ",
                 ["reports/prev: unreadable report", "left out of the index"], (), id="warn-report-index-broken"),
]


# Notes every run prints about its inputs (price basis, where ST status and margin eligibility came
# from, issue 11); they are not the one line a case is about.
STANDING_NOTES = ("note: prices are ", "note: ST status per stock-session", "note: margin-lending eligibility")


def _beyond_standing_notes(err: str) -> list[str]:
    return [line for line in err.splitlines() if not line.startswith(STANDING_NOTES)]


@pytest.mark.parametrize("setup, code, prefix, fragments, own", LOUD_CASES)
def test_what_changes_the_answer_is_said(case_root, capsys, setup, code, prefix, fragments, own):
    root = case_root
    (root / "ws" / "reports" / "index.html").unlink()  # else a note says it is not hypebt's
    argv = ["--home", str(root / "store"), "--workspace", str(root / "ws"), *setup(root)]
    before = snapshot(root)
    rc = main(argv)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err, err
    lines = [line for line in err.splitlines()
             if not line.startswith(("sweep bad: ", *STANDING_NOTES))]
    assert (rc, len(lines)) == (code, 1), f"exit {rc}, stderr:\n{err}"
    assert lines[0].startswith(prefix), err
    for frag in fragments:
        assert frag in lines[0], f"{frag!r} not in {lines[0]!r}"
    after = snapshot(root)
    mine = ("ws/reports/index.html", *own)
    changed = sorted(k for k in before.keys() | after.keys()
                     if before.get(k) != after.get(k) and not k.startswith(mine))
    assert not changed, changed


def test_a_study_prints_no_test_without_enough_estimation_sessions(case_root, capsys):
    """Issue 26: an event whose estimation window holds fewer sessions than min_estimation gets no
    test line (no "t=nan", no p-value of a test that could not run); the others are tested alone."""
    root = case_root
    argv = run_argv(root, spec_text(None, {"study": STUDY}), cmd="study")
    assert main(["--home", str(root / "store"), "--workspace", str(root / "ws"), *argv]) == 0
    out = capsys.readouterr().out
    alpha = next(line for line in out.splitlines() if line.startswith("alpha:"))
    beta = next(line for line in out.splitlines() if line.startswith("beta:"))
    assert "no tests: the estimation window [-20, -3] holds at most" in alpha and "min_estimation = 5" in alpha
    assert " t=" not in alpha and " p=" not in alpha and "sign p" not in alpha
    assert " t=" in beta and "no tests" not in beta
    summary = pd.read_csv(root / "ws" / "reports" / "bad" / "summary.csv")
    row = summary.set_index("event").loc["alpha"]
    assert row[["t_p", "sign_p", "headline_p"]].isna().all() and "min_estimation" in row["no_tests"]


def test_the_run_starts_at_the_first_stock_bar_not_before(case_root, capsys):
    """Issue 26: a start before the stocks' first bar (the calendar reaching further back) starts the
    run at that bar, as the note says; no session without a stock bar is compared with the benchmark."""
    from hypebt.data.store import Store

    root = case_root
    store = Store(root / "store")
    idx = store.load("index")
    earlier = pd.bdate_range("2023-11-01", "2023-12-29")
    head = pd.DataFrame({"code": "sh000300", "date": earlier.astype("datetime64[ns]"), "open": 3400.0,
                         "high": 3410.0, "low": 3390.0, "close": 3400.0 + np.arange(len(earlier)), "volume": 1e9})
    store.write("index", pd.concat([head, idx], ignore_index=True), source="test", adjust="none")
    argv = run_argv(root, spec_text({"start": "2023-11-01"}))
    assert main(["--home", str(root / "store"), "--workspace", str(root / "ws"), *argv]) == 0
    err = capsys.readouterr().err
    assert "start 2023-11-01 is before the store's first bar (2024-01-02): the run starts there" in err
    stats = json.loads((root / "ws" / "reports" / "bad" / "latest" / "stats.json").read_text("utf-8"))
    returns = pd.read_csv(root / "ws" / "reports" / "bad" / "latest" / "returns.csv")
    assert stats["start"] == "2024-01-02" and str(returns.iloc[0, 0]).startswith("2024-01-02")


def test_a_parameter_named_like_a_sweep_setting_is_swept_from_sweep_params(case_root, capsys):
    """Issue 26: [sweep.params] top = [1, 2] sweeps the strategy's ``top``; [sweep] top stays the setting."""
    root = case_root
    argv = colliding({"hold_days": "[1, 2]", "top": "1"}, {"top": "[1, 2]", "n": "[5, 6]"})(root)
    assert main(["--home", str(root / "store"), "--workspace", str(root / "ws"), *argv]) == 0, capsys.readouterr().err
    err = capsys.readouterr().err
    assert "8 combination(s) of hold_days, top, n" in err
    frame = pd.read_csv(root / "ws" / "reports" / "bad_sweep" / "results.csv")
    assert sorted(set(zip(frame["top"], frame["n"]))) == [(1, 5), (1, 6), (2, 5), (2, 6)]
    summary = json.loads((root / "ws" / "reports" / "bad_sweep" / "summary.json").read_text("utf-8"))
    assert summary["axes"]["top"] == [1, 2]


def test_python_style_booleans_are_accepted(case_root, capsys):
    """``hypebt list`` prints defaults as Python reprs (True/False): --set takes them back."""
    root = case_root
    (root / "ws" / "reports" / "index.html").unlink()
    put(root / "ws" / "strategies" / "flag.py", TOY_STRATEGY.replace('"trace": ""', '"trace": "", "flag": True'))
    argv = run_argv(root, spec_text({"strategy": '"flag"'}), "--set", "flag=False")
    assert main(["--home", str(root / "store"), "--workspace", str(root / "ws"), *argv]) == 0
    manifest = json.loads((root / "ws" / "reports" / "bad" / "latest" / "manifest.json").read_text("utf-8"))
    assert manifest["params"]["flag"] is False
    assert not _beyond_standing_notes(capsys.readouterr().err)


def test_the_workspace_is_found_from_the_spec(case_root, capsys):
    """From another folder, without --workspace: the spec's own workspace (and its store)."""
    root = case_root
    (root / "ws" / "reports" / "index.html").unlink()
    spec = put(root / "ws" / "backtests" / "bad.toml", spec_text())
    rc = main(["--home", str(root / "store"), "run", str(spec), "--offline", "--no-html"])
    out, err = capsys.readouterr()
    assert rc == 0 and not _beyond_standing_notes(err), err
    assert (root / "ws" / "reports" / "bad" / "latest" / "stats.json").is_file()
    assert not (root / "cwd" / "reports").exists() and not (root / "cwd" / "data").exists()


def test_no_first_use_import_into_a_store_outside_a_workspace(case_root, capsys, monkeypatch, tmp_path):
    root = case_root
    shared = tmp_path / "shared"
    put(shared / "ashare" / "market.parquet", b"not read")
    monkeypatch.setenv("HYPEBT_SHARED_DATA", str(shared))
    spec = put(root / "ws" / "backtests" / "bad.toml", spec_text({"codes": '["600000"]'}, drop=("universe",)))
    before = snapshot(root)
    rc = main(["--workspace", str(root / "cwd"), "run", str(spec)])
    out, err = capsys.readouterr()
    assert rc == 3 and err.count("\n") == 1, err
    assert "cwd is not a workspace" in err and f"data import {shared}" in err
    assert snapshot(root) == before


def test_debug_shows_the_strategy_traceback_without_suggesting_itself(case_root, capsys):
    root = case_root
    argv = ["--debug", "--home", str(root / "store"), "--workspace", str(root / "ws"), *boom(root)]
    from hypebt.core.errors import StrategyError

    with pytest.raises(StrategyError) as exc:
        main(argv)
    assert "boom.py:11 in on_open" in str(exc.value) and "--debug" not in str(exc.value)
    assert isinstance(exc.value.__cause__, AttributeError)


# --- events: Beijing time, and events outside the data -------------------------------------------

def _run_events(root: Path, catalogue: str, capsys, ids=None) -> tuple[int, str, dict]:
    put(root / "ws" / "data" / "events" / "ev.csv", catalogue)
    tables = {"events": {"ids": ids}} if ids else None
    argv = run_argv(root, spec_text(None, tables))
    rc = main(["--home", str(root / "store"), "--workspace", str(root / "ws"), *argv])
    _, err = capsys.readouterr()
    manifest = json.loads((root / "ws" / "reports" / "bad" / "latest" / "manifest.json").read_text("utf-8")) if rc == 0 else {}
    return rc, err, manifest


def test_an_event_time_without_offset_is_beijing_time(case_root, capsys):
    # 14:00 without an offset is 14:00 in Beijing, during the session: that session's close.
    # 14:00Z is 22:00 in Beijing, after the close: the next session's open.
    cat = (EV_HEADER + "naive,Naive,X,2024-01-10T14:00,,false,,,\n"
           "utc,UTC,X,2024-01-10T14:00Z,,false,,,\n"
           "early,Early,X,2024-01-11 09:00,,false,,,\n")
    rc, err, manifest = _run_events(case_root, cat, capsys)
    assert rc == 0, err
    assert manifest["events"] == [
        {"id": "naive", "session": "2024-01-10", "at": "close"},
        {"id": "utc", "session": "2024-01-11", "at": "open"},
        {"id": "early", "session": "2024-01-11", "at": "open"},
    ]


def test_events_outside_the_data_are_reported_not_dropped(case_root, capsys):
    cat = EVENTS + "old,Old,X,2020-05-01T10:00+08:00,,false,,,\nlate,Late,X,2031-01-01,,false,,,\n"
    rc, err, manifest = _run_events(case_root, cat, capsys)
    assert rc == 0, err
    notes = [line for line in err.splitlines() if line.startswith("note: events outside")]
    assert len(notes) == 1 and "old (2020-05-01)" in notes[0] and "late (2031-01-01)" in notes[0], err
    assert manifest["events_outside"] == ["old", "late"]
    assert [e["id"] for e in manifest["events"]] == ["alpha", "beta"]
