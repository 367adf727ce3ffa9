"""System checks: `manage.py check` reports connections whose credentials cannot be read."""

from __future__ import annotations

from django.core import checks
from django.db import DatabaseError


@checks.register(checks.Tags.security)
def check_credentials_readable(app_configs=None, **kwargs) -> list[checks.CheckMessage]:  # noqa: ARG001
    """An error when FIELD_ENCRYPTION_KEY cannot decrypt a stored connection's credentials.

    Start-up refuses a malformed key; a well-formed but different key only shows when rows are
    read, so this reads them (and says nothing when the table does not exist yet).
    """
    from connectors.models import Connection

    try:
        unreadable = [c for c in Connection.objects.only("pk", "name", "credentials") if c.credentials_unreadable]
    except DatabaseError:
        return []
    if not unreadable:
        return []
    names = ", ".join(f"{c.name} (#{c.pk})" for c in unreadable[:10])
    return [
        checks.Error(
            f"FIELD_ENCRYPTION_KEY cannot decrypt the credentials of {len(unreadable)} connection(s): {names}.",
            hint="Restore the old key in FIELD_ENCRYPTION_KEY (comma-separated after the new one), "
            "or reconnect those apps.",
            id="connectors.E001",
        )
    ]
