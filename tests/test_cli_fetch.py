"""``hypebt data fetch|import|reference|check|concepts`` end to end: the CLI, the real akshare code,
and only the HTTP transport faked (tests/fake_upstream.py)."""

from __future__ import annotations

import types
from pathlib import Path

import pandas as pd
import pytest
import requests

from fake_upstream import FakeUpstream
from hypebt.cli.main import main
from hypebt.data import reference as R
from hypebt.data.store import Store

ak = pytest.importorskip("akshare")
REPO = Path(__file__).resolve().parents[1]
QUIET = ("--min-interval", "0", "--max-interval", "0")


@pytest.fixture
def upstream(shared_data, monkeypatch, tmp_path) -> FakeUpstream:
    import akshare.stock.stock_board_concept_em as boards
    import akshare.utils.func as func
    import akshare.utils.request as req

    monkeypatch.delenv("HYPEBT_HOME", raising=False)
    monkeypatch.chdir(tmp_path)
    getattr(boards, "__stock_board_concept_name_em").cache_clear()
    quiet = types.SimpleNamespace(sleep=lambda s: None)
    monkeypatch.setattr(func, "time", quiet)
    monkeypatch.setattr(req, "time", quiet)
    yield FakeUpstream(shared_data).install(monkeypatch)
    getattr(boards, "__stock_board_concept_name_em").cache_clear()


def run(capsys, home: Path, *args: str) -> tuple[int, str, str]:
    code = main(["--home", str(home), "--workspace", str(REPO), *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_fetch_a_universe_fetches_its_codes_and_the_benchmark_in_one_go(upstream, capsys, tmp_path):
    home = tmp_path / "store"
    code, out, err = run(capsys, home, "data", "fetch", "--universe", "sora", "--start", "2024-01-02",
                         "--end", "2024-02-29", "--adjust", "none", *QUIET)
    assert code == 0, err
    sora = pd.read_csv(REPO / "data" / "universes" / "sora.csv", dtype={"code": str})["code"]
    store = Store(home)
    assert sorted(store.load("stock_raw")["code"].unique()) == sorted(sora)
    assert set(store.load("index")["code"]) == {"sh000300"}
    assert "index: codes=1" in out and f"stocks: codes={len(sora)}" in out and "through=2024-02-29" in out
    # The benchmark came first; the stocks' requests follow it.
    urls = [u for u, _ in upstream.requests]
    assert urls[0].endswith("/sh000300/hisdata/klc_kl.js")
    # Run again: everything is stored, nothing is asked for.
    upstream.requests.clear()
    code, out, err = run(capsys, home, "data", "fetch", "--universe", "sora", "--start", "2024-01-02",
                         "--end", "2024-02-29", "--adjust", "raw", *QUIET)
    assert code == 0 and f"skipped={len(sora)}" in out
    assert not [u for u, _ in upstream.requests if "kline" in u]


def test_fetch_with_no_network_says_so_at_once(upstream, capsys, tmp_path):
    upstream.fail["eastmoney.com"] = requests.exceptions.ConnectionError(
        "HTTPSConnectionPool(host='push2his.eastmoney.com', port=443): Max retries exceeded (Caused by "
        "NameResolutionError(\"Failed to resolve 'push2his.eastmoney.com' ([Errno -2] Name or service not known)\"))")
    code, out, err = run(capsys, tmp_path / "store", "data", "fetch", "002230", "688039", *QUIET)
    assert code == 4 and err.startswith("hypebt: error: no network: push2his.eastmoney.com cannot be reached")
    assert "hypebt data import FOLDER" in err and err.count("\n") == 1
    assert len(upstream.requests) == 1


def test_concepts_through_akshare(upstream, capsys, tmp_path, shared_data):
    members = pd.read_csv(shared_data / "concepts" / "sora.csv", dtype={"code": str})
    upstream.add_board("BK2090", "Sora概念", members)
    ws = tmp_path / "ws"
    (ws / "data" / "universes").mkdir(parents=True)
    code = main(["--home", str(tmp_path / "store"), "--workspace", str(ws), "data", "concepts", "Sora概念",
                 "--name", "sora_em"])
    out, err = capsys.readouterr()
    assert code == 0, err
    written = pd.read_csv(ws / "data" / "universes" / "sora_em.csv", dtype={"code": str})
    assert list(written["code"]) == list(members["code"])


def test_import_flags_adjust_volume_unit_and_columns(upstream, capsys, tmp_path):
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "600519.csv").write_text("trade_dt,o,h,l,px_last,vol\n2024-01-02,10,10.5,9.9,10.2,1000\n", "utf-8")
    (folder / "000001.csv").write_text("trade_dt,o,h,l,px_last,vol\n2024-01-02,9,9.5,8.9,9.2,2000\n", "utf-8")
    home = tmp_path / "store"
    code, out, err = run(capsys, home, "data", "import", str(folder), "--adjust", "none", "--volume-unit", "lots",
                         "--columns", "date=trade_dt,open=o,high=h,low=l,close=px_last,volume=vol")
    assert code == 0, err
    bars = Store(home).load("stock_raw")
    assert list(bars["code"]) == ["000001", "600519"] and list(bars["volume"]) == [200000.0, 100000.0]
    assert "imported 2 rows of 2 codes into stock_raw" in out
    code, out, err = run(capsys, home, "data", "import", str(folder / "600519.csv"),
                         "--columns", "date=trade_dt,open=o,high=h,low=l,close=px_last,volume=vol")
    assert code == 2 and "the volume unit is unknown" in err
    code, out, err = run(capsys, home, "data", "import", str(folder / "600519.csv"), "--volume-unit", "lots",
                         "--columns", "date=trade_dt,open=o,high=h,low=l,close=px_last,volume=vol")
    assert code == 2 and "does not say whether its prices are adjusted" in err


def test_reference_import_shows_in_info_and_check_cross_checks_sessions(upstream, capsys, tmp_path, shared_data):
    home = tmp_path / "store"
    st = tmp_path / "st.csv"
    st.write_text("code,start,end,kind\n600721,2022-05-05,2023-05-03,*ST\n", "utf-8")
    code, out, err = run(capsys, home, "data", "reference", "--import", "st_history", str(st), "--as-of", "2024-05-22")
    assert code == 0 and out == "st_history: 1 rows as of 2024-05-22 from import:st.csv\n", err
    code, out, err = run(capsys, home, "data", "import", str(shared_data / "index" / "sh000300.csv"))
    code, out, err = run(capsys, home, "data", "info")
    assert code == 0 and "st_history" in out and "as_of=2024-05-22" in out
    code, out, err = run(capsys, home, "data", "check")
    assert code == 0, err
    assert "ok: 2 dataset(s)" in out and "match exchange_calendars' XSHG" in out
    # A store whose index lost a session: the cross-check names it.
    idx = pd.read_csv(shared_data / "index" / "sh000300.csv")
    idx = idx[idx["date"] != "2024-02-08"]
    (tmp_path / "sh000300.csv").write_text(idx.to_csv(index=False), "utf-8")
    other = tmp_path / "other"
    run(capsys, other, "data", "import", str(tmp_path / "sh000300.csv"))
    code, out, err = run(capsys, other, "data", "check")
    assert code == 0 and "warning: sessions missing from the store" in out and "2024-02-08" in out


def test_reference_import_needs_as_of(upstream, capsys, tmp_path):
    st = tmp_path / "st.csv"
    st.write_text("code,start,end,kind\n600721,2022-05-05,,ST\n", "utf-8")
    code, out, err = run(capsys, tmp_path / "store", "data", "reference", "--import", "st_history", str(st))
    assert code == 2 and "--as-of" in err
    assert R.load(Store(tmp_path / "store"), "st_history") is None


def test_check_cross_checks_only_real_sessions_and_says_when_it_cannot(upstream, capsys, tmp_path, shared_data,
                                                                      monkeypatch):
    home = tmp_path / "store"
    run(capsys, home, "data", "import", str(shared_data / "ashare" / "daily" / "688039.csv"))
    code, out, err = run(capsys, home, "data", "check")  # a stock's dates are no calendar: not compared
    assert code == 0 and "XSHG" not in out and "sessions" not in out
    run(capsys, home, "data", "import", str(shared_data / "index" / "sh000300.csv"))
    monkeypatch.setitem(__import__("sys").modules, "exchange_calendars", None)  # not installed
    code, out, err = run(capsys, home, "data", "check")
    assert code == 0 and "not cross-checked (pip install exchange_calendars" in out


def test_first_use_without_a_local_dataset_fetches_what_the_spec_needs(upstream, capsys, tmp_path, monkeypatch):
    """The README's first command on a fresh machine: the spec's universe and benchmark over its dates."""
    import shutil

    from hypebt.data.bootstrap import ensure_data
    from hypebt.market.plausible import CHECK
    from hypebt.engine.spec import load_spec

    monkeypatch.delenv("HYPEBT_SHARED_DATA", raising=False)
    ws = tmp_path / "ws"  # no ../shared/data beside it
    for part in ("backtests/sora_hype.toml", "data/universes/sora.csv", "data/events/ai_releases.csv"):
        (ws / part).parent.mkdir(parents=True, exist_ok=True)
        if (REPO / part).exists():
            shutil.copy(REPO / part, ws / part)
    monkeypatch.chdir(ws)
    spec = load_spec(ws / "backtests" / "sora_hype.toml")
    store = Store(tmp_path / "store")
    import hypebt.data.bootstrap as boot
    from hypebt.data.akshare_client import Akshare

    monkeypatch.setattr(boot, "_source", lambda: Akshare(min_interval=0.0))
    ensure_data(spec, store, ws, offline=False, plausible=CHECK)
    sora = pd.read_csv(ws / "data" / "universes" / "sora.csv", dtype={"code": str})["code"]
    bars = store.load("stock_qfq")
    assert sorted(bars["code"].unique()) == sorted(sora)
    assert (str(bars["date"].min().date()), str(bars["date"].max().date())) == ("2024-01-02", "2024-05-22")
    index = store.load("index")
    assert set(index["code"]) == {"sh000300"} and str(index["date"].min().date()) == "2024-01-02"
    assert [u for u, _ in upstream.requests][0].endswith("/sh000300/hisdata/klc_kl.js")


def test_data_reference_fetches_through_akshare_and_info_lists_the_tables(capsys, tmp_path, monkeypatch):
    import hypebt.cli.data as cli_data
    from hypebt.data.akshare_client import Akshare
    from test_reference_fetch import FakeApi

    api = FakeApi()
    api.broken.add("cninfo")
    monkeypatch.setattr(cli_data, "_source", lambda *a, **k: Akshare(api, min_interval=0.0, timeout=None))
    home = tmp_path / "store"
    code, out, err = run(capsys, home, "data", "reference")
    assert code == 0
    assert {line.split(":")[0] for line in out.splitlines()} == {"listings", "margin_list", "suspensions"}
    assert err.startswith("st_history: not fetched: akshare stock_zh_a_disclosure_report_cninfo")
    code, out, err = run(capsys, home, "data", "info")
    for name in ("listings", "margin_list", "suspensions"):
        assert f"  {name} " in out
    code, out, err = run(capsys, home, "data", "reference", "--only", "st_histroy")
    assert code == 2 and "did you mean 'st_history'" in err
