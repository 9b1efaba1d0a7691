/**
 * The pub/sub benchmark's clients, one adapter per compared system: one publisher and N
 * subscribers, each subscriber on its own WebSocket connection, all in the driver process.
 * Every adapter publishes the same 100-byte text and reports each delivery as (subscriber index,
 * sequence number, publish time).
 */
import { WebSocket } from 'ws';
import { connectAsync, type MqttClient } from 'mqtt';
import type { NatsConnection } from 'nats.ws';
import { DEFAULT_MAX_BATCH, Endpoint, string } from '../../src/index.js';
import { PAYLOAD_BYTES, parseBytes, parseText, payloadText, type ParsedPayload } from './pubsub-payload.js';

/** The compared systems. */
export const SYSTEMS = ['hub', 'nats', 'mosquitto', 'ws'] as const;
export type SystemId = (typeof SYSTEMS)[number];

/** Called for every message a subscriber receives. */
export type DeliverFn = (subscriber: number, seq: number, sentUs: number) => void;

/** One publisher and its subscribers, connected to one broker. */
export interface PubSubClients {
  /** Publishes message `seq`, stamped `sentUs`. */
  publish(seq: number, sentUs: number): void;
  /** Messages the clients themselves dropped (e.g. a full send buffer), and connections lost. */
  clientDrops(): number;
  close(): Promise<void>;
}

/** Topic (subject for NATS) every message goes to; subscribers subscribe to exactly this. */
const HUB_TOPIC = 'bench/pubsub/data';
const HUB_PREFIX = 'bench/pubsub';
const NATS_SUBJECT = 'bench.pubsub.data';
const MQTT_TOPIC = 'bench/pubsub/data';

/** Connects a publisher and `subscribers` subscribers of `system` to the broker at `url`. */
export function openClients(
  system: SystemId,
  url: string,
  subscribers: number,
  deliver: DeliverFn,
): Promise<PubSubClients> {
  switch (system) {
    case 'hub':
      return openHub(url, subscribers, deliver);
    case 'nats':
      return openNats(url, subscribers, deliver);
    case 'mosquitto':
      return openMqtt(url, subscribers, deliver);
    case 'ws':
      return openRelay(url, subscribers, deliver);
  }
}

async function openHub(url: string, subscribers: number, deliver: DeliverFn): Promise<PubSubClients> {
  const subs: Endpoint[] = [];
  for (let i = 0; i < subscribers; i++) {
    const ep = new Endpoint({ name: `bench-sub-${i}` });
    const parsed: ParsedPayload = { seq: 0, sentUs: 0 };
    ep.subscribe(HUB_PREFIX, (m) => {
      if (m.data.type === 'string' && parseText(m.data.value, parsed)) deliver(i, parsed.seq, parsed.sentUs);
    });
    await ep.peer(url, { retry: 0 });
    subs.push(ep);
  }
  const pub = new Endpoint({ name: 'bench-pub' });
  await pub.peer(url, { retry: 0 });
  await pub.whenRoutable(HUB_TOPIC);
  return {
    publish: (seq, sentUs) => pub.publish(HUB_TOPIC, string(payloadText(seq, sentUs))),
    clientDrops: () =>
      [pub, ...subs].reduce((n, ep) => n + ep.peers().reduce((k, p) => k + (p.stats?.overflows ?? 0), 0), 0),
    close: async () => {
      await Promise.all([pub, ...subs].map((ep) => ep.close()));
    },
  };
}

async function openNats(url: string, subscribers: number, deliver: DeliverFn): Promise<PubSubClients> {
  // nats.ws needs a global WebSocket; Node 20 has none, so lend it ws's.
  const g = globalThis as { WebSocket?: unknown };
  g.WebSocket ??= WebSocket;
  const { connect } = await import('nats.ws');
  const encoder = new TextEncoder();
  let lost = 0;
  const watch = (nc: NatsConnection): void => {
    void nc.closed().then((err) => {
      if (err) lost++;
    });
  };
  const subs: NatsConnection[] = [];
  for (let i = 0; i < subscribers; i++) {
    const nc = await connect({ servers: url, reconnect: false, name: `bench-sub-${i}` });
    const parsed: ParsedPayload = { seq: 0, sentUs: 0 };
    nc.subscribe(NATS_SUBJECT, {
      callback: (err, msg) => {
        if (err === null && parseBytes(msg.data, 0, parsed)) deliver(i, parsed.seq, parsed.sentUs);
      },
    });
    await nc.flush();
    watch(nc);
    subs.push(nc);
  }
  const pub = await connect({ servers: url, reconnect: false, name: 'bench-pub' });
  watch(pub);
  return {
    publish: (seq, sentUs) => pub.publish(NATS_SUBJECT, encoder.encode(payloadText(seq, sentUs))),
    clientDrops: () => lost,
    close: async () => {
      await Promise.all([pub, ...subs].map((nc) => nc.close()));
    },
  };
}

async function openMqtt(url: string, subscribers: number, deliver: DeliverFn): Promise<PubSubClients> {
  let lost = 0;
  const open = async (name: string): Promise<MqttClient> => {
    const c = await connectAsync(url, { protocolVersion: 4, clean: true, reconnectPeriod: 0, clientId: name });
    c.on('error', () => lost++);
    return c;
  };
  const subs: MqttClient[] = [];
  for (let i = 0; i < subscribers; i++) {
    const c = await open(`bench-sub-${i}-${process.pid}`);
    const parsed: ParsedPayload = { seq: 0, sentUs: 0 };
    c.on('message', (_topic, payload) => {
      if (parseBytes(payload, 0, parsed)) deliver(i, parsed.seq, parsed.sentUs);
    });
    await c.subscribeAsync(MQTT_TOPIC, { qos: 0 });
    subs.push(c);
  }
  const pub = await open(`bench-pub-${process.pid}`);
  return {
    publish: (seq, sentUs) => {
      pub.publish(MQTT_TOPIC, Buffer.from(payloadText(seq, sentUs), 'latin1'), { qos: 0 });
    },
    clientDrops: () => lost,
    close: async () => {
      await Promise.all([pub, ...subs].map((c) => c.endAsync(true)));
    },
  };
}

function openSocket(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

/**
 * The raw `ws` baseline: the publisher packs the messages of one event-loop turn into frames of
 * at most the hub's `maxBatch` messages (fixed 100-byte records, no header), like the endpoint's
 * outbox; subscribers cut frames back into records.
 */
async function openRelay(url: string, subscribers: number, deliver: DeliverFn): Promise<PubSubClients> {
  let lost = 0;
  const subs: WebSocket[] = [];
  for (let i = 0; i < subscribers; i++) {
    const ws = await openSocket(url);
    const parsed: ParsedPayload = { seq: 0, sentUs: 0 };
    ws.on('message', (data: Buffer) => {
      for (let off = 0; off + PAYLOAD_BYTES <= data.length; off += PAYLOAD_BYTES) {
        if (parseBytes(data, off, parsed)) deliver(i, parsed.seq, parsed.sentUs);
      }
    });
    ws.on('close', () => lost++);
    subs.push(ws);
  }
  const pub = await openSocket(url);
  let pending: string[] = [];
  let scheduled = false;
  const flush = (): void => {
    scheduled = false;
    const all = pending;
    pending = [];
    for (let i = 0; i < all.length; i += DEFAULT_MAX_BATCH) {
      pub.send(Buffer.from(all.slice(i, i + DEFAULT_MAX_BATCH).join(''), 'latin1'), { binary: true });
    }
  };
  return {
    publish: (seq, sentUs) => {
      pending.push(payloadText(seq, sentUs));
      if (!scheduled) {
        scheduled = true;
        queueMicrotask(flush);
      }
    },
    clientDrops: () => lost,
    close: async () => {
      for (const ws of [pub, ...subs]) {
        ws.removeAllListeners('close');
        ws.close();
      }
    },
  };
}
