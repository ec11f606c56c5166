"""An sse-starlette app for the interoperability tests of the Rust client.

Run: python -m uvicorn sse_starlette_app:app --app-dir tests/peers --port PORT

GET /events: without Last-Event-ID, a comment and events 1 and 2 (CRLF line
endings, a multi-line data, a retry), then the response ends; with
Last-Event-ID: 2, event 3 and then an open stream. Any other ID gets an
"unexpected" event, so a client that resumes wrongly is caught.
"""

import asyncio

from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route

CRLF = "\r\n"


async def first_connection():
    yield ServerSentEvent(comment="hello", sep=CRLF)
    yield ServerSentEvent(data="line1\nline2", event="greet", id="1", retry=50, sep=CRLF)
    yield ServerSentEvent(data="two", id="2", sep=CRLF)


async def resumed():
    yield ServerSentEvent(data="three", id="3", sep=CRLF)
    while True:
        await asyncio.sleep(3600)


async def unexpected(last_event_id):
    yield ServerSentEvent(data=f"unexpected Last-Event-ID {last_event_id!r}", event="unexpected", sep=CRLF)


async def events(request: Request):
    last_event_id = request.headers.get("last-event-id")
    if last_event_id is None:
        content = first_connection()
    elif last_event_id == "2":
        content = resumed()
    else:
        content = unexpected(last_event_id)
    return EventSourceResponse(content, sep=CRLF, ping=3600)


app = Starlette(routes=[Route("/events", events)])
