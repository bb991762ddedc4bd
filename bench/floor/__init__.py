"""The floor of bench/fanout.py: the least a stock Django + Channels app does to put an order on
kitchen screens (stock ASGI handler, stock in-memory channel layer, daphne, SQLite). One model, one
view that inserts a row and group_sends it, one consumer that joins the group and forwards."""
