"""Small helpers of the runner that speak to connectors: call counts, lookup spellings, messages."""

from __future__ import annotations

from typing import Any

from connectors.base import Connector
from connectors.errors import ConnectorError, ErrorCategory


def http_calls(connector: Connector) -> int:
    """HTTP requests a connector has sent, when it tells.

    The contract has no counter yet; connectors built on connectors.http expose their
    HttpClient's `calls` as `http_calls`, `client.calls` or `client.http.calls` (+ token calls).
    """
    count = getattr(connector, "http_calls", None)
    client = getattr(connector, "client", None)
    if count is None and client is not None:
        count = getattr(client, "calls", None)
        if not isinstance(count, int):
            count = getattr(getattr(client, "http", None), "calls", 0) + getattr(client, "token_calls", 0)
    return int(count or 0)


def search_values(key: str, raw: Any, normal: str) -> set[str]:
    """Spellings to look a match key up by in the other app (its search compares exactly)."""
    values = {str(raw).strip(), normal}
    if key == "domain":
        values |= {f"www.{normal}", f"https://{normal}", f"https://www.{normal}", f"http://www.{normal}"}
    return values


def described(message: str, field: str = "", code: str = "") -> str:
    """The app's message, with the field and the vendor's code when they add something."""
    if field and field not in message:
        message = f"{field}: {message}"
    return f"{message} [{code}]" if code and code not in message else message


def no_answer() -> ConnectorError:
    return ConnectorError(ErrorCategory.MALFORMED_RESPONSE, "The app returned no result for this record.")
