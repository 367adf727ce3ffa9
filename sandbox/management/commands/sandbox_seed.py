"""Seed a sandbox with realistic data: `manage.py sandbox_seed hubspot|salesforce ...`.

Each vendor's options live in `sandbox/<vendor>/seed.py` (`add_arguments(parser)` and
`run(stdout, **options)`), so the vendors' emulators stay independent of each other.
"""

from importlib import import_module

from django.core.management.base import BaseCommand, CommandError

VENDORS = ("hubspot", "salesforce")


class Command(BaseCommand):
    help = "Seed a sandbox account (HubSpot portal or Salesforce org) with realistic records."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="vendor", required=True, parser_class=parser.__class__)
        for vendor in VENDORS:
            vendor_parser = sub.add_parser(vendor, called_from_command_line=parser.called_from_command_line)
            import_module(f"sandbox.{vendor}.seed").add_arguments(vendor_parser)

    def handle(self, *args, vendor: str, **options):
        module = import_module(f"sandbox.{vendor}.seed")
        try:
            module.run(self.stdout, **options)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
