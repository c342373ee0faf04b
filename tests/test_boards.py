"""The dated concept-board history: the four shared Eastmoney snapshots, other formats, bad files,
re-imports, pseudo-boards, listings, and the live akshare path.

Expected values are read from the shared files themselves by the small parser below (not by
hypebt's reader), or taken from ``../shared/data/README.md`` (publication times; 688039 in
AIGC概念 and 多模态AI, 002230 in ChatGPT概念 and AIGC概念, ST股 with 116 codes and 000564).
"""

from __future__ import annotations

import datetime as dt
import re
import shutil

import pandas as pd
import pytest

from helpers_engine import data_file

from hypebt.cli.main import main
from hypebt.core.errors import InputError, SourceError
from hypebt.data import boards as B
from hypebt.data.akshare_client import Akshare
from hypebt.data.board_files import read_board_file
from hypebt.data.concepts import concept_snapshot, record
from hypebt.data.store import Store

from conftest import BOARD_SNAPSHOTS as SNAPSHOTS  # (file, published Beijing) as in ../shared/data/README.md

_A_SHARE = re.compile(r"^(60[0-5]|68[89]|00[0-3]|30[0-2]|[48]\d|92)\d{3,4}$")


def raw_boards(path) -> dict[str, set[str]]:
    """The file's boards and A-share members, read independently of hypebt (UTF-8, else GBK)."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("gbk")
    out, board = {}, None
    for line in text.splitlines():
        if line.startswith("["):
            board = line.strip()[1:-1]
            out.setdefault(board, set())
        elif line.strip():
            flag, code = line.strip().split(",")
            # 0 is Shanghai (codes 6xxxxx); 1 is Shenzhen and Beijing.
            if _A_SHARE.match(code) and (flag == "0") == code.startswith("6"):
                out[board].add(code)
    return out


@pytest.fixture(scope="session")
def hikyuu(shared_data):
    return shared_data / "concepts" / "hikyuu"


@pytest.fixture(scope="session")
def raw(hikyuu):
    return {name: raw_boards(hikyuu / name) for name, _ in SNAPSHOTS}


@pytest.fixture(scope="session")
def board_store(board_history):
    return board_history


def at(text: str) -> pd.Timestamp:
    return pd.Timestamp(text)


# --- the four shared snapshots ---------------------------------------------------------------------

def test_the_gbk_snapshot_is_detected_and_decoded(hikyuu):
    f = read_board_file(hikyuu / "gnbk-2019-02-17.ini", published="2019-02-17T18:59")
    assert f.encoding == "gbk" and f.format == "tdx"
    assert "虚拟现实" in set(f.rows["board"]) and "海工装备" in set(f.rows["board"])
    new = read_board_file(hikyuu / "gnbk-2024-01-02.ini", published="2024-01-02T15:55")
    assert new.encoding == "utf-8"


def test_board_counts_members_and_dates_match_the_files(board_store, raw):
    history = B.load(board_store)
    for name, published in SNAPSHOTS:
        when = at(published)
        expected = {b: m for b, m in raw[name].items() if m}  # a board without A-share members is not recorded
        got = {b for b in history.boards() if any(s.published == when for s in history.snapshots(b))}
        assert got == set(expected), name
        for board in ("多模态AI", "ST股", "虚拟现实", "融资融券"):
            if board in expected:
                snap = next(s for s in history.snapshots(board) if s.published == when)
                assert set(snap.codes) == expected[board] and snap.clock and snap.kind == B.board_kind(board)
    assert len(raw["gnbk-2024-01-02.ini"]) == 440 and len(raw["gnbk-2019-02-17.ini"]) == 163
    # README facts: 688039 in AIGC概念 and 多模态AI, 002230 in ChatGPT概念 and AIGC概念 (2024-01-02 snapshot).
    late = at("2024-02-16 02:00")
    assert "688039" in history.as_of("AIGC概念", late).codes and "688039" in history.as_of("多模态AI", late).codes
    assert "002230" in history.as_of("ChatGPT概念", late).codes and "002230" in history.as_of("AIGC概念", late).codes
    st = history.as_of("ST股", late)
    assert len(st.codes) == 116 and "000564" in st.codes and st.kind == "pseudo"


def test_each_moment_sees_the_latest_snapshot_published_by_then(board_store):
    history = B.load(board_store, ["多模态AI", "虚拟现实"])
    assert history.as_of("多模态AI", at("2023-12-18 19:24")) is None
    assert history.as_of("多模态AI", at("2023-12-18 19:25")).published == at("2023-12-18 19:25")
    assert history.as_of("多模态AI", at("2023-12-18 23:00")).published == at("2023-12-18 22:25")
    assert history.as_of("多模态AI", at("2024-01-02 15:54")).published == at("2023-12-18 22:25")
    assert history.as_of("多模态AI", at("2024-05-01")).published == at("2024-01-02 15:55")
    assert history.as_of("虚拟现实", at("2021-10-29")).published == at("2019-02-17 18:59")
    assert history.first_after("多模态AI", at("2023-01-01")).published == at("2023-12-18 19:25")


def test_first_and_last_seen_across_snapshots(board_store, raw):
    history = B.load(board_store, ["虚拟现实"])
    files = [name for name, _ in SNAPSHOTS]
    labels = {name: at(p).strftime("%Y-%m-%d %H:%M") for name, p in SNAPSHOTS}
    table = B.memberships(history, "虚拟现实", at("2024-06-01")).set_index("code")
    for code in set().union(*(raw[f]["虚拟现实"] for f in files)):
        seen = [f for f in files if code in raw[f]["虚拟现实"]]
        assert table.at[code, "first_seen"] == labels[seen[0]] and table.at[code, "last_seen"] == labels[seen[-1]]
        assert table.at[code, "seen"] == len(seen)
        assert bool(table.at[code, "member_now"]) == (code in raw[files[-1]]["虚拟现实"])
    left = raw[files[0]]["虚拟现实"] - raw[files[-1]]["虚拟现实"]
    assert left and not table.loc[sorted(left), "member_now"].any()
    # As of 2020 only the 2019 snapshot was known: nothing was "last seen" later.
    early = B.memberships(history, "虚拟现实", at("2020-01-01"))
    assert set(early["last_seen"]) == {labels[files[0]]} and set(early["code"]) == raw[files[0]]["虚拟现实"]


def test_reimporting_a_snapshot_changes_nothing(board_store, hikyuu, tmp_path, capsys):
    root = tmp_path / "store"
    shutil.copytree(board_store.root, root)
    before = data_file(root, "concept_boards").stat().st_mtime_ns, Store(root).manifest(B.DATASET)
    assert main(["--home", str(root), "data", "concepts", "import", str(hikyuu / "gnbk-2024-01-02.ini"),
                 "--published", "2024-01-02T15:55"]) == 0
    out = capsys.readouterr().out
    assert "0 new snapshot(s)" in out and "439 already stored" in out
    after = data_file(root, "concept_boards").stat().st_mtime_ns, Store(root).manifest(B.DATASET)
    assert after == before


def test_a_different_list_under_a_stored_time_is_refused(board_store, tmp_path, capsys):
    root = tmp_path / "store"
    shutil.copytree(board_store.root, root)
    sha = Store(root).manifest(B.DATASET)["sha256"]
    csv = tmp_path / "fix.csv"
    csv.write_text("board,code\n多模态AI,688039\n", "utf-8")
    code = main(["--home", str(root), "data", "concepts", "import", str(csv), "--published", "2024-01-02T15:55"])
    err = capsys.readouterr().err
    assert code == 2 and "board 多模态AI published 2024-01-02 15:55 is already stored with other members" in err
    assert Store(root).manifest(B.DATASET)["sha256"] == sha


def test_pseudo_boards_are_kept_apart_and_listed_as_such(board_store, capsys):
    home = ["--home", str(board_store.root)]
    assert main([*home, "data", "concepts", "list", "--as-of", "2024-02-16T02:00"]) == 0
    concepts = capsys.readouterr().out
    assert main([*home, "data", "concepts", "list", "--as-of", "2024-02-16T02:00", "--pseudo"]) == 0
    pseudo = capsys.readouterr().out
    names = lambda text: {line.split(":")[0] for line in text.splitlines()[1:]}  # noqa: E731
    for board in ("昨日涨停", "ST股", "HS300_", "深股通", "融资融券"):
        assert board in names(pseudo) and board not in names(concepts)
    assert {"AIGC概念", "多模态AI", "ChatGPT概念"} <= names(concepts)
    assert "vendor lists" in pseudo and "list them with --pseudo" in concepts
    # Known at a time: before 2023-12-18 19:25 there is no 多模态AI, only the 2019 boards.
    assert main([*home, "data", "concepts", "list", "--as-of", "2023-01-01"]) == 0
    early = capsys.readouterr().out
    assert "多模态AI" not in names(early) and "虚拟现实" in names(early) and early.startswith("152 concept boards")


def test_list_one_board_with_first_and_last_seen(board_store, capsys):
    assert main(["--home", str(board_store.root), "data", "concepts", "list", "--board", "多模态AI",
                 "--as-of", "2024-01-03"]) == 0
    out = capsys.readouterr().out
    assert "多模态AI as of 2024-01-03 00:00 Beijing: 32 members in the snapshot published 2024-01-02 15:55" in out
    assert re.search(r"688039 .* 2023-12-18 19:25 +2024-01-02 15:55 +3 +yes", out)
    code = main(["--home", str(board_store.root), "data", "concepts", "list", "--board", "多模态AI",
                 "--as-of", "2023-06-01"])
    assert code == 2 and "had no snapshot published by 2023-06-01 00:00" in capsys.readouterr().err
    code = main(["--home", str(board_store.root), "data", "concepts", "list", "--board", "多模态A"])
    assert code == 2 and "did you mean '多模态AI'" in capsys.readouterr().err


# --- other formats -----------------------------------------------------------------------------------

def write(tmp_path, name, text, encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_csv_with_names_and_a_spreadsheet_code(tmp_path):
    path = write(tmp_path, "b.csv", "board,code,name\nSora概念,688039,当虹科技\nSora概念,2230,科大讯飞\n"
                 "Sora概念,900901,B股\n")
    f = read_board_file(path, published="2024-02-20")
    assert list(f.rows["code"]) == ["688039", "002230"] and list(f.rows["name"]) == ["当虹科技", "科大讯飞"]
    assert not f.rows["clock"].any() and "skipped 1 membership" in f.notes[0]
    snap = B.BoardHistory(B._typed(f.rows.assign(kind="concept", source="b.csv"))).snapshots("Sora概念")[0]
    # A date alone counts from the end of that day.
    assert snap.known_from == at("2024-02-21") and snap.label == "2024-02-20 (date only)"


def test_tushare_concept_detail_periods_become_snapshots(tmp_path):
    """concept_detail: id, concept_name, ts_code, name, in_date, out_date
    (https://tushare.pro/document/2?doc_id=126)."""
    path = write(tmp_path, "concept_detail.csv",
                 "id,concept_name,ts_code,name,in_date,out_date\n"
                 "TS2,5G,000063.SZ,中兴通讯,20190101,\n"
                 "TS2,5G,600498.SH,烽火通信,20190301,20200601\n"
                 "TS2,5G,000001.SH,上证指数,20190101,\n")
    f = read_board_file(path)
    assert f.format == "concept_detail" and "skipped 1" in f.notes[0]
    history = B.BoardHistory(B._typed(f.rows.assign(kind="concept", source="x")))
    assert [s.codes for s in history.snapshots("5G")] == [("000063",), ("000063", "600498"), ("000063",)]
    assert history.as_of("5G", at("2019-03-01 12:00")).codes == ("000063",)  # in_date counts from its end
    assert history.as_of("5G", at("2019-03-02")).codes == ("000063", "600498")
    assert history.as_of("5G", at("2020-06-02")).codes == ("000063",)


def test_tushare_ths_member_needs_published_for_undated_rows(tmp_path):
    """ths_member: ts_code (the board's index), con_code, con_name, weight, in_date, out_date, is_new
    (https://tushare.pro/document/2?doc_id=261; in/out dates are mostly empty there)."""
    text = ("ts_code,con_code,con_name,weight,in_date,out_date,is_new\n"
            "885800.TI,000016.SZ,深康佳A,,,,Y\n885800.TI,000049.SZ,德赛电池,,,,N\n885800.TI,002008.SZ,大族激光,,,,Y\n")
    path = write(tmp_path, "ths_member.csv", text)
    with pytest.raises(InputError, match=r"ths_member.csv: a ths_member file with rows lacking in_date \(row 1\) .*"
                                         r"give --published"):
        read_board_file(path)
    names = write(tmp_path, "ths_index.csv", "ts_code,name,count\n885800.TI,小米概念,92\n")
    from hypebt.data.board_files import board_names
    f = read_board_file(path, published="2024-05-22T18:00", names=board_names(names))
    assert set(f.rows["board"]) == {"小米概念"} and list(f.rows["code"]) == ["000016", "002008"]
    assert any("is_new = N" in n for n in f.notes)


def test_tushare_dc_member_dates_each_row(tmp_path):
    """dc_member: trade_date, ts_code (the board), con_code, name
    (https://tushare.pro/document/2?doc_id=363)."""
    path = write(tmp_path, "dc_member.csv", "trade_date,ts_code,con_code,name\n"
                 "20250102,BK1184.DC,002117.SZ,东港股份\n20250102,BK1184.DC,873593.BJ,鼎智科技\n"
                 "20250103,BK1184.DC,002117.SZ,东港股份\n")
    f = read_board_file(path, published="2025-01-05")
    assert f.format == "dc_member" and any("--published ignored" in n for n in f.notes)
    history = B.BoardHistory(B._typed(f.rows.assign(kind="concept", source="x")))
    assert [(s.label, s.codes) for s in history.snapshots("BK1184.DC")] == [
        ("2025-01-02 (date only)", ("002117", "873593")), ("2025-01-03 (date only)", ("002117",))]


@pytest.mark.parametrize("name, text, encoding, message", [
    ("bad.ini", "[AI]\n0,600519\n0;600000\n", "utf-8", r"bad.ini: line 3: '0;600000' is not a member line"),
    ("orphan.ini", "0,600519\n[AI]\n", "utf-8", r"orphan.ini: line 1: member '0,600519' comes before any \[board\]"),
    ("empty.ini", "\n\n", "utf-8", "empty.ini: empty file"),
    ("latin.ini", "[AI]\n0,600519\n", "utf-16", r"latin.ini: line 1: neither UTF-8 nor GBK"),
    ("b.csv", "board,code\nAI,600519\nAI,60051X\n", "utf-8", r"b.csv: row 2: field 'code': '60051X' is not a stock code"),
    ("c.csv", "board,code,weight\nAI,600519,1\n", "utf-8", r"c.csv: column\(s\) weight are not part of a csv table"),
    ("d.csv", "trade_date,ts_code,con_code,name\n2025-13-01,BK1,600519.SH,x\n", "utf-8",
     r"d.csv: row 1: field 'trade_date': '2025-13-01' is not a date"),
    ("e.csv", "id,concept_name,ts_code,name,in_date,out_date\nT,5G,600519.SH,x,20200101,20190101\n", "utf-8",
     r"e.csv: row 1: out_date 2019-01-01 is not after in_date 2020-01-01"),
    ("f.csv", "foo,bar\n1,2\n", "utf-8", r"f.csv: header 'foo,bar' is no board format hypebt reads"),
])
def test_an_unreadable_file_is_refused_whole_naming_the_row(tmp_path, capsys, name, text, encoding, message):
    path = write(tmp_path, name, text, encoding)
    good = write(tmp_path, "good.csv", "board,code\nAI,600519\n")
    home = tmp_path / "store"
    code = main(["--home", str(home), "data", "concepts", "import", str(good), str(path), "--published", "2024-01-02"])
    err = capsys.readouterr().err
    assert code == 2 and re.search(message, err), err
    assert err.count("\n") == 1
    assert not (home / B.DATASET).exists()  # nothing written, not even the good file


def test_published_is_required_where_the_file_has_no_dates(tmp_path, capsys):
    path = write(tmp_path, "b.csv", "board,code\nAI,600519\n")
    code = main(["--home", str(tmp_path / "s"), "data", "concepts", "import", str(path)])
    assert code == 2 and "does not say when it was true: give --published TIME" in capsys.readouterr().err
    code = main(["--home", str(tmp_path / "s"), "data", "concepts", "import", str(path), "--published", "2024-1-2"])
    assert code == 2 and "'published': '2024-1-2' is not a valid time" in capsys.readouterr().err
    code = main(["--home", str(tmp_path / "s"), "data", "concepts", "list", "--published", "2024-01-02"])
    assert code == 2 and "--published does not apply to list; it belongs to import" in capsys.readouterr().err


def test_prefix_keeps_two_vendors_apart(tmp_path, capsys):
    path = write(tmp_path, "b.csv", "board,code\nChatGPT概念,600519\n")
    home = ["--home", str(tmp_path / "s")]
    assert main([*home, "data", "concepts", "import", str(path), "--published", "2024-01-02", "--prefix", "ths:"]) == 0
    assert B.load(Store(tmp_path / "s")).boards() == ["ths:ChatGPT概念"]


# --- the live path: akshare's stock_board_concept_cons_em ------------------------------------------

def cons_table(codes, names) -> pd.DataFrame:
    """The table akshare 1.19's stock_board_concept_cons_em returns (its columns, in its order)."""
    n = len(codes)
    return pd.DataFrame({"序号": range(1, n + 1), "代码": codes, "名称": names, "最新价": [10.0] * n,
                         "涨跌幅": [1.0] * n, "涨跌额": [0.1] * n, "成交量": [1000.0] * n, "成交额": [1e6] * n,
                         "振幅": [2.0] * n, "最高": [10.2] * n, "最低": [9.9] * n, "今开": [10.0] * n,
                         "昨收": [9.9] * n, "换手率": [1.5] * n, "市盈率-动态": [30.0] * n, "市净率": [3.0] * n})


class Api:
    """akshare's two board functions, substituted: real-shaped tables, or a failure."""

    __version__ = "1.19.5"

    def __init__(self, members=None, fail=None):
        self.members = members if members is not None else cons_table(["688039", "300624", "900901"],
                                                                        ["当虹科技", "万兴科技", "B股"])
        self.fail = fail
        self.calls = 0

    def stock_board_concept_name_em(self):
        return pd.DataFrame({"排名": [1], "板块名称": ["Sora概念"], "板块代码": ["BK2090"], "最新价": [1000.0]})

    def stock_board_concept_cons_em(self, symbol):
        self.calls += 1
        if self.fail is not None:
            raise self.fail
        return self.members


def quiet(api) -> Akshare:
    return Akshare(api, min_interval=0.0, retries=2, backoff=0.0, cooldown=0.0, cooldowns=0, sleep=lambda s: None)


def test_a_live_fetch_goes_into_the_history_at_its_fetch_time(tmp_path):
    store = Store(tmp_path / "s")
    now = dt.datetime(2024, 2, 20, 16, 3, 20, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    snap = concept_snapshot("Sora概念", source=quiet(Api()), now=now)
    saved = record(store, snap)
    assert saved.new == 1 and snap.fetched_at == at("2024-02-20 16:04")  # known once the fetch ended
    s = B.load(store).as_of("Sora概念", at("2024-02-21"))
    assert s.codes == ("300624", "688039") and s.names == ("万兴科技", "当虹科技") and s.clock  # sorted by code
    assert "stock_board_concept_cons_em Sora概念 (BK2090)" in s.source
    assert record(store, snap).new == 0  # the same fetch again: nothing new


@pytest.mark.parametrize("api, match", [
    (Api(fail=ConnectionError("Remote end closed connection without response")), "stock_board_concept_cons_em"),
    (Api(fail=TimeoutError("Read timed out. (read timeout=15)")), "stock_board_concept_cons_em"),
    (Api(members=cons_table([], [])), "no rows|empty"),
    (Api(members=cons_table(["688039"], ["当虹科技"]).rename(columns={"代码": "股票代码"})),
     r"without column\(s\) 代码 .*upgrade or pin akshare"),
    (Api(members=cons_table(["900901"], ["B股"])), "no A-share members"),
])
def test_a_failing_live_fetch_writes_nothing(tmp_path, api, match):
    store = Store(tmp_path / "s")
    with pytest.raises(SourceError, match=match):
        record(store, concept_snapshot("Sora概念", source=quiet(api)))
    assert store.manifest(B.DATASET) is None


def test_data_concepts_board_keeps_its_universe_file_and_fills_the_history(tmp_path, monkeypatch, capsys):
    import hypebt.cli.data as cli_data

    monkeypatch.setattr(cli_data, "_source", lambda *a, **k: quiet(Api()))
    ws = tmp_path / "ws"
    (ws / "data" / "universes").mkdir(parents=True)
    code = main(["--home", str(tmp_path / "s"), "--workspace", str(ws), "data", "concepts", "Sora概念",
                 "--name", "sora_em"])
    out = capsys.readouterr().out
    assert code == 0 and "Sora概念: 2 members published" in out and "(new snapshot)" in out
    written = pd.read_csv(ws / "data" / "universes" / "sora_em.csv", dtype=str)
    assert list(written["code"]) == ["688039", "300624"] and set(written["kind"]) == {"concept"}
    assert B.load(Store(tmp_path / "s")).boards() == ["Sora概念"]
