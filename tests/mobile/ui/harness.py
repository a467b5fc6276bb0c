"""A Flet client in-process, for view tests without Flutter (flet-notes, layer 2).

A real ``flet.messaging.session.Session`` and ``Page`` talk to ``FakeClient``, a ``Connection``
that does what the Flutter client does with the protocol:

- every message is msgpack-encoded exactly as the socket transport encodes it (which is also
  what records the snapshots Flet diffs against) and decoded again;
- the register response and every ``PATCH_CONTROL`` are applied to a plain tree of dicts: the
  controls *as the client holds them*. Tests read only this tree, so a change that Python made
  but never sent cannot pass;
- method calls (``push_route``, services) are answered; a route push comes back as a
  ``route_change`` event, as in the browser;
- clicks, typing, chip and switch toggles, and a day picked in a date picker are sent as the
  client sends them: property updates (``UPDATE_CONTROL_PROPS``) first, then the
  ``CONTROL_EVENT``.

After each action the harness waits until the tasks it started are done and then checks that
nothing is left unsent: it calls ``page.update()`` and fails if that produces a patch (the
"handler trap": a handler that called ``update()`` and changed more afterwards).

Uses Flet internals (pinned at flet==1.0.5): ``Session``, ``Connection``, the protocol
dataclasses, ``configure_encode_object_for_msgpack``.
"""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from typing import Any

import flet as ft
import msgpack
from flet.controls.base_control import BaseControl
from flet.controls.context import _context_page, context
from flet.messaging.connection import Connection
from flet.messaging.protocol import (
    Message,
    MessageAction,
    RegisterClientResponseBody,
    configure_encode_object_for_msgpack,
    decode_ext_from_msgpack,
)
from flet.messaging.session import Session
from flet.pubsub.pubsub_hub import PubSubHub
from flet.version import flet_version

from shared.terms import SHANGHAI

# The protocol details above are Flet's internals: re-check them before moving the pin.
PINNED_FLET = "1.0.5"
if flet_version != PINNED_FLET:
    raise ImportError(f"this client was written for flet {PINNED_FLET}, not {flet_version}")

Node = dict[str, Any]
Answer = Callable[["FakeClient", dict[str, Any]], Any]
INTERACTIVE = ("on_click", "on_change", "on_select", "on_submit", "url")


class UiError(AssertionError):
    """What a user could not do (no such control, disabled, ambiguous) or state left unsent."""


class FakeClient(Connection):
    def __init__(self, *, route: str = "/", width: int = 360, height: int = 740) -> None:
        super().__init__()
        self.loop = asyncio.get_running_loop()
        self.executor = ThreadPoolExecutor(4)
        self.pubsubhub = PubSubHub(loop=self.loop, executor=self.executor)
        self.page_name = ""
        self.page_url = "http://127.0.0.1:8550"
        self.initial = {
            "route": route,
            "web": True,
            "platform": "android",
            "width": float(width),
            "height": float(height),
        }
        self.session: Session | None = None
        self.tree: Node = {}
        self.index: dict[int, Node] = {}
        self.patches: list[Any] = []
        self.crashes: list[str] = []
        self.calls: list[tuple[str, str, dict[str, Any]]] = []  # (control type, method, args)
        self.launched: list[str] = []
        self.prefs: dict[str, Any] = {}
        self.secure: dict[str, Any] = {}
        self.answers: dict[tuple[str, str], Answer] = {}
        self._tasks: set[asyncio.Future] = set()
        self._encode = configure_encode_object_for_msgpack(BaseControl)

    # -- the protocol, client side -------------------------------------------------------

    def send_message(self, message: Message) -> None:
        raw = msgpack.packb([message.action, message.body], default=self._encode)
        action, body = msgpack.unpackb(raw, ext_hook=decode_ext_from_msgpack, strict_map_key=False)
        action = MessageAction(action)
        if action == MessageAction.REGISTER_CLIENT:
            self.tree = body["page_patch"]
            self._reindex()
        elif action == MessageAction.PATCH_CONTROL:
            self.patches.append(body["patch"])
            before = self._open_dialogs()
            self._apply(body["id"], body["patch"])
            self._reindex()
            for gone in before - self._open_dialogs():  # Flutter reports a closed dialog
                self._spawn(self._dispatch(gone, "dismiss", None))
        elif action == MessageAction.INVOKE_METHOD:
            self._spawn(self._invoke(body))
        elif action == MessageAction.SESSION_CRASHED:
            self.crashes.append(body["message"])

    def _apply(self, root_id: int, patch: list[Any]) -> None:
        paths: dict[int, list[Any]] = {}

        def walk(node: list[Any], prefix: list[Any]) -> None:
            paths[node[0]] = prefix
            if len(node) > 1:
                for key, child in node[1].items():
                    walk(child, [*prefix, key])

        walk(patch[0], [])
        root = self.index[root_id]

        def container(index: int) -> Any:
            target: Any = root
            for key in paths[index]:
                target = target[key]
            return target

        for op in patch[1:]:
            kind = op[0]
            if kind == 0:  # replace
                container(op[1])[op[2]] = op[3]
            elif kind == 1:  # add
                target = container(op[1])
                if isinstance(target, list):
                    target.insert(op[2], op[3])
                else:
                    target[op[2]] = op[3]
            elif kind == 2:  # remove
                target = container(op[1])
                if isinstance(target, list):
                    del target[op[2]]
                else:
                    target.pop(op[2], None)
            elif kind == 3:  # move
                item = container(op[1]).pop(op[2])
                target = container(op[3])
                if isinstance(target, list):
                    target.insert(op[4], item)
                else:
                    target[op[4]] = item
            else:
                raise UiError(f"unknown patch operation {op}")

    def _reindex(self) -> None:
        self.index = {node["_i"]: node for node in _nodes(self.tree) if "_i" in node}

    def _open_dialogs(self) -> set[int]:
        dialogs = self.tree.get("_dialogs") or {}
        return {d["_i"] for d in dialogs.get("controls") or [] if d.get("open")}

    async def _invoke(self, body: dict[str, Any]) -> None:
        assert self.session is not None
        node = self.index.get(body["control_id"], {})
        kind, name, args = node.get("_c", ""), body["name"], body.get("args") or {}
        self.calls.append((kind, name, args))
        result, error = None, None
        try:
            answer = self.answers.get((kind, name)) or _DEFAULTS.get((kind, name))
            if answer is not None:
                result = answer(self, args)
                if asyncio.iscoroutine(result):
                    result = await result
        except Exception as exc:  # the client reports an error string
            error = str(exc) or type(exc).__name__
        await asyncio.sleep(0)  # answered after the call was registered, as over a socket
        self.session.handle_invoke_method_results(
            body["control_id"], body["call_id"], result, error
        )

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _dispatch(self, control_id: int, name: str, data: Any, props: Node | None = None):
        assert self.session is not None
        if props:
            node = self.index.get(control_id)
            if node is not None:
                node.update(props)
            self.session.apply_patch(control_id, props)
        await self.session.dispatch_event(control_id, name, data)

    # -- running ---------------------------------------------------------------------------

    async def open(self, main: Callable[[ft.Page], Awaitable[None]]) -> ft.Page:
        """Register as a new client and run ``main`` as Flet does for a new session."""
        self.session = Session(self)
        page = self.session.page
        _context_page.set(page)
        self.session.apply_page_patch(dict(self.initial))
        self.send_message(
            Message(
                MessageAction.REGISTER_CLIENT,
                RegisterClientResponseBody(self.session.id, self.session.get_page_patch(), ""),
            )
        )
        context.reset_auto_update()
        await main(page)
        await self.session.after_event(page)
        await self.settle()
        return page

    async def settle(self, timeout: float = 15.0) -> None:
        """Wait for the work the client started, then check nothing is left unsent."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            await asyncio.sleep(0.01)
            if not self._tasks:
                break
            if loop.time() > deadline:
                raise UiError(f"client work still running after {timeout} s: {self._tasks}")
        for task in list(self._tasks):
            with contextlib.suppress(Exception):
                task.result()
        self.check_sent()

    def check_sent(self) -> None:
        assert self.session is not None
        if self.crashes:
            raise UiError(f"the session crashed: {self.crashes[-1][:2000]}")
        for node in _nodes(self.tree):
            # Flutter lays a wrapping row out as a Wrap: an expanded child there is an error
            # (a grey box in the browser). ``expand=False`` reaches the client too.
            if node.get("_c") == "Row" and node.get("wrap"):
                bad = [c.get("_c") for c in node.get("controls") or [] if "expand" in c]
                if bad:
                    raise UiError(f"expanded controls {bad} inside a wrapping row")
        count = len(self.patches)
        self.session.page.update()
        if len(self.patches) != count:
            raise UiError(f"state never sent to the client: {self.patches[count:]!r:.2000}")

    async def close(self) -> None:
        if self.session is not None:
            await self.session.dispatch_event(self.session.page._i, "close", None)
        self.executor.shutdown(wait=False, cancel_futures=True)

    # -- what a user sees and does ---------------------------------------------------------

    def screen(self) -> list[Node]:
        """The roots a user sees: the top view and open dialogs (snack bars included)."""
        views = self.tree.get("views") or []
        roots = [views[-1]] if views else []
        dialogs = (self.tree.get("_dialogs") or {}).get("controls") or []
        return roots + [d for d in dialogs if d.get("open")]

    def route(self) -> str:
        views = self.tree.get("views") or []
        return views[-1].get("route", "/") if views else ""

    def visible(self) -> Iterator[tuple[Node, bool]]:
        """(control, disabled) for every visible control on screen."""
        for root in self.screen():
            yield from _visible(root, False)

    def texts(self) -> list[str]:
        """Every text on screen: labels, field values and their error lines, messages."""
        out: list[str] = []
        for node, _ in self.visible():
            kind = node.get("_c")
            if kind in ("Text", "TextField") and isinstance(node.get("value"), str):
                out.append(node["value"])
            for key in ("error", "label", "content", "title"):
                if isinstance(node.get(key), str):
                    out.append(node[key])
        return out

    def has_text(self, fragment: str) -> bool:
        return any(fragment in text for text in self.texts())

    def text_node(self, fragment: str) -> Node:
        """The visible ``Text`` showing ``fragment`` (to read its colour, say)."""
        for node, _ in self.visible():
            if node.get("_c") == "Text" and fragment in str(node.get("value") or ""):
                return node
        raise UiError(f"no text {fragment!r} on {self.route()}")

    def find(self, label: str, *, kind: str | None = None, exact: bool = False) -> list[Node]:
        hits = []
        for node, disabled in self.visible():
            if kind and node.get("_c") != kind:
                continue
            name = label_of(node)
            if name and (name == label if exact else label in name):
                hits.append({**node, "__disabled": disabled})
        return hits

    def control(self, label: str, *, kind: str | None = None, exact: bool = False) -> Node:
        hits = [n for n in self.find(label, kind=kind, exact=exact) if _interactive(n)]
        if not hits:
            raise UiError(f"no control labelled {label!r} on {self.route()}: {self.labels()}")
        exact_hits = [h for h in hits if label_of(h) == label]
        if len(hits) > 1 and len(exact_hits) == 1:
            return exact_hits[0]
        if len(hits) > 1:
            names = [label_of(h) for h in hits]
            raise UiError(f"{len(hits)} controls match {label!r}: {names}")
        return hits[0]

    def labels(self) -> list[str]:
        return [label_of(n) or "" for n, _ in self.visible() if _interactive(n)]

    def enabled(self, label: str, **kw: Any) -> bool:
        return not self.control(label, **kw)["__disabled"]

    async def click(self, label: str, **kw: Any) -> None:
        node = self._usable(label, **kw)
        if node.get("url") and not node.get("on_click"):
            self.launched.append(node["url"])
            return
        if node.get("_c") == "Chip":
            on = not node.get("selected", False)
            self._spawn(self._dispatch(node["_i"], "select", on, {"selected": on}))
        elif node.get("_c") in ("Switch", "Checkbox"):
            on = not node.get("value", False)
            self._spawn(self._dispatch(node["_i"], "change", on, {"value": on}))
        else:
            if node.get("url"):
                self.launched.append(node["url"])
            self._spawn(self._dispatch(node["_i"], "click", None))
        await self.settle()

    async def type(self, label: str, value: str, **kw: Any) -> None:
        node = self._usable(label, kind="TextField", **kw)
        self._spawn(self._dispatch(node["_i"], "change", value, {"value": value}))
        await self.settle()

    def dialog(self, kind: str) -> Node:
        """The open dialog of control type ``kind`` (``DatePicker``, ``AlertDialog``...)."""
        dialogs = (self.tree.get("_dialogs") or {}).get("controls") or []
        hits = [d for d in dialogs if d.get("open") and d.get("_c") == kind]
        if len(hits) != 1:
            raise UiError(f"{len(hits)} open {kind} dialogs on {self.route()}")
        return hits[0]

    async def pick_date(self, day: date) -> None:
        """Tap ``day`` in the open date picker, then its confirm button. Flutter offers only
        the days from ``first_date`` to ``last_date``, and reports the day as the flutter
        client does (flet 1.0.5, seen in chromium): its local midnight (a phone in China) as
        a UTC instant, in the picker's ``value`` and the ``change`` event, then ``dismiss``."""
        node = self.dialog("DatePicker")
        first, last = _day(node.get("first_date")), _day(node.get("last_date"))
        if (first and day < first) or (last and day > last):
            raise UiError(f"{day} is not offered: the picker allows {first} to {last}")
        midnight = datetime(day.year, day.month, day.day, tzinfo=SHANGHAI).astimezone(UTC)

        async def confirm() -> None:
            await self._dispatch(node["_i"], "change", midnight, {"value": midnight, "open": False})
            await self._dispatch(node["_i"], "dismiss", False)

        self._spawn(confirm())
        await self.settle()

    async def cancel_date(self) -> None:
        """The date picker's cancel button: nothing picked, the dialog dismissed."""
        node = self.dialog("DatePicker")
        self._spawn(self._dispatch(node["_i"], "dismiss", True, {"open": False}))
        await self.settle()

    def value(self, label: str) -> str:
        return str(self.control(label, kind="TextField").get("value") or "")

    async def back(self) -> None:
        assert self.session is not None
        self._spawn(self._dispatch(self.session.page._i, "view_pop", {"route": self.route()}))
        await self.settle()

    async def wait_for(self, check: Callable[[], bool], timeout: float = 20.0) -> None:
        """Wait for background work (a sync round) to show something on screen."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not check():
            if loop.time() > deadline:
                raise UiError(f"timed out on {self.route()}; screen: {self.texts()}")
            await asyncio.sleep(0.05)
        await self.settle()

    async def wait_text(self, fragment: str, timeout: float = 20.0) -> None:
        await self.wait_for(lambda: self.has_text(fragment), timeout)

    def _usable(self, label: str, **kw: Any) -> Node:
        node = self.control(label, **kw)
        if node["__disabled"]:
            raise UiError(f"{label!r} is disabled")
        return node


def label_of(node: Node) -> str | None:
    """The accessible name a screen reader (and the browser tests) would use."""
    tooltip = node.get("tooltip")
    if isinstance(tooltip, dict):
        tooltip = tooltip.get("message")
    for candidate in (tooltip, node.get("semantics_label")):
        if isinstance(candidate, str) and candidate:
            return candidate
    for key in ("label", "content", "text"):
        value = node.get(key)
        if isinstance(value, str) and value:
            return value
        if isinstance(value, dict) and isinstance(value.get("semantics_label"), str):
            return value["semantics_label"]  # what a screen reader says instead of the text
        if isinstance(value, dict) and isinstance(value.get("value"), str):
            return value["value"]
    if node.get("_c") == "Text" and isinstance(node.get("value"), str):
        return node["value"]
    if node.get("_c") == "Container" and node.get("on_click"):
        # A tappable card: Flutter merges the texts inside into its name (the browser tests
        # find cards so), one line each.
        merged = "\n".join(_texts_in(node.get("content")))
        return merged or None
    return None


def _texts_in(value: Any) -> list[str]:
    if isinstance(value, list):
        return [text for item in value for text in _texts_in(item)]
    if not isinstance(value, dict):
        return []
    if value.get("_c") == "Text":
        name = value.get("semantics_label") or value.get("value")
        return [name] if isinstance(name, str) and name else []
    return [text for key, item in value.items() if key != "_c" for text in _texts_in(item)]


def _day(value: Any) -> date | None:
    """A date property as the client holds it (Flet sends a date as its ISO text)."""
    if isinstance(value, datetime):
        return value.date()
    return value if isinstance(value, date) else None


def _interactive(node: Node) -> bool:
    return any(node.get(key) for key in INTERACTIVE) or node.get("_c") == "TextField"


def _nodes(value: Any) -> Iterator[Node]:
    if isinstance(value, dict):
        if "_c" in value:
            yield value
        for child in value.values():
            yield from _nodes(child)
    elif isinstance(value, list):
        for child in value:
            yield from _nodes(child)


def _visible(value: Any, disabled: bool) -> Iterator[tuple[Node, bool]]:
    if isinstance(value, dict):
        if "_c" in value:
            if value.get("visible") is False:
                return
            disabled = disabled or bool(value.get("disabled"))
            yield value, disabled
        for key, child in value.items():
            if key in ("_dialogs", "_overlay", "_services", "views") and "_c" in value:
                continue
            yield from _visible(child, disabled)
    elif isinstance(value, list):
        for child in value:
            yield from _visible(child, disabled)


# -- default answers of the client's services ----------------------------------------------


def _push_route(client: FakeClient, args: dict[str, Any]) -> None:
    assert client.session is not None
    route = args["route"]
    page_id = client.session.page._i
    client._spawn(client._dispatch(page_id, "route_change", {"route": route}, {"route": route}))


def _launch(client: FakeClient, args: dict[str, Any]) -> bool:
    url = args.get("url")
    client.launched.append(url if isinstance(url, str) else str(url))
    return True


_DEFAULTS: dict[tuple[str, str], Answer] = {
    ("Page", "push_route"): _push_route,
    ("UrlLauncher", "launch_url"): _launch,
    ("SharedPreferences", "get"): lambda c, a: c.prefs.get(a["key"]),
    ("SharedPreferences", "set"): lambda c, a: c.prefs.__setitem__(a["key"], a["value"]),
    ("SecureStorage", "get"): lambda c, a: c.secure.get(a["key"]),
    ("SecureStorage", "set"): lambda c, a: c.secure.__setitem__(a["key"], a["value"]),
    ("SecureStorage", "remove"): lambda c, a: c.secure.pop(a["key"], None),
    ("Connectivity", "get_connectivity"): lambda c, a: ["wifi"],
}


async def run_app(
    make: Callable[[ft.Page], Awaitable[Any]], *, route: str = "/"
) -> tuple[FakeClient, Any]:
    """Open a client and run ``make(page)`` (which builds and starts the app); returns both."""
    client = FakeClient(route=route)
    holder: list[Any] = []

    async def main(page: ft.Page) -> None:
        holder.append(await make(page))

    await client.open(main)
    return client, holder[0]
