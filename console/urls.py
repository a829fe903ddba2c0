from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from console import views
from handoffs.api import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("healthz", views.healthz, name="healthz"),
    path("", include("console.widget_urls")),
    path("", include("console.console_urls")),
]
