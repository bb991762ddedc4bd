"""What orders tells the apps above it, inside the order's own transaction.

The kitchen (kds) sits above orders: it reads orders, lines and the menu to build its tickets. Orders
never imports the kitchen; it announces what happened to an order and the kitchen, connected in
`kds.apps.KdsConfig.ready`, writes its tickets and print jobs in the same transaction. Receivers run
synchronously and an exception in one rolls the whole order back, so a ticket is never lost or left
without its order. `send_robust` is never used here for that reason.
"""

from django.dispatch import Signal

# lines: the order's lines now sent (status SENT, or HELD with sent_at set), items loaded, in course and
# tap order. The kitchen makes one ticket per station (and an expo ticket); held courses wait.
lines_sent = Signal()

# course: a held course of the order the server has just fired; its tickets start cooking.
course_fired = Signal()

# lines: lines of the order just voided after they were sent (struck through on the tickets); reason:
# the server's words, printed on the void slip.
lines_voided = Signal()

# order, rush: the order was just marked rush (True) or no longer rush (False); its kitchen tickets still
# open follow.
rush_changed = Signal()
