"""Manager pages: run the chain verification, list closures, show (and print) a Z report."""

from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from fiscal import chain as fc
from fiscal import keys, receipt, verification
from fiscal.models import SealedRecord
from accounts.access import staff_required
from accounts.models import User


@require_http_methods(["GET", "POST"])
@staff_required(User.Role.MANAGER)
def verify(request):
    """GET: the page with its button; POST: verify every chain now and show the result (a failure is
    journaled, code 90)."""
    report = None
    if request.method == "POST":
        report = verification.verify_store(operator=request.user, device=getattr(request, "device", None))
    return render(request, "fiscal/verify.html", {
        "report": report, "key_id": keys.current_key_id(), "public_key_pem": keys.public_key_pem(),
        "chains": fc.CHAINS,
    })


@require_GET
@staff_required(User.Role.MANAGER)
def closures(request):
    page = Paginator(SealedRecord.objects.filter(chain=fc.CLOSURE).order_by("-seq"), 50).get_page(request.GET.get("page"))
    return render(request, "fiscal/closures.html", {"page": page})


@require_GET
@staff_required(User.Role.MANAGER)
def closure(request, pk: int):
    record = get_object_or_404(SealedRecord, pk=pk, chain=fc.CLOSURE)
    context = receipt.z_report_context(record)
    context["text"] = receipt.z_report_text(record)
    return render(request, "fiscal/closure.html", context)


@require_POST
@staff_required(User.Role.MANAGER)
def print_closure(request, pk: int):
    record = get_object_or_404(SealedRecord, pk=pk, chain=fc.CLOSURE)
    context = receipt.z_report_context(record)
    context["text"] = receipt.z_report_text(record)
    context["printed"] = receipt.print_z_report(record)
    context["print_tried"] = True
    return render(request, "fiscal/closure.html", context)
