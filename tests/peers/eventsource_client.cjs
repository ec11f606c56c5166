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

function print(line, then) {
  process.stdout.write(JSON.stringify(line) + "\n", then);
}

function onEvent(event) {
  received += 1;
  const last = received >= expected;
  if (last) source.close();
  // Exit only once stdout has taken the line: a pipe write is asynchronous
  // and process.exit would cut a long one short.
  print({ type: event.type, data: event.data, lastEventId: event.lastEventId }, last ? () => process.exit(0) : undefined);
}

source.onopen = () => print({ open: ++opened });
source.onerror = (error) => print({ error: String(error && error.message) });
source.onmessage = onEvent;
for (const type of (types || "").split(",").filter((t) => t && t !== "message")) {
  source.addEventListener(type, onEvent);
}
