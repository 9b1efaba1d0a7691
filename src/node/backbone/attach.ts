/**
 * `attachBackbone(endpoint, nc, options)`: joins an endpoint to the NATS backbone over a NATS
 * connection the caller opened (with nats.js, e.g. `connectNats`) — a `NatsBackbone` on the
 * connection, attached to the endpoint as its backbone link (presence, split horizon).
 */
import { NatsBackbone, type NatsBackboneOptions } from '../../backbone/nats-backbone.js';
import type { NatsConnectionLike } from '../../backbone/types.js';
import { linkBackbone, type BackboneLink, type BackboneLinkOptions } from '../../endpoint/backbone-link.js';
import type { Endpoint } from '../../endpoint/endpoint.js';
import { checkOptionsObject } from '../../util/options.js';

/**
 * Options of `attachBackbone`: the backbone's (namespace, separator, queue, batches, …) and the
 * link's (the cluster nodes the endpoint hosts, heartbeat interval, presence timeout).
 */
export interface AttachBackboneOptions extends NatsBackboneOptions, BackboneLinkOptions {}

/**
 * Attaches a NATS backbone to `endpoint` over `nc` (a nats.js `NatsConnection`, best opened with
 * `noEcho`, as `connectNats` does): the endpoint then reaches every endpoint attached to the same
 * NATS system and namespace. Returns the link (`presence`, `stats()`, `detach()`); detaching
 * closes the backbone, and the NATS connection stays the caller's to close.
 */
export function attachBackbone(
  endpoint: Endpoint,
  nc: NatsConnectionLike,
  options: AttachBackboneOptions = {},
): BackboneLink {
  checkOptionsObject('options', options);
  const backbone = new NatsBackbone(nc, options);
  try {
    return linkBackbone(endpoint, backbone, options);
  } catch (e) {
    void backbone.close();
    throw e;
  }
}
