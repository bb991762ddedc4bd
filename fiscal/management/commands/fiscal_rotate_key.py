from django.core.management.base import BaseCommand

from fiscal import keys, services


class Command(BaseCommand):
    help = "Replace the fiscal signing key (journaled and signed by the old key); prints the new public key."

    def add_arguments(self, parser):
        parser.add_argument("--operator", default="", help="who asks for it (recorded)")

    def handle(self, *args, **options):
        record = services.rotate_key(operator=options["operator"])
        self.stdout.write(keys.public_key_pem(), ending="")
        self.stderr.write(f"rotation journaled as event {record.seq}; new key id {keys.current_key_id()}. "
                          "Register the new public key with the cloud.")
