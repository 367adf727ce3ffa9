"""Credentials encrypted at rest with Fernet (cryptography), keys from FIELD_ENCRYPTION_KEY.

The first key encrypts; every key decrypts, so keys can be rotated by prepending a new one.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key.encode()) for key in keys])


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt_json(value: dict[str, Any]) -> str:
    return fernet().encrypt(json.dumps(value, sort_keys=True).encode()).decode()


UNREADABLE_MESSAGE = (
    "Credentials cannot be read with the current key: reconnect, or restore the old key in "
    "FIELD_ENCRYPTION_KEY."
)


class UnreadableCredentials(dict):
    """Credentials encrypted with a key FIELD_ENCRYPTION_KEY no longer holds.

    Empty to every reader (so pages that load a connection still work), it keeps the stored
    token: saving the row unchanged writes the token back, so restoring the old key later
    still recovers the credentials. Entering new credentials replaces it with a plain dict.
    """

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token


def decrypt_json(token: str) -> dict[str, Any]:
    try:
        return json.loads(fernet().decrypt(token.encode()))
    except InvalidToken:
        # Never include the token or any plaintext in the message.
        raise ImproperlyConfigured(UNREADABLE_MESSAGE) from None


class EncryptedJSONField(models.TextField):
    """A dict stored as a Fernet token: the raw column never holds the plaintext.

    A token the current keys cannot decrypt loads as UnreadableCredentials instead of raising:
    a wrong key must leave the admin usable so the connection can be reconnected.
    """

    def from_db_value(self, value, expression, connection):  # noqa: ARG002
        return self.to_python(value)

    def to_python(self, value):
        if isinstance(value, dict):
            return value
        if value in (None, ""):
            return {}
        try:
            return json.loads(fernet().decrypt(value.encode()))
        except InvalidToken:
            return UnreadableCredentials(value)

    def get_prep_value(self, value):
        if isinstance(value, UnreadableCredentials) and not value:
            return value.token
        return encrypt_json(dict(value or {}))
