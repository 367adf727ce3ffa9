"""Request hygiene in front of every view: input that Django's own views mishandle is fixed up
or refused here, once, instead of in each view."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.admin.options import TO_FIELD_VAR
from django.http import HttpRequest, HttpResponse


class BadInputMiddleware:
    """Drops an empty `_to_field` parameter: the admin's change, delete and history views look
    the object up by a field of that name when the parameter is present but empty, and fail
    with FieldDoesNotExist (a 500) instead of using the primary key."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # POST only when urlencoded: parsing it reads request.body, which stays readable after;
        # parsing a multipart body here would make request.body unreadable to the view.
        form = request.method == "POST" and request.content_type == "application/x-www-form-urlencoded"
        for name in ("GET", "POST") if form else ("GET",):
            params = getattr(request, name)
            if TO_FIELD_VAR in params and not params.get(TO_FIELD_VAR):
                params = params.copy()
                del params[TO_FIELD_VAR]
                setattr(request, name, params)
        return self.get_response(request)
