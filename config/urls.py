from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from common.api.apis import TokenObtainApi

api_patterns = [
    path("", include("common.api.urls")),
    path("", include("annotation.api.urls")),
    path("", include("guidelines.api.urls")),
    path("", include("analysis.api.urls")),
    path("", include("exports.api.urls")),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/auth/token/", TokenObtainApi.as_view(), name="api-token"),
    path("api/", include(api_patterns)),
    path("", include("common.urls")),
    path("", include("annotation.urls")),
    path("", include("guidelines.urls")),
    path("", include("analysis.urls")),
    path("", include("exports.urls")),
]

# The project's own error pages (common/errors.py), for Django's errors and domain ones.
handler400 = "common.errors.bad_request"
handler403 = "common.errors.permission_denied"
handler404 = "common.errors.page_not_found"
handler500 = "common.errors.server_error"
