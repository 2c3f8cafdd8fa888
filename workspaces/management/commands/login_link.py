from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from mlstudio.urls_public import studio_address
from workspaces import services


class Command(BaseCommand):
    help = "Print a one-time sign-in link for a user (the admin has no password by default)."

    def add_arguments(self, parser):
        parser.add_argument("username", nargs="?", default=services.ADMIN_USERNAME)
        parser.add_argument(
            "--url",
            help="The studio's address (default: MLSTUDIO_PUBLIC_URL, else the address the "
            "studio on this data folder started on).",
        )

    def handle(self, *args, username, url, **options):
        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(f"No active user named {username!r}.")
        raw = services.login_link_create(user=user)
        self.stdout.write(f"{(url or studio_address()).rstrip('/')}/login/link/{raw}/")
