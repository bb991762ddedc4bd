"""The till (servers on tablets): /till/…"""

from django.urls import path

from orders import views

app_name = "till"

urlpatterns = [
    path("", views.floor, name="floor"),
    path("floor/edit/", views.floor_edit, name="floor_edit"),
    path("floor/tables/", views.table_add, name="table_add"),
    path("floor/tables/<int:table_id>/move/", views.table_move, name="table_move"),
    path("floor/tables/<int:table_id>/delete/", views.table_delete, name="table_delete"),
    path("tables/<int:table_id>/open/", views.open_table, name="open_table"),
    path("orders/", views.orders_list, name="orders"),
    path("orders/new/", views.new_order, name="new_order"),
    path("orders/new/items/<int:item_id>/", views.new_order_picker, name="new_order_picker"),
    path("orders/new/lines/", views.new_order_line, name="new_order_line"),
    path("orders/<int:order_id>/", views.order_detail, name="order"),
    path("orders/<int:order_id>/items/<int:item_id>/", views.item_picker, name="item_picker"),
    path("orders/<int:order_id>/lines/", views.add_line, name="add_line"),
    path("orders/<int:order_id>/lines/<int:line_id>/remove/", views.remove_line, name="remove_line"),
    path("orders/<int:order_id>/lines/<int:line_id>/void/", views.void_line, name="void_line"),
    path("orders/<int:order_id>/send/", views.send, name="send"),
    path("orders/<int:order_id>/courses/<int:course>/hold/", views.hold_course, name="hold_course"),
    path("orders/<int:order_id>/courses/<int:course>/fire/", views.fire_course, name="fire_course"),
    path("orders/<int:order_id>/transfer/", views.transfer, name="transfer"),
    path("orders/<int:order_id>/merge/", views.merge, name="merge"),
    path("orders/<int:order_id>/discount/", views.discount, name="discount"),
    path("orders/<int:order_id>/pre-bill/", views.pre_bill, name="pre_bill"),
    path("orders/<int:order_id>/pre-bill/print/", views.pre_bill_page, name="pre_bill_page"),
    path("orders/<int:order_id>/bill/", views.bill, name="bill"),
    path("orders/<int:order_id>/pay/", views.pay, name="pay"),
    path("orders/<int:order_id>/receipt/", views.receipt, name="receipt"),
    path("accounts/", views.accounts, name="accounts"),
    path("accounts/<int:account_id>/settle/", views.account_settle, name="account_settle"),
]
