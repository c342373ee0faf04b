"""What pages share: plotly.js once per ``reports/`` tree, in ``reports/_assets/``.

Every page with charts loads ``_assets/plotly-<version>.min.js`` by a relative path (it works
opened from disk, offline: nothing is asked of a server), so a run page weighs its own content
only and a ``reports/`` tree holds the 4.8 MB bundle once. A page written outside the workspace's
``reports/`` (``--out`` elsewhere) gets its own ``_assets/`` inside its folder. ``hypebt report
pack`` inlines the assets into one self-contained file to send (:func:`pack`).
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path

from hypebt.core import fsio
from hypebt.core.errors import InputError

FOLDER = "_assets"
PAGES = ("report.html", "sweep.html", "study.html", "index.html")


@lru_cache(maxsize=1)
def plotly_js() -> str:
    """The plotly.js bundle shipped with the plotly package (about 4.8 MB)."""
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


@lru_cache(maxsize=1)
def plotly_name() -> str:
    """The bundle's file name, versioned: pages of different plotly versions never share one."""
    from plotly.offline import get_plotlyjs_version

    return f"plotly-{get_plotlyjs_version()}.min.js"


def root_for(out_dir: Path, reports: Path | None) -> Path:
    """Where a page written into ``out_dir`` finds its assets: the workspace's ``reports/`` when
    ``out_dir`` is inside it, else ``out_dir`` itself (nothing is written outside ``--out``)."""
    out_dir = Path(out_dir).resolve()
    if reports is not None:
        reports = Path(reports).resolve()
        if out_dir == reports or reports in out_dir.parents:
            return reports
    return out_dir


def install(root: Path) -> Path:
    """Put plotly.js in ``root/_assets/`` unless it is there already; return its path."""
    path = Path(root) / FOLDER / plotly_name()
    data = plotly_js().encode("utf-8")
    if not (path.is_file() and path.stat().st_size == len(data)):
        path.parent.mkdir(parents=True, exist_ok=True)
        fsio.write_bytes(path, data)
    return path


def src_for(page_dir: Path, root: Path) -> str:
    """The relative URL of plotly.js from a page in ``page_dir`` (its final place)."""
    rel = os.path.relpath(Path(root).resolve() / FOLDER / plotly_name(), Path(page_dir).resolve())
    return Path(rel).as_posix()


SCRIPT = re.compile(r'<script src="([^"]+\.js)"></script>')


def pack(page: Path) -> str:
    """``page`` with every script it loads from disk inlined: one self-contained HTML text."""
    text = page.read_text("utf-8")

    def inline(match: re.Match) -> str:
        src = match.group(1)
        if "://" in src:
            raise InputError(f"{page}: loads {src} from the network; hypebt pages never do: not a hypebt page?")
        path = (page.parent / src).resolve()
        if not path.is_file():
            raise InputError(f"{page}: its script {src} is missing ({path}); rewrite the page (rerun the command) "
                             "in its reports folder, then pack it")
        # "</script" inside the bundle would end the element early: plotly.js has none, checked anyway
        body = path.read_text("utf-8").replace("</script", "<\\/script")
        return f"<script>{body}</script>"

    return SCRIPT.sub(inline, text)


def page_of(path: Path) -> Path:
    """The page a path means: an HTML file, or the page of a report folder (report, sweep, study, index)."""
    path = Path(path)
    if path.is_dir():
        for name in PAGES:
            if (path / name).is_file():
                return path / name
        raise InputError(f"{path}: no hypebt page in this folder ({', '.join(PAGES)})")
    if not path.is_file() or path.suffix != ".html":
        raise InputError(f"{path}: not an HTML page or a report folder; give e.g. reports/sora_hype/latest")
    return path


def packed_name(page: Path) -> Path:
    """Where ``hypebt report pack`` writes by default: beside the page, ``<folder>-<page>.packed.html``."""
    folder = page.resolve().parent.name
    return page.with_name(f"{folder}-{page.stem}.packed.html")
