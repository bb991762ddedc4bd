"""Several tills paying at the same moment, as threads with their own database connections.

Used by test_concurrency.py in-process (PostgreSQL, or SQLite in a file), and run as a script against
a fresh file-based SQLite database when the test suite itself uses SQLite in memory (threads cannot
share an in-memory database the way tills share a file):

    KDS_DATA_DIR=/tmp/x python -m tests.fiscal.concurrent_sealing THREADS PER_THREAD
prints a JSON summary.
"""

import json
import os
import sys
import threading


def seal_concurrently(threads: int, per_thread: int) -> dict:
    from django.db import connection, transaction

    from fiscal import services, verification

    from tests.fiscal.conftest import receipt_payload

    barrier = threading.Barrier(threads)
    results: list[tuple[int, str]] = []
    errors: list[str] = []
    lock = threading.Lock()

    def till(n: int):
        try:
            for _ in range(per_thread):
                barrier.wait(timeout=60)  # everyone pays at the same moment
                with transaction.atomic():
                    record = services.seal_receipt(payload=receipt_payload(), operator=f"server{n}", device=f"Till {n}")
                with lock:
                    results.append((record.seq, record.device))
        except Exception as exc:  # reported to the test, which fails on any
            errors.append(f"{type(exc).__name__}: {exc}")
            barrier.abort()
        finally:
            connection.close()

    workers = [threading.Thread(target=till, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    report = verification.verify_store()
    return {
        "seqs": sorted(seq for seq, _ in results),
        "devices": len({device for _, device in results}),
        "errors": errors,
        "verified": report.ok,
        "verify_errors": [list(e) for e in report.errors],
    }


def main() -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, skip_checks=True)
    threads, per_thread = int(sys.argv[1]), int(sys.argv[2])
    print(json.dumps(seal_concurrently(threads, per_thread)))


if __name__ == "__main__":
    main()
