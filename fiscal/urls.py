app_name = "fiscal"

urlpatterns: list = []
