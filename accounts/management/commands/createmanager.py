"""`manage.py createmanager USERNAME [--first-name NAME] [--pin PIN] [--password-stdin]`

The first manager of a new restaurant: role manager, admin access (password), and optionally a PIN for
the tills. Asks for the password on the terminal unless it comes on stdin (for scripts). Running it
again for an existing user updates that user (a forgotten manager password, say).
"""

import getpass
import sys

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts import pins
from accounts.models import User


class Command(BaseCommand):
    help = "Create (or update) a manager who can log in to the admin, with an optional till PIN."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--first-name", default="", help="the name shown on the tills' login tiles")
        parser.add_argument("--pin", help="4 to 6 digits, for logging in on tills (also settable in the admin)")
        parser.add_argument("--password-stdin", action="store_true", help="read the password from stdin")

    def handle(self, *args, username: str, first_name: str, pin: str | None, password_stdin: bool, **options):
        if pin is not None:
            try:
                pins.validate_pin(pin)
            except ValidationError as exc:
                raise CommandError(" ".join(exc.messages)) from None
        password = self.read_password(password_stdin)
        user = User.objects.filter(username=username).first() or User(username=username)
        try:
            validate_password(password, user)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        created = user.pk is None
        user.role = User.Role.MANAGER
        user.is_staff = True
        user.is_active = True
        user.first_name = first_name or user.first_name or username
        user.set_password(password)
        user.save()
        if pin is not None:
            pins.set_pin(user=user, pin=pin)
        self.stdout.write(f"Manager {username} {'created' if created else 'updated'}: log in at /admin/.")

    def read_password(self, from_stdin: bool) -> str:
        if from_stdin:
            password = sys.stdin.readline().rstrip("\n")
        elif sys.stdin.isatty():
            password = getpass.getpass("Password: ")
            if password != getpass.getpass("Password (again): "):
                raise CommandError("The passwords do not match.")
        else:
            raise CommandError("No terminal to ask for the password: use --password-stdin.")
        if not password:
            raise CommandError("The password is empty.")
        return password
