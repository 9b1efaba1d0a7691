/**
 * `isobroker pipe`, like Broker's broker-pipe: publish each line of stdin as a string message on a
 * topic, or print every message received on a topic prefix in Broker JSON v1 form, one per line.
 *
 * It never drops lines silently. Publishing, a line counts as delivered once the hub confirmed it:
 * the pipe sends a WebSocket ping behind the lines it wrote, and the hub's pong (which it sends
 * only after reading everything before the ping) confirms them. At EOF the pipe waits for that
 * confirmation before it exits 0. When it cannot reach its peer, or loses it, it exits 3 and says
 * how many lines were not delivered — unless `--retry`, which keeps trying and says so on stderr.
 */
import { createInterface } from 'node:readline';
import WebSocket from 'ws';
import { Endpoint, string, type WebSocketConstructor } from '../../src/index.js';
import { encodeJsonMessage } from '../../src/internal.js';
import { jsonV1 } from '../../src/json-v1.js';
import { EXIT, UsageError, checkNumber, checkWsUrl, parseOrMeta, untilSignal, defineCommand } from './args.js';

export const PIPE_COMMAND = defineCommand({
  name: 'pipe',
  synopsis: '--peer URL --topic TOPIC (--publish | --subscribe) [--retry] [--timeout SECONDS]',
  description: `
Like Broker's broker-pipe: with --publish, publishes each line of stdin as a string on TOPIC and
exits once the peer confirmed every line (at EOF); with --subscribe, prints every message received
on the topic prefix TOPIC in Broker JSON v1 form, one per line, until SIGINT/SIGTERM.
Exits 3 when the peer cannot be reached or the connection is lost, naming the number of lines not
delivered; with --retry it keeps trying instead (and says so on stderr).`,
  options: {
    peer: {
      type: 'string',
      arg: 'URL',
      required: true,
      help: 'ws:// or wss:// URL of the endpoint to peer with',
      check: checkWsUrl,
    },
    topic: {
      type: 'string',
      arg: 'TOPIC',
      required: true,
      help: 'topic to publish to, or topic prefix to subscribe to',
    },
    publish: { type: 'boolean', help: 'publish each stdin line as a string' },
    subscribe: { type: 'boolean', help: 'print each message received, in JSON v1 form' },
    retry: { type: 'boolean', help: 'keep trying to reach the peer and reconnect after a loss instead of exiting 3' },
    timeout: {
      type: 'string',
      arg: 'SECONDS',
      default: '10',
      help: 'how long to wait for the peer to answer (connecting, and confirming lines at EOF)',
      check: checkNumber(0.1, 3600, true),
    },
  },
  validate: (v) => {
    if (v.publish === v.subscribe) throw new UsageError('exactly one of --publish and --subscribe is required');
  },
});

/** Pause reading stdin while this many bytes wait in the socket; resume below a quarter of it. */
const HIGH_WATER_BYTES = 1024 * 1024;
/** How often the pipe asks the hub to confirm the lines written so far. */
const CONFIRM_INTERVAL_MS = 50;

const say = (line: string): void => void process.stderr.write(`isobroker pipe: ${line}\n`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/** The peer connection as the pipe sees it: up or not, its socket, and waiting for a change. */
class Link {
  up = false;
  socket: WebSocket | undefined;
  lastSocket: WebSocket | undefined;
  lastError: string | undefined;
  /** Called once per loss of an established connection. */
  readonly onLost: (() => void)[] = [];
  private waiters: (() => void)[] = [];

  /** A WebSocket constructor for the endpoint that lets the pipe see the sockets it opens. */
  readonly WebSocket: WebSocketConstructor;

  constructor() {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const link = this;
    class TrackedWebSocket extends WebSocket {
      constructor(url: string, protocols?: string | string[]) {
        super(url, protocols);
        link.lastSocket = this;
        this.on('error', (err: Error) => {
          link.lastError = err.message;
        });
      }
    }
    this.WebSocket = TrackedWebSocket as unknown as WebSocketConstructor;
  }

  changed(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Resolves at the next change of state (or after `ms`). */
  next(ms = 1000): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.waiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }
}

export async function runPipe(argv: readonly string[]): Promise<number> {
  const v = parseOrMeta(PIPE_COMMAND, argv);
  if (!v) return 0;
  const url = v.peer;
  const topic = v.topic;
  const timeoutMs = Number(v.timeout) * 1000;
  const link = new Link();
  // JSON v1 too: the peer may be a Zeek (`ws://zeek:27759/v1/messages/json`).
  const ep = new Endpoint({
    role: 'pipe',
    name: `pipe-${process.pid}`,
    WebSocket: link.WebSocket,
    maxRetry: 10_000,
    protocols: [jsonV1],
  });
  ep.on('status', (s) => {
    if (s.code === 'peer_added') {
      link.up = true;
      link.socket = link.lastSocket;
      link.changed();
    } else if ((s.code === 'peer_lost' || s.code === 'peer_removed') && link.up && !ep.isClosed) {
      link.up = false;
      link.socket = undefined;
      for (const fn of link.onLost) fn();
      link.changed();
    }
  });
  ep.on('error', (e) => {
    if (e.code !== 'peer_unavailable') say(`${e.code}: ${e.message}${e.context ? ` (${e.context})` : ''}`);
    else if (v.retry) say(`cannot reach ${url} (${link.lastError ?? e.context ?? e.message}); retrying`);
    link.changed();
  });

  try {
    if (!(await connect(ep, link, url, v.retry, timeoutMs))) return EXIT.peer;
    return v.subscribe
      ? await subscribe(ep, link, url, topic, v.retry)
      : await publish(ep, link, url, topic, v.retry, timeoutMs);
  } finally {
    await ep.close();
  }
}

/** Peers with `url`: false (after saying why) when it cannot, unless `retry`. */
async function connect(ep: Endpoint, link: Link, url: string, retry: boolean, timeoutMs: number): Promise<boolean> {
  let failure: string | undefined;
  ep.peer(url, retry ? {} : { retry: 0 }).catch((err: unknown) => {
    failure = link.lastError ?? (err instanceof Error ? err.message : String(err));
    link.changed();
  });
  const deadline = Date.now() + timeoutMs;
  while (!link.up) {
    if (failure !== undefined) {
      say(`cannot reach ${url}: ${failure}`);
      return false;
    }
    if (!retry && Date.now() >= deadline) {
      say(`cannot reach ${url}: no answer within ${timeoutMs / 1000} s`);
      return false;
    }
    await link.next(Math.max(1, Math.min(1000, deadline - Date.now())));
  }
  if (retry) say(`connected to ${url}`);
  return true;
}

async function subscribe(ep: Endpoint, link: Link, url: string, topic: string, retry: boolean): Promise<number> {
  ep.subscribe(topic, (m) => {
    process.stdout.write(`${encodeJsonMessage({ type: 'data-message', topic: m.topic, data: m.data })}\n`);
  });
  const stop = untilSignal();
  let code: number = EXIT.ok;
  // A closed stdout (e.g. `| head`) ends the pipe quietly.
  const closedOutput = new Promise<void>((resolve) => process.stdout.once('error', () => resolve()));
  const ended = new Promise<void>((resolve) => {
    link.onLost.push(() => {
      if (retry) {
        say(`lost the connection to ${url}; reconnecting`);
        void (async () => {
          while (!link.up) await link.next();
          say(`reconnected to ${url}`);
        })();
        return;
      }
      say(`lost the connection to ${url}`);
      code = EXIT.peer;
      resolve();
    });
  });
  await Promise.race([stop, ended, closedOutput]);
  stop.cancel();
  return code;
}

async function publish(
  ep: Endpoint,
  link: Link,
  url: string,
  topic: string,
  retry: boolean,
  timeoutMs: number,
): Promise<number> {
  let read = 0;
  /** Lines handed to the current connection, and how many of them the hub confirmed. */
  let sent = 0;
  let confirmed = 0;
  let undelivered = 0;
  let failed = false;
  /** `sent` at each ping still waiting for its pong, oldest first. */
  let marks: number[] = [];
  let pinged = 0;
  let socket: WebSocket | undefined;

  const attach = (s: WebSocket | undefined): void => {
    if (s === socket) return;
    socket = s;
    sent = confirmed = pinged = 0;
    marks = [];
    s?.on('pong', () => {
      if (s !== socket) return;
      const mark = marks.shift();
      if (mark !== undefined) confirmed = Math.max(confirmed, mark);
      link.changed();
    });
  };
  attach(link.socket);
  const queued = (): number =>
    ep.peers().reduce((n, p) => n + (p.direction === 'outbound' ? (p.stats?.queued ?? 0) : 0), 0);
  const overflows = (): number => ep.peers().reduce((n, p) => n + (p.stats?.overflows ?? 0), 0);

  // Ask the hub to confirm what was written: a ping behind the lines, answered after them.
  const confirmTimer = setInterval(() => {
    if (!link.up || !socket || sent === pinged || queued() > 0 || socket.readyState !== WebSocket.OPEN) return;
    pinged = sent;
    marks.push(sent);
    socket.ping();
  }, CONFIRM_INTERVAL_MS);

  const input = createInterface({ input: process.stdin, crlfDelay: Infinity });
  link.onLost.push(() => {
    const missing = sent - confirmed;
    undelivered += missing;
    attach(undefined);
    if (retry) {
      say(`lost the connection to ${url}: ${plural(missing, 'line')} not delivered (unconfirmed); reconnecting`);
      return;
    }
    failed = true;
    say(
      `lost the connection to ${url}: ${undelivered} of ${plural(read, 'line')} read not delivered (unconfirmed by the peer); stopped reading stdin`,
    );
    input.close();
  });

  try {
    for await (const line of input) {
      read++;
      while (!link.up && retry) await link.next();
      if (failed || !link.up) {
        undelivered++;
        break;
      }
      attach(link.socket);
      ep.publish(topic, string(line));
      sent++;
      // Backpressure: never let the endpoint's send buffer overflow (it would drop lines).
      if (socket && socket.bufferedAmount > HIGH_WATER_BYTES) {
        while (link.up && socket && socket.bufferedAmount > HIGH_WATER_BYTES / 4) await sleep(5);
      }
    }
    if (failed) return EXIT.peer;

    // EOF: wait until the peer confirmed every line.
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (link.up) attach(link.socket);
      if (link.up && confirmed >= sent) break;
      if (failed) return EXIT.peer;
      if (!link.up && !retry) break;
      if (link.up && Date.now() >= deadline && !retry) {
        const missing = sent - confirmed;
        undelivered += missing;
        say(`${url} did not confirm ${plural(missing, 'line')} within ${timeoutMs / 1000} s`);
        break;
      }
      await link.next(CONFIRM_INTERVAL_MS);
    }
    undelivered += overflows();
    if (undelivered > 0) {
      if (!failed) say(`${undelivered} of ${plural(read, 'line')} read not delivered`);
      return EXIT.peer;
    }
    return EXIT.ok;
  } finally {
    clearInterval(confirmTimer);
    input.close();
    process.stdin.destroy();
  }
}
