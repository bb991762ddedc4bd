"""Two (eight) tills paying at the same moment never share or skip a receipt number."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from tests.fiscal.concurrent_sealing import seal_concurrently

ROOT = Path(__file__).resolve().parents[2]
THREADS, PER_THREAD = 8, 12


def _in_memory_sqlite() -> bool:
    """Django tests SQLite in memory unless the database's TEST NAME names a file."""
    test_name = connection.settings_dict.get("TEST", {}).get("NAME")
    return connection.vendor == "sqlite" and (not test_name or connection.creation.is_in_memory_db(test_name))


@pytest.mark.django_db(transaction=True)
def test_it_gives_concurrent_tills_consecutive_numbers(tmp_path):
    if _in_memory_sqlite():
        # The suite's in-memory database cannot be shared by threads like a real file: run the same
        # threads against a fresh file-based SQLite (WAL, IMMEDIATE transactions) in a child process.
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "KDS_TEST_DB_NAME")}
        env["KDS_DATA_DIR"] = str(tmp_path / "data")
        child = subprocess.run(
            [sys.executable, "-m", "tests.fiscal.concurrent_sealing", str(THREADS), str(PER_THREAD)],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
        )
        assert child.returncode == 0, child.stderr[-3000:]
        summary = json.loads(child.stdout.strip().splitlines()[-1])
    else:
        summary = seal_concurrently(THREADS, PER_THREAD)
    assert summary["errors"] == []
    assert summary["devices"] == THREADS
    assert summary["seqs"] == list(range(1, THREADS * PER_THREAD + 1))  # no duplicate, no gap
    assert summary["verified"], summary["verify_errors"]
