from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from mlstudio.errors import UserError
from workspaces import services


class Command(BaseCommand):
    help = "Create an API token for a user and print it once, on the last line."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--workspace", help="Limit the token to this workspace.")
        parser.add_argument("--name", default="command line", help="A label for the token.")

    def handle(self, *args, username, workspace, name, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}. Create one with createsuperuser.")
        try:
            token, raw = services.api_token_create(user=user, name=name, workspace_name=workspace)
        except UserError as exc:
            raise CommandError(exc.message) from None
        scope = f"workspace {token.workspace.name!r}" if token.workspace else "all its workspaces"
        self.stderr.write(f"Token {token.name!r} for {username} ({scope}); shown only once:")
        self.stdout.write(raw)
