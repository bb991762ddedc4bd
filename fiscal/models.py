"""Sealed fiscal records and the head of each chain.

`SealedRecord` rows are written once by fiscal.services and never changed: the model refuses save() on
an existing row and delete(), its queryset refuses update()/delete(), and database triggers (migration
0002) refuse UPDATE and DELETE from any client. What is hashed and signed is described in fiscal/chain.py;
the columns outside the hash (id, refers_to, subject, period) are lookup indexes only.
"""

from datetime import UTC, datetime

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from fiscal import chain as fc


class SealedRecordError(Exception):
    """A sealed record cannot be changed or deleted."""


class Chain(models.TextChoices):
    TICKET = fc.TICKET, _("Receipts")
    TRAINING = fc.TRAINING, _("Training")
    PREBILL = fc.PREBILL, _("Pre-bills")
    COPY = fc.COPY, _("Copies")
    CLOSURE = fc.CLOSURE, _("Closures")
    JET = fc.JET, _("Event journal")
    ARCHIVE = fc.ARCHIVE, _("Archives")


class RecordType(models.TextChoices):
    SALE = fc.SALE, _("Sale")
    CANCELLATION = fc.CANCELLATION, _("Cancellation")
    PREBILL = fc.PREBILL_TYPE, _("Pre-bill")
    COPY = fc.COPY_TYPE, _("Copy")
    DAY = fc.DAY, _("Day closure")
    MONTH = fc.MONTH, _("Month closure")
    YEAR = fc.YEAR, _("Year closure")
    EVENT = fc.EVENT, _("Event")
    ARCHIVE = fc.ARCHIVE_TYPE, _("Archive")


class SealedRecordQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise SealedRecordError("sealed fiscal records cannot be updated")

    def delete(self):
        raise SealedRecordError("sealed fiscal records cannot be deleted")

    _update = update  # bulk_update and friends end up here

    def wire(self, chunk_size: int = 2000):
        """Wire dicts (fiscal.chain format) in (chain, seq) order, streamed: a server-side cursor on
        PostgreSQL, tuples rather than model instances (verification reads millions)."""
        rows = self.order_by("chain", "seq").values_list(*WIRE_COLUMNS).iterator(chunk_size=chunk_size)
        return map(row_to_wire, rows)


class SealedRecord(models.Model):
    chain = models.CharField(_("chain"), max_length=16, choices=Chain.choices)
    seq = models.PositiveBigIntegerField(_("number"))
    type = models.CharField(_("type"), max_length=16, choices=RecordType.choices)
    type_seq = models.PositiveBigIntegerField(_("number in type"))
    version = models.PositiveSmallIntegerField(_("format version"), default=fc.FORMAT_VERSION)
    timestamp = models.DateTimeField(_("timestamp"))
    business_day = models.DateField(_("business day"))
    software_version = models.CharField(_("software version"), max_length=32)
    operator = models.CharField(_("operator"), max_length=150, blank=True)
    device = models.CharField(_("device"), max_length=100, blank=True)
    key_id = models.CharField(_("key id"), max_length=16)
    flags = models.CharField(_("flags"), max_length=64, blank=True, help_text=_("Comma-separated, sorted."))
    payload = models.TextField(_("payload"), help_text=_("Canonical JSON, exactly as signed."))
    prev_hash = models.CharField(_("previous hash"), max_length=64)
    prev_signature = models.CharField(_("previous signature"), max_length=128, blank=True)
    hash = models.CharField(_("hash"), max_length=64)
    signature = models.CharField(_("signature"), max_length=128)
    # Lookup columns, outside the hash (the payload says the same, signed):
    refers_to = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="referenced_by",
        verbose_name=_("refers to"), help_text=_("The receipt a cancellation or copy is about."),
    )
    subject = models.CharField(
        _("subject"), max_length=64, blank=True, help_text=_("Pre-bills: the order (business day/number).")
    )
    period = models.CharField(_("period"), max_length=10, blank=True, help_text=_("Closures and archives."))

    objects = SealedRecordQuerySet.as_manager()

    class Meta:
        verbose_name = _("sealed record")
        verbose_name_plural = _("sealed records")
        ordering = ["chain", "seq"]
        constraints = [
            # The chain itself: one record per number (a second till racing for the same number fails
            # loudly instead of forking the chain).
            models.UniqueConstraint(fields=["chain", "seq"], name="fiscal_record_chain_seq_uniq"),
            models.UniqueConstraint(fields=["chain", "type", "type_seq"], name="fiscal_record_type_seq_uniq"),
            # A receipt is cancelled at most once, even if two tills try at the same moment.
            models.UniqueConstraint(
                fields=["refers_to"], condition=Q(type="cancellation"), name="fiscal_record_one_cancellation"
            ),
            # One closure per day / month / year; one archive per period.
            models.UniqueConstraint(
                fields=["chain", "type", "period"], condition=Q(chain__in=["closure", "archive"]),
                name="fiscal_record_one_per_period",
            ),
            models.CheckConstraint(condition=Q(chain__in=list(fc.CHAINS)), name="fiscal_record_chain_valid"),
            models.CheckConstraint(condition=Q(seq__gte=1) & Q(type_seq__gte=1), name="fiscal_record_seq_positive"),
        ]
        indexes = [
            # Closures and archives select a chain's records by business day.
            models.Index(fields=["chain", "business_day"], name="fiscal_record_chain_day_idx"),
            # Pre-bill reprint counting.
            models.Index(fields=["chain", "subject"], name="fiscal_record_subject_idx"),
        ]

    def __str__(self):
        return f"{self.get_chain_display()} {self.seq} ({self.get_type_display()} {self.type_seq})"

    def save(self, *args, **kwargs):
        if self.pk is not None:  # an existing row: a sealed record is written once, never again
            raise SealedRecordError("sealed fiscal records cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise SealedRecordError("sealed fiscal records cannot be deleted")

    # --- reading ---

    def wire(self) -> dict:
        return record_to_wire(self)

    def data(self) -> dict:
        """The payload, parsed (money in cents)."""
        import json

        return json.loads(self.payload)

    @property
    def signature_excerpt(self) -> str:
        """The 4 characters printed on receipts (the start of the signature)."""
        return self.signature[:4].upper()

    @property
    def is_clock_back(self) -> bool:
        return fc.CLOCK_BACK in self.flags.split(",")

    def summary(self) -> dict:
        """What the payment API answers once a receipt is sealed."""
        return {
            "chain": self.chain, "seq": self.seq, "type": self.type, "number": self.type_seq,
            "timestamp": fc.format_timestamp(self.timestamp), "hash": self.hash, "signature": self.signature,
            "signature_excerpt": self.signature_excerpt, "key_id": self.key_id,
        }


WIRE_COLUMNS = (
    "version", "chain", "seq", "type", "type_seq", "timestamp", "business_day", "software_version",
    "operator", "device", "key_id", "flags", "prev_hash", "prev_signature", "payload", "hash", "signature",
)


def _utc(value) -> datetime:
    """A timestamp as the driver returns it: aware (PostgreSQL), naive UTC (SQLite) or text."""
    if not isinstance(value, datetime):
        value = datetime.fromisoformat(str(value))
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def row_to_wire(row: tuple) -> dict:
    (v, chain, seq, rtype, type_seq, timestamp, business_day, software_version, operator, device, kid, flags,
     prev_hash, prev_signature, payload, digest, signature) = row
    return {
        "v": v, "chain": chain, "seq": seq, "type": rtype, "type_seq": type_seq,
        "timestamp": fc.format_timestamp(_utc(timestamp)), "business_day": str(business_day),
        "software_version": software_version, "operator": operator, "device": device, "key_id": kid,
        "flags": flags.split(",") if flags else [], "prev_hash": prev_hash, "prev_signature": prev_signature,
        "payload": payload, "hash": digest, "signature": signature,
    }


def record_to_wire(record: SealedRecord) -> dict:
    """The wire dict of one record (fiscal/chain.py documents the format)."""
    return fc.record_to_wire(record)


class ChainHead(models.Model):
    """The last record of each chain and the running state the next record needs. Locked (SELECT ...
    FOR UPDATE; on SQLite the IMMEDIATE transaction already holds the write lock) for every seal, so
    numbers are handed out one at a time. Not sealed itself: the verifier recomputes everything it
    holds from the records."""

    chain = models.CharField(_("chain"), max_length=16, choices=Chain.choices, unique=True)
    seq = models.PositiveBigIntegerField(_("last number"), default=0)
    hash = models.CharField(_("last hash"), max_length=64, blank=True)
    signature = models.CharField(_("last signature"), max_length=128, blank=True)
    timestamp = models.DateTimeField(_("last timestamp"), null=True, blank=True)
    business_day = models.DateField(_("last business day"), null=True, blank=True)
    type_seqs = models.JSONField(_("numbers per type"), default=dict)
    grand_total = models.JSONField(_("perpetual grand total"), default=fc.zero_grand_total)
    # Receipts chain only: the last closed business day and the last receipt it covered.
    closed_through = models.DateField(_("closed through"), null=True, blank=True)
    closed_seq = models.PositiveBigIntegerField(_("last closed number"), default=0)

    class Meta:
        verbose_name = _("chain head")
        verbose_name_plural = _("chain heads")

    def __str__(self):
        return f"{self.chain} @ {self.seq}"
