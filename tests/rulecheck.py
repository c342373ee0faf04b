"""An independent check of a run's fills against the A-share rules, from first principles.

Nothing here calls ``hypebt.market`` (rules, account, desk): limits, lots, fees, T+1, the
short-sale price rule and cash are worked out again from the bars and the ledgers, with the
published numbers written down here (a second implementation to catch the first one's mistakes).
:func:`violations` returns one line per broken rule; an empty list is a clean run.

What is checked, for every fill:

- the session traded (volume > 0) and the price lies within its low and high;
- no buy at or above limit-up, no sale at or below limit-down (10 %; ChiNext 20 % from
  2020-08-24; STAR 20 %; Beijing 30 %; a listing's first five sessions free), half up to the fen
  in integers; nothing bought on a one-price session closing up 4.5 % or more, nothing sold on one
  closing down as much (一字板: no seller / no buyer, whatever the band);
- lots: buys and short sales in lots of 100 (STAR at least 200, Beijing at least 100); sales and
  covers too, except the whole position;
- T+1: shares sold on a session were held at the end of the previous one; shares shorted on a
  session are not covered before the next;
- no naked short: a sale never exceeds the long position; a short sale only when flat or short,
  only on a margin-eligible code, at or above the previous close (融券卖出提价规则);
- volume: no order takes more than a quarter of the session's volume;
- fees: commission max(0.025 %, 5 CNY), stamp duty 0.1 % on sales (0.05 % from 2023-08-28),
  transfer fee 0.002 % (0.001 % from 2022-04-29), each half up to the fen;
- cash: rebuilt from the fills and the borrow interest, it matches the equity ledger's cash at
  every close to the fen and never goes below zero; the value is the cash plus the positions at
  the close.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

import numpy as np

CHINEXT_20 = dt.date(2020, 8, 24)
STAMP_HALVED = dt.date(2023, 8, 28)
TRANSFER_HALVED = dt.date(2022, 4, 29)


def board(code: str) -> str:
    if code.startswith("688") or code.startswith("689"):
        return "star"
    if code.startswith(("300", "301", "302")):  # 302: ChiNext codes from 2025 (302132, formerly 300114)
        return "chinext"
    if code.startswith(("8", "4", "92")):
        return "bse"
    return "main"


def band(code: str, day: dt.date, st: bool = False) -> int:
    """The daily price limit in percent (an ST stock's 5 % on the main board)."""
    b = board(code)
    if st and b == "main":
        return 5
    if b == "bse":
        return 30
    if b == "star" or (b == "chinext" and day >= CHINEXT_20):
        return 20
    return 10


def limit_prices(code: str, prev: float, day: dt.date, st: bool = False) -> tuple[float, float]:
    """(limit-up, limit-down), half up to the fen, in integer fen arithmetic."""
    pct = band(code, day, st)
    fen = round(prev * 100)
    up = (fen * (100 + pct) + 50) // 100
    down = (fen * (100 - pct) + 50) // 100
    return up / 100, down / 100


def fen(x) -> float:
    """Half up to the fen (a float through its shortest repr, as a bill is written)."""
    x = x if isinstance(x, Decimal) else Decimal(repr(float(x)))
    return float(x.quantize(Decimal("0.01"), ROUND_HALF_UP))


def interest(value: float, rate: float, days: int) -> float:
    """融券 interest on a sale value: value x annual rate x calendar days / 360, to the fen."""
    return fen(value * rate * days / 360)


def fees(side: str, size: int, price: float, day: dt.date) -> tuple[float, float, float]:
    value = Decimal(repr(float(price))) * size
    commission = max(fen(value * Decimal("0.00025")), 5.0)
    stamp = fen(value * (Decimal("0.001") if day < STAMP_HALVED else Decimal("0.0005"))) if side == "sell" else 0.0
    transfer = fen(value * (Decimal("0.00002") if day < TRANSFER_HALVED else Decimal("0.00001")))
    return commission, stamp, transfer


def min_lot(code: str) -> int:
    return {"star": 200, "bse": 100}.get(board(code), 100)


def lot_ok(code: str, size: int, whole: bool) -> bool:
    if size <= 0:
        return False
    if whole:
        return True
    b = board(code)
    if b in ("star", "bse"):
        return size >= min_lot(code)
    return size % 100 == 0


class Bars:
    """One code's bars as the run saw them (``prep.arrays[code].columns``), indexed by date."""

    def __init__(self, code: str, sessions, cols: dict):
        self.code = code
        self.days = [d.date() for d in sessions]
        self.at = {d: i for i, d in enumerate(self.days)}
        self.open, self.high, self.low = cols["open"], cols["high"], cols["low"]
        self.close, self.volume, self.prev_close = cols["close"], cols["volume"], cols["prev_close"]
        traded = np.flatnonzero(self.volume > 0)
        # a listing inside the run: its first five traded sessions have no limit
        self.free = set(traded[:5].tolist()) if len(traded) and traded[0] > 0 else set()

    def prev(self, i: int) -> float:
        return float(self.close[i - 1]) if i > 0 else float(self.prev_close[0])


def violations(result, prep, *, eligible=None, tol: float | None = None, volume_limit: float = 0.25,
               borrow_rate: float = 0.08, st=frozenset()) -> list[str]:
    """Every rule a run's fills break (see the module docstring); ``prep`` gives the bars the run used,
    ``eligible(day)`` the codes that may be shorted (default: the spec's margin list), ``st`` codes
    under risk warning (5 % limits) for the whole run."""
    tol = (0.011 if prep.rules.limit_tolerance else 0.0) if tol is None else tol
    bars = {c: Bars(c, prep.sessions, prep.arrays[c].columns) for c in prep.arrays}
    if eligible is None:
        el = prep.eligible
        eligible = (lambda d: el.on(d)) if hasattr(el, "on") else (lambda d: el)
    out: list[str] = []
    held: dict[str, int] = {}
    bought_today: dict[str, int] = {}
    shorted_today: dict[str, int] = {}
    fills = result.fills
    last_day = None
    for f in fills.itertuples(index=False):
        code, side, size, price, day = f.code, f.side, int(f.size), float(f.price), f.date
        if day != last_day:
            bought_today, shorted_today, last_day = {}, {}, day
        where = f"{day} {code} {side} {size} @ {price}"
        b = bars[code]
        i = b.at.get(day)
        if i is None:
            out.append(f"{where}: not a session of the run")
            continue
        if not b.volume[i] > 0:
            out.append(f"{where}: the stock did not trade that session")
        if not (b.low[i] - 1e-9 <= price <= b.high[i] + 1e-9):
            out.append(f"{where}: outside the bar {b.low[i]}..{b.high[i]}")
        prev = b.prev(i)
        buying = side in ("buy", "cover")
        if i not in b.free and prev == prev and prev > 0:
            up, down = limit_prices(code, prev, day, code in st)
            if buying and price >= up - tol:
                out.append(f"{where}: a buy at or above limit-up {up}")
            if not buying and price <= down + tol:
                out.append(f"{where}: a sale at or below limit-down {down}")
            one_price = b.open[i] == b.high[i] == b.low[i] == b.close[i]
            move = b.close[i] / prev - 1
            if one_price and buying and move >= 0.045:
                out.append(f"{where}: a buy on a session locked up all day (一字板)")
            if one_price and not buying and move <= -0.045:
                out.append(f"{where}: a sale on a session locked down all day")
        h = held.get(code, 0)
        if volume_limit and size > volume_limit * b.volume[i] + 1e-6:
            out.append(f"{where}: more than {volume_limit:.0%} of the session's volume {b.volume[i]:.0f}")
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
            if prev == prev and price < prev - 1e-9:
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
        got = (f.commission, f.stamp_duty, f.transfer_fee)
        if tuple(round(x, 2) for x in got) != want:
            out.append(f"{where}: fees {got} but the rules give {want}")
    out += _cash(result, prep, bars, borrow_rate)
    return out


def _cash(result, prep, bars, borrow_rate: float) -> list[str]:
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
        if abs(cash - row.cash) > 0.015:
            out.append(f"{day}: cash rebuilt from the fills {cash:.2f} but the ledger says {row.cash:.2f}")
            cash = float(row.cash)  # one line per divergence, not one per session after it
        if row.cash < -0.005:
            out.append(f"{day}: negative cash {row.cash:.2f}")
        i = bars[next(iter(bars))].at[day]
        value = row.cash + sum(n * float(bars[c].close[i]) for c, n in held.items() if n)
        if abs(value - row.value) > 0.015 + 1e-9 * abs(value):
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
    import pandas as pd

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
