"""The marshmallow fields that every capability's schemas share, each with one wording of its errors: text
without NUL characters, names, enumerations and datetimes that must carry a UTC offset."""
from marshmallow import ValidationError, fields, validate

NAME = validate.Length(min=1, max=200)


class Text(fields.String):
    """A string without NUL characters (PostgreSQL cannot store them; no legitimate input has them)."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if "\x00" in text:
            raise ValidationError("Must not contain NUL (\\u0000) characters.")
        return text


class UtcDateTime(fields.AwareDateTime):
    """An ISO 8601 datetime with an offset (``Z`` or ``+01:00``); a naive one is refused, never guessed."""

    default_error_messages = {"invalid": "Not a valid ISO 8601 datetime.",
                              "invalid_awareness": "Must include a UTC offset, e.g. 2026-01-31T12:00:00Z."}

    def __init__(self, **kwargs):
        super().__init__(format="iso", **kwargs)


def one_of(choices):
    """An enumeration: the message lists the choices."""
    return validate.OneOf(choices, error="Must be one of: {choices}.")


def not_blank(value):
    """A validator: text with something besides white space."""
    if not value.strip():
        raise ValidationError("Must not be blank.")


def load_query(schema, args):
    """Load a query string (anything with ``get`` and ``getlist``) with ``schema``, as a form submits it: blank
    values count as absent, so an empty field means "no filter" and its default applies; List fields take every
    value of their name."""
    raw = {}
    for name, field in schema.fields.items():
        if isinstance(field, fields.List):
            values = [v for v in args.getlist(name) if v.strip()]
            if values:
                raw[name] = values
        elif (args.get(name) or "").strip():
            raw[name] = args.get(name).strip()
    return schema.load(raw)
