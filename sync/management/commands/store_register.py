"""Cloud role: register a store (or re-register it with a new key) and print its token, once."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from sync.services import register_store


class Command(BaseCommand):
    help = (
        "Cloud role: register a store with its public key (from `manage.py fiscal_public_key` on the store) "
        "and print its sync token. Registering an existing name again replaces its key and token."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="the store's name, e.g. 'Bistrot Rivoli'")
        parser.add_argument("--public-key-file", required=True, help="PEM file of the store's public key ('-' reads stdin)")

    def handle(self, *args, name, public_key_file, **options):
        if settings.KDS_ROLE != "cloud":
            raise CommandError("store_register runs on the cloud instance (KDS_ROLE=cloud).")
        try:
            pem = self.stdin_or_file(public_key_file)
        except OSError as exc:
            raise CommandError(f"Cannot read {public_key_file}: {exc}") from None
        try:
            store, token = register_store(name=name, public_key_pem=pem)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self.stderr.write(f"Store {store.name!r} registered. Its token (shown once; set it as KDS_CLOUD_TOKEN on the store):")
        self.stdout.write(token)

    @staticmethod
    def stdin_or_file(path: str) -> str:
        if path == "-":
            import sys

            return sys.stdin.read()
        return Path(path).read_text()
