"""Create the first admin user if there is none, and say how to log in."""

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create a superuser 'admin' with a random password if no superuser exists yet."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")

    def handle(self, *args, username: str, **options):
        password_file = settings.VAR_DIR / "admin-password.txt"
        users = get_user_model().objects
        if users.filter(is_superuser=True).exists():
            if password_file.exists():
                self.stdout.write(
                    f"Log in at {settings.SITE_URL}/admin/ as {username!r}; the first password "
                    f"is in {password_file} (unless changed since)."
                )
            else:
                self.stdout.write(f"Log in at {settings.SITE_URL}/admin/ with your admin account.")
            return
        password = secrets.token_urlsafe(12)
        users.create_superuser(username=username, email="", password=password)
        settings.VAR_DIR.mkdir(exist_ok=True)
        password_file.write_text(password + "\n")
        password_file.chmod(0o600)
        self.stdout.write(self.style.SUCCESS(
            f"Created the admin user. Log in at {settings.SITE_URL}/admin/ as {username!r} with "
            f"password {password} (saved in {password_file})."
        ))
