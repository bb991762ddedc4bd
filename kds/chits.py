"""Kitchen chits: what a kitchen ticket or a void slip says on paper, as ESC/POS bytes.

The kitchen renders its chits here and hands the bytes to the print queue (printing.queue) inside the
order's transaction; the spooler (printing.spooler) prints them later.
"""

from dataclasses import dataclass, field

from django.conf import settings
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _
from escpos.printer import Dummy

WIDTH = 42  # characters per line in font A on 80 mm paper


@dataclass(frozen=True)
class PrintItem:
    quantity: int
    name: str
    modifiers: tuple[str, ...] = ()
    note: str = ""
    seat: int | None = None
    within: str = ""  # the set menu this dish belongs to


@dataclass(frozen=True)
class TicketSpec:
    station: str
    order_number: int
    where: str
    server: str
    time: str
    items: tuple[PrintItem, ...] = field(default_factory=tuple)
    rush: bool = False
    held_course: int | None = None
    void_reason: str | None = None


def ticket_spec(ticket, order, lines, *, void_reason: str | None = None) -> TicketSpec:
    """What goes on the paper for `ticket`, in the kitchen's language."""
    with translation.override(settings.LANGUAGE_CODE):
        return TicketSpec(
            station=ticket.station.name,
            order_number=order.number,
            where=where_label(order),
            server=order.server.first_name or order.server.username if order.server_id else "",
            time=formats.time_format(timezone.localtime(ticket.sent_at or ticket.created_at), "H:i"),
            items=tuple(
                PrintItem(
                    quantity=line.quantity,
                    name=line.kitchen_name or line.name,
                    modifiers=tuple(m.kitchen_name or m.name for m in line.modifiers.all()),
                    note=line.note,
                    seat=line.seat,
                    within=(line.parent.kitchen_name or line.parent.name) if line.parent_id else "",
                )
                for line in lines
            ),
            rush=ticket.is_rush,
            held_course=ticket.course if ticket.status == "held" else None,
            void_reason=void_reason,
        )


def where_label(order) -> str:
    """"Table 4", "À emporter", "Borne" — the same words on paper and on screens."""
    return describe_where(order.table.label if order.table_id else None, order.source, order.order_type)


def describe_where(table_label: str | None, source: str, order_type: str) -> str:
    if table_label:
        return _("Table %(label)s") % {"label": table_label}
    if source == "kiosk":
        return _("Kiosk")
    if source == "api":
        return _("Delivery")
    if order_type == "take_away":
        return _("Take away")
    return _("Counter")


def render_ticket(spec: TicketSpec) -> bytes:
    """ESC/POS bytes for an 80 mm printer (python-escpos picks the code page for accents)."""
    p = Dummy()
    p.hw("INIT")
    if spec.void_reason is not None:
        p.set(align="center", bold=True, invert=True, double_height=True, double_width=True)
        p.text(_("VOID") + "\n")
    p.set(align="center", bold=True, double_height=True, double_width=True)
    p.text(f"#{spec.order_number}\n")
    p.set(align="center", normal_textsize=True, bold=True)
    p.text(f"{spec.where}\n")
    p.set(align="left", normal_textsize=True)
    p.text(f"{spec.station} - {spec.time}" + (f" - {spec.server}" if spec.server else "") + "\n")
    if spec.rush:
        p.set(align="center", bold=True, invert=True)
        p.text(" " + _("RUSH") + " \n")
    if spec.held_course is not None:
        p.set(align="center", bold=True)
        p.text(_("HOLD — course %(n)s") % {"n": spec.held_course} + "\n")
    p.set(align="left", normal_textsize=True)
    p.text("-" * WIDTH + "\n")
    for item in spec.items:
        p.set(bold=True, double_height=True)
        p.text(f"{item.quantity} x {item.name}\n")
        p.set(normal_textsize=True)
        for modifier in item.modifiers:
            p.text(f"   + {modifier}\n")
        if item.note:
            p.set(bold=True)
            p.text(f"   ! {item.note}\n")
            p.set(bold=False)
        if item.seat:
            p.text("   " + _("seat %(n)s") % {"n": item.seat} + "\n")
        if item.within:
            p.text(f"   ({item.within})\n")
    if spec.void_reason is not None:
        p.text("-" * WIDTH + "\n")
        p.text(_("Reason: %(reason)s") % {"reason": spec.void_reason} + "\n")
    p.text("\n")
    p.cut()
    return p.output
