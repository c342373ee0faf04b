"""What a strategy sees of one bar: :class:`BarView` (a whole session) and :class:`PreOpenBar`
(today before the open: the fields of the rest of the day do not exist yet)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from hypebt.core.errors import LookAheadError


@dataclass(frozen=True)
class BarView:
    """One code's bar as a strategy may see it."""

    date: dt.date
    open: float
    high: float
    low: float
    close: float
    adjclose: float
    volume: float
    limit_up: float | None
    limit_down: float | None
    suspended: bool
    # Decided by hypebt.market.rules (limit_flags) when the feed was built, with the run's tolerance.
    closed_up: bool = False
    locked_up: bool = False

    @classmethod
    def of(cls, **fields) -> "BarView":
        """A BarView from every field by name, without the frozen dataclass's per-field
        ``object.__setattr__`` (strategies ask for a bar per held stock and session)."""
        view = object.__new__(cls)
        view.__dict__.update(fields)
        return view

    @property
    def closed_at_limit_up(self) -> bool:
        """The session closed at limit-up (:func:`hypebt.market.rules.limit_flags`)."""
        return self.closed_up

    @property
    def locked_limit_up(self) -> bool:
        """一字板 at limit-up: the whole session at the limit, nothing bought."""
        return self.locked_up


class PreOpenBar(BarView):
    """Today's bar before the open: only ``date``, ``open``, the limits and ``suspended`` exist.

    The fields of the rest of the day are not stored at all; reading one raises
    :class:`LookAheadError` naming it.
    """

    def __init__(self, date, open, limit_up, limit_down, suspended):  # noqa: A002 (the bar's field)
        for name, value in (("date", date), ("open", open), ("limit_up", limit_up), ("limit_down", limit_down),
                            ("suspended", suspended)):
            object.__setattr__(self, name, value)

    def _unknown(name):  # noqa: N805 (builds the properties below)
        def get(self):
            raise LookAheadError(
                f"today's {name} ({self.date}) is not known in on_open: before the open a bar has only open, "
                "limit_up, limit_down and suspended; use bar(code, 1) for the last full bar, or decide in on_close"
            )
        return property(get)

    high = _unknown("high")
    low = _unknown("low")
    close = _unknown("close")
    adjclose = _unknown("adjclose")
    volume = _unknown("volume")
    closed_up = _unknown("closed_up")
    locked_up = _unknown("locked_up")
    del _unknown

    def __repr__(self) -> str:
        return (f"PreOpenBar(date={self.date}, open={self.open}, limit_up={self.limit_up}, "
                f"limit_down={self.limit_down}, suspended={self.suspended})")

    def __eq__(self, other):
        return self is other

    __hash__ = object.__hash__
