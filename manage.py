#!/usr/bin/env python
"""Django's command-line utility, with a one-line failure for bad configuration."""

from __future__ import annotations

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.core.management import execute_from_command_line

    from config.preflight import check_dependencies_or_exit, setup_or_exit, start_local_services_or_exit

    command = sys.argv[1] if len(sys.argv) > 1 else "help"
    # The embedded servers (when DATABASE_URL / REDIS_URL are unset) start here, before settings read the URLs.
    start_local_services_or_exit(command)
    setup_or_exit()
    check_dependencies_or_exit(command)
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
