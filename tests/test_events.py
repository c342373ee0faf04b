"""Event catalogues and the first tradable session, on the real CSI 300 calendar."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from hypebt.data.calendar import Calendar
from hypebt.core.errors import InputError
from hypebt.data.events import (
    BEIJING,
    catalogue_paths,
    filter_events,
    first_tradable,
    load_catalogue,
    load_events,
    make_event,
    map_events,
)


@pytest.fixture(scope="module")
def cal(shared_data: Path) -> Calendar:
    """The real trading calendar: CSI 300 trades every session."""
    dates = pd.read_csv(shared_data / "index" / "sh000300.csv", usecols=["date"])["date"]
    return Calendar(dates)


def ts(day: str) -> pd.Timestamp:
    return pd.Timestamp(day)


# --- Calendar --------------------------------------------------------------------------------------

def test_calendar_questions_on_a_tiny_calendar():
    c = Calendar(["2023-09-27", "2023-09-28", "2023-10-09", "2023-10-10"])
    assert (c.first, c.last, len(c)) == (ts("2023-09-27"), ts("2023-10-10"), 4)
    assert c.is_session("2023-09-28") and not c.is_session("2023-10-02")
    assert c.session_on_or_after("2023-10-02") == ts("2023-10-09")
    assert c.session_on_or_after("2023-10-09") == ts("2023-10-09")
    assert c.session_after("2023-10-09") == ts("2023-10-10")
    assert c.session_after("2023-10-10") is None
    assert c.session_on_or_before("2023-10-02") == ts("2023-09-28")
    assert c.session_on_or_before("2023-09-26") is None
    assert c.offset("2023-09-28", 1) == ts("2023-10-09")
    assert c.offset("2023-10-09", -2) == ts("2023-09-27")
    assert c.offset("2023-10-09", 2) is None and c.offset("2023-09-27", -1) is None
    assert c.index_of("2023-10-10") == 3
    assert list(c.between("2023-09-28", "2023-10-09")) == [ts("2023-09-28"), ts("2023-10-09")]
    assert list(c.between(None, "2023-09-27")) == [ts("2023-09-27")]


def test_calendar_reads_a_tz_aware_time_as_a_beijing_date():
    c = Calendar(["2024-02-08", "2024-02-19"])
    assert c.is_session(pd.Timestamp("2024-02-18T18:00Z"))     # 02:00 on the 19th in Beijing
    assert not c.is_session(pd.Timestamp("2024-02-19T18:00Z"))


def test_calendar_rejects_unsorted_repeated_and_empty_sessions():
    with pytest.raises(InputError, match=r"session 3 \(2024-01-02\) is earlier"):
        Calendar(["2024-01-02", "2024-01-04", "2024-01-02"])
    with pytest.raises(InputError, match=r"session 2 \(2024-01-02\) repeats"):
        Calendar(["2024-01-02", "2024-01-02 10:00"])
    with pytest.raises(InputError, match="empty"):
        Calendar([])


def test_index_of_a_holiday_names_the_next_session():
    with pytest.raises(InputError, match=r"2023-10-02 is not a trading session \(next session: 2023-10-09\)"):
        Calendar(["2023-09-28", "2023-10-09"]).index_of("2023-10-02")


def test_real_calendar_knows_the_2024_spring_festival_and_2023_national_day(cal):
    assert cal.first == ts("2010-01-04")
    assert list(cal.between("2024-02-08", "2024-02-19")) == [ts("2024-02-08"), ts("2024-02-19")]
    assert list(cal.between("2023-09-28", "2023-10-09")) == [ts("2023-09-28"), ts("2023-10-09")]


# --- mapping rule, on the real calendar ----------------------------------------------------------

# (time, known_time, scheduled, expected session, at, why)
MAPPING = [
    ("2024-02-16T02:00+08:00", "", False, "2024-02-19", "open", "Sora, in the Spring Festival closure"),
    ("2024-02-16T02:00", "", False, "2024-02-19", "open", "no offset means Beijing time"),
    ("2024-02-15T18:00:00Z", "", False, "2024-02-19", "open", "UTC 18:00 is 02:00 Beijing on the 16th"),
    ("2023-03-15T20:00-07:00", "", False, "2023-03-16", "close", "PDT evening is Beijing late morning"),
    ("2023-03-16T06:00:00Z", "", False, "2023-03-16", "close", "06:00 UTC is 14:00 Beijing"),
    ("2023-09-28T16:00", "", False, "2023-10-09", "open", "after the close before National Day"),
    ("2023-09-29T10:00", "", False, "2023-10-09", "open", "National Day 2023, first day"),
    ("2023-10-02", "", False, "2023-10-09", "open", "National Day, date only"),
    ("2023-10-06T20:00", "", False, "2023-10-09", "open", "National Day, last day"),
    ("2023-10-02", "", True, "2023-10-09", "open", "scheduled on a holiday"),
    ("2023-05-06", "", True, "2023-05-08", "open", "讯飞星火 V1.0, a Saturday"),
    ("2023-03-15T01:00+08:00", "", False, "2023-03-15", "open", "GPT-4, Wednesday before the open"),
    ("2023-03-16T14:00", "", True, "2023-03-16", "close", "ERNIE Bot, in trading hours"),
    ("2023-03-16T09:29:59", "", False, "2023-03-16", "open", "one second before the open"),
    ("2023-03-16T09:30", "", False, "2023-03-16", "close", "at the open: the open price is gone"),
    ("2023-03-16T12:00", "", False, "2023-03-16", "close", "lunch break"),
    ("2023-03-16T14:59:59", "", False, "2023-03-16", "close", "one second before the close"),
    ("2023-03-16T15:00", "", False, "2023-03-17", "open", "15:00 exactly"),
    ("2023-03-17T20:00", "", False, "2023-03-20", "open", "Friday evening"),
    ("2024-03-18", "", False, "2024-03-19", "open", "date only, not scheduled: after the close"),
    ("2023-06-09", "", True, "2023-06-09", "open", "date only, scheduled, on a session"),
    ("2023-03-16T14:00", "2023-03-10T08:00", True, "2023-03-10", "open", "known before it happened"),
    ("2023-03-16T14:00", "2023-03-10T20:00", True, "2023-03-13", "open", "known Friday evening"),
    ("2023-03-16T14:00", "2023-03-10", True, "2023-03-13", "open", "announced on a day, hour unknown"),
    ("2023-03-16", "2023-03-17T10:00", False, "2023-03-17", "close", "known after it happened"),
]


@pytest.mark.realdata
@pytest.mark.parametrize("time,known,scheduled,session,at,why", MAPPING, ids=[m[-1] for m in MAPPING])
def test_first_tradable_on_real_calendar(cal, time, known, scheduled, session, at, why):
    ev = make_event("e", "E", time, known_time=known, scheduled=scheduled)
    got = first_tradable(ev, cal)
    assert (got.session, got.at) == (ts(session), at), why
    assert got.event is ev


@pytest.mark.realdata
def test_events_outside_the_calendar_are_returned_not_dropped(cal):
    before = make_event("before", "B", "2009-12-31T10:00")
    weekend_before = make_event("weekend", "W", "2010-01-03T10:00")
    after = make_event("after", "A", f"{cal.last.date()}T15:00")
    last = make_event("last", "L", f"{cal.last.date()}T10:00")
    assert first_tradable(before, cal) is None and first_tradable(after, cal) is None
    mapped, outside = map_events([before, last, weekend_before, after], cal)
    assert [(t.event.id, t.session, t.at) for t in mapped] == [("last", cal.last, "close")]
    assert [e.id for e in outside] == ["before", "weekend", "after"]


# --- the shipped catalogue -------------------------------------------------------------------------

# Each event's first tradable session and price, worked out by hand from the rules above and the
# shared CSI 300 calendar (e.g. dalle: a US date alone, 2021-01-05 -> the next session's open;
# mate60: 12:08 Beijing, the lunch break -> that session's close; tesla_ai_day_2022: 2022-10-01,
# National Day closure -> 2022-10-10).
EXPECTED = {
    "dalle": ("2021-01-06", "open"), "harmonyos2": ("2021-06-03", "open"),
    "github_copilot": ("2021-06-30", "open"), "tesla_ai_day_2021": ("2021-08-23", "open"),
    "meta_rename": ("2021-10-29", "open"), "dalle2": ("2022-04-07", "open"),
    "midjourney_beta": ("2022-07-13", "open"), "stable_diffusion": ("2022-08-23", "open"),
    "tesla_ai_day_2022": ("2022-10-10", "open"),
    "chatgpt": ("2022-12-01", "open"),
    "bard": ("2023-02-07", "open"), "new_bing": ("2023-02-08", "open"), "llama": ("2023-02-27", "open"),
    "chatgpt_api": ("2023-03-02", "open"),
    "gpt4": ("2023-03-15", "open"),
    "ernie_bot": ("2023-03-16", "close"),
    "m365_copilot": ("2023-03-17", "open"), "chatgpt_plugins": ("2023-03-24", "open"),
    "360_brain": ("2023-03-29", "open"),
    "segment_anything": ("2023-04-06", "open"), "sensenova": ("2023-04-11", "open"),
    "tongyi_qianwen": ("2023-04-12", "open"),
    "spark_v1_0": ("2023-05-08", "open"),
    "google_io_2023": ("2023-05-11", "open"), "nvidia_q1_fy24": ("2023-05-25", "open"),
    "vision_pro_wwdc": ("2023-06-06", "open"),
    "spark_v1_5": ("2023-06-09", "open"),
    "pangu_3": ("2023-07-10", "open"), "claude2": ("2023-07-12", "open"), "llama2": ("2023-07-19", "open"),
    "harmonyos4": ("2023-08-07", "open"),
    "spark_v2_0": ("2023-08-15", "close"),
    "mate60": ("2023-08-29", "close"), "ernie_public": ("2023-09-01", "open"), "dalle3": ("2023-09-21", "open"),
    "gpt4v": ("2023-09-26", "open"), "kimi_chat": ("2023-10-10", "open"), "ernie_4": ("2023-10-18", "open"),
    "spark_v3_0": ("2023-10-24", "close"),
    "grok": ("2023-11-06", "open"),
    "openai_devday": ("2023-11-07", "open"),
    "gemini": ("2023-12-07", "open"),
    "glm4": ("2024-01-17", "open"), "harmony_next": ("2024-01-19", "open"),
    "vision_pro_preorder": ("2024-01-22", "open"),
    "spark_v3_5": ("2024-01-30", "open"),
    "vision_pro_launch": ("2024-02-02", "open"), "gemini_1_5": ("2024-02-19", "open"),
    "sora": ("2024-02-19", "open"),
    "gemma": ("2024-02-22", "open"), "claude3": ("2024-03-05", "open"), "grok_open": ("2024-03-18", "open"),
    "kimi_2m": ("2024-03-19", "open"),
    "gtc_2024": ("2024-03-19", "open"), "xiaomi_su7": ("2024-03-29", "open"), "pura70": ("2024-04-18", "close"),
    "llama3": ("2024-04-19", "open"),
    "gpt4o": ("2024-05-14", "open"),
    "google_io_2024": ("2024-05-15", "open"), "doubao": ("2024-05-16", "open"),
    # 2024-06..2025-12 (issue 24): date-only times map to the next session's open; the Spring
    # Festival closure (2025-01-28..02-04) and National Day's (2025-10-01..10-08) push two of them on.
    "claude35_sonnet": ("2024-06-21", "open"), "gpt4o_mini": ("2024-07-19", "open"),
    "o1_preview": ("2024-09-13", "open"), "qwen2_5": ("2024-09-20", "open"), "sora_public": ("2024-12-10", "open"),
    "gemini_2_0": ("2024-12-12", "open"), "deepseek_v3": ("2024-12-27", "open"),
    "deepseek_r1": ("2025-01-21", "open"), "kimi_k1_5": ("2025-01-21", "open"),
    "qwen2_5_max": ("2025-02-05", "open"), "o3_mini": ("2025-02-05", "open"), "gpt4_5": ("2025-02-28", "open"),
    "gemini_2_5": ("2025-03-26", "open"), "gpt4_1": ("2025-04-15", "open"), "qwen3": ("2025-04-30", "open"),
    "deepseek_r1_0528": ("2025-05-29", "open"), "kimi_k2": ("2025-07-14", "open"), "gpt5": ("2025-08-08", "open"),
    "deepseek_v3_1": ("2025-08-22", "open"), "deepseek_v3_2_exp": ("2025-09-30", "open"),
    "sora2": ("2025-10-09", "open"), "gemini_3": ("2025-11-19", "open"),
}


def test_shipped_catalogue_is_found_by_name(repo):
    assert "ai_releases" in catalogue_paths(repo)
    events = load_events("ai_releases", repo)
    assert sorted(e.id for e in events) == sorted(EXPECTED)
    assert all(e.catalogue == "ai_releases" for e in events)
    assert [e.row for e in events] == list(range(1, len(EXPECTED) + 1))
    # In time order, 2021-01 to 2024-05, at least 40 events (issue 22), then on to 2025-12 (issue 24).
    assert [e.time.date() for e in events] == sorted(e.time.date() for e in events)  # by date (hours vary)
    assert len(events) >= 40 and min(EXPECTED.values())[0] >= "2021-01" and max(EXPECTED.values())[0] <= "2025-12-31"


@pytest.mark.realdata
def test_shipped_catalogue_maps_as_expected(repo, cal):
    mapped, outside = map_events(load_events("ai_releases", repo), cal)
    assert outside == []
    got = {t.event.id: (str(t.session.date()), t.at) for t in mapped}
    assert got == EXPECTED


def test_shipped_catalogue_facts(repo):
    events = {e.id: e for e in load_events("ai_releases", repo)}
    for e in events.values():
        assert str(e.time.tz) == BEIJING and str(e.known_time.tz) == BEIJING
        assert e.source, f"{e.id} has no source"
    spark = [e for e in events.values() if "spark" in e.tags]
    assert sorted(e.id for e in spark) == ["spark_v1_0", "spark_v1_5", "spark_v2_0", "spark_v3_0", "spark_v3_5"]
    assert all(e.codes == ("002230",) and e.scheduled and e.company == "iFlytek" for e in spark)
    assert events["360_brain"].codes == ("601360",)
    assert events["ernie_bot"].codes == ()        # Baidu is not an A-share
    assert events["sora"].time == pd.Timestamp("2024-02-16T02:00", tz=BEIJING) and not events["sora"].scheduled
    # A date alone says why: the hour was not verified, or a scheduled date read as known before its open.
    for e in events.values():
        if not e.time_has_clock:
            assert "not verified" in e.source or (e.scheduled and "date alone" in e.source), e.id
    assert "assumption" in events["spark_v3_0"].source and "assumption" in events["spark_v2_0"].source
    # Every event names its boards and says where its time came from; no two rows are the same event.
    assert all(e.boards for e in events.values())
    how = ("not verified", "PT", "PDT", "PST", "Beijing", "assumption", "date alone")
    assert all(any(h in e.source for h in how) for e in events.values())
    assert len({(e.name, e.time) for e in events.values()}) == len(events)
    # Foreign and Chinese launches, and product events that moved A-share boards.
    assert {"vision_pro_wwdc", "mate60", "harmonyos2", "xiaomi_su7"} <= set(events)
    assert events["mate60"].time == pd.Timestamp("2023-08-29T12:08", tz=BEIJING)
    assert events["vision_pro_preorder"].scheduled and events["vision_pro_preorder"].time_has_clock


def test_filter_events(repo):
    events = load_events("ai_releases", repo)

    def ids(**kw):
        return [e.id for e in filter_events(events, **kw)]

    assert ids(tag="SPARK") == ["spark_v1_0", "spark_v1_5", "spark_v2_0", "spark_v3_0", "spark_v3_5"]
    assert ids(company="openai") == ["dalle", "github_copilot", "dalle2", "chatgpt", "chatgpt_api", "gpt4",
                                     "chatgpt_plugins", "dalle3", "gpt4v", "openai_devday", "sora", "gpt4o",
                                     "gpt4o_mini", "o1_preview", "sora_public", "o3_mini", "gpt4_5", "gpt4_1", "gpt5",
                                     "sora2"]
    assert ids(name=["sora", "GEMINI"]) == ["gemini", "gemini_1_5", "sora", "google_io_2024", "sora_public",
                                            "gemini_2_0", "gemini_2_5", "sora2", "gemini_3"]
    assert ids(tag=["video", "long_context"]) == ["kimi_chat", "gemini_1_5", "sora", "kimi_2m", "sora_public", "sora2"]
    assert ids(company="deepseek") == ["deepseek_v3", "deepseek_r1", "deepseek_r1_0528", "deepseek_v3_1",
                                       "deepseek_v3_2_exp"]
    assert ids(company="openai", scheduled=True) == ["openai_devday", "gpt4o"]
    assert ids(ids=["gpt4o", "sora"]) == ["sora", "gpt4o"]          # catalogue order
    assert ids(ids="sora", tag="spark") == []                       # criteria combine with AND
    assert ids(name="no such launch") == []


def test_unknown_catalogue_suggests_the_near_name(repo):
    with pytest.raises(InputError, match=r"unknown event catalogue 'ai_relases' \(did you mean 'ai_releases'\?\)"):
        load_events("ai_relases", repo)


def test_catalogue_by_explicit_path(tmp_path, repo):
    path = tmp_path / "mine.csv"
    path.write_text("id,name,time\nsora,Sora,2024-02-16T02:00+08:00\n", encoding="utf-8")
    (ev,) = load_events(str(path), tmp_path)  # a path inside the workspace
    assert (ev.id, ev.catalogue, ev.row, ev.company, ev.scheduled, ev.tags, ev.codes) == (
        "sora", "mine", 1, "", False, (), ())
    assert ev.known_time == ev.time and ev.known_has_clock


# --- validation ----------------------------------------------------------------------------------

HEADER = "id,name,company,time,known_time,scheduled,tags,codes,source\n"


def test_boards_column_is_read_and_checked(tmp_path):
    path = tmp_path / "cat.csv"
    path.write_text("id,name,time,boards\nsora,Sora,2024-02-16T02:00,多模态AI; AIGC概念\nx,X,2024-02-17,\n", "utf-8")
    sora, x = load_catalogue(path)
    assert sora.boards == ("多模态AI", "AIGC概念") and x.boards == ()
    assert sora.known_instant == pd.Timestamp("2024-02-16 02:00") and x.known_instant == pd.Timestamp("2024-02-17")
    path.write_text("id,name,time,boards\nsora,Sora,2024-02-16T02:00,A;A\n", "utf-8")
    with pytest.raises(InputError, match="row 1: field 'boards' names a board twice"):
        load_catalogue(path)


def write(tmp_path: Path, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / "cat.csv"
    path.write_bytes(text.encode(encoding))
    return path


def error_of(path: Path) -> str:
    with pytest.raises(InputError) as info:
        load_catalogue(path)
    msg = str(info.value)
    assert "\n" not in msg and "cat.csv" in msg
    return msg


def test_missing_required_column_lists_what_was_found(tmp_path):
    msg = error_of(write(tmp_path, "id,name,company\nsora,Sora,OpenAI\n"))
    assert "missing column 'time'" in msg and "found: id, name, company" in msg


def test_misspelt_optional_column_is_not_ignored(tmp_path):
    msg = error_of(write(tmp_path, "id,name,time,know_time\nsora,Sora,2024-02-16,2024-02-15\n"))
    assert "unknown column 'know_time'" in msg and "did you mean 'known_time'" in msg


@pytest.mark.parametrize("bad", ["2023-13-01", "2023-03-16T25:00", "16/03/2023", "March 16 2023", "2023-3-16"])
def test_unparsable_time(tmp_path, bad):
    msg = error_of(write(tmp_path, HEADER + f"x,X,,2023-03-16,,,,,\ny,Y,,{bad},,,,,\n"))
    assert "row 2" in msg and "'time'" in msg and repr(bad) in msg
    assert "ISO 8601 like 2024-02-16T02:00+08:00" in msg


def test_unparsable_known_time(tmp_path):
    msg = error_of(write(tmp_path, HEADER + "x,X,,2023-03-16,2023-02-30,,,,\n"))
    assert "row 1" in msg and "'known_time'" in msg and "'2023-02-30'" in msg


def test_duplicate_ids_name_both_rows(tmp_path):
    msg = error_of(write(tmp_path, HEADER + "a,A,,2023-03-16,,,,,\nb,B,,2023-03-16,,,,,\na,C,,2023-03-17,,,,,\n"))
    assert "row 3" in msg and "'id'" in msg and "'a' is already used by row 1" in msg


@pytest.mark.parametrize("flag,expected", [("true", True), ("TRUE", True), ("1", True), ("yes", True),
                                           ("false", False), ("0", False), ("no", False), ("", False)])
def test_scheduled_booleans(tmp_path, flag, expected):
    (ev,) = load_catalogue(write(tmp_path, HEADER + f"a,A,,2023-03-16,,{flag},,,\n"))
    assert ev.scheduled is expected


def test_scheduled_not_a_boolean(tmp_path):
    msg = error_of(write(tmp_path, HEADER + "a,A,,2023-03-16,,maybe,,,\n"))
    assert "row 1" in msg and "'scheduled'" in msg and "'maybe' is not a boolean" in msg and "true or false" in msg


@pytest.mark.parametrize("code,hint", [("2230", "'002230'"), ("09888", "'009888'"), ("HK9888", "Hong Kong"),
                                       ("700000", "prefix")])
def test_codes_must_be_a_share_codes(tmp_path, code, hint):
    msg = error_of(write(tmp_path, HEADER + f"a,A,,2023-03-16,,,,002230;{code},\n"))
    assert "row 1" in msg and "'codes'" in msg and repr(code) in msg and hint in msg


def test_tags_and_codes_are_split_on_semicolons(tmp_path):
    (ev,) = load_catalogue(write(tmp_path, HEADER + "a,A,,2023-03-16,,,iflytek; spark;,002230;601360,\n"))
    assert ev.tags == ("iflytek", "spark") and ev.codes == ("002230", "601360")


def test_empty_file_and_header_only(tmp_path):
    assert "empty file" in error_of(write(tmp_path, ""))
    assert "header only" in error_of(write(tmp_path, HEADER))


def test_gbk_file_is_not_utf8(tmp_path):
    msg = error_of(write(tmp_path, "id,name,time\nernie,文心一言,2023-03-16\n", encoding="gbk"))
    assert "not UTF-8" in msg and "save it as UTF-8" in msg


def test_utf8_with_bom_is_read(tmp_path):
    (ev,) = load_catalogue(write(tmp_path, "id,name,time\nernie,文心一言,2023-03-16\n", encoding="utf-8-sig"))
    assert (ev.id, ev.name) == ("ernie", "文心一言")


def test_empty_required_field_and_unsafe_id(tmp_path):
    msg = error_of(write(tmp_path, HEADER + "a,,,2023-03-16,,,,,\n"))
    assert "row 1" in msg and "'name' is empty" in msg
    msg = error_of(write(tmp_path, HEADER + "../a,A,,2023-03-16,,,,,\n"))
    assert "row 1" in msg and "'id'" in msg


def test_unquoted_comma_gives_a_field_count_error(tmp_path):
    msg = error_of(write(tmp_path, "id,name,time\na,Sora, the video model,2024-02-16\n"))
    assert "row 1" in msg and "4 fields" in msg and "quote" in msg


def test_short_rows_are_padded_and_blank_lines_skipped(tmp_path):
    events = load_catalogue(write(tmp_path, HEADER + "\na,A,,2023-03-16\n\nb,B,,2023-03-17,,true\n"))
    assert [(e.id, e.row, e.scheduled) for e in events] == [("a", 1, False), ("b", 2, True)]


def test_make_event_checks_like_a_file_row():
    with pytest.raises(InputError, match="field 'codes'"):
        make_event("a", "A", "2023-03-16", codes="9888")
