#!/usr/bin/env python
"""MLStudio's command line: `python manage.py studio` starts everything on one machine."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mlstudio.settings")
    from django.conf import settings
    from django.core.management import execute_from_command_line

    from mlstudio.config import ConfigError

    try:
        settings.INSTALLED_APPS  # noqa: B018 - load settings now so bad values stop us here
    except ConfigError as exc:
        print(f"MLStudio configuration error: {exc}", file=sys.stderr)
        sys.exit(2)
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
