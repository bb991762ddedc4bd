"""The access decorators on stand-in views: paired device, role, staff login, idle limit, API errors."""

import json
import time

import pytest
from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.urls import include, path

from accounts.access import api_view, device_cookie_value, device_required, staff_required
from accounts.pairing import issue_device_token, revoke_device
from accounts.pins import PIN_SESSION_KEY
from accounts.models import Device, User


@device_required(Device.Role.TILL)
def till_page(request):
    return HttpResponse("till page")


@device_required(Device.Role.TILL)
@staff_required(User.Role.SERVER)
def service_page(request):
    return HttpResponse(f"served by {request.user.get_username()}")


@api_view(Device.Role.KIOSK, Device.Role.INTEGRATION)
def api_endpoint(request):
    return JsonResponse({"device": request.device.name})


urlpatterns = [
    path("", include("config.urls")),  # the real pair/ and login/ pages the decorators send people to
    path("t/till/", till_page),
    path("t/service/", service_page),
    path("t/api/", api_endpoint),
]

pytestmark = pytest.mark.urls(__name__)


def pair(client, device: Device) -> None:
    client.cookies[settings.DEVICE_COOKIE_NAME] = device_cookie_value(device)


def test_it_sends_an_unpaired_browser_to_the_pairing_page(client, db):
    response = client.get("/t/till/?table=4&covers=2")
    assert response.status_code == 302
    assert response["Location"] == "/pair/?next=%2Ft%2Ftill%2F%3Ftable%3D4%26covers%3D2"


def test_it_answers_401_to_an_unpaired_htmx_request(client, db):
    response = client.post("/t/till/", HTTP_HX_REQUEST="true")
    assert response.status_code == 401
    assert b"/pair/" in response.content


def test_it_answers_401_to_an_unpaired_plain_post(client, db):
    assert client.post("/t/till/").status_code == 401


def test_it_lets_a_paired_till_in(client, till):
    pair(client, till)
    response = client.get("/t/till/")
    assert response.status_code == 200
    assert response.content == b"till page"


def test_it_refuses_a_device_of_another_role_with_403(client, kiosk):
    pair(client, kiosk)
    response = client.get("/t/till/")
    assert response.status_code == 403
    assert "Kiosk 1" in response.content.decode()


def test_it_refuses_a_revoked_device(client, till):
    pair(client, till)
    revoke_device(device=till)
    assert client.get("/t/till/").status_code == 302
    assert client.get("/t/api/", HTTP_AUTHORIZATION=f"Bearer {till.token}").status_code == 401


def test_it_refuses_a_tampered_cookie(client, till, kiosk):
    value = device_cookie_value(till)
    # Change a character in the middle of the signature: the last base64 character partly encodes
    # padding bits, so editing it may decode to the very same signature.
    i = len(value) - 10
    client.cookies[settings.DEVICE_COOKIE_NAME] = value[:i] + ("A" if value[i] != "A" else "B") + value[i + 1 :]
    assert client.get("/t/till/").status_code == 302
    # A cookie signed for one device cannot be edited to name another: the payload is swapped for one
    # naming the kiosk and the till's signature kept.
    from django.core import signing

    payload = signing.b64_encode(json.dumps({"id": kiosk.pk, "t": kiosk.token_hash[:16]}).encode()).decode()
    forged = payload + value[value.index(":"):]
    assert forged != value
    client.cookies[settings.DEVICE_COOKIE_NAME] = forged
    assert client.get("/t/till/").status_code == 302


def test_it_refuses_the_old_cookie_once_the_token_is_reissued(client, till):
    pair(client, till)
    old_token = till.token
    issue_device_token(device=till)
    assert client.get("/t/till/").status_code == 302
    assert client.get("/t/api/", HTTP_AUTHORIZATION=f"Bearer {old_token}").status_code == 401


def test_it_asks_for_a_pin_login_on_a_paired_till(client, till):
    pair(client, till)
    response = client.get("/t/service/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=%2Ft%2Fservice%2F"


def test_it_asks_htmx_to_go_to_the_pin_screen(client, till):
    pair(client, till)
    response = client.get("/t/service/", HTTP_HX_REQUEST="true")
    assert response.headers["HX-Redirect"] == "/login/"


def test_it_serves_a_logged_in_server(till_client):
    response = till_client.get("/t/service/")
    assert response.status_code == 200
    assert response.content == b"served by alice"


def test_it_refuses_a_staff_role_not_allowed_on_the_page(client, till, claude):
    pair(client, till)
    client.force_login(claude)
    assert client.get("/t/service/").status_code == 403


def test_it_lets_a_manager_in_everywhere_staff_may_go(client, till, manager):
    pair(client, till)
    client.force_login(manager)
    assert client.get("/t/service/").status_code == 200


def test_it_logs_out_a_pin_session_left_idle(till_client, settings):
    settings.PIN_IDLE_SECONDS = 300
    session = till_client.session
    session[PIN_SESSION_KEY] = {"device": None, "seen": int(time.time()) - 301}
    session.save()
    response = till_client.get("/t/service/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")
    assert "_auth_user_id" not in till_client.session


def test_it_keeps_an_active_pin_session(till_client, settings):
    settings.PIN_IDLE_SECONDS = 300
    session = till_client.session
    session[PIN_SESSION_KEY] = {"device": None, "seen": int(time.time()) - 200}
    session.save()
    assert till_client.get("/t/service/").status_code == 200
    # ... and the visit counts as activity.
    assert time.time() - till_client.session[PIN_SESSION_KEY]["seen"] < 5


def test_it_answers_the_api_without_a_token_with_401_json(client, db):
    response = client.get("/t/api/")
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    assert "detail" in response.json()


def test_it_answers_the_api_with_a_wrong_token_with_401_json(client, db):
    response = client.get("/t/api/", HTTP_AUTHORIZATION="Bearer not-a-token")
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"


def test_it_answers_the_api_with_a_device_of_another_role_with_403_json(client, kds_screen):
    response = client.get("/t/api/", HTTP_AUTHORIZATION=f"Bearer {kds_screen.token}")
    assert response.status_code == 403
    assert response.json()["error"] == "forbidden"


def test_it_serves_the_api_to_a_bearer_token_of_the_right_role(client, integration):
    response = client.get("/t/api/", HTTP_AUTHORIZATION=f"Bearer {integration.token}")
    assert response.status_code == 200
    assert response.json() == {"device": "Delivery partner"}


def test_it_does_not_fall_back_to_the_cookie_when_a_bearer_token_is_wrong(client, kiosk):
    pair(client, kiosk)
    assert client.get("/t/api/", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
