"""Time windows as people write them (``30m``, ``24h``, ``7d``, ``2w``) and spans as people say them (``2h 15m``),
for the related events and the suspects."""
import re
from datetime import datetime, timedelta

from marshmallow import ValidationError

from app.fields import Text

MAX_WINDOW = timedelta(days=90)
_UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
_WINDOW = re.compile(r"^([0-9]{1,6})\s*([mhdw])$")  # ASCII digits: int() would also read "٢٤"


def parse_window(text):
    """``30m``, ``24h``, ``7d`` or ``2w`` as a timedelta; ValueError with a message a user can act on."""
    match = _WINDOW.match(text.strip().lower())
    if not match:
        raise ValueError("Not a window: use a number and a unit, e.g. 30m, 24h or 7d.")
    window = int(match.group(1)) * _UNITS[match.group(2)]
    if not window:
        raise ValueError("Must be longer than zero, e.g. 30m, 24h or 7d.")
    if window > MAX_WINDOW:
        raise ValueError("Must be at most 90d.")
    return window


def format_window(window):
    """``window`` as people write it: 24h (not 1d or 1440m), 1h (not 60m), 2d, 90m, 14d for 2w."""
    for unit, least in (("d", 2), ("h", 1)):
        if window % _UNITS[unit] == timedelta(0) and window // _UNITS[unit] >= least:
            return "%d%s" % (window // _UNITS[unit], unit)
    return "%dm" % (window // _UNITS["m"])


def describe_span(seconds):
    """``8100`` → ``2h 15m``: the two largest units, as people say it."""
    seconds = abs(int(seconds))
    if seconds < 60:
        return "%ds" % seconds
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            parts.append("%d%s" % (seconds // size, unit))
            seconds %= size
    return " ".join(parts[:2])


class Window(Text):
    """A window such as ``24h``; loads as a timedelta."""

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return parse_window(super()._deserialize(value, attr, data, **kwargs))
        except ValueError as exc:
            raise ValidationError(str(exc)) from None

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else format_window(value)



def shift(value, delta):
    """``value`` + ``delta``, held at the ends of what datetime can represent."""
    try:
        return value + delta
    except OverflowError:
        return datetime.min if delta < timedelta(0) else datetime.max
