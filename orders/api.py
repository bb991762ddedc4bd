"""JSON API /api/v1/ for tills, kiosks and integrations.

    GET  menu/                     the menu: categories, items, modifier groups, set-menu slots
    POST orders/                   {"idempotency_key", "order_type", "table"?, "lines": [...]} → 201 order
    GET  orders/<id>/              an order
    POST orders/<id>/payments/     {"idempotency_key", "method", "amount", ...} → 201
                                   {"settled", "order", "receipt", "change", "payment"}

Every view: a bearer token (or a paired-device cookie) of a till, kiosk or integration (`api_view`);
errors are `{"error": code, "detail": message, "field"?: path}` with a 4xx status (orders.errors
chooses it from the code), in the request's language (LocaleMiddleware). Views parse and check types,
then call one action (orders.actions), which owns the rules. POSTs carry a client idempotency key: the
first answer is stored and replayed to every retry (orders.idempotency.replay_or_run).
Kiosks and integrations see only the orders they placed (another device's order is a 404, so ids
cannot be probed); tills see every order.
"""

import json
from decimal import Decimal, InvalidOperation
from functools import wraps
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from accounts.access import api_view
from accounts.models import Device
from orders import idempotency, selectors, shapes
from orders.actions import ordering, payments as payment_actions
from orders.actions.base import MAX_ID
from orders.errors import OrderError, http_status
from orders.lines import MAX_LINES, LineSpec
from orders.models import CustomerAccount, Order, Table

API_ROLES = (Device.Role.TILL, Device.Role.KIOSK, Device.Role.INTEGRATION)
SOURCE_BY_ROLE = {Device.Role.TILL: Order.Source.TILL, Device.Role.KIOSK: Order.Source.KIOSK, Device.Role.INTEGRATION: Order.Source.API}


class BadRequest(Exception):
    """Malformed input caught while parsing: (status, code, detail, field)."""

    def __init__(self, status: int, code: str, detail: str, field: str = ""):
        super().__init__(detail)
        self.status, self.code, self.detail, self.field = status, code, detail, field


def answer(body: dict, *, status: int = 200) -> JsonResponse:
    """Every API answer, with sorted keys: a replayed answer comes back from the database (PostgreSQL's
    jsonb does not keep key order) and must be byte-for-byte the first one."""
    return JsonResponse(body, status=status, json_dumps_params={"sort_keys": True})


def _error(status: int, code: str, detail: str, field: str = "") -> JsonResponse:
    """The API's error shape (see accounts.access.json_error), plus the offending field's path if known."""
    body = {"error": code, "detail": detail}
    if field:
        body["field"] = field
    return answer(body, status=status)


def _order_error(error: OrderError) -> JsonResponse:
    return _error(http_status(error.code), error.code, error.message, error.field)


def endpoint(*methods: str):
    """The decorator stack of every API view: CSRF only for cookie-authenticated calls (a bearer token
    cannot be sent by a third-party page), the device check, a JSON 405, and 4xx for bad input."""

    def decorator(view):
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs):
            if request.method not in methods:
                response = _error(405, "method_not_allowed", _("Method not allowed."))
                response["Allow"] = ", ".join(methods)
                return response
            if request.method not in ("GET", "HEAD", "OPTIONS") and not getattr(request, "device_by_token", False):
                rejected = CsrfViewMiddleware(lambda r: None).process_view(request, None, (), {})
                if rejected is not None:
                    return _error(403, "csrf_failed", _("CSRF check failed."))
            try:
                return view(request, *args, **kwargs)
            except BadRequest as bad:
                return _error(bad.status, bad.code, bad.detail, bad.field)
            except OrderError as error:  # IdempotencyKeyReused too
                return _order_error(error)

        return csrf_exempt(api_view(*API_ROLES)(wrapper))

    return decorator


# --- Parsing ------------------------------------------------------------------------------------------


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def json_body(request: HttpRequest) -> dict:
    """The request's JSON object: 415 unless Content-Type is application/json, 413 when larger than
    DATA_UPLOAD_MAX_MEMORY_SIZE, 400 when it is not a JSON object. Numbers with a fraction parse as
    Decimal (money never goes through float)."""
    content_type = request.content_type or ""
    if content_type.lower() != "application/json":
        raise BadRequest(415, "unsupported_media_type", _("Send JSON (Content-Type: application/json)."))
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise BadRequest(400, "invalid_request", _("Invalid Content-Length.")) from None
    if limit is not None and declared > limit:
        raise BadRequest(413, "too_large", _("The request body is too large."))
    try:
        raw = request.body
    except RequestDataTooBig:
        raise BadRequest(413, "too_large", _("The request body is too large.")) from None
    if limit is not None and len(raw) > limit:
        raise BadRequest(413, "too_large", _("The request body is too large."))
    try:
        data = json.loads(raw.decode(request.encoding or "utf-8"), parse_float=Decimal, parse_constant=_reject_constant)
    except (UnicodeDecodeError, LookupError, ValueError, RecursionError):
        raise BadRequest(400, "malformed_json", _("The body is not valid JSON.")) from None
    if not isinstance(data, dict):
        raise BadRequest(400, "invalid_request", _("The body must be a JSON object."))
    try:
        unstorable = _unstorable_text(data)
    except RecursionError:
        raise BadRequest(400, "malformed_json", _("The body is not valid JSON.")) from None
    if unstorable:
        raise BadRequest(400, "invalid_text", _("Text may not contain NUL characters or unpaired surrogates."))
    return data


def _unstorable_text(value: Any) -> bool:
    """Text no database stores: NUL (PostgreSQL refuses it) or a lone surrogate ("\\ud800" is valid
    JSON but not UTF-8). Refused at the door rather than failing deep inside a transaction."""
    if isinstance(value, str):
        if "\x00" in value:
            return True
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_unstorable_text(k) or _unstorable_text(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_unstorable_text(v) for v in value)
    return False


def _type_error(field: str, expected: str) -> BadRequest:
    return BadRequest(400, "invalid_type", _("“%(field)s” must be %(expected)s.") % {"field": field, "expected": expected}, field)


def _expected(kind: str) -> str:
    return {
        "int": _("an integer"), "str": _("a string"), "bool": _("true or false"), "list": _("a list"),
        "dict": _("an object"), "money": _("an amount such as \"12.50\""),
    }[kind]


def _get(
    data: dict, key: str, kind: str, path: str, *, required: bool = False, default: Any = None, nullable: bool = False
) -> Any:
    """data[key] checked against `kind`: "int", "str", "bool", "list", "dict", "money" (string or number).
    An absent key gives `default`. An explicit null is a 400 unless the field is `nullable` (null then
    means "none", as for a line's seat): `"quantity": null` is a client's mistake, never a quantity of 1."""
    if key not in data or (data[key] is None and nullable):
        if required:
            raise BadRequest(400, "missing_field", _("“%(field)s” is required.") % {"field": path}, path)
        return default
    value = data[key]
    if value is None:
        raise _type_error(path, _expected(kind))
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise _type_error(path, _("an integer"))
    elif kind == "str":
        if not isinstance(value, str):
            raise _type_error(path, _("a string"))
    elif kind == "bool":
        if not isinstance(value, bool):
            raise _type_error(path, _("true or false"))
    elif kind == "list":
        if not isinstance(value, list):
            raise _type_error(path, _("a list"))
    elif kind == "dict":
        if not isinstance(value, dict):
            raise _type_error(path, _("an object"))
    elif kind == "money":
        if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
            raise _type_error(path, _("an amount such as \"12.50\""))
        try:
            value = Decimal(value) if not isinstance(value, Decimal) else value
        except (InvalidOperation, ValueError):
            raise _type_error(path, _("an amount such as \"12.50\"")) from None
        if not value.is_finite():
            raise _type_error(path, _("an amount such as \"12.50\""))
    return value


def _ids(data: dict, key: str, path: str) -> tuple[int, ...]:
    values = _get(data, key, "list", path, default=[])
    if len(values) > 50:
        raise BadRequest(400, "invalid_request", _("Too many values."), path)
    for index, value in enumerate(values):
        if isinstance(value, bool) or not isinstance(value, int):
            raise _type_error(f"{path}[{index}]", _("an integer"))
    return tuple(values)


def _idempotency_key(data: dict) -> str:
    key = _get(data, "idempotency_key", "str", "idempotency_key", required=True)
    if not 1 <= len(key) <= idempotency.KEY_MAX_LENGTH:
        raise BadRequest(400, "invalid_idempotency_key", _("Invalid idempotency key."), "idempotency_key")
    return key


def parse_lines(data: dict) -> list[LineSpec]:
    """The "lines" of an order body → LineSpecs. Client prices, if any, are ignored."""
    raw_lines = _get(data, "lines", "list", "lines", required=True)
    if len(raw_lines) > MAX_LINES:
        raise BadRequest(400, "too_many_lines", _("Too many lines (at most %(n)d).") % {"n": MAX_LINES}, "lines")
    specs = []
    for index, raw in enumerate(raw_lines):
        path = f"lines[{index}]"
        if not isinstance(raw, dict):
            raise _type_error(path, _("an object"))
        slots = []
        for slot_index, raw_slot in enumerate(_get(raw, "slots", "list", f"{path}.slots", default=[])):
            slot_path = f"{path}.slots[{slot_index}]"
            if not isinstance(raw_slot, dict):
                raise _type_error(slot_path, _("an object"))
            slots.append({
                "slot": _get(raw_slot, "slot", "int", f"{slot_path}.slot", required=True),
                "item": _get(raw_slot, "item", "int", f"{slot_path}.item", required=True),
                "modifiers": _ids(raw_slot, "modifiers", f"{slot_path}.modifiers"),
            })
        specs.append(LineSpec.from_dict({
            "item": _get(raw, "item", "int", f"{path}.item", required=True),
            "quantity": _get(raw, "quantity", "int", f"{path}.quantity"),
            "modifiers": _ids(raw, "modifiers", f"{path}.modifiers"),
            "note": _get(raw, "note", "str", f"{path}.note"),
            "seat": _get(raw, "seat", "int", f"{path}.seat", nullable=True),
            "course": _get(raw, "course", "int", f"{path}.course"),
            "hold": _get(raw, "hold", "bool", f"{path}.hold"),
            "slots": slots,
        }))
    return specs


def _table(data: dict) -> Table | None:
    """"table" is the table's label ("4"); an integer is read as a label too."""
    value = data.get("table")
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise _type_error("table", _("a table label"))
    table = Table.objects.filter(label=str(value)).first()
    if table is None:
        raise BadRequest(400, "unknown_table", _("Unknown table."), "table")
    return table


def _visible_order(request: HttpRequest, order_id: int) -> Order:
    if order_id > MAX_ID:
        raise BadRequest(404, "not_found", _("No such order."))
    order = Order.objects.filter(selectors.orders_visible_to(request.device), pk=order_id).select_related("table").first()
    if order is None:
        raise BadRequest(404, "not_found", _("No such order."))
    return order


# --- Views --------------------------------------------------------------------------------------------


@endpoint("GET")
def menu(request: HttpRequest) -> JsonResponse:
    return answer(shapes.menu_as_dict(kiosk=request.device.role == Device.Role.KIOSK))


@endpoint("POST")
def orders(request: HttpRequest) -> JsonResponse:
    data = json_body(request)
    key = _idempotency_key(data)
    order_type = _get(data, "order_type", "str", "order_type", required=True)
    if order_type not in Order.Type.values:
        raise BadRequest(400, "invalid_order_type", _("“order_type” must be “eat_in” or “take_away”."), "order_type")
    lines = parse_lines(data)
    covers = _get(data, "covers", "int", "covers", default=0)
    customer_name = _get(data, "customer_name", "str", "customer_name", default="")
    note = _get(data, "note", "str", "note", default="")
    send = _get(data, "send", "bool", "send", default=True)
    rush = _get(data, "rush", "bool", "rush", default=False)
    device = request.device
    if rush and device.role == Device.Role.KIOSK:
        raise BadRequest(403, "forbidden", _("Only tills and integrations mark an order rush."), "rush")

    def place() -> dict:
        order = ordering.place_order(
            device=device, order_type=order_type, table=_table(data), covers=covers, lines=lines,
            customer_name=customer_name, note=note, source=SOURCE_BY_ROLE[device.role], send=send,
            rush=rush,
        )
        return {**shapes.order_as_dict(order, written_lines=order.written_lines), "idempotency_key": key}

    done = idempotency.replay_or_run(device=device, scope="api.orders", key=key, body=data, run=place, status=201)
    return answer(done.body, status=done.status)


@endpoint("GET")
def order_detail(request: HttpRequest, order_id: int) -> JsonResponse:
    return answer(shapes.order_as_dict(_visible_order(request, order_id)))


@endpoint("POST")
def payments(request: HttpRequest, order_id: int) -> JsonResponse:
    data = json_body(request)
    key = _idempotency_key(data)
    method = _get(data, "method", "str", "method", required=True)
    amount = _get(data, "amount", "money", "amount", required=True)
    tendered = _get(data, "tendered", "money", "tendered", nullable=True)
    tip = _get(data, "tip", "money", "tip", default=Decimal("0.00"))
    account_id = _get(data, "account", "int", "account", nullable=True)
    device = request.device
    account = None
    if account_id is not None:
        if device.role != Device.Role.TILL:
            raise BadRequest(403, "forbidden", _("Only tills charge customer accounts."), "account")
        account = CustomerAccount.objects.filter(pk=account_id).first() if 1 <= account_id <= MAX_ID else None
        if account is None:
            raise BadRequest(400, "unknown_account", _("Unknown customer account."), "account")

    def pay() -> dict:
        order = _visible_order(request, order_id)
        result = payment_actions.take_payment(
            order=order, method=method, amount=amount, tendered=tendered, tip=tip, account=account,
            operator=None, device=device,
        )
        return {
            "settled": result.settled,
            "order": shapes.order_as_dict(result.order),
            "receipt": result.receipt.summary() if result.receipt is not None else None,
            "change": f"{result.change:.2f}",
            "payment": {
                "id": result.payment.pk, "method": result.payment.method, "amount": f"{result.payment.amount:.2f}",
                "tip": f"{result.payment.tip:.2f}",
            },
        }

    done = idempotency.replay_or_run(
        device=device, scope="api.payments", key=key, body={"order": order_id, **data}, run=pay, status=201
    )
    return answer(done.body, status=done.status)
