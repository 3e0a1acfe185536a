"""Weibo's ``created_at`` as the mobile site writes it, read as a UTC time.

m.weibo.cn list responses do not always give the API form ``Tue Jun 14 10:00:00 +0800 2022``:
search and timeline cards often carry what the app displays, relative to the moment the page
was served, on the wall clock of China (Asia/Shanghai, UTC+8 all year):

==================  =====================================================
``刚刚``             just now: the response time
``5秒前`` ``5分钟前`` seconds / minutes ago
``3小时前``          hours ago
``今天 10:32``       today at 10:32 China time
``昨天 10:32``       yesterday at 10:32 China time
``06-14``            this year (the year is left out), midnight China time
``06-14 10:32``      this year at 10:32
``2021-06-14``       an earlier year, midnight China time
==================  =====================================================

"Now" is the response's own time (its HTTP ``Date`` header, else the clock when it is
parsed), never the crawling machine's zone: a crawler in Frankfurt reading ``昨天 23:50`` at
01:00 China time must land on the Chinese yesterday. Weibo rounds elapsed time down
(``3小时前`` means 3 to 4 hours ago), so the time read is the latest the post can have been
written; a date without a time is that day's midnight in China. A month-day that would lie
in the future (``12-31`` read on 1 January) belongs to the year before.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone
from email.utils import parsedate_to_datetime
from zoneinfo import ZoneInfo

from crawlers.normalise import parse_iso

CHINA = ZoneInfo("Asia/Shanghai")
API_FORM = "%a %b %d %H:%M:%S %z %Y"

_AGO = re.compile(r"^(\d+)\s*(秒|分钟|小时)前$")
_DAY = re.compile(r"^(今天|昨天|前天)\s*(\d{1,2}):(\d{2})$")
_MONTH_DAY = re.compile(r"^(\d{1,2})-(\d{1,2})(?:\s+(\d{1,2}):(\d{2}))?$")
_FULL_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:\s+(\d{1,2}):(\d{2})(?::(\d{2}))?)?$")
_UNITS = {"秒": "seconds", "分钟": "minutes", "小时": "hours"}
_DAYS_BACK = {"今天": 0, "昨天": 1, "前天": 2}


class WeiboDateError(ValueError):
    """A ``created_at`` in none of the forms Weibo is known to write."""


def response_time(date_header: bytes | str | None) -> datetime:
    """When the server answered: its ``Date`` header (RFC 7231), else now. Always UTC."""
    if date_header:
        text = date_header.decode("latin-1") if isinstance(date_header, bytes) else date_header
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            when = None
        if when is not None:
            return (when if when.tzinfo else when.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)
    return datetime.now(timezone.utc)


def _china(day: date, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute, second), tzinfo=CHINA).astimezone(timezone.utc)


def parse_weibo_time(value: object, now: datetime | None = None) -> datetime:
    """The UTC time of a Weibo ``created_at`` read at ``now`` (see the module docstring)."""
    if not isinstance(value, str) or not value.strip():
        raise WeiboDateError(f"created_at {value!r} is empty or not text")
    text = value.strip()
    now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    today = now.astimezone(CHINA).date()
    try:
        return datetime.strptime(text, API_FORM).astimezone(timezone.utc)
    except ValueError:
        pass
    if text == "刚刚":
        return now
    if match := _AGO.match(text):
        return now - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    try:
        if match := _DAY.match(text):
            day = today - timedelta(days=_DAYS_BACK[match.group(1)])
            return _china(day, int(match.group(2)), int(match.group(3)))
        if match := _MONTH_DAY.match(text):
            month, day_of_month = int(match.group(1)), int(match.group(2))
            hour, minute = int(match.group(3) or 0), int(match.group(4) or 0)
            when = _china(date(today.year, month, day_of_month), hour, minute)
            if when > now + timedelta(days=1):  # "12-31" read in early January: last year
                when = _china(date(today.year - 1, month, day_of_month), hour, minute)
            return when
        if match := _FULL_DATE.match(text):
            year, month, day_of_month = (int(match.group(i)) for i in (1, 2, 3))
            hour, minute, second = (int(match.group(i) or 0) for i in (4, 5, 6))
            return _china(date(year, month, day_of_month), hour, minute, second)
    except ValueError as exc:  # 02-30, 25:00 ...
        raise WeiboDateError(f"created_at {text!r} is not a real date ({exc})") from None
    if "T" in text:
        try:
            return parse_iso(text)
        except ValueError:
            pass
    raise WeiboDateError(f"created_at {text!r} is in no date form Weibo is known to write "
                         f"(API form, 刚刚, N分钟前, N小时前, 今天/昨天 HH:MM, MM-DD, YYYY-MM-DD)")
