"""Strict readers for settings that come from the environment.

django-environ parses the values; these wrappers make every malformed value stop start-up with
an ImproperlyConfigured that names the variable, instead of a silent default or a bare traceback.
"""

from __future__ import annotations

import base64
import binascii
import os
from urllib.parse import urlparse

import environ
from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}

env = environ.Env()


def read_bool(name: str, default: bool) -> bool:
    """Read a boolean variable; anything but a clear yes or no is an error."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false (1/0, yes/no, on/off), got {raw!r}.")


def read_int(name: str, default: int, minimum: int = 0) -> int:
    """Read a whole-number variable of at least `minimum`."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, got {raw!r}.") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {value}.")
    return value


def read_list(name: str, default: list[str]) -> list[str]:
    """Read a comma-separated list, dropping blanks."""
    raw = os.environ.get(name)
    if raw is None:
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


_DB_SCHEMES = {"sqlite", "postgres", "postgresql", "pgsql", "psql"}


def read_database(name: str, default: str) -> dict:
    """Read a database URL; only SQLite and PostgreSQL are supported."""
    raw = os.environ.get(name) or default
    scheme = urlparse(raw).scheme
    if scheme not in _DB_SCHEMES:
        raise ImproperlyConfigured(
            f"{name} must be a sqlite:/// or postgres:// URL, got scheme {scheme or '(none)'!r}."
        )
    try:
        config = env.db_url_config(raw)
    except Exception as exc:  # django-environ raises several types for bad URLs
        raise ImproperlyConfigured(f"{name} is not a valid database URL: {exc}") from None
    if config["ENGINE"].endswith("postgresql") and not config.get("NAME"):
        raise ImproperlyConfigured(f"{name} must name a database, e.g. postgres://user@host/db.")
    return config


def read_redis_url(name: str) -> str | None:
    """Read an optional redis:// URL."""
    raw = (os.environ.get(name) or "").strip()
    if not raw:
        return None
    if urlparse(raw).scheme not in {"redis", "rediss", "unix"}:
        raise ImproperlyConfigured(f"{name} must be a redis:// URL, got {raw!r}.")
    return raw


def read_fernet_keys(name: str, default: str | None) -> list[str]:
    """Read one or more comma-separated Fernet keys (the first encrypts, all decrypt)."""
    raw = os.environ.get(name) or default
    if not raw:
        raise ImproperlyConfigured(
            f"{name} is required when DEBUG is off. Generate one with: "
            "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
        )
    keys = [k.strip() for k in raw.split(",") if k.strip()]
    for position, key in enumerate(keys, start=1):
        try:
            decoded = base64.urlsafe_b64decode(key.encode())
        except (binascii.Error, ValueError):
            decoded = b""
        if len(decoded) != 32:
            raise ImproperlyConfigured(
                f"{name} key #{position} is not a valid Fernet key "
                "(32 url-safe base64-encoded bytes)."
            )
    return keys
