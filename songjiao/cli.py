"""``songjiao``: the server's commands (server/cli.py) and the field app's (mobile/cli.py) under
one name (contract.md, Commands). Each sub-command carries the ``handler`` that runs it."""

import argparse
import sys
from collections.abc import Callable, Sequence

from mobile import cli as app_commands
from server import cli as server_commands
from shared.messages import t

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="songjiao", description=t("ui.app_title"))
    sub = parser.add_subparsers(dest="command", required=True)
    server_commands.add_commands(sub)
    app_commands.add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
