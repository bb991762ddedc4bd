"""The business rules of the orders domain, one module per capability:

    ordering    placing orders, opening a table, adding and removing lines, cancel, transfer, merge
    courses     sending to the kitchen, holding and firing courses, voiding sent lines, rush
    discounts   order and line discounts (manager approval above a threshold)
    bills       pre-bills and split bills
    payments    taking payments, closing settled and free orders
    accounts    customer accounts: charging and settling them
    menu        86'ing items and counting their remaining portions
    floor       the floor plan: adding, moving and removing tables

Conventions: keyword-only, type-annotated arguments; each action runs in `transaction.atomic` (nested
in the caller's transaction when there is one) and does all of its work or none of it; bad input and
refused changes raise `orders.errors.OrderError` with a stable code, a translated message and the
offending field. Actions never choose an HTTP status (orders.errors does, at the edge) and take no
idempotency key (orders.idempotency wraps the POST that calls them). Actions that change an existing
order lock its row first (SELECT … FOR UPDATE) and re-check its status: one writer per order at a
time; state changes that can race are compare-and-set UPDATEs (`filter(status=old).update(...)`).
The kitchen hears of lines only through orders.signals, inside the order's transaction.
"""
