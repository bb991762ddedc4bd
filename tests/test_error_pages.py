"""403, 404 and 500 pages: styled like the rest of Brigade and in the visitor's language."""

import pytest
from django.test import RequestFactory
from django.utils import translation
from django.views import defaults


@pytest.mark.django_db
@pytest.mark.parametrize("language, heading", [("fr", "Page non trouvée"), ("en", "Page not found")])
@pytest.mark.parametrize("url", ["/fiscal/", "/no/such/page/"])
def test_an_unknown_address_gets_the_styled_404_in_the_visitors_language(client, url, language, heading):
    response = client.get(url, headers={"accept-language": language})
    assert response.status_code == 404
    page = response.content.decode()
    assert f"<h1>{heading}</h1>" in page
    assert f'lang="{language}"' in page
    assert "brigade/brigade.css" in page
    assert "Not Found" not in page


@pytest.mark.parametrize("language, heading", [("fr", "Une erreur est survenue"), ("en", "Something went wrong")])
def test_the_500_page_renders_without_the_database(language, heading):
    """No django_db mark: pytest-django fails the test if the page touched the database."""
    request = RequestFactory().get("/till/")
    with translation.override(language):
        response = defaults.server_error(request)
    assert response.status_code == 500
    assert f"<h1>{heading}</h1>" in response.content.decode()


@pytest.mark.parametrize("language, heading", [("fr", "Accès refusé"), ("en", "Not allowed")])
def test_the_403_page_is_translated(language, heading):
    from django.core.exceptions import PermissionDenied

    request = RequestFactory().get("/")
    with translation.override(language):
        response = defaults.permission_denied(request, PermissionDenied())
    assert response.status_code == 403
    assert f"<h1>{heading}</h1>" in response.content.decode()
