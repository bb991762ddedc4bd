"""The till: servers on tablets (htmx). One module per group of pages:

    floor      the floor plan, its editing, opening a table, the list of orders
    ticket     the order screen: the ticket pane, the item pickers, moving and merging orders
    lines      adding, removing and voiding lines, sending, holding and firing courses, discounts
    bill       pre-bills, the bill with its splits, payments, the receipt
    accounts   customer accounts and their settlement

Each view is a decorator stack, parsing (a form), one action (orders.actions) and a render. Pages render
with `base_template`: the whole page on a normal load, only the page block for an htmx request — the
same template either way. Fragments (the ticket pane, modals, toasts) are templates of their own.

Every POST that changes something goes through `common.run` (orders.idempotency): till.js sends an
`Idempotency-Key` header made per user action and kept across retries, and a retry whose first answer
was lost gets the first answer (then re-renders the current state, which already shows the change).

Errors: bad input re-renders the form with its errors (422, swapped back into the modal); a refusal
("this line was sent: void it") is a toast, with the status orders.errors gives its code.
"""
