"""Shared fixtures: the real market data beside the project, and a scratch workspace.

The real data is found at ``$HYPEBT_SHARED_DATA`` or ``<repo>/../shared/data``.
Outside CI a missing dataset skips the tests that need it, with the reason; under
``CI=true`` it fails them, because CI must always run against real bars.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _locate() -> Path:
    env = os.environ.get("HYPEBT_SHARED_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real A-share dataset folder, or a skip (a failure under CI=true)."""
    path = _locate()
    if not (path / "ashare" / "market.parquet").is_file():
        msg = (
            f"real market data not found at {path}: put the shared dataset at ../shared/data "
            "or set HYPEBT_SHARED_DATA"
        )
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    return path


@pytest.fixture(scope="session")
def repo() -> Path:
    """The repository root (the default workspace with strategies/, backtests/, data/)."""
    return REPO


@pytest.fixture(scope="session")
def real_store(shared_data, tmp_path_factory):
    """A store with the shared market (forward-adjusted) and CSI 300, imported once per test session
    for the tests that only read it (runs and studies write their outputs elsewhere)."""
    import warnings

    from hypebt.data.importers import import_paths
    from hypebt.data.store import Store

    root = tmp_path_factory.mktemp("real_store") / "store"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a few qfq rows <= 0 are dropped; the import report lists them
        import_paths(Store(root), [shared_data / "ashare" / "market.parquet",
                                   shared_data / "index" / "sh000300.csv"], adjust="qfq")
    return Store(root)


# The four shared Eastmoney concept-board snapshots and when each was published (../shared/data/README.md).
BOARD_SNAPSHOTS = [("gnbk-2019-02-17.ini", "2019-02-17T18:59"), ("gnbk-2023-12-18T19.ini", "2023-12-18T19:25"),
                   ("gnbk-2023-12-18T22.ini", "2023-12-18T22:25"), ("gnbk-2024-01-02.ini", "2024-01-02T15:55")]


@pytest.fixture(scope="session")
def board_history(shared_data, tmp_path_factory):
    """A store holding only the concept-board history: the four shared snapshots, imported through
    the CLI (the GBK one too)."""
    from hypebt.cli.main import main
    from hypebt.data.store import Store

    root = tmp_path_factory.mktemp("board_history") / "store"
    folder = shared_data / "concepts" / "hikyuu"
    for name, published in BOARD_SNAPSHOTS:
        assert main(["--home", str(root), "data", "concepts", "import", str(folder / name),
                     "--published", published]) == 0
    return Store(root)


@pytest.fixture(scope="session")
def board_market(real_store, board_history, tmp_path_factory):
    """The shared market (real_store's datasets, linked, not copied) with the board history: for runs
    and studies on board universes."""
    import shutil

    from hypebt.data.store import Store

    root = tmp_path_factory.mktemp("board_market") / "store"
    root.mkdir()
    for dataset in real_store.datasets():
        (root / dataset).symlink_to(real_store.root / dataset, target_is_directory=True)
    shutil.copytree(board_history.root / "concept_boards", root / "concept_boards")
    return Store(root)


# The stocks the raw-price tests read: the shipped universes and the corporate-action cases.
RAW_CODES = ("600519", "300750", "000002")


def raw_market_file(shared_data: Path) -> Path:
    """The shared raw market's parquet: a failure in CI when it is missing, a clear skip elsewhere."""
    path = shared_data / "ashare_raw" / "market_raw.parquet"
    if not path.is_file():
        msg = f"raw market data not found at {path}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    return path


@pytest.fixture(scope="session")
def raw_store(shared_data, tmp_path_factory):
    """A store of traded prices with their adjustment factor (``stock_raw``) and the CSI 300, imported
    as they are (``--adjust raw``) from the shared raw dataset, for the shipped universes' stocks and
    a few corporate-action cases only (CI imports what its tests need, not the whole market)."""
    import pandas as pd
    import pyarrow.parquet as pq

    from hypebt.data.importers import import_paths
    from hypebt.data.store import Store

    path = raw_market_file(shared_data)
    codes = set(RAW_CODES)
    for name in ("sora", "chatgpt"):
        codes |= set(pd.read_csv(REPO / "data" / "universes" / f"{name}.csv", dtype=str)["code"])
    root = tmp_path_factory.mktemp("raw_store")
    subset = root / "market_raw_subset.parquet"
    pq.write_table(pq.read_table(path, filters=[("code", "in", sorted(codes))]), subset)
    store = Store(root / "store")
    import_paths(store, [subset, shared_data / "index" / "sh000300.csv"], adjust="raw")
    return store
