/**
 * isobroker/backbone — hubs and cluster nodes on several machines over a message backbone
 * (ARCHITECTURE.md, "Backbone"). The core half, isomorphic: the NATS backbone over any NATS
 * connection (`NatsBackbone`; nats.js's Node or WebSocket client), attaching it to an endpoint
 * (`linkBackbone`), presence, the topic → subject mapping, store master leases and fencing, and
 * in-memory NATS and lease buckets for tests. In Node, `attachBackbone` and `connectNats` of
 * `isobroker/node` do the wiring from a server list:
 *
 * ```ts
 * import { NatsBackbone, linkBackbone } from 'isobroker/backbone';
 * const link = linkBackbone(endpoint, new NatsBackbone(natsConnection, { namespace: 'prod' }));
 * link.presence.on('endpointDown', (ev) => console.log('gone', ev.name));
 * ```
 *
 * An application without a backbone never imports this entry and bundles none of it.
 */
export { linkBackbone, BackboneLink, BACKBONE_FILTER_BOUNDS } from './endpoint/backbone-link.js';
export type { BackboneLinkOptions } from './endpoint/backbone-link.js';
export type { BackboneLinkApi, BackboneLinkStats } from './endpoint/backbone-seam.js';
export { BACKBONE_GATEWAY_PREFIX } from './endpoint/overlay.js';
export {
  NatsBackbone,
  DEFAULT_BACKBONE_QUEUE_BYTES,
  DEFAULT_EXTENSION_LINGER,
  DEFAULT_MAX_BATCH_BYTES,
  DEFAULT_MAX_BATCH_MESSAGES,
  DEFAULT_RTT_INTERVAL,
} from './backbone/nats-backbone.js';
export type { NatsBackboneOptions } from './backbone/nats-backbone.js';
export type {
  Backbone,
  BackboneSink,
  BackboneState,
  BackboneStats,
  LeaseEntry,
  LeaseKv,
  NatsConnectionLike,
  NatsMsgLike,
  NatsStatusLike,
  NatsSubscriptionLike,
} from './backbone/types.js';
export {
  DEFAULT_NAMESPACE,
  MAX_SUBJECT_LENGTH,
  PartialPrefixIndex,
  controlSubject,
  escapeToken,
  extensionSubject,
  planSubscriptions,
  subjectOptions,
  topicSubject,
} from './backbone/subjects.js';
export type { SubjectOptions, SubscriptionPlan, TopicSeparator } from './backbone/subjects.js';
export { subjectMatches, isValidSubject } from './backbone/subject-match.js';
export {
  HEARTBEAT_INTERVAL,
  PRESENCE_TIMEOUT,
  CONTROL_LIMITS,
  decodeControl,
  encodeControl,
} from './backbone/control.js';
export type { ControlMessage, PresenceNode, PresenceStore } from './backbone/control.js';
export { PresenceTracker, MAX_PRESENCE_ENDPOINTS } from './backbone/presence.js';
export type {
  EndpointDownReason,
  NodeDownReason,
  PresenceEndpoint,
  PresenceEvents,
  PresenceNodeState,
  PresenceOptions,
  PresenceStats,
} from './backbone/presence.js';
export { MemoryNats, MemoryNatsConnection } from './backbone/memory-nats.js';
export type { MemoryNatsConnectOptions, MemoryNatsOptions, MemoryNatsStats } from './backbone/memory-nats.js';
export { MemoryLeaseKv } from './backbone/memory-kv.js';
export type { MemoryLeaseKvOptions } from './backbone/memory-kv.js';
export {
  DEFAULT_LEASE_TTL,
  MasterLease,
  currentMaster,
  leaseKey,
  parseHolder,
  watchMaster,
} from './store/master-lease.js';
export type { LeaseHolder, MasterLeaseEvents, MasterLeaseOptions, MasterLeaseState } from './store/master-lease.js';
export { mastersOn } from './store/stores.js';
