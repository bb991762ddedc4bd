app_name = "till"

urlpatterns: list = []
