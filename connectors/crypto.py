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


def decrypt_json(token: str) -> dict[str, Any]:
    try:
        return json.loads(fernet().decrypt(token.encode()))
    except InvalidToken:
        # Never include the token or any plaintext in the message.
        raise ImproperlyConfigured(
            "Stored credentials cannot be decrypted with FIELD_ENCRYPTION_KEY: the key was "
            "changed without keeping the old one. Add the old key after the new one "
            "(comma-separated) or reconnect the app."
        ) from None


class EncryptedJSONField(models.TextField):
    """A dict stored as a Fernet token: the raw column never holds the plaintext."""

    def from_db_value(self, value, expression, connection):  # noqa: ARG002
        if value in (None, ""):
            return {}
        return decrypt_json(value)

    def to_python(self, value):
        if isinstance(value, dict):
            return value
        if value in (None, ""):
            return {}
        return decrypt_json(value)

    def get_prep_value(self, value):
        return encrypt_json(dict(value or {}))
