"""Swagger UI under the site's strict Content-Security-Policy.

drf-spectacular's split view already serves the init script as a separate file; its page
template still carries a small inline ``<style>``, which ``style-src 'self'`` blocks. Our
template moves those rules into a static file, so the docs page needs no CSP exception.
Every asset comes from drf-spectacular-sidecar (vendored, same origin).
"""

from drf_spectacular.views import SpectacularSwaggerSplitView


class SwaggerView(SpectacularSwaggerSplitView):
    template_name = "core/api/swagger_ui.html"
