"""Settings read from the environment: bad values are refused at start-up, the secret key is made once.

Each case loads config/settings.py afresh (runpy) or in a new interpreter, with its own KDS_DATA_DIR, so
the settings of the test run itself are never touched.
"""

import os
import runpy
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

ROOT = Path(__file__).resolve().parents[1]
SETTINGS_FILE = ROOT / "config" / "settings.py"
ENV_NAMES = ["SECRET_KEY", "SECRET_KEY_FILE", "DEBUG", "KDS_ROLE", "DATABASE_URL", "REDIS_URL"]


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KDS_DATA_DIR", str(tmp_path / "data"))
    return monkeypatch


def load_settings() -> dict:
    return runpy.run_path(str(SETTINGS_FILE))


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DEBUG", "maybe"),
        ("KDS_PIN_MAX_FAILURES", "five"),
        ("KDS_PIN_LOCKOUT_SECONDS", "5m"),
        ("KDS_PIN_IDLE_SECONDS", "soon"),
        ("KDS_DAILY_CLOSURE_HOUR", "4am"),
        ("KDS_ROLE", "warehouse"),
        ("SECRET_KEY_FILE", "/nonexistent/secret"),
        ("KDS_SQLITE_SYNCHRONOUS", "OFF"),
    ],
)
def test_it_refuses_a_bad_environment_value(clean_env, name, value):
    clean_env.setenv(name, value)
    with pytest.raises(ImproperlyConfigured, match=name):
        load_settings()


def test_it_is_secure_by_default(clean_env):
    values = load_settings()
    assert values["DEBUG"] is False
    assert values["KDS_ROLE"] == "store"
    assert values["DATABASES"]["default"]["ENGINE"] == "django.db.backends.sqlite3"
    assert values["CHANNEL_LAYERS"]["default"]["BACKEND"] == "channels.layers.InMemoryChannelLayer"


def test_it_reads_the_secret_key_from_a_file(clean_env, tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("from-a-credential-file\n")
    clean_env.setenv("SECRET_KEY_FILE", str(secret))
    assert load_settings()["SECRET_KEY"] == "from-a-credential-file"
    assert not (tmp_path / "data" / "secret_key").exists()


def secret_key_in_new_process(data_dir: Path) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ENV_NAMES}
    env.update(KDS_DATA_DIR=str(data_dir), DJANGO_SETTINGS_MODULE="config.settings")
    code = "from django.conf import settings; print(settings.SECRET_KEY)"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_it_generates_the_secret_key_into_the_data_dir_once(tmp_path):
    data_dir = tmp_path / "var"
    first = secret_key_in_new_process(data_dir)
    key_file = data_dir / "secret_key"
    assert len(first) >= 50
    assert key_file.read_text().strip() == first
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert secret_key_in_new_process(data_dir) == first  # stable across restarts
    assert secret_key_in_new_process(tmp_path / "other") != first  # each instance its own


def test_it_keeps_the_data_dir_and_the_database_files_to_the_server_user(tmp_path):
    """The directory 0700; the database, its write-ahead log and shared-memory file 0600, also when
    SQLite creates the last two while the server runs. Commits wait for the disk (synchronous=FULL)."""
    data_dir = tmp_path / "var"
    data_dir.mkdir(mode=0o755)  # made by someone else, too open
    env = {**os.environ, "KDS_DATA_DIR": str(data_dir), "DJANGO_SETTINGS_MODULE": "config.settings"}
    for name in ENV_NAMES + ["KDS_SQLITE_SYNCHRONOUS"]:
        env.pop(name, None)
    probe = (
        "import json, os, stat, django; django.setup();"
        "from django.db import connection;"
        "from django.core.management import call_command; call_command('migrate', verbosity=0);"
        "c = connection.cursor(); c.execute('CREATE TABLE IF NOT EXISTS probe (x)'); c.execute('INSERT INTO probe VALUES (1)');"
        "c.execute('PRAGMA synchronous'); level = c.fetchone()[0];"
        "db = connection.settings_dict['NAME'];"
        "modes = {p: stat.S_IMODE(os.stat(f'{db}{p}').st_mode) for p in ('', '-wal', '-shm')};"
        "print(json.dumps({'level': level, 'modes': modes}))"
    )
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    found = __import__("json").loads(result.stdout.strip().splitlines()[-1])
    assert found["modes"] == {"": 0o600, "-wal": 0o600, "-shm": 0o600}
    assert found["level"] == 2  # FULL
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
