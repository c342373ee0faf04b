"""Screenshots of the four page types (run, sweep, study, index) in English and Chinese, for a reviewer.

Builds the same reports as tests/test_browser.py from the shared real data (a temporary store and
workspace), opens each page in one headless Chromium with the network blocked and saves a full-page
PNG per page and language in DIR; prints what each page reported (charts drawn, console messages,
blocked requests, elements wider than the window).

Usage::

    python tests/screenshots.py DIR [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "src")]

from helpers_browser import Browser  # noqa: E402
from hypebt.data import stock_info  # noqa: E402
from hypebt.data.importers import import_paths  # noqa: E402
from hypebt.data.store import Store  # noqa: E402
from test_browser import build_reports  # noqa: E402

PAGES = {"run": "sora_hype/report.html", "sweep": "iflytek_sweep/sweep.html", "study": "sora_study/study.html",
         "index": "index.html"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir", type=Path, help="where the PNG files go")
    env = os.environ.get("HYPEBT_SHARED_DATA")
    ap.add_argument("--data", type=Path, default=Path(env) if env else HERE.parents[1] / "shared" / "data")
    args = ap.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="hypebt-shots-") as tmp:
        tmp = Path(tmp)
        store = Store(tmp / "store")
        import_paths(store, [args.data / "ashare" / "market.parquet", args.data / "index" / "sh000300.csv"])
        stock_info.save(store, stock_info.read_stock_list(args.data / "ashare" / "stock_list.csv", "2024-05-22"),
                        source="shared stock_list.csv")
        reports = {lang: build_reports(HERE.parent, store, args.data, tmp, lang) for lang in ("en", "zh")}
        browser = Browser(tmp / "chromium-profile")
        try:
            for lang, out in reports.items():
                for kind, rel in PAGES.items():
                    shot = args.dir / f"{kind}-{lang}.png"
                    found = browser.open(out / rel, shot)
                    print(f"{shot}: {found['drawn']}/{found['charts']} charts drawn, {found['images']}/"
                          f"{found['all_images']} images, console {found['console'] or 'clean'}, "
                          f"blocked {found['blocked'] or 'none'}, too wide {found['wide'] or 'none'}")
        finally:
            browser.close()


if __name__ == "__main__":
    main()
