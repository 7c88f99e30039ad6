// The reference graphql-ws client (npm graphql-ws over ws) subscribed to notifications(after: N).
//
//   node subscribe.mjs <ws url> <access token> <after>
//
// Authenticates in connection_init with {authorization: "Bearer <token>"}, subscribes, and writes
// one JSON object per line on stdout:
//   {"event":"connected","payload":{...}}          the connection_ack payload
//   {"event":"next","notification":{...}}          each notification, in the order received
//   {"event":"error","errors":[...]}               GraphQL errors of the operation
//   {"event":"complete"}                           the server completed the operation
//   {"event":"closed","code":4401,"reason":"..."}  the socket closed (then the process exits)
// It makes no retry. Closing its stdin disposes of the client and ends the process.
import { createClient } from "graphql-ws";
import WebSocket from "ws";

const [url, token, after] = process.argv.slice(2);
if (!url || !token || after === undefined) {
  process.stderr.write("usage: node subscribe.mjs <ws url> <access token> <after>\n");
  process.exit(2);
}

const emit = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");

const client = createClient({
  url,
  webSocketImpl: WebSocket,
  connectionParams: { authorization: `Bearer ${token}` },
  lazy: false,
  retryAttempts: 0,
  shouldRetry: () => false,
  on: {
    connected: (_socket, payload) => emit({ event: "connected", payload }),
    closed: (event) => {
      emit({ event: "closed", code: event.code, reason: event.reason });
      process.exitCode = 0;
      setImmediate(() => process.exit());
    },
  },
});

client.subscribe(
  {
    query:
      "subscription($after: Int!) { notifications(after: $after) { id sequence kind subjectId data } }",
    variables: { after: Number(after) },
  },
  {
    next: (result) => {
      if (result.errors) emit({ event: "error", errors: result.errors });
      else emit({ event: "next", notification: result.data.notifications });
    },
    error: () => {}, // a close is reported by on.closed
    complete: () => emit({ event: "complete" }),
  },
);

process.stdin.on("end", () => client.dispose());
process.stdin.resume();
