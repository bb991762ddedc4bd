"""Cloud sync. Both roles run the same codebase, so both sets of tables exist everywhere:

Store side (KDS_ROLE=store): `SyncState` (one row: how the last attempts went) and `ChainSync` (per chain,
the cloud's acknowledged high-water mark and any integrity defect that stops that chain).

Cloud side (KDS_ROLE=cloud): `Store` (a registered store: its public key and token), `ReceivedRecord`
(sealed records exactly as the store sent them, verified before storing), `StoreChainMark` (the
high-water mark per store and chain, also the row that serialises concurrent uploads) and `Refusal`
(what the cloud turned down, for the owner's page).
"""

import secrets

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import hash_token

# --- Store side ---------------------------------------------------------------------------------------


class SyncState(models.Model):
    """The store's one row of sync bookkeeping (pk=1), read by the status indicator."""

    class Outcome(models.TextChoices):
        NEVER = "never", _("Never attempted")
        OK = "ok", _("Up to date")
        OFFLINE = "offline", _("Cloud unreachable")
        REFUSED = "refused", _("Refused by the cloud")
        DEFECT = "defect", _("Integrity defect")

    last_attempt_at = models.DateTimeField(_("last attempt"), null=True, blank=True)
    last_success_at = models.DateTimeField(_("last success"), null=True, blank=True)
    last_outcome = models.CharField(_("last outcome"), max_length=16, choices=Outcome.choices, default=Outcome.NEVER)
    last_error = models.TextField(_("last error"), blank=True)
    # Offline/online is journaled once per transition, so the previous reachability is kept here.
    online = models.BooleanField(_("cloud reachable"), null=True)
    failures = models.PositiveIntegerField(_("consecutive failures"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    backlog = models.PositiveIntegerField(_("records pending"), default=0)
    # When the cloud was last asked for its marks: with nothing new to send, the background step asks
    # again only now and then (a truncated local chain is caught on that check).
    last_checked_at = models.DateTimeField(_("last check of the cloud's marks"), null=True, blank=True)

    class Meta:
        verbose_name = _("sync state")
        verbose_name_plural = _("sync state")
        constraints = [
            # One row only: the status indicator and the loop read and write pk=1.
            models.CheckConstraint(condition=Q(id=1), name="sync_syncstate_singleton"),
            models.CheckConstraint(
                condition=Q(last_outcome__in=["never", "ok", "offline", "refused", "defect"]),
                name="sync_syncstate_outcome_valid",
            ),
        ]

    def __str__(self):
        return f"{self.get_last_outcome_display()} ({self.backlog})"

    @classmethod
    def get(cls) -> "SyncState":
        state, _created = cls.objects.get_or_create(pk=1)
        return state


class ChainSync(models.Model):
    """Per local chain: what the cloud acknowledged (its answer to our last upload or marks request),
    and the integrity defect that stops the chain from syncing, if any."""

    chain = models.CharField(_("chain"), max_length=32, unique=True)
    acked_seq = models.PositiveBigIntegerField(_("acknowledged sequence"), default=0)
    acked_hash = models.CharField(_("acknowledged hash"), max_length=128, blank=True)
    acked_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    # The cloud's signature over (store, chain, seq, hash), when the cloud signs its acknowledgements.
    ack_signature = models.TextField(_("cloud acknowledgement signature"), blank=True)
    defect = models.TextField(_("integrity defect"), blank=True)
    defect_at = models.DateTimeField(_("defect found at"), null=True, blank=True)

    class Meta:
        verbose_name = _("chain sync")
        verbose_name_plural = _("chain syncs")
        ordering = ["chain"]

    def __str__(self):
        return f"{self.chain} ≤ {self.acked_seq}"


# --- Cloud side ---------------------------------------------------------------------------------------


class Store(models.Model):
    """A store registered with the cloud (`manage.py store_register`): its token and public key."""

    name = models.CharField(_("name"), max_length=120, unique=True)
    public_key_pem = models.TextField(_("public key (PEM)"))
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    active = models.BooleanField(_("active"), default=True)
    last_sync_at = models.DateTimeField(_("last sync"), null=True, blank=True)

    class Meta:
        verbose_name = _("store")
        verbose_name_plural = _("stores")
        ordering = ["name"]

    def __str__(self):
        return self.name

    def set_new_token(self) -> str:
        """Give the store a fresh token (the old one stops working) and return it: it is shown once."""
        token = secrets.token_urlsafe(32)
        self.token_hash = hash_token(token)
        return token


class StoreChainMark(models.Model):
    """The cloud's high-water mark per store and chain: answers GET marks in one query, and its row is
    locked (SELECT ... FOR UPDATE) while a batch for that chain is verified and stored."""

    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="marks", verbose_name=_("store"))
    chain = models.CharField(_("chain"), max_length=32)
    seq = models.PositiveBigIntegerField(_("sequence"), default=0)
    hash = models.CharField(_("hash"), max_length=128, blank=True)
    signature = models.CharField(_("signature"), max_length=256, blank=True)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)

    class Meta:
        verbose_name = _("chain mark")
        verbose_name_plural = _("chain marks")
        ordering = ["store", "chain"]
        constraints = [
            # One mark per store and chain: two uploads racing for a new chain cannot both create it.
            models.UniqueConstraint(fields=["store", "chain"], name="sync_storechainmark_uniq"),
        ]

    def __str__(self):
        return f"{self.store} {self.chain} ≤ {self.seq}"


class ReceivedRecord(models.Model):
    """A sealed record as a store sent it, verified (signature and link to its predecessor) before it
    was stored. Never updated: a different record at the same number is a fork and is refused."""

    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="records", verbose_name=_("store"))
    chain = models.CharField(_("chain"), max_length=32)
    seq = models.PositiveBigIntegerField(_("sequence"))
    type = models.CharField(_("type"), max_length=32)
    timestamp = models.DateTimeField(_("timestamp"))
    business_day = models.DateField(_("business day"), null=True, blank=True)
    payload = models.TextField(_("payload"), help_text=_("Canonical JSON text, exactly as signed."))
    prev_hash = models.CharField(_("previous hash"), max_length=128)
    hash = models.CharField(_("hash"), max_length=128)
    signature = models.CharField(_("signature"), max_length=256)
    # Every other field of the wire dict (format version, operator, key id, prev_signature…): `wire()`
    # rebuilds exactly what the store signed, so the cloud can re-verify it at any time.
    envelope = models.JSONField(_("other fields as sent"), default=dict)
    received_at = models.DateTimeField(_("received"), default=timezone.now)

    class Meta:
        verbose_name = _("received record")
        verbose_name_plural = _("received records")
        ordering = ["store", "chain", "seq"]
        constraints = [
            # A chain never holds two records with one number: a second upload of the same record is a
            # duplicate (answered from here), a different record at that number is a fork (refused).
            models.UniqueConstraint(fields=["store", "chain", "seq"], name="sync_receivedrecord_store_chain_seq_uniq"),
        ]
        indexes = [
            # The owner's page totals receipts per store and business day.
            models.Index(fields=["store", "type", "business_day"], name="sync_received_day_idx"),
        ]

    def __str__(self):
        return f"{self.store} {self.chain} #{self.seq}"

    def wire(self) -> dict:
        """The record exactly as the store sent it."""
        return {**self.envelope, "payload": self.payload}


class Refusal(models.Model):
    """An upload the cloud turned down (fork, bad signature, gap…), kept for the owner: loud, not lost."""

    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="refusals", verbose_name=_("store"))
    chain = models.CharField(_("chain"), max_length=32, blank=True)
    seq = models.PositiveBigIntegerField(_("sequence"), null=True, blank=True)
    error = models.CharField(_("error"), max_length=32)
    detail = models.TextField(_("detail"), blank=True)
    at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        verbose_name = _("refused upload")
        verbose_name_plural = _("refused uploads")
        ordering = ["-at"]

    def __str__(self):
        return f"{self.store} {self.chain} #{self.seq}: {self.error}"
