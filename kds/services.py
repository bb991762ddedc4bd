"""Kitchen writes: tickets from orders, bumps, recalls. Every function runs inside the caller's
transaction (or its own `transaction.atomic`) and publishes only after commit."""

from collections.abc import Sequence


def send_lines_to_kitchen(*, order, lines: Sequence) -> list:
    """Create the kitchen tickets for `lines` (one per station, by routing rules), their print jobs,
    and publish "ticket created" after commit. Lines with status HELD appear as held."""
    return []


def fire_course(*, order, course: int) -> None:
    """Held lines of `course` were fired by the server: update their tickets and publish."""


def void_lines(*, order, lines: Sequence, reason: str) -> None:
    """Sent lines were voided: mark them on their tickets (struck through), print a void slip, publish."""
