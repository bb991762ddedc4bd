"""Customer accounts (a regular's tab, a company's monthly bill): charged by account payments within
their credit limit, settled later by cash, card or voucher. Both lock the account row."""

from decimal import Decimal

from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext as _

from accounts.models import User
from orders.actions.base import parse_money
from orders.errors import OrderError
from orders.models import AccountSettlement, CustomerAccount, Payment

SETTLEMENT_METHODS = (Payment.Method.CASH, Payment.Method.CARD, Payment.Method.VOUCHER)


def charge_account(*, account: CustomerAccount | None, amount: Decimal) -> CustomerAccount:
    """Add `amount` to what the account owes, within its credit limit. Call inside the payment's
    transaction: the account row stays locked (SELECT … FOR UPDATE) until it commits."""
    if account is None:
        raise OrderError("account_required", _("Choose a customer account."), field="account")
    account = CustomerAccount.objects.select_for_update().get(pk=account.pk)
    if not account.active:
        raise OrderError("account_inactive", _("This customer account is closed."), field="account")
    if account.credit_limit is not None and account.balance + amount > account.credit_limit:
        raise OrderError(
            "credit_limit",
            _("This would exceed the account's credit limit (%(limit)s).") % {"limit": account.credit_limit},
            field="amount",
        )
    CustomerAccount.objects.filter(pk=account.pk).update(balance=F("balance") + amount)
    account.refresh_from_db()
    return account


@transaction.atomic
def settle_account(*, account: CustomerAccount, amount: Decimal, method: str, operator: User | None) -> AccountSettlement:
    """A customer pays (part of) what their account owes, by cash, card or voucher. Not more than the
    balance. Locks the account row."""
    if method not in SETTLEMENT_METHODS:
        raise OrderError("invalid_method", _("Unknown payment method."), field="method")
    amount = parse_money(amount, field="amount", allow_zero=False)
    account = CustomerAccount.objects.select_for_update().get(pk=account.pk)
    if amount > account.balance:
        raise OrderError(
            "account_overpayment", _("The account owes only %(balance)s.") % {"balance": account.balance}, field="amount"
        )
    CustomerAccount.objects.filter(pk=account.pk).update(balance=F("balance") - amount)
    return AccountSettlement.objects.create(account=account, amount=amount, method=method, operator=operator)
