"""`manage.py device_token NAME --role ROLE [--rotate]`: create a device and print its token once.

The token is the device's only credential (stored hashed): it is printed alone on the last line of
stdout, so scripts can take it with `| tail -n 1`, and it is never logged. `--rotate` re-issues the token
of an existing device: browsers paired with the old one must pair again.
"""

from django.core.management.base import BaseCommand, CommandError

from accounts import pairing
from accounts.models import Device


class Command(BaseCommand):
    help = "Create a device (till, kiosk, kitchen screen, integration) and print its bearer token once."

    def add_arguments(self, parser):
        parser.add_argument("name", help='the device\'s name, e.g. "Till 1" or "Grill screen"')
        parser.add_argument("--role", choices=Device.Role.values, help="what the device is (required to create one)")
        parser.add_argument(
            "--rotate", action="store_true", help="issue a new token for an existing device (the old one stops working)"
        )

    def handle(self, *args, name: str, role: str | None, rotate: bool, **options):
        name = name.strip()
        if not name:
            raise CommandError("The device needs a name.")
        device = Device.objects.filter(name=name).first()
        if device is None:
            if role is None:
                raise CommandError("--role is required to create a device (till, kiosk, kds or integration).")
            device = Device(name=name, role=role)
            action = "created"
        elif not rotate:
            raise CommandError(
                f'A device named "{name}" already exists ({device.role}). Use --rotate to issue it a new token '
                "(browsers paired with the old one will have to pair again)."
            )
        elif role is not None and role != device.role:
            raise CommandError(f'"{name}" is a {device.role} device, not a {role} one.')
        else:
            action = "given a new token"
        token = pairing.issue_device_token(device=device)
        self.stdout.write(
            f'Device "{device.name}" ({device.role}) {action}. Its token is shown once; pair a browser by opening '
            f"/pair/?token=<token> on the server, or use it as \"Authorization: Bearer <token>\" for the API:"
        )
        self.stdout.write(token)
