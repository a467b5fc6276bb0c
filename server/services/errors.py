"""Refusals by the domain: a stable code and the values its message names; no HTTP here.

Services raise ``DomainError("user_exists")`` and know nothing of statuses. The edge maps each
code to an HTTP status in one table (server/errors.py ``STATUS``): the API answers the
contract's error body with it, the console shows the message on its page, the command line
prints it. A code is also the key of its Chinese message in ``shared.messages``.
"""

from typing import Any

from shared.messages import t


class DomainError(Exception):
    """A request the domain refuses, for the reason ``code`` names."""

    def __init__(self, code: str, **values: Any) -> None:
        super().__init__(code)
        self.code, self.values = code, values

    @property
    def message(self) -> str:
        return t(self.code, **self.values)
