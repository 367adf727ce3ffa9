"""Syncsite settings, read from the environment (see the README's configuration table)."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from syncsite.envconfig import (
    read_bool,
    read_database,
    read_fernet_keys,
    read_int,
    read_list,
    read_redis_url,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

DEBUG = read_bool("DEBUG", True)

_DEV_SECRET = "dev-only-secret-key-never-use-in-production-0123456789abcdefghijklmnop"
SECRET_KEY = os.environ.get("SECRET_KEY") or (_DEV_SECRET if DEBUG else "")
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY is required when DEBUG is off.")
if not DEBUG and SECRET_KEY == _DEV_SECRET:
    raise ImproperlyConfigured("SECRET_KEY must not be the development key when DEBUG is off.")

ALLOWED_HOSTS = read_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS is required when DEBUG is off (comma-separated host names).")
CSRF_TRUSTED_ORIGINS = read_list("CSRF_TRUSTED_ORIGINS", [])

# The development key is derived from the development secret so a fresh checkout works with no
# setup; production must bring its own (the reader refuses to start without one).
_dev_fernet = base64.urlsafe_b64encode(hashlib.sha256(_DEV_SECRET.encode()).digest()).decode()
FIELD_ENCRYPTION_KEYS = read_fernet_keys("FIELD_ENCRYPTION_KEY", _dev_fernet if DEBUG else None)
if not DEBUG and _dev_fernet in FIELD_ENCRYPTION_KEYS:
    # Anyone can derive it from the public development secret: it protects nothing.
    raise ImproperlyConfigured(
        "FIELD_ENCRYPTION_KEY must not be the development key when DEBUG is off: generate your own."
    )

# The sandboxes emulate vendor APIs with no real authentication behind them: never on by accident.
SANDBOX_ENABLED = read_bool("SANDBOX_ENABLED", DEBUG)
# Faults the sandboxes inject, per request with a seeded probability (sandbox/faults.py), e.g.
# {"seed": 1, "http_429": 0.02, "http_503": 0.01}. Off by default; `sandbox_serve --fault` sets them too.
SANDBOX_FAULTS: dict = {}
# `python3 dev.py run` seeds both sandboxes and connects them when the database has no connections
# yet (syncrules/demo); off with DEMO_ENABLED=false or `dev.py run --no-demo`. Needs the sandboxes.
DEMO_ENABLED = read_bool("DEMO_ENABLED", SANDBOX_ENABLED)
# Public base URL of this site, used for OAuth redirect URIs and webhook targets.
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_q",
    "syncsite",
    "import_export",
    "connectors",
    "syncrules",
    "sandbox",
    "sandbox.hubspot",
    "sandbox.salesforce",
]

MIDDLEWARE = [
    # Injects faults into the sandboxes' API answers when SANDBOX_FAULTS asks for them (a no-op otherwise).
    "sandbox.faults.FaultMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "syncsite.middleware.BadInputMiddleware",
]

ROOT_URLCONF = "syncsite.urls"
WSGI_APPLICATION = "syncsite.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": read_database("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # The web process, the worker and the sandbox share one file: WAL lets readers run beside
    # the writer, IMMEDIATE takes the write lock up front so transactions never deadlock on
    # upgrade, and the timeout waits for the lock instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", 60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

LOGIN_URL = "admin:login"

# django-import-export: whoever may view a model may export it (support staff export errors).
IMPORT_EXPORT_EXPORT_PERMISSION_CODE = "view"
# Exported cells never run as spreadsheet formulas (a sync named "=HYPERLINK(...)").
IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT = True

REDIS_URL = read_redis_url("REDIS_URL")

Q_CLUSTER = {
    "name": "syncsite",
    "workers": read_int("Q_WORKERS", 2, minimum=1),
    "timeout": read_int("Q_TIMEOUT", 3600, minimum=10),
    # retry must exceed timeout, or a long initial sync is handed to a second worker.
    "retry": read_int("Q_TIMEOUT", 3600, minimum=10) + 60,
    "max_attempts": 1,
    "catch_up": False,
    "label": "Django Q2",
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

# How often the dispatcher looks for object syncs that are due, and the default interval
# between incremental runs of one object sync.
SYNC_INTERVAL_SECONDS = read_int("SYNC_INTERVAL_SECONDS", 300, minimum=10)
# A run holds its sync under a lease that it renews every quarter of this while it works; a
# worker that dies (killed, out of memory, a deploy) frees its sync this long after its last
# renewal, and the sync runs again at its next due time.
SYNC_LEASE_SECONDS = read_int("SYNC_LEASE_SECONDS", 120, minimum=2)
# How often Salesforce is polled for changed records (one query per object sync when nothing
# changed); a change queues a run at once. HubSpot pushes its changes by webhook instead.
CHANGE_POLL_SECONDS = read_int("CHANGE_POLL_SECONDS", 15, minimum=1)
# How often a run compares the associations of a slice of the linked records, for apps whose reads
# miss association-only changes (HubSpot); an object sync's options may override it.
ASSOCIATION_SWEEP_SECONDS = read_int("ASSOCIATION_SWEEP_SECONDS", 300, minimum=0)
# Linked records whose associations one sweep compares (engine.associations), going on where the
# last stopped: a sweep's cost whatever the size; every link is compared within links/slice sweeps.
ASSOCIATION_SWEEP_SLICE = read_int("ASSOCIATION_SWEEP_SLICE", 2000, minimum=1)
# Connectors read the next page while a run works on the current one and send the independent
# calls of one lookup, read or write up to 3 at a time (connectors.readahead, connectors.fanout);
# the same calls, through the same rate limits. Per connection: options read_ahead, parallel_calls.
CONNECTOR_THREADS = read_bool("CONNECTOR_THREADS", True)
# A run reads both apps' changed records at once and syncs whichever side's page is ready first
# (engine.runner); false reads side A's pages, then side B's.
SYNC_INTERLEAVE_SIDES = read_bool("SYNC_INTERLEAVE_SIDES", True)
# Deal pipelines an app may hold in all when Syncsite mirrors another app's pipelines into it
# (Salesforce record types, F6.2): set it to your HubSpot plan's limit.
DEAL_PIPELINE_LIMIT = read_int("DEAL_PIPELINE_LIMIT", 15, minimum=1)
# Days of record outcomes kept (each link's latest outcome per action is kept longer), pruned daily.
OUTCOME_RETENTION_DAYS = read_int("OUTCOME_RETENTION_DAYS", 30, minimum=1)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    # urllib3 logs every request's path at DEBUG: HubSpot's token-info path holds the token.
    "filters": {"redact": {"()": "connectors.http.RedactingFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO").upper()},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "urllib3.connectionpool": {"filters": ["redact"]},
    },
}

if not DEBUG:
    # Production: HTTPS only, so `manage.py check --deploy` has nothing to report.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = read_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = read_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    X_FRAME_OPTIONS = "DENY"
