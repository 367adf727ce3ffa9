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
