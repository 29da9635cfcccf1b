"""The wallet's HTTP surfaces.

Owns the public routes (``routes``: ``/api/v1/me`` and transfers), the
internal routes for services (``internal``: ``/internal/v1``, service token
only), the OpenAPI document (``openapi``, ``schemas``), and ``transfers``:
creating a transfer of any kind for a known user, shared by both.

Must never hold SQL or money rules of its own: it parses, calls the
capabilities' surfaces, and renders. Nothing imports ``api`` but ``app``.
"""
