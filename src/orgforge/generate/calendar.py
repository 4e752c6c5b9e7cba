"""Everyone's calendar across accounts: no user is in two meetings at once.

Accounts are generated apart (in worker processes), but a sales rep's meetings come from many
accounts. So the process that writes the world places every event, in account order, in the
calendars of its owner and invitees: an event that would overlap one already placed moves to the
nearest free quarter hour inside the windows its account allowed (working days of the step's
window, business hours of both sides, same side of as_of, after it was scheduled). Placing in
account order keeps a world prefix-stable: an account's meetings depend only on accounts before it.
The calendar covers the whole world, so past a few tens of thousands of user-days it keeps the
rest on disk (generate/spill.py): memory stays flat however many accounts there are.
"""

from __future__ import annotations

from collections.abc import Iterable

from orgforge.generate.spill import SpillingDict
from orgforge.generate.timeutil import parse_stamp, stamp

QUARTER = 15


class Calendar:
    """Busy quarter hours per user, as a bit mask per (user, UTC day)."""

    def __init__(self) -> None:
        self._busy = SpillingDict(default=0)  # read by subscript: misses may be on disk

    @staticmethod
    def _quarters(start: int, end: int) -> range:
        return range(start // QUARTER, -(-end // QUARTER))

    def _free(self, users: Iterable[str], start: int, end: int) -> bool:
        busy = self._busy
        for user in users:
            for q in self._quarters(start, end):
                if busy[user, q // 96] >> (q % 96) & 1:
                    return False
        return True

    def _mark(self, users: Iterable[str], start: int, end: int) -> None:
        busy = self._busy
        for user in users:
            for q in self._quarters(start, end):
                slot = (user, q // 96)
                busy[slot] = busy[slot] | 1 << (q % 96)
        busy.spill_if_full()

    def add(self, users: Iterable[str], start: str, end: str) -> None:
        """An event already in the world (text datetimes)."""
        self._mark(tuple(users), parse_stamp(start), parse_stamp(end))

    def remove(self, users: Iterable[str], start: str, end: str) -> None:
        """Free an event's time again (one about to be planned anew)."""
        busy = self._busy
        for user in users:
            for q in self._quarters(parse_stamp(start), parse_stamp(end)):
                slot = (user, q // 96)
                busy[slot] = busy[slot] & ~(1 << (q % 96))
        busy.spill_if_full()

    def place(
        self,
        users: tuple[str, ...],
        start: int,
        duration: int,
        windows: tuple[tuple[int, int], ...],
    ) -> int:
        """Where the event goes: ``start`` if free, else the free quarter hour nearest to it in
        the first of ``windows`` (allowed start ranges, nearest day first) that has one; if
        none has, it keeps ``start`` (``orgforge check`` reports it)."""
        at = self.find(users, start, duration, windows)
        at = start if at is None else at
        self._mark(users, at, at + duration)
        return at

    def find(
        self,
        users: tuple[str, ...],
        start: int,
        duration: int,
        windows: tuple[tuple[int, int], ...],
    ) -> int | None:
        """The start :meth:`place` would pick when one is free, else None; marks nothing."""
        if self._free(users, start, start + duration):
            return start
        for lo, hi in windows:
            anchor = min(max(start, lo), hi)
            for k in range((hi - lo) // QUARTER + 1):
                for candidate in (anchor + k * QUARTER, anchor - k * QUARTER):
                    if lo <= candidate <= hi and self._free(users, candidate, candidate + duration):
                        return candidate
        return None

    def book(self, users: Iterable[str], start: int, duration: int) -> None:
        """Mark a start :meth:`find` returned (absolute minutes) as busy."""
        self._mark(tuple(users), start, start + duration)


def place_events(
    calendar: Calendar, columns: tuple[str, ...], rows: list[tuple], slots: list[tuple]
) -> list[tuple]:
    """The chunk's Event rows with each start placed in ``calendar`` (``slots``: per row, the
    event's users, start minute, duration and allowed start range, from accounts.py)."""
    i_start = columns.index("StartDateTime")
    i_end = columns.index("EndDateTime")
    i_activity = columns.index("ActivityDateTime")
    placed = []
    for row, (users, start, duration, windows) in zip(rows, slots, strict=True):
        at = calendar.place(users, start, duration, windows)
        if at != start:
            row = list(row)
            row[i_start] = row[i_activity] = stamp(at)
            row[i_end] = stamp(at + duration)
            row = tuple(row)
        placed.append(row)
    return placed
