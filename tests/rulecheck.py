"""An independent check of a run's fills against the A-share rules, from first principles.

Nothing here calls hypebt (no rules, account, desk, feed or arrays of the run): the bars are read
from the data itself with pandas (:class:`Market`: the shared qfq or raw parquet, or a test store's
parquet file), the ST status from the dated evidence the data carries, and limits, lots, ticks,
fees, T+1, the short-sale price rule and cash are worked out again with the published numbers
written down here (a second implementation to catch the first one's mistakes). :func:`violations`
returns one line per broken rule; an empty list is a clean run. ``prep`` gives only the run's
configuration: its starting cash, its margin list and its rules' policy switches.

What is checked, for every fill:

- the stock traded that session (a row of the data, volume > 0); the price is on the 0.01 tick and
  within the day's low and high;
- limits, from the previous close — on an ex-date the exchange's reference price, previous close x
  previous adj_factor / adj_factor — per board: main 10 % (5 % under risk warning), ChiNext
  (300/301/302) 10 % then 20 % from 2020-08-24, STAR (688/689) 20 % from its opening 2019-07-22, Beijing
  30 %; a listing's first five sessions free; half up to the fen, in integer fen: every fill at or
  inside them; no buy on a one-price session at limit-up, no sale on one at limit-down (一字板); and
  hypebt's stricter promise: no buy at limit-up, no sale at limit-down (unless the run's rules turn
  on the limit-order model and the order was a limit order);
- lots: buys and short sales in lots of 100 (STAR: 200, then any number of shares; Beijing: 100,
  then any); sales and covers likewise, or the whole position (odd lots only to close);
- T+1: shares sold on a session were held at the end of the previous one; shares shorted on a
  session are not covered in it;
- no naked short: a sale never exceeds the long position; a short sale only when flat or short,
  on a margin-eligible code, at or above the previous close (融券卖出提价规则);
- Backtrader orders (``at`` ``limit@L``, ``stop@S``, ``stoplimit@S/L``, ``stoptrail@S`` ...):
  a limit is never filled worse than L; a stop fills only on a session that reached S;
- volume: no order takes more than a quarter of the session's volume;
- fees: commission max(0.025 %, 5 CNY), stamp duty 0.1 % on sales (0.05 % from 2023-08-28), transfer
  fee 0.002 % (0.001 % from 2022-04-29), each half up to the fen, within half a fen of what is
  charged;
- cash: rebuilt from the fills and the borrow interest, it matches the equity ledger's cash at
  every close within half a fen and never goes below zero; the value is the cash plus the
  positions at the close.

ST status (5 % on the main board) comes from the data's own dated evidence, never from the caller:
the shared data's vendor lists of that day (``concepts/hikyuu/gnbk-*.ini``, board ``[ST股]``) and
its names snapshot (``ashare/stock_list.csv``, mid-2024: a name with "ST"), or a test market's
names file (``code,name,date``). A session between two pieces of evidence that agree takes theirs;
before the first or after the last, the nearest; between two that disagree it is unknown, and so is
it without evidence. A session that traded beyond the 5 % band is not ST whatever the lists say.
Where the status is unknown the 10 % band is checked and a one-price session at the 5 % limit still
counts as locked.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

CHINEXT_20 = dt.date(2020, 8, 24)
STAR_OPEN = dt.date(2019, 7, 22)
STAMP_HALVED = dt.date(2023, 8, 28)
TRANSFER_HALVED = dt.date(2022, 4, 29)
EPS = 1e-6
FREE_SESSIONS = 5  # a new listing's first sessions have no price limit
QFQ_TOL = 0.011  # forward-adjusted prices: a limit recomputed from an adjusted close is off by up to a fen
NAMES_SNAPSHOT = dt.date(2024, 6, 1)  # ashare/stock_list.csv: "a snapshot from mid-2024"


def shared_data() -> Path:
    env = os.environ.get("HYPEBT_SHARED_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data"


# --- the rules, written down again --------------------------------------------------------------------

def board(code: str) -> str:
    if code.startswith(("688", "689")):
        return "star"
    if code.startswith(("300", "301", "302")):  # 302: ChiNext codes from 2025 (302132, formerly 300114)
        return "chinext"
    if code.startswith(("8", "4", "92")):
        return "bse"
    return "main"


def band(code: str, day: dt.date, st: bool = False) -> int:
    """The daily price limit in percent (an ST stock's 5 % on the main board)."""
    b = board(code)
    if b == "main":
        return 5 if st else 10
    if b == "bse":
        return 30
    if b == "star":
        return 20
    return 20 if day >= CHINEXT_20 else 10


def limit_prices(prev: float, pct: int) -> tuple[float, float]:
    """(limit-up, limit-down) of ``prev`` at ``pct`` %, half up to the fen, in integer fen arithmetic
    (``prev``, an ex-date's reference price, first half up to the fen as the exchange publishes it)."""
    fen_ = round(fen(prev) * 100)
    up = (fen_ * (100 + pct) + 50) // 100
    down = (fen_ * (100 - pct) + 50) // 100
    return up / 100, down / 100


def fen(x) -> float:
    """Half up to the fen (a float through its shortest repr, as a bill is written)."""
    x = x if isinstance(x, Decimal) else Decimal(repr(float(x)))
    return float(x.quantize(Decimal("0.01"), ROUND_HALF_UP))


def on_tick(price: float) -> bool:
    return abs(price * 100 - round(price * 100)) < 1e-6


def interest(value: float, rate: float, days: int) -> float:
    """融券 interest on a sale value: value x annual rate x calendar days / 360, to the fen."""
    return fen(value * rate * days / 360)


def fees(side: str, size: int, price: float, day: dt.date) -> tuple[float, float, float]:
    value = Decimal(repr(float(price))) * size
    commission = max(fen(value * Decimal("0.00025")), 5.0)
    stamp = fen(value * (Decimal("0.001") if day < STAMP_HALVED else Decimal("0.0005"))) if side == "sell" else 0.0
    transfer = fen(value * (Decimal("0.00002") if day < TRANSFER_HALVED else Decimal("0.00001")))
    return commission, stamp, transfer


def lot_ok(code: str, size: int, whole: bool) -> bool:
    """A valid order size: whole lots (STAR 200 then any, Beijing 100 then any), or the whole position."""
    if size <= 0:
        return False
    if whole:
        return True
    b = board(code)
    if b == "star":
        return size >= 200
    if b == "bse":
        return size >= 100
    return size % 100 == 0


# --- the data, read independently ------------------------------------------------------------------------

class Market:
    """The bars of some codes as the data holds them (one row per traded session), with each row's
    reference price ``prev`` (NaN where the data does not say), whether it is among a listing's
    first sessions (``free``), and the dated ST evidence ``{code: [(date, is_st)]}``. ``tol``: how
    far a recomputed limit may be off the data's prices (adjusted prices: a fen; traded: none)."""

    def __init__(self, bars: pd.DataFrame, evidence: dict, tol: float, kind: str):
        bars = bars.sort_values(["code", "date"]).reset_index(drop=True)
        self.tol, self.kind, self.evidence = tol, kind, evidence
        self.rows = {(c, d): i for i, (c, d) in enumerate(zip(bars["code"], bars["date"]))}
        self.bars = bars
        self._closes = {c: g.set_index("date")["close"] for c, g in bars.groupby("code")}

    # readers ----------------------------------------------------------------------------------------
    @classmethod
    def shared(cls, codes, adjust: str = "qfq", data: Path | None = None) -> Market:
        """From the shared dataset: ``ashare/market.parquet`` (qfq, what ``real_store`` imports) or
        ``ashare_raw/market_raw.parquet`` (raw), and the shared ST evidence."""
        return _shared(tuple(sorted(set(codes))), adjust, str(data or shared_data()))

    @classmethod
    def store(cls, root, dataset: str = "stock_raw", names: Path | None = None) -> Market:
        """From a test store's parquet file (``root/dataset``, the file its manifest names), read with
        pandas; ``names``: a ``code,name,date`` file of the test market's dated names (ST evidence)."""
        folder = Path(root) / dataset
        frame = pd.read_parquet(folder / json.loads((folder / "manifest.json").read_text("utf-8"))["file"])
        frame["date"] = pd.to_datetime(frame["date"]).dt.date
        frame = frame.sort_values(["code", "date"]).reset_index(drop=True)
        prev = _reference(frame)
        first = frame.groupby("code").cumcount() == 0
        if "pct_change" in frame:  # the row before the data: from the first row's change
            prev = prev.where(~first, (frame["close"] / (1 + frame["pct_change"] / 100)).round(2))
        evidence: dict = {}
        if names is not None and Path(names).is_file():
            for row in pd.read_csv(names, dtype=str).itertuples(index=False):
                evidence.setdefault(row.code, []).append((dt.date.fromisoformat(row.date), "ST" in row.name.upper()))
        bars = frame.assign(prev=prev, free=_free(frame))[COLUMNS]
        return cls(bars, evidence, QFQ_TOL if dataset.endswith("qfq") else 0.0, dataset)

    # lookups ------------------------------------------------------------------------------------------
    def row(self, code: str, day: dt.date):
        i = self.rows.get((code, day))
        return None if i is None else self.bars.iloc[i]

    def close_on(self, code: str, day: dt.date) -> float:
        """The close of ``day``, or the last one before it (a suspended session)."""
        closes = self._closes[code]
        return float(closes.loc[:day].iloc[-1])

    def st(self, code: str, day: dt.date) -> bool | None:
        """The ST status on ``day`` from the dated evidence (None: unknown; see the module docstring)."""
        points = sorted(self.evidence.get(code, ()))
        before = [s for d, s in points if d <= day]
        after = [s for d, s in points if d >= day]
        if before and after:
            return before[-1] if before[-1] == after[0] else None
        if before or after:
            return (before or after)[-1 if before else 0]
        return None


COLUMNS = ["code", "date", "open", "high", "low", "close", "volume", "prev", "free"]


def _reference(frame: pd.DataFrame) -> pd.Series:
    """Each row's reference price: the previous row's close, times its adj_factor over this row's on an
    ex-date (the exchange's 除权除息参考价), NaN on a code's first row."""
    g = frame.groupby("code")
    prev = g["close"].shift(1)
    if "adj_factor" in frame:
        prev = prev * g["adj_factor"].shift(1) / frame["adj_factor"]
    return prev


def _free(frame: pd.DataFrame) -> pd.Series:
    """A listing inside the data: its first five rows have no limit."""
    start = frame["date"].min()
    first = frame.groupby("code")["date"].transform("min")
    return (first > start) & (frame.groupby("code").cumcount() < FREE_SESSIONS)


@lru_cache(maxsize=8)
def _shared(codes: tuple, adjust: str, data: str) -> Market:
    root = Path(data)
    if adjust == "qfq":
        frame = pd.read_parquet(root / "ashare" / "market.parquet", filters=[("code", "in", list(codes))])
        frame = frame.rename(columns={"日期": "date", "开盘": "open", "收盘": "close", "最高": "high", "最低": "low",
                                      "成交量": "volume", "涨跌额": "change"})
        frame["date"] = pd.to_datetime(frame["date"]).dt.date
        frame["volume"] = frame["volume"].astype("float64") * 100  # lots of 100 shares
        frame = frame.sort_values(["code", "date"]).reset_index(drop=True)
        # the previous close on the adjusted scale; the first row's from its change
        prev = _reference(frame).fillna((frame["close"] - frame["change"]).round(2))
        tol = QFQ_TOL
    else:
        frame = pd.read_parquet(root / "ashare_raw" / "market_raw.parquet", filters=[("code", "in", list(codes))])
        frame["date"] = pd.to_datetime(frame["date"]).dt.date
        frame = frame.sort_values(["code", "date"]).reset_index(drop=True)
        prev, tol = _reference(frame), 0.0
    bars = frame.assign(prev=prev, free=_free(frame))[COLUMNS]
    return Market(bars, _shared_st(str(root), codes), tol, adjust)


def _shared_st(root: str, codes: tuple) -> dict:
    """{code: [(date, is_st)]} from the shared vendor lists of the day and the names snapshot."""
    out: dict = {}
    wanted = set(codes)
    folder = Path(root) / "concepts" / "hikyuu"
    for path in sorted(folder.glob("gnbk-*.ini")):
        day = dt.date.fromisoformat(re.match(r"gnbk-(\d{4}-\d{2}-\d{2})", path.name).group(1))
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("gbk")
        st, listed, board_ = set(), set(), None
        for line in text.splitlines():
            line = line.strip()
            if line.startswith("["):
                board_ = line.strip("[]")
            elif "," in line:
                code = line.split(",")[1].strip()
                listed.add(code)
                if board_ == "ST股":
                    st.add(code)
        for code in wanted & listed:  # a code the vendor knew that day: in its ST list or not
            out.setdefault(code, []).append((day, code in st))
    names = Path(root) / "ashare" / "stock_list.csv"
    if names.is_file():
        for row in pd.read_csv(names, dtype=str, usecols=["code", "name"]).itertuples(index=False):
            if row.code in wanted:
                out.setdefault(row.code, []).append((NAMES_SNAPSHOT, "ST" in str(row.name).upper()))
    return out


# --- the check ---------------------------------------------------------------------------------------------

_ORDER = re.compile(r"(?P<kind>[a-z]+)@(?P<price>[0-9.e+-]+)(?:/(?P<plimit>[0-9.e+-]+))?")


def _order_terms(result) -> dict:
    """{(date, code, side, size, price): the ``at`` of the filled order rows} (Backtrader's kinds)."""
    out: dict = {}
    orders = result.orders
    if orders is None or not len(orders):
        return out
    for row in orders[orders["status"] == "filled"].itertuples(index=False):
        out.setdefault((row.date, row.code, row.side, int(row.filled or row.size), round(float(row.price), 6)),
                       []).append(row.at)
    return out


def violations(result, prep, market: Market, *, eligible=None, volume_limit: float = 0.25,
               borrow_rate: float = 0.08) -> list[str]:
    """Every rule a run's fills break (see the module docstring); ``market``: the data the run traded
    (:class:`Market`), ``prep``: the run's cash, margin list and rules' switches; ``eligible(day)``:
    the codes that may be shorted (default: the spec's margin list)."""
    if eligible is None:
        el = prep.eligible
        eligible = (lambda d: el.on(d)) if hasattr(el, "on") else (lambda d: el)
    at_limit_model = bool(getattr(prep.rules, "fill_at_limit_when_opened", False))
    tol = market.tol
    terms = _order_terms(result)
    out: list[str] = []
    held: dict[str, int] = {}
    bought_today: dict[str, int] = {}
    shorted_today: dict[str, int] = {}
    last_day = None
    for f in result.fills.itertuples(index=False):
        code, side, size, price, day = f.code, f.side, int(f.size), float(f.price), f.date
        if day != last_day:
            bought_today, shorted_today, last_day = {}, {}, day
        where = f"{day} {code} {side} {size} @ {price}"
        b = market.row(code, day)
        buying = side in ("buy", "cover")
        if b is None:
            out.append(f"{where}: the stock has no bar that session (suspended, or not listed)")
        else:
            out += [f"{where}: {v}" for v in _price_checks(code, day, side, price, b, market, tol, at_limit_model,
                                                          terms.get((day, code, side, size, round(price, 6)), []))]
            if not b.volume > 0:
                out.append(f"{where}: the stock did not trade that session")
            elif volume_limit and size > volume_limit * b.volume + 1e-6:
                out.append(f"{where}: more than {volume_limit:.0%} of the session's volume {b.volume:.0f}")
        h = held.get(code, 0)
        prev = b.prev if b is not None else float("nan")
        if side == "buy":
            if h < 0:
                out.append(f"{where}: a buy while short (cover first)")
            if not lot_ok(code, size, False):
                out.append(f"{where}: not a valid lot")
            bought_today[code] = bought_today.get(code, 0) + size
        elif side == "sell":
            if size > h:
                out.append(f"{where}: sells {size} with {h} held (a naked short)")
            elif size > h - bought_today.get(code, 0):
                out.append(f"{where}: sells shares bought this session (T+1)")
            if not lot_ok(code, size, size == h):
                out.append(f"{where}: not a valid lot")
        elif side == "short":
            if h > 0:
                out.append(f"{where}: a short sale while long")
            if code not in eligible(day):
                out.append(f"{where}: short sale of a code off the margin list")
            if prev == prev and price < prev - tol - EPS:
                out.append(f"{where}: short sale below the previous close {prev} (融券卖出提价规则)")
            if not lot_ok(code, size, False):
                out.append(f"{where}: not a valid lot")
            shorted_today[code] = shorted_today.get(code, 0) + size
        elif side == "cover":
            if size > -h:
                out.append(f"{where}: covers {size} with {-h} short")
            elif size > -h - shorted_today.get(code, 0):
                out.append(f"{where}: covers shares shorted this session")
            if not lot_ok(code, size, size == -h):
                out.append(f"{where}: not a valid lot")
        held[code] = h + (size if buying else -size)
        want = fees("buy" if buying else "sell", size, price, day)
        got = (float(f.commission), float(f.stamp_duty), float(f.transfer_fee))
        if any(abs(g - w) > 0.005 for g, w in zip(got, want)):
            out.append(f"{where}: fees {got} but the rules give {want}")
    out += _cash(result, prep, market, borrow_rate)
    return out


def _price_checks(code, day, side, price, b, market: Market, tol, at_limit_model, ats) -> list[str]:
    out = []
    buying = side in ("buy", "cover")
    if not on_tick(price):
        out.append("the price is off the 0.01 tick")
    if not (b.low - EPS <= price <= b.high + EPS):
        out.append(f"outside the bar {b.low}..{b.high}")
    prev = b.prev
    if not b.free and prev == prev and prev > 0:
        st = market.st(code, day) if board(code) == "main" else False
        up5, down5 = limit_prices(prev, 5)
        if st and (b.high > up5 + tol + EPS or b.low < down5 - tol - EPS):
            st = False  # traded beyond the ST band: not ST that day
        up, down = limit_prices(prev, band(code, day, bool(st)))
        if price > up + tol + EPS or price < down - tol - EPS:
            out.append(f"outside the day's limits {down}..{up} (reference price {prev:.4f})")
        one_price = b.open == b.high == b.low == b.close
        limit_kind = any(a.startswith(("limit@", "stoplimit@", "stoptraillimit@")) for a in ats)
        if buying:
            locked = one_price and (b.close >= up - tol - EPS or (board(code) == "main" and b.close >= up5 - tol - EPS))
            if locked:
                out.append(f"a buy on a session locked at limit-up all day (一字板, {b.close})")
            elif price >= up - tol - EPS and not (at_limit_model and limit_kind):
                out.append(f"a buy at or above limit-up {up}")
        else:
            locked = one_price and (b.close <= down + tol + EPS
                                    or (board(code) == "main" and b.close <= down5 + tol + EPS))
            if locked:
                out.append(f"a sale on a session locked at limit-down all day ({b.close})")
            elif price <= down + tol + EPS and not (at_limit_model and limit_kind):
                out.append(f"a sale at or below limit-down {down}")
    for at in ats:
        out += _order_checks(at, buying, price, b)
    return out


def _order_checks(at: str, buying: bool, price: float, b) -> list[str]:
    """A Backtrader order's own terms: its limit, its stop's trigger (``at`` as the ledger writes it)."""
    m = _ORDER.fullmatch(at)
    if m is None:
        return []
    kind, level = m["kind"], float(m["price"])
    limit = float(m["plimit"]) if m["plimit"] else (level if kind == "limit" else None)
    out = []
    # the ledger writes the prices with 6 significant digits ("%g"): within half their last digit
    if limit is not None and (price > limit + _g(limit) if buying else price < limit - _g(limit)):
        out.append(f"a {kind} order filled worse than its limit {limit}")
    if kind in ("stop", "stoptrail") and (b.high < level - _g(level) if buying else b.low > level + _g(level)):
        out.append(f"a {kind} order filled on a session that never reached its stop {level}")
    return out


def _g(x: float) -> float:
    return max(EPS, abs(x) * 5e-6)


def _cash(result, prep, market: Market, borrow_rate: float) -> list[str]:
    """Cash rebuilt session by session from the fills and the interest of the short lots, against the
    equity ledger; the value against cash plus positions at the close."""
    eq = result.equity
    if eq is None or not len(eq):
        return []
    fills = {d: g for d, g in result.fills.groupby("date")} if len(result.fills) else {}
    lots: dict[str, list] = {}  # code -> [sale date, shares, price, interest charged] (open short lots)
    cash, held, out = float(prep.spec.cash), {}, []
    for row in eq.itertuples(index=False):
        day = row.date
        for code, code_lots in lots.items():  # interest accrued to today on the open short lots
            for lot in code_lots:
                total = interest(lot[1] * lot[2], borrow_rate, (day - lot[0]).days)
                cash -= total - lot[3]
                lot[3] = total
        for f in (fills[day].itertuples(index=False) if day in fills else ()):
            buying = f.side in ("buy", "cover")
            amount = f.size * f.price
            cash += -amount if buying else amount
            cash -= f.commission + f.stamp_duty + f.transfer_fee
            held[f.code] = held.get(f.code, 0) + (f.size if buying else -f.size)
            if f.side == "short":
                lots.setdefault(f.code, []).append([day, f.size, f.price, 0.0])
            elif f.side == "cover":
                left = f.size
                while left and lots.get(f.code):
                    lot = lots[f.code][0]
                    take = min(left, lot[1])
                    due = interest(take * lot[2], borrow_rate, (day - lot[0]).days)
                    charged = lot[3] if take == lot[1] else fen(lot[3] * take / lot[1])
                    cash -= due - charged
                    lot[1] -= take
                    lot[3] = round(lot[3] - charged, 2)
                    left -= take
                    if not lot[1]:
                        lots[f.code].pop(0)
        if abs(cash - row.cash) > 0.005 + 1e-9:
            out.append(f"{day}: cash rebuilt from the fills {cash:.2f} but the ledger says {row.cash:.2f}")
            cash = float(row.cash)  # one line per divergence, not one per session after it
        if row.cash < -0.005:
            out.append(f"{day}: negative cash {row.cash:.2f}")
        value = row.cash + sum(n * market.close_on(c, day) for c, n in held.items() if n)
        if abs(value - row.value) > 0.005 + 1e-9 * abs(value):
            out.append(f"{day}: value {row.value:.2f} is not cash plus positions at the close {value:.2f}")
    return out


# --------------------------------------------- limits of a whole market, recomputed ---

REGISTRATION = {"star": dt.date(2019, 7, 22), "chinext": CHINEXT_20, "main": dt.date(2023, 4, 10)}


def exchange_limits(bars, st_dated=None):
    """Every row's limits by the exchanges' rules, worked out here again from first principles (a
    second implementation beside hypebt's market panel; pandas and integers, no ``hypebt.market``).

    ``bars``: code, date, close and, for traded prices, ``adj_factor`` (rows of any order). Per row:
    the previous traded close of the code (none on its first row), on an ex-date (the factor moved)
    carried to the new basis — previous close x factor before / factor after, half up to the fen,
    the exchange's reference price —, the board's band (:func:`band`; ST 5 % on the main boards
    only where ``st_dated`` says so: a mapping date -> codes under risk warning that session, dated
    evidence only, nothing inferred), half up to the fen in integers; no limit on a listing's free
    sessions (a code whose first row comes after the frame's first date was listed that day: five
    free sessions on STAR, ChiNext from 2020-08-24 and the main boards from 2023-04-10, else one).

    Returns a frame on the same index: ``reference``, ``up``, ``down`` (NaN: no limit), ``st``.
    """
    b = bars.sort_values(["code", "date"], kind="stable")
    code = b["code"].astype(str)
    same = code.eq(code.shift()).to_numpy()
    prev = b["close"].shift().where(same).to_numpy(dtype="float64")
    ref = prev.copy()
    if "adj_factor" in b:
        f = b["adj_factor"].to_numpy(dtype="float64")
        fp = np.r_[np.nan, f[:-1]]
        for i in np.flatnonzero(same & (fp != f) & (fp > 0) & (f > 0)):
            ref[i] = fen(Decimal(repr(float(prev[i]))) * Decimal(repr(float(fp[i]))) / Decimal(repr(float(f[i]))))
    boards = code.map(board)
    st = np.zeros(len(b), dtype=bool)
    for day, codes in (st_dated or {}).items():
        st |= ((b["date"] == pd.Timestamp(day)) & code.isin(set(codes))).to_numpy()
    st &= (boards == "main").to_numpy()
    # band() over arrays: one value per (board, ST, ChiNext reform) case
    kind = boards.to_numpy()
    chinext_20 = (b["date"] >= pd.Timestamp(CHINEXT_20)).to_numpy()
    pct = np.select([kind == "bse", kind == "star", (kind == "chinext") & chinext_20, st], [30, 20, 20, 5], 10)
    first = b.groupby(code, sort=False)["date"].transform("min")
    nth = b.groupby(code, sort=False).cumcount().to_numpy() + 1
    listed = (first > b["date"].min()).to_numpy()
    registered = np.zeros(len(b), dtype=bool)
    for name, since in REGISTRATION.items():
        registered |= (kind == name) & (first >= pd.Timestamp(since)).to_numpy()
    free = np.where(registered, 5, 1)
    with np.errstate(invalid="ignore"):
        fen_ = np.rint(ref * 100)
        up = np.floor((fen_ * (100 + pct) + 50) / 100) / 100
        down = np.floor((fen_ * (100 - pct) + 50) / 100) / 100
    none = np.isnan(ref) | (listed & (nth <= free))
    up[none], down[none] = np.nan, np.nan
    out = pd.DataFrame({"reference": ref, "up": up, "down": down, "st": st}, index=b.index)
    return out.reindex(bars.index)
