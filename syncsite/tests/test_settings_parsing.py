"""Settings come from the environment; malformed values stop start-up naming the variable."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from syncsite import envconfig

ROOT = Path(__file__).resolve().parents[2]


def start(env_overrides: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    dropped = {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "manage.py", *(args or ("check",))],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )


def test_it_reads_booleans_strictly(monkeypatch):
    monkeypatch.setenv("X_FLAG", "yes")
    assert envconfig.read_bool("X_FLAG", False) is True
    monkeypatch.setenv("X_FLAG", "Off")
    assert envconfig.read_bool("X_FLAG", True) is False
    monkeypatch.setenv("X_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="X_FLAG"):
        envconfig.read_bool("X_FLAG", True)


def test_it_refuses_a_database_url_with_an_unknown_scheme(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "mysqlx://root@localhost/db")
    with pytest.raises(ImproperlyConfigured, match="DATABASE_URL"):
        envconfig.read_database("DATABASE_URL", "sqlite:///x.db")


def test_it_parses_postgres_and_sqlite_urls(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
    config = envconfig.read_database("DATABASE_URL", "sqlite:///x.db")
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert config["NAME"] == "test"
    monkeypatch.delenv("DATABASE_URL")
    assert envconfig.read_database("DATABASE_URL", "sqlite:////tmp/x.db")["NAME"] == "/tmp/x.db"


def test_it_refuses_a_malformed_encryption_key(monkeypatch):
    monkeypatch.setenv("FIELD_ENCRYPTION_KEY", "not-a-key")
    with pytest.raises(ImproperlyConfigured, match="FIELD_ENCRYPTION_KEY key #1"):
        envconfig.read_fernet_keys("FIELD_ENCRYPTION_KEY", None)


def test_it_requires_an_encryption_key_in_production(monkeypatch):
    monkeypatch.delenv("FIELD_ENCRYPTION_KEY", raising=False)
    with pytest.raises(ImproperlyConfigured, match="FIELD_ENCRYPTION_KEY is required"):
        envconfig.read_fernet_keys("FIELD_ENCRYPTION_KEY", None)


def test_it_refuses_a_non_numeric_interval(monkeypatch):
    monkeypatch.setenv("SYNC_INTERVAL_SECONDS", "five")
    with pytest.raises(ImproperlyConfigured, match="SYNC_INTERVAL_SECONDS"):
        envconfig.read_int("SYNC_INTERVAL_SECONDS", 300)


def test_it_refuses_a_redis_url_that_is_not_redis(monkeypatch):
    monkeypatch.setenv("REDIS_URL", "http://127.0.0.1:6379")
    with pytest.raises(ImproperlyConfigured, match="REDIS_URL"):
        envconfig.read_redis_url("REDIS_URL")


def test_a_bad_database_url_stops_start_up_with_a_message_naming_it():
    result = start({"DATABASE_URL": "oracle://scott@db/orcl"})
    assert result.returncode != 0
    assert "DATABASE_URL must be a sqlite:/// or postgres:// URL" in result.stderr
    assert "ImproperlyConfigured" in result.stderr


def test_a_bad_debug_value_stops_start_up_with_a_message_naming_it():
    result = start({"DEBUG": "perhaps"})
    assert result.returncode != 0
    assert "DEBUG must be true or false" in result.stderr


def test_production_mode_passes_the_deploy_checks(tmp_path):
    key = "x" * 10 + "Production-Secret-Key-With-Enough-Entropy-1234567890!@#$%"
    result = start(
        {
            # A database of its own: the deploy checks read the stored connections.
            "DATABASE_URL": f"sqlite:///{tmp_path / 'deploy.sqlite3'}",
            "DEBUG": "false",
            "SECRET_KEY": key,
            "ALLOWED_HOSTS": "sync.example.com",
            "FIELD_ENCRYPTION_KEY": "Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmE=",
        },
        "check", "--deploy", "--fail-level", "WARNING",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_mode_refuses_to_start_without_a_secret_key():
    result = start({"DEBUG": "false", "FIELD_ENCRYPTION_KEY": "Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmE="})
    assert result.returncode != 0
    assert "SECRET_KEY is required when DEBUG is off" in result.stderr


MOUNT_PROBE = "from syncsite.urls import urlpatterns\nprint('MOUNTED' if any(str(p.pattern) == 'sandbox/' for p in urlpatterns) else 'NOT MOUNTED')"


def test_the_sandbox_is_not_mounted_in_production():
    key = "x" * 10 + "Production-Secret-Key-With-Enough-Entropy-1234567890!@#$%"
    result = start(
        {"DEBUG": "false", "SECRET_KEY": key, "ALLOWED_HOSTS": "h",
         "FIELD_ENCRYPTION_KEY": "Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmE="},
        "shell", "-c", MOUNT_PROBE,
    )
    assert "NOT MOUNTED" in result.stdout, result.stderr


def test_the_sandbox_is_mounted_in_development():
    result = start({"DEBUG": "true"}, "shell", "-c", MOUNT_PROBE)
    assert "\nMOUNTED" in "\n" + result.stdout, result.stderr


PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "x" * 10 + "Production-Secret-Key-With-Enough-Entropy-1234567890!@#$%",
    "ALLOWED_HOSTS": "sync.example.com",
    "FIELD_ENCRYPTION_KEY": "Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmE=",
}


def _dev_fernet_key() -> str:
    from syncsite import settings

    return settings._dev_fernet


def test_production_mode_refuses_the_encryption_key_derived_from_the_development_secret():
    result = start({**PRODUCTION, "FIELD_ENCRYPTION_KEY": f"{PRODUCTION['FIELD_ENCRYPTION_KEY']},{_dev_fernet_key()}"})
    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEY must not be the development key" in result.stderr


def test_production_mode_refuses_an_empty_allowed_hosts():
    result = start({**PRODUCTION, "ALLOWED_HOSTS": " , "})
    assert result.returncode != 0
    assert "ALLOWED_HOSTS is required when DEBUG is off" in result.stderr


def test_the_production_settings_used_here_start(tmp_path):
    # The refusals above fail for their own reason, not because these settings never start.
    result = start({**PRODUCTION, "DATABASE_URL": f"sqlite:///{tmp_path / 'p.sqlite3'}"})
    assert result.returncode == 0, result.stderr
