"""The Python floor for bench/fanout.sh: SSE fan-out with sse-starlette.

Run: tests/peers/venv/bin/python bench/peers/starlette_hub.py PORT

Same contract as the Rust baseline (bench/src/baseline.rs): GET
/events?stream=NAME subscribes, POST /events?stream=NAME publishes the body
as the event's data. Each subscriber has a bounded asyncio queue; one that
falls 1,024 events behind skips what it missed, as a lagging
tokio::sync::broadcast receiver does. One process, one event loop: what a
straightforward Python service runs.
"""

import asyncio
import sys

import uvicorn
from sse_starlette import EventSourceResponse
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

CAPACITY = 1024
streams: dict[str, set[asyncio.Queue]] = {}


async def events(request: Request):
    name = request.query_params.get("stream")
    if not name:
        return PlainTextResponse("missing ?stream=", status_code=400)
    if request.method == "POST":
        data = (await request.body()).decode("utf-8", "replace")
        subscribers = streams.get(name, ())
        for queue in subscribers:
            if queue.full():
                queue.get_nowait()  # lagging: drop the oldest
            queue.put_nowait(data)
        return JSONResponse({"subscribers": len(subscribers)})

    queue: asyncio.Queue = asyncio.Queue(CAPACITY)
    streams.setdefault(name, set()).add(queue)

    async def content():
        try:
            while True:
                yield {"data": await queue.get()}
        finally:
            subscribers = streams.get(name)
            if subscribers is not None:
                subscribers.discard(queue)
                if not subscribers:
                    del streams[name]

    return EventSourceResponse(content(), ping=15)


app = Starlette(routes=[Route("/events", events, methods=["GET", "POST"])])

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning",
                access_log=False, backlog=20000)
