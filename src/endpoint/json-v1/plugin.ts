/**
 * Broker JSON v1 as a protocol plug-in (`../protocol.ts`): our peerings with JSON v1 servers (a
 * Zeek; `client-session.ts`) and the JSON v1 clients of our listener (`server-session.ts`,
 * `clients.ts`, `access.ts`). An endpoint links none of it unless the application registers
 * `jsonV1` (`isobroker/json-v1`) or a Node listener serves the endpoint.
 *
 * What the servers get: what this endpoint publishes and what JSON v1 sessions receive, never what
 * the native overlay relays to us, never internal topics. What the clients get: every message the
 * endpoint sees on their prefixes but their own. JSON v1 fixes a server's subscriptions in the
 * handshake, so a change of our filter closes each server session and redials at once.
 */
import type { AcceptAuth } from '../../auth/types.js';
import { assertJsonClientEncodable } from '../../codec/json-v1/encode.js';
import { decodeValue } from '../../codec/native/values.js';
import type { Data } from '../../data/types.js';
import { normalizeFilter } from '../../topic/filter.js';
import { isInternalTopic } from '../../topic/internal.js';
import type { Transport } from '../../transport/transport.js';
import { subscriptionLimit } from '../access.js';
import { ACCEPTED_VALUE_LIMITS } from '../links.js';
import type { Peering } from '../peering.js';
import type { MessageSource, ProtocolHandler, ProtocolHost, ProtocolPlugin } from '../protocol.js';
import { errorEvent, statusEvent } from '../status.js';
import { acceptJsonClient, refuseJsonTransport } from './access.js';
import { JsonClients } from './clients.js';
import { JsonClientSession } from './client-session.js';
import type { JsonServerSession } from './server-session.js';

/** JSON v1 on one endpoint. */
class JsonV1Handler implements ProtocolHandler {
  /** Our sessions with JSON v1 servers whose handshake was acked. */
  private readonly servers = new Set<JsonClientSession>();
  /** Server sessions we closed to redial with a new subscription list. */
  private readonly resubscribing = new WeakSet<JsonClientSession>();
  /** The JSON v1 clients of our listener, by their prefixes. */
  private readonly clients = new JsonClients();

  constructor(private readonly host: ProtocolHost) {}

  dial(p: Peering, t: Transport): void {
    const host = this.host;
    const s = new JsonClientSession(t, p, host.filter(), host.config, {
      acked: (x) => {
        this.servers.add(x);
        p.up(x.peerId!);
        host.status(statusEvent('peer_added', { id: x.peerId!, remote: p.url }));
      },
      message: (x, topic, data) => host.inject(topic, data, x),
      serverError: (x, code, context) =>
        host.error(errorEvent(code, { remote: x.remote, ...(x.peerId ? { id: x.peerId } : {}) }, context)),
      closed: (x) => {
        host.closed(x);
        const was = this.servers.delete(x);
        if (this.resubscribing.has(x)) {
          p.state = 'reconnecting';
          p.retryNow();
          return;
        }
        if (was)
          host.status(
            statusEvent(p.state === 'stopped' ? 'peer_removed' : 'peer_lost', { id: x.peerId!, remote: p.url }),
          );
        p.down();
      },
    });
    if (!s.isClosed) host.opened(s);
  }

  accept(t: Transport, auth: AcceptAuth | undefined): void {
    const host = this.host;
    const refused = auth && host.access.refusal('json', auth, true);
    if (refused) {
      refuseJsonTransport(t, refused);
      return;
    }
    const s = acceptJsonClient(t, host.config, host.access, auth, {
      subscribed: (x, filter) => this.addClient(x, filter),
      publish: (x, topic, data) => host.inject(topic, data, x),
      closed: (x) => {
        host.closed(x);
        host.removeFilter(this.clients.remove(x));
      },
      error: (ev) => host.error(ev),
    });
    if (!s.isClosed) host.opened(s);
  }

  private addClient(s: JsonServerSession, filter: readonly string[]): void {
    let list = normalizeFilter(filter);
    const max = subscriptionLimit(this.host.config.maxSubscriptions, s.access);
    if (list.length > max) {
      // The handshake's prefixes count against the same limit as a native leaf's.
      s.reject(
        `subscription_limit: ${list.length} prefixes subscribed, the limit per connection is ${max}: the last ${list.length - max} are not served`,
      );
      list = list.slice(0, max);
    }
    this.host.addFilter(this.clients.add(s, list));
  }

  deliver(topic: string, data: Data | undefined, bytes: Uint8Array | undefined, source: MessageSource): void {
    const from = typeof source === 'object' ? source : undefined;
    if (this.clients.size > 0) this.clients.deliver(topic, data, bytes, from);
    if (source === 'relayed' || this.servers.size === 0 || isInternalTopic(topic)) return;
    const value = data ?? decodeValue(bytes!, ACCEPTED_VALUE_LIMITS);
    for (const s of this.servers) if (s !== from && s.established) s.publish(topic, value);
  }

  /** JSON v1 servers cannot take NaN or ±Infinity: a publish fails before anything is sent anywhere. */
  checkPublish(topic: string, data: Data): void {
    if (this.servers.size > 0 && !isInternalTopic(topic)) assertJsonClientEncodable(data);
  }

  filterChanged(): void {
    for (const s of this.servers) {
      this.resubscribing.add(s);
      s.close(1000, 'resubscribe');
    }
  }

  close(): void {
    // The endpoint closes every session through its registry.
  }
}

/**
 * The Broker JSON v1 protocol plug-in: register it (`new Endpoint({ protocols: [jsonV1] })`) to
 * peer with a Zeek (`ws://zeek:27759/v1/messages/json`) or to accept JSON v1 clients (the Node
 * listener registers it by itself).
 */
export const jsonV1: ProtocolPlugin = Object.freeze({
  protocol: 'json' as const,
  create: (host: ProtocolHost): ProtocolHandler => new JsonV1Handler(host),
});
