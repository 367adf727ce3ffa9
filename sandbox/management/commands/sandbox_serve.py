"""Serve only the sandboxes on their own port (for benchmarks and demos).

    manage.py sandbox_serve --port 8765   ->  http://127.0.0.1:8765/sandbox/hubspot/...
"""

from django.core.management.base import BaseCommand
from django.core.servers.basehttp import WSGIServer, run
from django.test.utils import override_settings


class Command(BaseCommand):
    help = "Serve the HubSpot and Salesforce sandboxes on their own port, with no admin."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8765)

    def handle(self, *args, host: str, port: int, **options):
        with override_settings(ROOT_URLCONF="sandbox.serve_urls", SANDBOX_ENABLED=True):
            from django.core.wsgi import get_wsgi_application

            self.stdout.write(f"Sandboxes at http://{host}:{port}/sandbox/ (Ctrl-C stops)")
            run(host, port, get_wsgi_application(), threading=True, server_cls=WSGIServer)
