def test_it_sends_an_unpaired_browser_to_pairing(client, db):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/pair/")
