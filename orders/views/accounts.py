"""Customer accounts on the till: their balances, and a customer settling what their account owes."""

from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_GET, require_POST

from orders import selectors
from orders.actions import accounts as account_actions
from orders.errors import OrderError, page_status
from orders.forms import SettleAccountForm
from orders.models import CustomerAccount
from orders.views.common import page, run, till_view


def _accounts_page(request, *, forms: dict | None = None, status: int = 200, settled=None):
    accounts = list(selectors.customer_accounts())
    for account in accounts:
        account.settle_form = (forms or {}).get(account.pk)
    context = {"accounts": accounts, "settled": settled, "methods": SettleAccountForm.METHODS}
    return page(request, "orders/till/accounts.html", context, status=status)


@require_GET
@till_view
def accounts(request):
    return _accounts_page(request)


@require_POST
@till_view
def account_settle(request, account_id: int):
    account = get_object_or_404(CustomerAccount, pk=account_id)
    form = SettleAccountForm(request.POST)
    if not form.is_valid():
        return _accounts_page(request, forms={account.pk: form}, status=422)
    data = form.cleaned_data
    try:
        run(request, "till-settle", {"account": account.pk, "amount": str(data["amount"]), "method": data["method"]},
            lambda: {"settlement": account_actions.settle_account(
                account=account, amount=data["amount"], method=data["method"], operator=request.user,
            ).pk})
    except OrderError as error:
        form.add_error("amount" if error.field == "amount" else None, error.message)
        return _accounts_page(request, forms={account.pk: form}, status=page_status(error.code))
    return _accounts_page(request, settled=account.pk)
