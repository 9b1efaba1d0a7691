/**
 * Where an endpoint and its backbone link meet (backbone-link.ts): what the link needs of the
 * endpoint, and what the endpoint shows of the link. Kept apart so that `endpoint.ts` imports no
 * backbone code: an application without a backbone does not bundle it.
 */
import type { PresenceNode, PresenceStore } from '../backbone/control.js';
import type { PresenceTracker } from '../backbone/presence.js';
import type { BackboneState, BackboneStats } from '../backbone/types.js';
import type { Unsubscribe } from '../util/emitter.js';
import type { Timers } from '../util/timers.js';
import type { Overlay } from './overlay.js';

/** Statistics of a backbone link: the backbone's own and presence's. */
export interface BackboneLinkStats extends BackboneStats {
  /** Other endpoints present on the backbone now. */
  readonly endpoints: number;
  /** Frames that could not be decoded, and control messages refused. */
  readonly badFrames: number;
  readonly badControl: number;
  /** Heartbeats sent, and those that could not be encoded (too many nodes or stores). */
  readonly heartbeats: number;
  readonly heartbeatFailures: number;
}

/** An endpoint's link to its backbone, as `endpoint.backbone` shows it. */
export interface BackboneLinkApi {
  /** Who is on the backbone: endpoints and the cluster nodes they host. */
  readonly presence: PresenceTracker;
  /** Sets the cluster nodes this endpoint hosts; the next heartbeat (sent at once) lists them. */
  setNodes(nodes: readonly PresenceNode[]): void;
  /** Sets the stores this endpoint masters, with their fencing epochs (sent at once). */
  setStores(stores: readonly PresenceStore[]): void;
  stats(): BackboneLinkStats;
  /** Says bye, stops presence and closes the backbone (the NATS connection stays the caller's). */
  detach(): Promise<void>;
  /** The backbone connection's state now. */
  readonly state: BackboneState;
  /** Listens to the connection's state changes; returns a function that stops listening. */
  on(event: 'state', fn: (state: BackboneState) => void): Unsubscribe;
}

/** What `linkBackbone` needs of an endpoint. Not part of the API. */
export interface EndpointBackboneSeam {
  readonly selfId: string;
  readonly selfName: string;
  readonly timers: Timers;
  readonly overlay: Overlay;
  /** Makes and records the link (throws, making nothing, when closed or already linked). */
  setLink<T extends BackboneLinkApi>(make: () => T): T;
  /** Forgets `link` if it is the one recorded (it detached itself). */
  clearLink(link: BackboneLinkApi): void;
}

/**
 * Called with every link `linkBackbone` makes, once `endpoint.backbone` returns it: how a layer
 * above learns of a backbone attached after its own objects (the store layer lists the masters
 * already open in the link's heartbeats). A hook that throws is ignored.
 */
export const backboneAttachHooks = new Set<(endpoint: object, link: BackboneLinkApi) => void>();

/** Each endpoint's seam, set by its constructor. */
export const backboneSeams = new WeakMap<object, EndpointBackboneSeam>();
