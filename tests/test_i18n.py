"""Pages and console lines in English and Chinese, from one gettext catalogue (hypebt/locale).

- The catalogue is complete and has nothing stale: every message the code marks (``_()`` in
  templates and page builders, ``N_()`` for notes, reasons and warnings made before the language is
  known) has its Chinese text, with the same ``%(name)s`` arguments; no entry is left unused.
- Every template renders in both languages with no missing key: a run, a sweep (two parameters:
  heatmaps), an event study, the index, the latest-run redirect and the Jupyter views are written in
  ``en`` and ``zh`` and no lookup misses the catalogue; the Chinese pages carry no English heading.
- The language comes from ``--lang``, then the spec's ``lang``, then ``$HYPEBT_LANG``, then the locale.
"""

from __future__ import annotations

import json
import pickle
import re

import pytest

from helpers_engine import BENCH, write_spec
from hypebt.cli.main import main
from hypebt.core import i18n
from hypebt.core.errors import InputError
from hypebt.reports import templating
from test_study import hand  # noqa: F401 (the hand-made market with events)

BUY_EVENT = '''
from hypebt import Strategy


class BuyEvent(Strategy):
    PARAMS = {"hold_days": 2, "shares": 1000}

    def on_open(self, day):
        for t in self.events:
            if t.session.date() == self.today:
                for code in self.universe[:3]:
                    self.buy_shares(code, self.cfg.shares, note=t.event.id)
        for code, h in self.holdings().items():
            if h.sessions_held >= self.cfg.hold_days:
                self.sell_all(code)
'''


def test_the_catalogue_has_every_marked_message_and_nothing_stale():
    marked = i18n.extract()
    catalogue = i18n.catalogue("zh")
    assert len(marked) > 200
    untranslated = sorted(m for m in marked if m not in catalogue)
    assert untranslated == [], f"run python -m hypebt.core.i18n and translate: {untranslated}"
    stale = sorted(m for m in catalogue if m not in marked)
    assert stale == [], f"remove from hypebt.po (no longer in the code): {stale}"
    for msgid, text in catalogue.items():
        assert sorted(set(re.findall(r"%\(\w+\)s", msgid))) == sorted(set(re.findall(r"%\(\w+\)s", text))), msgid
        words = re.sub(r"%\(\w+\)s|CAR|BHAR|CNY|Sharpe|Sortino|beta", "", msgid)
        assert re.search(r"[\u4e00-\u9fff]", text) or not re.search(r"[A-Za-z]{2}", words), \
            f"not Chinese: {msgid!r} -> {text!r}"


def test_no_message_is_marked_as_an_f_string():
    """``_(f"...")`` would mark nothing (the text changes with every value): arguments go as %(name)s."""
    import hypebt

    root = i18n.LOCALE_DIR.parent
    for path in root.rglob("*.py"):
        for n, line in enumerate(path.read_text("utf-8").splitlines(), 1):
            assert not re.search(r"\bN?_\(f[\"']", line), f"{path.relative_to(root)}:{n}: {line.strip()}"
    assert hypebt


def test_the_market_refusal_reasons_are_all_in_the_catalogue():
    from hypebt.market.rules import REFUSAL_REASONS
    from hypebt.reports.run_page import REASONS

    for code, text in {**REFUSAL_REASONS, **REASONS}.items():
        assert isinstance(text, i18n.Msg), f"{code}: mark its text with N_()"
        assert text.msgid in i18n.catalogue("zh"), code


@pytest.fixture(scope="module")
def pages(hand, tmp_path_factory):  # noqa: F811
    """Every page type written in both languages from the hand-made market: {lang: reports folder}."""
    ws, store, *_ = hand
    (ws / "strategies" / "buy_event.py").write_text(BUY_EVENT, "utf-8")
    spec = write_spec(ws, "i18n_run", {"strategy": "buy_event", "universe": "hand", "benchmark": BENCH},
                      {"events": {"catalogue": "hand", "ids": ["ev_open"]},
                       "sweep": {"hold_days": [1, 2], "shares": [500, 1000], "top": 1}})
    study_spec = write_spec(ws, "i18n_study", {"universe": "hand", "benchmark": BENCH},
                            {"events": {"catalogue": "hand", "ids": ["ev_open"]}, "study": {"window": [-2, 5]}})
    rendered: set[str] = set()
    real_render = templating.render

    def spy(template, lang="en", **context):
        rendered.add(template)
        return real_render(template, lang, **context)

    def tearsheet(returns, bench, path, title, notes, warning, lang="en", **_):
        # quantstats' own page is tested in test_browser; here only hypebt's banner on it (seconds saved)
        path.write_text(spy("banner.html", lang, lines=notes, warning=warning), "utf-8")

    import hypebt
    from hypebt.reports import history, notebook

    res = hypebt.backtest(spec, home=store.root, workspace=ws)
    table = hypebt.sweep(spec, home=store.root, workspace=ws, workers=1)
    study = hypebt.study(study_spec, home=store.root, workspace=ws)
    out, logs = {}, {}
    mp = pytest.MonkeyPatch()
    mp.setattr(templating, "render", spy)
    mp.setattr("hypebt.reports.tearsheet.write", tearsheet)
    for module in ("run_page", "sweep_page", "study_page", "index", "history", "notebook", "run_report", "tearsheet"):
        mp.setattr(f"hypebt.reports.{module}.render", spy)
    i18n.MISSING.clear()
    try:
        for lang in ("en", "zh"):
            reports = tmp_path_factory.mktemp(f"pages_{lang}") / "reports"
            base = ["--workspace", str(ws), "--home", str(store.root)]
            import contextlib
            import io

            buf = io.StringIO()
            with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
                assert main([*base, "run", str(spec), "--offline", "--lang", lang, "--out", str(reports / "run")]) == 0
                assert main([*base, "sweep", str(spec), "--offline", "--workers", "1", "--lang", lang,
                             "--out", str(reports / "sweep")]) == 0
                assert main([*base, "study", str(study_spec), "--offline", "--lang", lang,
                             "--out", str(reports / "study")]) == 0
                assert main([*base, "report", "index", "--lang", lang, "--reports", str(reports)]) == 0
            with pytest.MonkeyPatch.context() as no_links:  # the redirect page, where links fail
                no_links.setattr("os.symlink", lambda *a, **k: (_ for _ in ()).throw(OSError("no links here")))
                history.point_latest(reports, reports / "run", lang=lang)
            (reports / "notebook.html").write_text(
                notebook.run_html(res, lang) + notebook.sweep_html(table, lang) + notebook.study_html(study, "s", lang),
                "utf-8")
            out[lang], logs[lang] = reports, buf.getvalue()
        missing = set(i18n.MISSING)
    finally:
        mp.undo()
    return out, logs, rendered, missing


def test_every_template_renders_in_both_languages_with_no_missing_key(pages):
    out, _, rendered, missing = pages
    assert missing == set(), f"looked up but not in the catalogue: {sorted(missing)}"
    templates = {p.name for p in templating.TEMPLATES.glob("*.html")} - {"base.html", "macros.html"}
    assert templates - rendered == set(), f"templates no page rendered: {templates - rendered}"
    for lang in ("en", "zh"):
        for page in ("run/report.html", "sweep/sweep.html", "sweep/best/1/report.html", "study/study.html",
                     "index.html", "notebook.html"):
            assert (out[lang] / page).is_file(), (lang, page)


@pytest.mark.parametrize("page, english, chinese", [
    ("run/report.html", ["Headline", "Trades", "Open positions at the end", "refused by the market", "Price charts"],
     ["概览", "交易", "期末持仓", "被市场拒绝", "价格走势图", "前视偏差警告"]),
    ("sweep/sweep.html", ["Best combinations", "Heatmaps", "All combinations", "Sensitivity"],
     ["最佳参数组合", "热力图", "全部参数组合", "敏感性", "总收益"]),
    ("study/study.html", ["Cumulative abnormal returns", "Per stock", "Events"],
     ["累计超额收益", "各股票", "事件研究"]),
    ("index.html", ["hypebt reports", "key figures", "On disk"], ["hypebt 报告", "关键数据", "磁盘占用"]),
    ("notebook.html", ["closed trades", "open positions at the end", "cancelled by the strategy"],
     ["已平仓交易", "期末持仓", "策略撤单"]),
])
def test_the_chinese_pages_are_in_chinese(pages, page, english, chinese):
    out, *_ = pages
    en, zh = (out["en"] / page).read_text("utf-8"), (out["zh"] / page).read_text("utf-8")
    for text in english:
        assert text in en, (page, text)
        assert text not in zh, f"{page}: {text!r} left in English"
    for text in chinese:
        assert text in zh, (page, text)
    assert '<html lang="zh-CN">' in zh or 'lang="zh-CN"' in zh


def test_numbers_and_colours_are_the_same_in_both_languages(pages):
    out, *_ = pages
    en, zh = ((out[lang] / "run" / "report.html").read_text("utf-8") for lang in ("en", "zh"))
    figures = lambda text: re.findall(r"[+-]\d+\.\d\d%", text)  # noqa: E731
    assert figures(en) and figures(en) == figures(zh)
    assert en.count('class="gain"') == zh.count('class="gain"') > 0
    assert en.count('class="loss"') == zh.count('class="loss"')
    stats = [json.loads((out[lang] / "run" / "stats.json").read_text("utf-8")) for lang in ("en", "zh")]
    assert {k: v for k, v in stats[0].items() if k != "title"} == {k: v for k, v in stats[1].items() if k != "title"}


def test_the_console_summary_speaks_the_language(pages):
    _, logs, *_ = pages
    assert "closed trades" in logs["en"] and "已平仓交易" not in logs["en"]
    assert "已平仓交易" in logs["zh"] and "报告：" in logs["zh"] and "closed trades" not in logs["zh"]
    assert "个参数组合" in logs["zh"] and "combination(s)" not in logs["zh"]
    assert "note: 价格" in logs["zh"] and "warning: 该股票池" in logs["zh"]


def test_the_language_comes_from_flag_spec_environment_locale(monkeypatch):
    for var in ("HYPEBT_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(i18n.locale, "getlocale", lambda *a: (None, None))
    assert i18n.resolve_lang() == "en"
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    assert i18n.resolve_lang() == "zh"
    monkeypatch.setenv("LC_ALL", "C.UTF-8")  # LC_ALL overrides LANG
    assert i18n.resolve_lang() == "en"
    monkeypatch.setenv("HYPEBT_LANG", "zh")
    assert i18n.resolve_lang() == "zh"
    assert i18n.resolve_lang(None, "en") == "en"  # the spec's lang over the environment
    assert i18n.resolve_lang("zh", "en") == "zh"  # --lang over the spec
    monkeypatch.setenv("HYPEBT_LANG", "fr")
    with pytest.raises(InputError, match="HYPEBT_LANG = 'fr': the pages speak en or zh"):
        i18n.resolve_lang()


def test_a_spec_says_its_language_and_a_bad_one_is_refused(tmp_path):
    from hypebt.engine.spec import parse_spec

    assert parse_spec({"codes": ["600000"], "lang": "zh"}, tmp_path / "a.toml").lang == "zh"
    with pytest.raises(InputError, match=r"a.toml: lang = 'de'"):
        parse_spec({"codes": ["600000"], "lang": "de"}, tmp_path / "a.toml")
    with pytest.raises(InputError, match="keep must be a number of runs >= 1"):
        parse_spec({"codes": ["600000"], "keep": 0}, tmp_path / "a.toml")


def test_a_marked_message_is_a_string_that_travels():
    note = i18n.N_("%(n)s universe code(s) not in the store, left out: %(codes)s", n=2, codes="600000, 000001")
    assert note == "2 universe code(s) not in the store, left out: 600000, 000001"
    assert json.loads(json.dumps([note])) == [str(note)]
    back = pickle.loads(pickle.dumps(note))
    assert isinstance(back, i18n.Msg) and back == note
    assert i18n.translate(back, "zh") == "股票池中有 2 个代码不在数据库中，已略去：600000, 000001"
    assert i18n.translate("plain text nobody marked", "zh") == "plain text nobody marked"
