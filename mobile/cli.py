"""The field app's command of ``songjiao``: ``songjiao app`` (songjiao/cli.py adds it beside the
server's). Flet is imported only when the command runs, so listing the commands stays quick."""

import argparse

from shared.messages import t


def add_commands(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    app = sub.add_parser("app", help=t("cli.app.help"))
    app.add_argument("--server", default="http://127.0.0.1:8000")
    app.add_argument("--port", type=int, default=8550)
    app.set_defaults(handler=_app)


def _app(args: argparse.Namespace) -> int:
    from mobile.app import serve

    return serve(server=args.server, port=args.port)
