"""Timestamps from outside (imports, old databases) made safe to store and to format.

`datetime.fromtimestamp` and `time.localtime` raise on NaN, infinities and years outside
1..9999, so one bad value in the database could stop every start of the app. Every place
that formats a stored time goes through `safe_timestamp`, and imports clamp with it.
"""

from __future__ import annotations

import time
from datetime import datetime

# 1970-01-01 .. 9999-12-30 UTC: every platform's localtime can show these (Windows refuses
# negative times; a day of margin keeps year 9999 in every time zone).
MIN_TIMESTAMP = 0.0
MAX_TIMESTAMP = 253402128000.0


def is_number(value: object) -> bool:
    """An int or float that is not a bool (True is an int to Python, never a time here)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def safe_timestamp(value: object, default: float = MIN_TIMESTAMP) -> float:
    """`value` as Unix seconds within the range every formatter accepts: out-of-range
    numbers are clamped, NaN and non-numbers give `default` (clamped too)."""
    if not is_number(value) or value != value:  # NaN is the one value unequal to itself
        value = default if is_number(default) and default == default else MIN_TIMESTAMP
    # Compare before float(): int(10**400) would overflow the conversion.
    if value < MIN_TIMESTAMP:  # type: ignore[operator]
        return MIN_TIMESTAMP
    if value > MAX_TIMESTAMP:  # type: ignore[operator]
        return MAX_TIMESTAMP
    return float(value)  # type: ignore[arg-type]


def local_datetime(value: object) -> datetime:
    """A stored timestamp as a local datetime; never raises."""
    try:
        return datetime.fromtimestamp(safe_timestamp(value)).astimezone()
    except (OverflowError, OSError, ValueError):  # a platform with a narrower range
        return datetime.fromtimestamp(0).astimezone()


def local_date(value: object) -> str:
    """'YYYY-MM-DD' in local time; never raises."""
    try:
        return time.strftime("%Y-%m-%d", time.localtime(safe_timestamp(value)))
    except (OverflowError, OSError, ValueError):
        return "????-??-??"
