from django.core.management.base import BaseCommand

from fiscal import keys


class Command(BaseCommand):
    help = "Print the store's fiscal public key (PEM); the key pair is created on first use."

    def handle(self, *args, **options):
        self.stdout.write(keys.public_key_pem(), ending="")
        self.stderr.write(f"key id {keys.current_key_id()} ({keys.key_path()})")
