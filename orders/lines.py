"""The description of a line to add to an order, as a till, a kiosk or an integration asks for it.

Built in one place, `LineSpec.from_dict`, from what the API's JSON, the till's line form and the
kiosk's basket (kept in the session as `as_dict()`) each hold: ids only. Prices come from the database
when the line is added (orders.actions.validation).
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MAX_LINES = 100
MAX_QUANTITY = 99
MAX_COURSE = 9
MAX_COVERS = 99
NOTE_MAX_LENGTH = 140


@dataclass(frozen=True)
class SlotChoice:
    """The item chosen for one slot of a set menu, with that item's own modifiers."""

    slot: int
    item: int
    modifiers: tuple[int, ...] = ()


@dataclass(frozen=True)
class LineSpec:
    """One line to add: the item, how many, its modifiers, note, seat and course, whether its course
    is held (the kitchen sees it, greyed, until it is fired), and a set menu's choices."""

    item: int
    quantity: int = 1
    modifiers: tuple[int, ...] = ()
    note: str = ""
    seat: int | None = None
    course: int = 1
    hold: bool = False
    slots: tuple[SlotChoice, ...] = ()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "LineSpec":
        """A line from a mapping with the field names above (absent or None: the default). Slots are
        mappings {"slot", "item", "modifiers"?} or SlotChoices. Types are the caller's to check."""

        def given(name: str, default: Any) -> Any:
            value = data.get(name)
            return default if value is None else value

        slots = tuple(
            s if isinstance(s, SlotChoice) else SlotChoice(slot=s["slot"], item=s["item"], modifiers=tuple(s.get("modifiers") or ()))
            for s in given("slots", ())
        )
        return cls(
            item=data["item"], quantity=given("quantity", 1), modifiers=tuple(given("modifiers", ())),
            note=given("note", ""), seat=data.get("seat"), course=given("course", 1), hold=bool(given("hold", False)),
            slots=slots,
        )

    def as_dict(self) -> dict:
        """JSON-able form (the kiosk's basket in the session); `from_dict` reads it back."""
        return {
            "item": self.item, "quantity": self.quantity, "modifiers": list(self.modifiers), "note": self.note,
            "seat": self.seat, "course": self.course, "hold": self.hold,
            "slots": [{"slot": c.slot, "item": c.item, "modifiers": list(c.modifiers)} for c in self.slots],
        }

    def canonical(self) -> dict:
        """`as_dict` with ids sorted: fingerprints an idempotent request (the order of ticks is no change)."""
        return {
            **self.as_dict(),
            "modifiers": sorted(self.modifiers),
            "slots": sorted([c.slot, c.item, sorted(c.modifiers)] for c in self.slots),
        }
