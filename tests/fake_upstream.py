"""A fake of the servers akshare talks to, at the HTTP transport: akshare's own code runs unchanged.

``FakeUpstream.install(monkeypatch)`` replaces ``requests.adapters.HTTPAdapter.send`` (the one
door every ``requests.get`` and ``Session.get`` goes through), answering like the real servers:

- Eastmoney ``push2his .../api/qt/stock/kline/get``: JSON whose ``data.klines`` are
  ``"date,open,close,high,low,volume,amount,amplitude,pct,change,turnover"`` strings (``data``
  is null for an unknown code or an empty range), prices by ``fqt`` (0 raw, 1 qfq, 2 hfq);
- Eastmoney ``push2 .../api/qt/clist/get``: pages (``pn``, ``pz``, at most 100 rows) of ``diff``
  objects with their fields in the order the server writes them, for the concept board list
  (``fs=m:90 t:3 f:!50``) and a board's members (``fs=b:BK.... f:!50``);
- Sina ``klc_td_sh.txt`` (trade calendar) and ``{symbol}/hisdata/klc_kl.js`` (index bars):
  ``var X="...";`` with the payload in Sina's bit-packed encoding, which akshare decodes with
  Sina's own JavaScript (``hk_js_decode``). The encoders below write that format.

Anything else gets a 404, so a changed URL or parameter in a new akshare fails the tests.
Built from ``../shared/data``: 1 qfq table per stock, index CSVs, concept lists. raw and hfq
prices are derived from qfq with a made-up 10% bonus issue on ``EX_DAY``.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pandas as pd
import requests

EX_DAY = pd.Timestamp("2023-06-01")
BONUS = 1.1  # raw prices before EX_DAY are qfq x 1.1; hfq prices are qfq x 1.1 throughout
SINA_EPOCH = dt.date(1970, 1, 1) + dt.timedelta(days=7657)  # day 0 of Sina's encoding: 1990-12-19
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


# --- Sina's bit-packed payloads -----------------------------------------------------------------

class _Bits:
    """Sina's bit stream: 6 bits per character, each value least significant bit first."""

    def __init__(self) -> None:
        self.bits: list[int] = []

    def put(self, value: int, width: int) -> None:
        value &= (1 << width) - 1  # two's complement for signed fields
        self.bits += [(value >> i) & 1 for i in range(width)]

    def signed_run(self, delta: int) -> None:
        """Sina's ``N()``: a sign bit (1 = positive), then |delta| - 1 ones and a zero."""
        self.bits.append(1 if delta > 0 else 0)
        self.bits += [1] * (abs(delta) - 1) + [0]

    def text(self) -> str:
        bits = self.bits + [0] * (-len(self.bits) % 6)
        return "".join(_ALPHABET[sum(b << i for i, b in enumerate(bits[k:k + 6]))] for k in range(0, len(bits), 6))


def _sina_day(day: dt.date) -> int:
    return (day - SINA_EPOCH).days


def encode_sessions(sessions) -> str:
    """Sessions (sorted dates) in Sina's calendar format (version 139): runs of weekdays.

    The decoder walks weekdays from the first session to the last; at each "break" it reads how
    many sessions follow before the next weekday holiday.
    """
    days = sorted({pd.Timestamp(d).date() for d in sessions})
    out = _Bits()
    out.put(139, 12)
    out.put(63, 6)
    out.put(_sina_day(days[0]), 18)  # the decoder starts one day before and steps onto it
    out.put(_sina_day(days[-1]), 18)
    traded = set(days)
    weekdays = [d for d in (days[0] + dt.timedelta(n) for n in range((days[-1] - days[0]).days + 1)) if d.weekday() < 5]
    flags = [d in traded for d in weekdays]
    width = 0

    def run(value: int) -> None:
        nonlocal width
        need = 0 if value == 0 else -(-value.bit_length() // 3)
        if need == width:
            out.bits.append(0)
        else:
            out.bits.append(1)
            out.signed_run(need - width)
            width = need
        out.put(value, 3 * width)

    i = 1
    while i < len(flags) and flags[i]:
        i += 1
    run(i)  # the first session and the i - 1 after it
    while i < len(flags):  # flags[i] is a weekday holiday
        j = i + 1
        while j < len(flags) and flags[j]:
            j += 1
        run(j - i - 1)
        i = j
    return out.text()


def encode_daily(bars: pd.DataFrame, decimals: int = 3) -> str:
    """Daily bars (date, open, high, low, close, volume) in Sina's kline format (version 1479).

    Every record sets its day outright and uses fixed field widths (27-bit prices, 42-bit
    volume), set once by the first record: 180 bits, 30 characters, a record.
    """
    scale = 10 ** decimals
    out = _Bits()
    out.put(1479, 12)
    out.put(63, 6)
    out.put(decimals, 6)
    out.put(0, 18)
    out.put(7, 3)  # md: x_d = 7 + 2 = 9 -> 27-bit price fields
    out.put(7, 3)  # mv: x_v = 7 + 7 = 14 -> 42-bit volume field (even: no width flips)
    last_close = 0
    last_volume = 0
    for k, row in enumerate(bars.itertuples(index=False)):
        o, h, l, c = (int(round(getattr(row, f) * scale)) for f in ("open", "high", "low", "close"))
        volume = int(row.volume)
        out.put(32, 6)  # flags follow
        out.put(1 | (16 if k == 0 else 0), 6)  # the day, outright; on the first record more flags
        out.put(_sina_day(pd.Timestamp(row.date).date()), 18)
        if k == 0:
            out.put(63, 6)
            out.put(2, 3)
            out.put(7, 3)
        out.put(o - last_close, 27)
        out.put(h - o, 27)
        out.put(o - l, 27)
        out.put(c - o, 27)
        delta = volume - last_volume
        out.put(delta % (1 << 30), 30)
        out.put(delta >> 30, 12)
        last_close, last_volume = c, volume
    return out.text()


# --- the servers ----------------------------------------------------------------------------------

def _kline(row) -> str:
    return ",".join([row["日期"], *(f"{row[c]:.2f}" for c in ("开盘", "收盘", "最高", "最低")),
                     str(int(row["成交量"])), f"{row['成交额']:.1f}",
                     *(f"{row[c]:.2f}" for c in ("振幅", "涨跌幅", "涨跌额", "换手率"))])


def prices(table: pd.DataFrame, fqt: str) -> pd.DataFrame:
    """A shared qfq table at Eastmoney's ``fqt`` (1 qfq, 0 raw, 2 hfq), prices rounded to the fen."""
    if fqt == "1":
        return table
    dates = pd.to_datetime(table["日期"])
    factor = np.where(dates < EX_DAY, BONUS, 1.0) if fqt == "0" else np.full(len(table), BONUS)
    table = table.copy()
    for col in ("开盘", "收盘", "最高", "最低", "涨跌额"):
        table[col] = (table[col] * factor).round(2)
    return table


class FakeUpstream:
    """Eastmoney and Sina as akshare sees them; ``requests`` records what akshare asked for.

    ``fail`` maps a URL fragment to an exception to raise instead of answering (a ban, a DNS
    failure); ``page_size`` caps clist pages like the server (100).
    """

    def __init__(self, data: Path, *, page_size: int = 100):
        self.data = data
        self.page_size = page_size
        self.requests: list[tuple[str, dict]] = []
        self.fail: dict[str, BaseException] = {}
        self.boards: dict[str, tuple[str, pd.DataFrame]] = {}  # code -> (name, members code,name)
        self.lock = threading.Lock()
        self._tables: dict[str, pd.DataFrame] = {}

    # set-up
    def install(self, monkeypatch) -> "FakeUpstream":
        fake = self

        def send(adapter, request, **kwargs):
            return fake.answer(request)

        monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", send)
        return self

    def add_board(self, code: str, name: str, members: pd.DataFrame) -> None:
        self.boards[code] = (name, members)

    # dispatch
    def answer(self, request) -> requests.Response:
        url = urlsplit(request.url)
        params = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        with self.lock:
            self.requests.append((url.netloc + url.path, params))
        for fragment, exc in self.fail.items():
            if fragment in request.url:
                raise exc
        host, path = url.netloc, url.path
        if host == "push2his.eastmoney.com" and path == "/api/qt/stock/kline/get":
            return self._respond(request, 200, json.dumps(self._klines(params)), "application/json")
        if host.endswith("push2.eastmoney.com") and path == "/api/qt/clist/get":
            body = self._clist(params)
            return self._respond(request, 200 if body else 404, json.dumps(body) if body else "", "application/json")
        if host == "finance.sina.com.cn" and path == "/realstock/company/klc_td_sh.txt":
            sessions = self.sessions()
            return self._respond(request, 200, f'var KLC_TD_SH="{encode_sessions(sessions)}";', "text/plain")
        if host == "finance.sina.com.cn" and path.endswith("/hisdata/klc_kl.js"):
            symbol = path.split("/")[3]
            file = self.data / "index" / f"{symbol}.csv"
            if not file.is_file():
                return self._respond(request, 200, 'var KLC_KL_ERR="";', "application/x-javascript")
            bars = pd.read_csv(file)
            return self._respond(request, 200, f'var KLC_KL_{symbol}="{encode_daily(bars)}";',
                                 "application/x-javascript")
        return self._respond(request, 404, "not found", "text/plain")

    @staticmethod
    def _respond(request, status: int, body: str, ctype: str) -> requests.Response:
        resp = requests.Response()
        resp.status_code = status
        resp._content = body.encode("utf-8")
        resp.headers["Content-Type"] = f"{ctype}; charset=utf-8"
        resp.encoding = "utf-8"
        resp.url = request.url
        resp.request = request
        return resp

    def sessions(self) -> pd.DatetimeIndex:
        """What Sina's calendar lists: CSI 300's sessions (the shared index)."""
        return pd.DatetimeIndex(pd.to_datetime(pd.read_csv(self.data / "index" / "sh000300.csv")["date"]))

    def table(self, code: str) -> pd.DataFrame | None:
        if code not in self._tables:
            path = self.data / "ashare" / "daily" / f"{code}.csv"
            self._tables[code] = pd.read_csv(path, dtype={"日期": str}) if path.is_file() else None
        return self._tables[code]

    def _klines(self, p: dict) -> dict:
        market, _, code = p["secid"].partition(".")
        assert p["klt"] == "101" and p["fqt"] in ("0", "1", "2"), p
        assert market == ("1" if code.startswith("6") else "0"), p
        table = self.table(code)
        empty = {"rc": 0, "rt": 17, "svr": 181669437, "lt": 1, "full": 0, "dlmkts": "", "data": None}
        if table is None:
            return empty
        day = table["日期"].str.replace("-", "")
        table = prices(table[(day >= p["beg"]) & (day <= p["end"])], p["fqt"])
        if table.empty:
            return empty
        return {"rc": 0, "rt": 17, "svr": 181669437, "lt": 1, "full": 0, "dlmkts": "",
                "data": {"code": code, "market": int(market), "name": code, "decimal": 2,
                         "dktotal": len(table), "preKPrice": float(table["收盘"].iloc[0]),
                         "klines": [_kline(r) for _, r in table.iterrows()]}}

    def _clist(self, p: dict) -> dict | None:
        fs, page, size = p.get("fs", ""), int(p.get("pn", 1)), min(int(p.get("pz", 100)), self.page_size)
        if fs == "m:90 t:3 f:!50":
            rows = [self._board_row(i, code, name) for i, (code, (name, _)) in enumerate(self.boards.items())]
        elif fs.startswith("b:BK") and fs.endswith(" f:!50"):
            code = fs[2:].split()[0]
            if code not in self.boards:
                return {"rc": 0, "rt": 6, "svr": 1, "lt": 1, "full": 1, "dlmkts": "", "data": None}
            rows = [self._member_row(c, n) for c, n in zip(self.boards[code][1]["code"], self.boards[code][1]["name"])]
        else:
            return None
        part = rows[(page - 1) * size: page * size]
        return {"rc": 0, "rt": 6, "svr": 1, "lt": 1, "full": 1, "dlmkts": "",
                "data": {"total": len(rows), "diff": part}}

    @staticmethod
    def _board_row(i: int, code: str, name: str) -> dict:
        # The server writes the requested fields by number, with f140/f141 (the leader's code and
        # market) right after f128 (its name).
        values = {"f2": 1000.0 + i, "f3": 1.5 - i / 10, "f4": 15.0, "f8": 2.1, "f11": 0.1, "f12": code, "f14": name,
                  "f15": 1010.0, "f16": 990.0, "f17": 995.0, "f18": 985.0, "f20": 1.2e12, "f21": 1.0e12, "f22": 0.2,
                  "f24": 3.0, "f25": 5.0, "f33": 0.5, "f62": 1.0e8, "f104": 30, "f105": 7, "f107": 0,
                  "f124": 1717400000, "f128": "当虹科技", "f140": "688039", "f141": 1, "f136": 10.0}
        return values

    @staticmethod
    def _member_row(code: str, name: str) -> dict:
        fields = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 20, 21, 22, 23, 24, 25, 45, 62,
                  115, 128, 140, 141, 136, 152)
        row = {f"f{n}": 1.0 for n in fields}
        row.update({"f1": 2, "f12": code, "f13": 1 if code.startswith("6") else 0, "f14": name, "f128": "-",
                    "f140": "-", "f141": "-"})
        return row
