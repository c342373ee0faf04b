"""The README's Python examples, run cell by cell in a real Jupyter kernel (nbclient + ipykernel).

The notebook is generated from the README's ```python blocks (each top-level statement one cell),
so the README cannot drift from what works in Jupyter. A class typed into a cell has no source
file (``inspect`` raises ``OSError``): only a real kernel shows what a notebook user gets. After
the README's cells, a few more check what a notebook promises: the manifest records the cell's
source, results show themselves (``_repr_html_`` with a chart) and plot, a notebook class sweeps
on 2 forked worker processes and on a Dask cluster (whose workers never ran the cell: the class is
shipped by value) with the figures of the same class in a file (a hypebt.Strategy and the README's plain Backtrader
SmaCross), and outside a workspace the API stops in one line.

One kernel runs the whole notebook (a kernel start costs seconds).
"""

from __future__ import annotations

import ast
import json
import re
import shutil
import sys
from pathlib import Path

import pytest

from helpers_sweep import Cluster

README = Path(__file__).resolve().parents[1] / "README.md"
nbformat = pytest.importorskip("nbformat", reason="pip install -e '.[test]' installs nbformat")
nbclient = pytest.importorskip("nbclient", reason="pip install -e '.[test]' installs nbclient")


def readme_blocks() -> list[str]:
    """The README's ```python blocks, in order."""
    return re.findall(r"```python\n(.*?)```", README.read_text("utf-8"), flags=re.S)


def statements(block: str) -> list[str]:
    """A block cut into its top-level statements (comments above a statement stay with it)."""
    lines = block.splitlines(keepends=True)
    nodes = ast.parse(block).body
    starts = [min([n.lineno, *(d.lineno for d in getattr(n, "decorator_list", []))]) for n in nodes]
    cells, prev_end = [], 0
    for start, node in zip(starts, nodes):
        head = start - 1
        while head > prev_end and lines[head - 1].lstrip().startswith("#"):
            head -= 1  # a comment right above the statement belongs to it
        cells.append("".join(lines[head:node.end_lineno]).strip("\n"))
        prev_end = node.end_lineno
    return cells


def readme_cells() -> list[str]:
    return [cell for block in readme_blocks() for cell in statements(block)]


# Same class as the README's Dip, as a file in strategies/ (the notebook's copy is typed into a cell).
DIP_FILE = '''
import hypebt


class DipFile(hypebt.Strategy):
    PARAMS = {"window": 20, "depth": 0.95}

    def __init__(self):
        super().__init__()
        self.sma = {c: self.I(lambda s, n: s.rolling(n).mean(), c, self.cfg.window) for c in self.universe}

    def on_close(self, day):
        for code in self.universe:
            if self.shares(code) == 0 and self.bar(code).adjclose < self.cfg.depth * self.sma[code][0]:
                self.buy_value(code, self.equity / 10)
        for code, h in self.holdings().items():
            if h.sessions_held >= 5:
                self.sell_all(code)
'''

CHECKS = [
    # the README's cells ran: a backtest of the notebook class, a sweep and a study exist
    "assert res.strategy == 'Dip' and res.stats['sessions'] > 50, res",
    # the manifest records the class's source from its cell
    """import json, tempfile, pathlib
folder = res.report(pathlib.Path(tempfile.mkdtemp()) / 'dip', html_report=False)
manifest = json.loads((folder / 'manifest.json').read_text('utf-8'))
assert manifest['strategy']['origin'] == 'class', manifest['strategy']
assert manifest['strategy']['source'].startswith('class Dip(hypebt.Strategy):'), manifest['strategy']
assert 'self.buy_value(code, self.equity / 10)' in manifest['strategy']['source']""",
    # results show themselves: headline figures, a chart, the refusals
    "res",
    "table",
    "study",
    "fig = res.plot(); assert fig.axes, fig",
    "fig = table.plot(); assert fig.axes, fig",
    "fig = study.plot(); assert fig.axes, fig",
    # the same class in a cell and in a file: the same figures on 2 forked workers
    DIP_FILE.replace("DipFile", "DipCell"),
    DIP_FILE.replace("DipFile", "DipCell"),  # the cell run again, as one does: a new class of the same name
    """kw = dict(codes=["002230", "300418", "688039", "300624"], start="2023-10-09", end="2024-05-22", warmup=20)
grid = {"depth": [0.9, 0.97], "window": [10, 20]}
cell = hypebt.sweep(strategy=DipCell, grid=grid, workers=2, **kw)
file = hypebt.sweep(strategy="dip_file", grid=grid, workers=1, **kw)
figures = ["total_return", "sharpe", "max_drawdown", "n_trades", "refused_orders", "final_value"]
assert (cell["status"] == "ok").all() and cell["n_trades"].sum() > 0, cell
assert cell[figures].equals(file[figures]), (cell[figures], file[figures])""",
    # a Dask cluster's worker processes never ran the cell: the class is shipped to them (by value)
    """dasked = hypebt.sweep(strategy=DipCell, grid=grid, scheduler=DASK_ADDRESS, **kw)
assert dasked[figures].equals(file[figures]), dasked[figures]""",
    # a plain Backtrader strategy typed into a cell (the README's SmaCross): the figures of its file
    # (strategies/sma_cross.py), in a run, on 2 forked workers and on Dask workers that never ran the cell
    """bt_cell = hypebt.backtest("backtests/sma_cross.toml", strategy=SmaCross)
bt_file = hypebt.backtest("backtests/sma_cross.toml")
assert bt_cell.stats == bt_file.stats and bt_cell.stats["n_trades"] > 0, (bt_cell.stats, bt_file.stats)
bt_grid = {"period": [10, 20], "stake": [1000]}
bt_files = hypebt.sweep("backtests/sma_cross.toml", grid=bt_grid, workers=1)
for where in ({"workers": 2}, {"scheduler": DASK_ADDRESS}):
    bt_cells = hypebt.sweep("backtests/sma_cross.toml", strategy=SmaCross, grid=bt_grid, **where)
    assert bt_cells[figures].equals(bt_files[figures]), (where, bt_cells[figures], bt_files[figures])
folder = bt_cell.report(pathlib.Path(tempfile.mkdtemp()) / 'sma', html_report=False)
source = json.loads((folder / 'manifest.json').read_text('utf-8'))['strategy']
assert source['origin'] == 'class' and source['source'].startswith('class SmaCross(bt.Strategy):'), source""",
    # outside a workspace: one line saying so, and no network
    """import os
here = os.getcwd()
os.chdir(tempfile.mkdtemp())
try:
    hypebt.backtest(strategy=DipCell, codes=["002230"], start="2024-01-02")
except hypebt.HypebtError as exc:  # the one line Jupyter shows
    assert "is not a hypebt workspace" in str(exc) and "workspace=" in str(exc), exc
    assert exc._render_traceback_() == ["hypebt: error: " + str(exc)]
else:
    raise AssertionError("ran outside a workspace")
finally:
    os.chdir(here)""",
]


@pytest.fixture(scope="module")
def notebook_run(repo, real_store, tmp_path_factory):
    """The README notebook executed in one real kernel; (notebook, workspace)."""
    root = tmp_path_factory.mktemp("notebook")
    ws = root / "ws"
    ws.mkdir()
    for name in ("backtests", "strategies", "data"):
        shutil.copytree(repo / name, ws / name, ignore=shutil.ignore_patterns("store", "__pycache__"))
    (ws / "strategies" / "dip_file.py").write_text(DIP_FILE, "utf-8")
    cluster = Cluster(root / "dask", n=2)
    try:
        setup = (f"import os\nos.environ['HYPEBT_HOME'] = {str(real_store.root)!r}\n"
                 f"DASK_ADDRESS = {cluster.address!r}")
        cells = [setup, *readme_cells(), *CHECKS]
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
        # A kernel of this very interpreter (a "python3" kernelspec elsewhere on the machine may be another venv's)
        spec_dir = root / "jupyter" / "kernels" / "hypebt-test"
        spec_dir.mkdir(parents=True)
        (spec_dir / "kernel.json").write_text(json.dumps({
            "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "hypebt test", "language": "python"}), "utf-8")
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("JUPYTER_PATH", str(root / "jupyter"))
            client = nbclient.NotebookClient(nb, timeout=600, kernel_name="hypebt-test",
                                             resources={"metadata": {"path": str(ws)}})
            try:
                client.execute()
            except nbclient.exceptions.CellExecutionError as exc:
                pytest.fail(f"a notebook cell failed:\n{exc}")
    finally:
        cluster.close()
    return nb, ws


def _outputs(nb, source: str) -> list[dict]:
    return [o for c in nb.cells if c.source == source for o in c.get("outputs", [])]


def test_the_notebook_is_the_readmes_python(notebook_run):
    nb, _ = notebook_run
    cells = readme_cells()
    assert len(cells) >= 10, cells
    assert any(c.startswith("class Dip(hypebt.Strategy):") for c in cells), "the README's notebook class"
    assert [c.source for c in nb.cells[1:1 + len(cells)]] == cells
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert errors == []


def test_results_show_themselves_in_jupyter(notebook_run):
    nb, _ = notebook_run
    for name, heading in (("res", "Dip"), ("table", "Sweep: sora_hype"), ("study", "sora_study")):
        html = "".join(o.get("data", {}).get("text/html", "") for o in _outputs(nb, name))
        assert heading in html, (name, html[:500])
        assert "<img" in html and "data:image/png;base64," in html, f"{name}: no chart"
    res_html = "".join(o["data"]["text/html"] for o in _outputs(nb, "res") if "data" in o)
    for label in ("refused by the market", "cancelled by the strategy", "open positions at the end"):
        assert label in res_html, label


def test_nothing_was_written_outside_the_workspace(notebook_run):
    nb, ws = notebook_run
    assert (ws / "reports" / "sora_try" / "report.html").is_file()  # the README's res.report(...)
    assert not (ws / "data" / "store").exists()  # the store is HYPEBT_HOME's
    stdout = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    assert "through akshare" not in stdout
    assert json.loads((ws / "reports" / "sora_try" / "manifest.json").read_text("utf-8"))["kind"] == "run"

