"""Test settings: the normal settings with django-q2 in sync mode and fast password hashing."""

import os

from syncsite.settings import *  # noqa: F403
from syncsite.settings import Q_CLUSTER

# django-q2 reads Q_CLUSTER at import time, so sync mode must be set here, not in a fixture.
Q_CLUSTER = {**Q_CLUSTER, "sync": True}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
SANDBOX_ENABLED = True
# Rate limits shared through Redis (REDIS_URL) start empty in each test process.
RATE_LIMIT_NAMESPACE = f"syncsite-test-{os.getpid()}"
# The HubSpot sandbox search index lags writes by 2 s by default; tests that need a record
# searchable at once get no lag (tests of the lag turn it on with override_settings).
SANDBOX_HUBSPOT_SEARCH_DELAY_SECONDS = 0.0
# Django's live server shares one in-memory SQLite connection between its request threads, so
# concurrent requests to the sandboxes would interleave their transactions: on SQLite the
# connectors send one request at a time (no read-ahead, no parallel calls) unless a test asks.
CONNECTOR_THREADS = not DATABASES["default"]["ENGINE"].endswith("sqlite3")  # noqa: F405
