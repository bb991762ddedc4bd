"""Sealing: every write to the fiscal chains goes through here, inside the caller's transaction."""


def seal_receipt(*, payload: dict, operator: str, device: str, training: bool = False):
    """Seal a settled order's receipt. Called inside the payment transaction."""
    return None


def journal(code: int, *, message: str, operator: str = "", device: str = "", details: dict | None = None):
    """Append an event to the technical event journal (JET)."""
    return None
