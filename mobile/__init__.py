"""The field app (Flet): ``mobile.core`` holds everything but the screens, ``mobile.ui`` the
screens and device adapters, ``mobile.app`` the entry points."""


def run(*, server: str, port: int) -> int:
    """``songjiao app``: the app as a web app on 127.0.0.1 with no CDN."""
    from mobile.app import serve

    return serve(server=server, port=port)
