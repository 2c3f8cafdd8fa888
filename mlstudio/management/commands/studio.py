import os
import signal
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from mlstudio import sandbox
from mlstudio.staticfiles import static_collect
from mlstudio.supervisor import StartupError, Studio
from mlstudio.urls_public import studio_address, studio_address_write
from workspaces import services


class Command(BaseCommand):
    help = (
        "Start the whole studio on this machine and stay in the foreground: migrations, a "
        "private Redis (unless REDIS_URL is set), Celery workers and beat, the web server, and "
        "a worker node for each cluster and docker compute target."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument(
            "--slots",
            type=int,
            default=os.cpu_count() or 1,
            help="How many runs the local compute target executes at once.",
        )

    def handle(self, *args, host, port, slots, **options):
        if slots < 1:
            raise CommandError("--slots must be at least 1.")
        studio = Studio(host=host, port=port, local_slots=slots)
        stopping = []
        signal.signal(signal.SIGTERM, lambda *_: stopping.append("SIGTERM"))
        signal.signal(signal.SIGINT, lambda *_: stopping.append("SIGINT"))
        started = time.monotonic()
        try:
            studio.acquire_lock()
            studio.open_port()
            studio.check_redis()
            self.say(f"MLStudio data folder: {studio.data_dir}")
            self.say(sandbox.isolation().summary)
            call_command("migrate", interactive=False, verbosity=0)
            if static_collect():
                self.say(f"Collected the static files into {settings.STATIC_ROOT}.")
            os.environ["MLSTUDIO_STATIC_COLLECTED"] = "1"  # the web server serves those
            workspace, admin, created = services.studio_bootstrap()
            if created:
                self.say(f"Created workspace '{workspace.name}' and user '{admin.username}'.")
            studio.start(say=self.say)
            studio_address_write(url=studio.url)
            link = services.login_link_create(user=admin)
        except (StartupError, KeyboardInterrupt) as exc:
            studio.stop(say=self.say)
            raise CommandError(str(exc) or "interrupted during start-up") from None
        except BaseException:
            studio.stop(say=self.say)
            raise
        self.report(studio, link, time.monotonic() - started)
        code = self.supervise(studio, stopping)
        if code:
            raise CommandError("the studio stopped because a part of it failed (see above)")

    def supervise(self, studio: Studio, stopping: list) -> int:
        try:
            while not stopping:
                try:
                    studio.keep_up(say=self.say)
                except StartupError as exc:
                    self.stderr.write(str(exc))
                    return 1
                studio.sync_nodes(say=self.say)
                time.sleep(0.5)
            self.say(f"Received {stopping[0]}; stopping.")
            return 0
        finally:
            studio.stop(say=self.say)
            self.say("MLStudio stopped.")

    def report(self, studio: Studio, link: str, elapsed: float) -> None:
        redis_where = studio.redis_socket if settings.REDIS_EMBEDDED else "REDIS_URL"
        db = settings.DATABASES["default"]
        address = studio_address()  # MLSTUDIO_PUBLIC_URL when set: what users open
        self.say(
            f"\nMLStudio is running at {address}/ (healthy after {elapsed:.1f} s)\n"
            f"  database  {db['ENGINE'].rsplit('.', 1)[-1]} {db['NAME']}\n"
            f"  redis     {redis_where}\n"
            f"  files     {settings.MEDIA_ROOT}\n"
            f"  logs      {studio.logs_dir}\n"
            f"\nOpen this one-time link to log in as 'admin':\n"
            f"  {address}/login/link/{link}/\n"
            f"\nPress Ctrl-C to stop."
        )

    def say(self, text: str) -> None:
        self.stdout.write(text)
        self.stdout.flush()
