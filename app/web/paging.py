"""Links between numbered pages: the current URL with only its page number changed, every filter kept."""
from flask import request, url_for

from app.fields import MAX_ID


def page_links(info, param="page"):
    """``info`` (a page as the domain returns it: "page", "pages", ...) with the URLs of its neighbours added:
    "first_url", "previous_url", "next_url", "last_url" (None where there is none)."""
    def to(number):
        args = request.args.copy()
        args.pop(param, None)
        if number > 1:
            args[param] = str(number)
        return url_for(request.endpoint, **(request.view_args or {}), **args.to_dict(flat=False))

    page, pages = info["page"], info["pages"]
    return dict(info, param=param,
                first_url=to(1) if page > 1 else None, previous_url=to(page - 1) if page > 1 else None,
                next_url=to(page + 1) if page < pages else None, last_url=to(pages) if page < pages else None)


def id_arg(name):
    """The query argument ``name`` as a row id (1 to MAX_ID), else None: ``?before=`` past 64 bits or below 1 shows
    the first page instead of reaching the database."""
    value = request.args.get(name, type=int)
    return value if value is not None and 1 <= value <= MAX_ID else None
