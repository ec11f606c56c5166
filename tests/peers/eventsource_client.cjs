// Receives events with the npm `eventsource` package and prints each one as
// a JSON line {"type", "data", "lastEventId"} on stdout; prints
// {"open": n} each time a connection opens, and exits after COUNT events.
//
// usage: node eventsource_client.cjs NODE_MODULES URL COUNT [TYPE,TYPE...]
"use strict";
const path = require("node:path");

const [modules, url, count, types] = process.argv.slice(2);
if (!modules || !url || !count) {
  console.error("usage: node eventsource_client.cjs NODE_MODULES URL COUNT [TYPES]");
  process.exit(2);
}
const { EventSource } = require(path.join(modules, "eventsource"));

const expected = Number(count);
let received = 0;
let opened = 0;
const source = new EventSource(url);

function print(line) {
  process.stdout.write(JSON.stringify(line) + "\n");
}

function onEvent(event) {
  print({ type: event.type, data: event.data, lastEventId: event.lastEventId });
  received += 1;
  if (received >= expected) {
    source.close();
    process.exit(0);
  }
}

source.onopen = () => print({ open: ++opened });
source.onerror = (error) => print({ error: String(error && error.message) });
source.onmessage = onEvent;
for (const type of (types || "").split(",").filter((t) => t && t !== "message")) {
  source.addEventListener(type, onEvent);
}
