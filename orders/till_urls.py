"""The till (servers on tablets): /till/…"""

from django.urls import path

from orders.views import accounts, bill, floor, lines, ticket

app_name = "till"

urlpatterns = [
    path("", floor.floor, name="floor"),
    path("floor/edit/", floor.floor_edit, name="floor_edit"),
    path("floor/tables/", floor.table_add, name="table_add"),
    path("floor/tables/<int:table_id>/move/", floor.table_move, name="table_move"),
    path("floor/tables/<int:table_id>/delete/", floor.table_delete, name="table_delete"),
    path("tables/<int:table_id>/open/", floor.open_table, name="open_table"),
    path("orders/", floor.orders_list, name="orders"),
    path("orders/new/", ticket.new_order, name="new_order"),
    path("orders/new/items/<int:item_id>/", ticket.new_order_picker, name="new_order_picker"),
    path("orders/new/lines/", lines.new_order_line, name="new_order_line"),
    path("orders/<int:order_id>/", ticket.order_detail, name="order"),
    path("orders/<int:order_id>/items/<int:item_id>/", ticket.item_picker, name="item_picker"),
    path("orders/<int:order_id>/lines/", lines.add_line, name="add_line"),
    path("orders/<int:order_id>/lines/<int:line_id>/remove/", lines.remove_line, name="remove_line"),
    path("orders/<int:order_id>/lines/<int:line_id>/void/", lines.void_line, name="void_line"),
    path("orders/<int:order_id>/send/", lines.send, name="send"),
    path("orders/<int:order_id>/rush/", lines.rush, name="rush"),
    path("orders/<int:order_id>/courses/<int:course>/hold/", lines.hold_course, name="hold_course"),
    path("orders/<int:order_id>/courses/<int:course>/fire/", lines.fire_course, name="fire_course"),
    path("orders/<int:order_id>/transfer/", ticket.transfer, name="transfer"),
    path("orders/<int:order_id>/merge/", ticket.merge, name="merge"),
    path("orders/<int:order_id>/discount/", lines.discount, name="discount"),
    path("orders/<int:order_id>/pre-bill/", bill.pre_bill, name="pre_bill"),
    path("orders/<int:order_id>/pre-bill/print/", bill.pre_bill_page, name="pre_bill_page"),
    path("orders/<int:order_id>/bill/", bill.bill, name="bill"),
    path("orders/<int:order_id>/pay/", bill.pay, name="pay"),
    path("orders/<int:order_id>/receipt/", bill.receipt, name="receipt"),
    path("accounts/", accounts.accounts, name="accounts"),
    path("accounts/<int:account_id>/settle/", accounts.account_settle, name="account_settle"),
]
