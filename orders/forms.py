"""Forms of the till and the kiosk: they turn posted fields into typed values with clear, translated
errors. The business rules stay in orders.actions; the line form only repeats the modifier-count rule
so a customer hears "choose a cooking" before the basket, not at the counter.
"""

import re
from decimal import Decimal

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils.translation import gettext_lazy as _

from orders.models import CustomerAccount, Item, Payment, Table
from orders.lines import MAX_COURSE, MAX_COVERS, MAX_QUANTITY, NOTE_MAX_LENGTH, LineSpec, SlotChoice

SLOT_FIELD = re.compile(r"slot_(\d{1,12})")
MONEY_FIELD = {"max_digits": 7, "decimal_places": 2, "min_value": Decimal("0.00"), "localize": True}  # "12,50" in French


def posted_values(data, prefix: str) -> list[str]:
    """Every value posted under `prefix` or `prefix_<anything>`: checkboxes share one name, radio groups
    (one per modifier group, so two "pick one" groups don't clear each other) get a suffix."""
    values = []
    for name in data:
        if name == prefix or name.startswith(prefix + "_"):
            values.extend(data.getlist(name))
    return values


def _ids(values) -> tuple[int, ...]:
    """Posted ids (a list of strings) → ints; raises ValidationError on anything else."""
    ids = []
    for value in values:
        try:
            ids.append(int(value))
        except (TypeError, ValueError):
            raise forms.ValidationError(_("Invalid choice."), code="invalid") from None
    return tuple(ids)


class CoversForm(forms.Form):
    covers = forms.IntegerField(label=_("Covers"), min_value=1, max_value=MAX_COVERS)


class LineForm(forms.Form):
    """One line as the till's item picker or the kiosk posts it.

    Fields: item, quantity, note, seat, course, hold, `modifier` (repeated), and for set menus
    `slot_<slot id>` (the chosen item) with `slot_<slot id>_modifier` (repeated).
    """

    item = forms.IntegerField(min_value=1)
    quantity = forms.IntegerField(label=_("Quantity"), min_value=1, max_value=MAX_QUANTITY, required=False)
    note = forms.CharField(label=_("Note"), max_length=NOTE_MAX_LENGTH, required=False, strip=True)
    seat = forms.IntegerField(label=_("Seat"), min_value=1, max_value=MAX_COVERS, required=False)
    course = forms.IntegerField(label=_("Course"), min_value=1, max_value=MAX_COURSE, required=False)
    hold = forms.BooleanField(required=False)

    def __init__(self, data=None, *, item: Item | None = None, **kwargs):
        super().__init__(data, **kwargs)
        self.menu_item = item

    def clean(self):
        cleaned = super().clean()
        item = self.menu_item
        if self.errors:
            return cleaned
        if item is None:
            # No menu given: only parse. orders.actions checks the choices against the menu when the
            # line is added (the till's path: one validation, in the action, on every tap).
            try:
                cleaned["modifiers"] = _ids(posted_values(self.data, "modifier"))
                cleaned["slots"] = self._posted_slots()
            except forms.ValidationError as error:
                self.add_error(None, error)
            return cleaned
        if not item.is_orderable:
            raise forms.ValidationError(_("“%(item)s” is not available.") % {"item": item.name}, code="unavailable")
        cleaned["modifiers"] = self._modifiers(item, posted_values(self.data, "modifier"), field=None)
        slots = []
        if item.is_set_menu:
            for slot in item.slots.all():
                raw = self.data.get(f"slot_{slot.pk}")
                choices = {c.pk: c for c in slot.choices.all()}
                try:
                    chosen = choices.get(int(raw)) if raw else None
                except ValueError:
                    chosen = None
                if chosen is None:
                    self.add_error(None, forms.ValidationError(_("Choose the “%(slot)s”.") % {"slot": slot.name}, code="slot_missing"))
                    continue
                if not chosen.is_orderable:
                    self.add_error(None, _("“%(item)s” is not available.") % {"item": chosen.name})
                    continue
                modifiers = self._modifiers(chosen, posted_values(self.data, f"slot_{slot.pk}_modifier"), field=None)
                slots.append(SlotChoice(slot=slot.pk, item=chosen.pk, modifiers=modifiers))
        cleaned["slots"] = tuple(slots)
        return cleaned

    def _posted_slots(self) -> tuple[SlotChoice, ...]:
        slots = []
        for name in self.data:
            match = SLOT_FIELD.fullmatch(name)
            if match:
                (item,) = _ids([self.data.get(name)])
                modifiers = _ids(posted_values(self.data, f"{name}_modifier"))
                slots.append(SlotChoice(slot=int(match.group(1)), item=item, modifiers=modifiers))
        return tuple(slots)

    def _modifiers(self, item: Item, raw: list[str], *, field: str | None) -> tuple[int, ...]:
        """Check the chosen modifiers against the item's groups: each group within its min..max."""
        try:
            ids = _ids(raw)
        except forms.ValidationError as error:
            self.add_error(field, error)
            return ()
        chosen = set(ids)
        for group in item.modifier_groups.all():
            in_group = [m.pk for m in group.modifiers.all() if m.pk in chosen]
            chosen -= set(in_group)
            count = len(in_group)
            if group.min_choices <= count <= group.max_choices:
                continue
            if group.min_choices == group.max_choices:
                message = _("%(item)s — “%(group)s”: choose exactly %(n)d.") % {"item": item.name, "group": group.name, "n": group.min_choices}
            else:
                message = _("%(item)s — “%(group)s”: choose between %(min)d and %(max)d.") % {
                    "item": item.name, "group": group.name, "min": group.min_choices, "max": group.max_choices,
                }
            self.add_error(field, forms.ValidationError(message, code="modifier_count"))
        if chosen:
            self.add_error(field, forms.ValidationError(_("Invalid choice."), code="invalid"))
        return ids

    def spec(self) -> LineSpec:
        """The line to add (blank fields take LineSpec's defaults)."""
        return LineSpec.from_dict(self.cleaned_data)


class VoidForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=NOTE_MAX_LENGTH, strip=True)


class DiscountForm(forms.Form):
    KIND_CHOICES = [("percent", _("Percent")), ("amount", _("Amount"))]

    kind = forms.ChoiceField(label=_("Discount"), choices=KIND_CHOICES, widget=forms.RadioSelect)
    value = forms.DecimalField(label=_("Value"), **MONEY_FIELD)
    line = forms.IntegerField(required=False, widget=forms.HiddenInput)
    manager_pin = forms.CharField(
        label=_("Manager PIN"), required=False, max_length=12,
        widget=forms.PasswordInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("kind") == "percent" and cleaned.get("value") is not None and cleaned["value"] > 100:
            self.add_error("value", _("A discount is at most 100 %."))
        return cleaned


class PaymentForm(forms.Form):
    method = forms.ChoiceField(label=_("Method"), choices=Payment.Method.choices, widget=forms.RadioSelect)
    amount = forms.DecimalField(label=_("Amount"), **MONEY_FIELD)
    tendered = forms.DecimalField(label=_("Cash tendered"), required=False, **MONEY_FIELD)
    tip = forms.DecimalField(label=_("Tip"), required=False, **MONEY_FIELD)
    account = forms.ModelChoiceField(label=_("Customer account"), queryset=CustomerAccount.objects.filter(active=True), required=False)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("amount") is not None and cleaned["amount"] <= 0:
            self.add_error("amount", _("The amount must be more than zero."))
        if cleaned.get("method") == Payment.Method.ACCOUNT and not cleaned.get("account"):
            self.add_error("account", _("Choose a customer account."))
        if cleaned.get("method") != Payment.Method.ACCOUNT:
            cleaned["account"] = None
        return cleaned


class SettleAccountForm(forms.Form):
    METHODS = [(Payment.Method.CASH, Payment.Method.CASH.label), (Payment.Method.CARD, Payment.Method.CARD.label),
               (Payment.Method.VOUCHER, Payment.Method.VOUCHER.label)]

    amount = forms.DecimalField(label=_("Amount"), **MONEY_FIELD)
    method = forms.ChoiceField(label=_("Method"), choices=METHODS)


class TableForm(forms.ModelForm):
    class Meta:
        model = Table
        fields = ["label", "area", "seats", "shape"]


class MoveTableForm(forms.Form):
    dx = forms.IntegerField(min_value=-1, max_value=1, required=False)
    dy = forms.IntegerField(min_value=-1, max_value=1, required=False)


class TransferForm(forms.Form):
    table = forms.ModelChoiceField(label=_("Table"), queryset=Table.objects.all())


class KioskStartForm(forms.Form):
    order_type = forms.ChoiceField(choices=[("eat_in", _("Eat in")), ("take_away", _("Take away"))])


class QuantityForm(forms.Form):
    quantity = forms.IntegerField(validators=[MinValueValidator(0), MaxValueValidator(MAX_QUANTITY)])
