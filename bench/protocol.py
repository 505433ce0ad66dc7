"""A Streamlit client without a browser: one session over the server's websocket.

The browser and the server speak protobuf over `/_stcore/stream`: the browser sends a
BackMsg `rerun_script` (the page, the widgets' values, the fragment to rerun), the
server answers with ForwardMsgs (a new session, deltas that draw elements, and
`script_finished`). `Session` sends exactly those messages, built from Streamlit's own
protobuf classes, so one process can hold many visitors' sessions, each a real session
of the real server: its own script thread, session state and identity.

What it knows of the app it learns from the deltas, as the browser does: widget ids
(each widget proto carries its id), fragment ids and the pages' script hashes.

Used by bench/serverload.py; no Streamlit server code is imported, only its protos.
"""
from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

FINISHED = {0, 1, 3}  # successfully, with a compile error, a fragment run successfully
RERUN_TIMEOUT_S = 60.0


@dataclass
class Reply:
    """What one script run sent back, seen from the client."""
    seconds: float  # send -> script_finished
    first_metric: dict[str, float] = field(default_factory=dict)  # label -> seconds to it
    metrics: dict[str, str] = field(default_factory=dict)  # label -> body
    texts: list[str] = field(default_factory=list)  # markdown, alerts, captions
    exceptions: list[str] = field(default_factory=list)
    fragments: set[str] = field(default_factory=set)
    status: int | None = None
    received_bytes: int = 0  # the ForwardMsgs' size on the wire, all of this run's
    elements: list[str] = field(default_factory=list)  # the element types drawn, in order


class Session:
    """One visitor's session. `await open()`, then `rerun(...)` as often as wanted."""

    def __init__(self, url: str, cookie: str | None = None) -> None:
        self.url = url.replace("http://", "ws://").rstrip("/") + "/_stcore/stream"
        self.cookie = cookie
        self.ws = None
        self.pages: dict[str, str] = {}  # page title ("Train") -> script hash
        self.widgets: dict[str, str] = {}  # "<proto type>:<label or key>" -> widget id
        self.options: dict[str, list[str]] = {}  # widget id -> options of a select box
        self.page_hash = ""
        self.values: dict[str, WidgetState] = {}  # widget id -> the value this client set
        self.fragment_of: dict[str, str] = {}  # widget id -> the fragment it was drawn in

    async def open(self, path: str = "") -> Reply:
        headers = {"Cookie": self.cookie} if self.cookie else None
        self.ws = await websockets.connect(self.url, subprotocols=["streamlit"], max_size=None,
                                           additional_headers=headers, open_timeout=30)
        return await self.rerun(query=path)

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()

    def set_json(self, widget_id: str, value: dict) -> None:
        self.values[widget_id] = WidgetState(id=widget_id, json_value=json.dumps(value))

    def set_string(self, widget_id: str, value: str) -> None:
        self.values[widget_id] = WidgetState(id=widget_id, string_value=value)

    def set_int(self, widget_id: str, value: int) -> None:
        self.values[widget_id] = WidgetState(id=widget_id, int_value=int(value))

    def set_bool(self, widget_id: str, value: bool) -> None:
        self.values[widget_id] = WidgetState(id=widget_id, bool_value=bool(value))

    def widget(self, kind: str, name: str) -> str:
        """The id of the widget of this proto type whose label (or key) contains name."""
        for k, wid in self.widgets.items():
            if k.startswith(kind + ":") and name in k:
                return wid
        raise KeyError(f"no {kind} widget named {name!r} on this page (seen: {sorted(self.widgets)})")

    async def goto(self, title: str) -> Reply:
        """Switch page as the navigation menu does."""
        self.page_hash = self.pages[title]
        self.values.clear()  # the browser drops the old page's widgets
        return await self.rerun()

    async def rerun(self, fragment_id: str = "", trigger: str | None = None, query: str = "") -> Reply:
        msg = BackMsg()
        rs = msg.rerun_script
        rs.query_string = query
        rs.page_script_hash = self.page_hash
        rs.fragment_id = fragment_id
        rs.widget_states.widgets.extend(self.values.values())
        if trigger:
            rs.widget_states.widgets.append(WidgetState(id=trigger, trigger_value=True))
        rs.context_info.timezone = "UTC"
        rs.context_info.locale = "en-US"
        t0 = time.perf_counter()
        await self.ws.send(msg.SerializeToString())
        reply = Reply(seconds=0.0)
        while True:
            remaining = RERUN_TIMEOUT_S - (time.perf_counter() - t0)
            if remaining <= 0:
                raise TimeoutError(f"no script_finished within {RERUN_TIMEOUT_S:.0f} s")
            data = await _recv(self.ws, remaining)
            reply.received_bytes += len(data)
            fwd = ForwardMsg()
            fwd.ParseFromString(data)
            self._learn(fwd, reply, time.perf_counter() - t0)
            if fwd.WhichOneof("type") == "script_finished" and fwd.script_finished in FINISHED:
                reply.status = fwd.script_finished
                reply.seconds = time.perf_counter() - t0
                return reply

    def _learn(self, fwd: ForwardMsg, reply: Reply, at: float) -> None:
        kind = fwd.WhichOneof("type")
        if kind in ("new_session", "navigation"):
            nav = fwd.new_session if kind == "new_session" else fwd.navigation
            self.pages.update({p.page_name: p.page_script_hash for p in nav.app_pages})
            if kind == "navigation" and nav.page_script_hash:
                self.page_hash = nav.page_script_hash
        if kind != "delta":
            return
        if fwd.delta.fragment_id:
            reply.fragments.add(fwd.delta.fragment_id)
        if fwd.delta.WhichOneof("type") != "new_element":
            return
        element = fwd.delta.new_element
        etype = element.WhichOneof("type")
        if etype is None:
            return
        proto = getattr(element, etype)
        reply.elements.append(etype)
        if etype == "metric":
            reply.metrics[proto.label] = proto.body
            reply.first_metric.setdefault(proto.label, at)
        elif etype in ("markdown", "alert"):
            reply.texts.append(proto.body)
        elif etype == "exception":
            reply.exceptions.append(f"{proto.type}: {proto.message}")
        wid = getattr(proto, "id", "")
        if wid:
            name = getattr(proto, "label", "") or getattr(proto, "component_name", "") or wid
            self.widgets[f"{etype}:{name}:{wid}"] = wid
            if fwd.delta.fragment_id:
                self.fragment_of[wid] = fwd.delta.fragment_id
            if etype == "selectbox":
                self.options[wid] = list(proto.options)


async def _recv(ws, timeout: float) -> bytes:
    return await asyncio.wait_for(ws.recv(), timeout)
