from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from floor.models import Order


@csrf_exempt
@require_POST
def create_order(request):
    order = Order.objects.create(body=request.body.decode())
    frame = f'<article id="ticket-{order.pk}" data-order-id="{order.pk}"></article>'
    async_to_sync(get_channel_layer().group_send)("kitchen", {"type": "ticket.new", "html": frame})
    return JsonResponse({"id": order.pk}, status=201)

