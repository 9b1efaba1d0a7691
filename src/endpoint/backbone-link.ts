/**
 * An endpoint's link to a message backbone (ARCHITECTURE.md, "Backbone"): the backbone is one
 * special peer with split horizon (overlay.ts), and this link runs presence on it — a heartbeat
 * every 500 ms naming this endpoint, the cluster nodes it hosts, the partial prefixes it wants
 * and the stores it masters; a hello on every (re)connect, which everyone answers at once; a bye
 * on a clean detach. What arrives is untrusted: frames are decoded with the native limits, and
 * a bad frame or control message is counted and reported, never thrown.
 */
import { decodeFrame } from '../codec/native/messages.js';
import { MessageKind } from '../codec/native/kinds.js';
import { ConfigError, DecodeError } from '../errors.js';
import { sameBytes } from '../util/bytes.js';
import { idFromBytes } from '../util/ids.js';
import { Emitter, type Unsubscribe } from '../util/emitter.js';
import {
  HEARTBEAT_INTERVAL,
  PRESENCE_TIMEOUT,
  encodeControl,
  type ControlMessage,
  type PresenceNode,
  type PresenceStore,
} from '../backbone/control.js';
import { PresenceTracker } from '../backbone/presence.js';
import type { Backbone, BackboneState } from '../backbone/types.js';
import { InterestTable, boundFilter, normalizeInterest, type FilterBounds } from './interest.js';
import type { Endpoint } from './endpoint.js';
import {
  backboneAttachHooks,
  backboneSeams,
  type BackboneLinkApi,
  type BackboneLinkStats,
  type EndpointBackboneSeam,
} from './backbone-seam.js';

/**
 * What an endpoint subscribes to on the backbone and tells in its heartbeats, at most: a superset
 * when its interest is larger (filtered again at delivery), so every heartbeat fits a control message.
 */
export const BACKBONE_FILTER_BOUNDS: FilterBounds = { maxPrefixes: 512, maxBytes: 16 * 1024 };
/** An endpoint whose heartbeats do not tell its interest wants everything. */
const EVERYTHING: readonly string[] = normalizeInterest(['', '<$>/']);

/** Options of `linkBackbone(endpoint, backbone, options)`. */
export interface BackboneLinkOptions {
  /** The cluster nodes this endpoint hosts (a cluster node: itself), listed in its heartbeats. @default none */
  readonly nodes?: readonly PresenceNode[];
  /** Heartbeat interval, ms. @default 500 */
  readonly heartbeatInterval?: number;
  /** An endpoint is down after this long without a heartbeat, ms. @default 2000 */
  readonly presenceTimeout?: number;
}

export type { BackboneLinkStats } from './backbone-seam.js';

/**
 * Attaches a message backbone to an endpoint (from a NATS connection: `attachBackbone` of
 * `isobroker/node`): the endpoint reaches every endpoint attached to the same backbone, runs
 * presence on it, and relays between it and its native peers with split horizon. One backbone
 * per endpoint; `endpoint.backbone` returns the link, `endpoint.detachBackbone()` ends it.
 */
export function linkBackbone(endpoint: Endpoint, backbone: Backbone, options?: BackboneLinkOptions): BackboneLink {
  const seam = backboneSeams.get(endpoint);
  if (!seam) throw new ConfigError('endpoint', 'expected an isobroker Endpoint');
  const link = seam.setLink(() => new BackboneLink(backbone, seam, options));
  for (const hook of backboneAttachHooks) {
    try {
      hook(endpoint, link);
    } catch {
      // The hook's layer failed to take note; the link stands.
    }
  }
  return link;
}

/** The link of one endpoint to its backbone; made by `linkBackbone`. */
export class BackboneLink implements BackboneLinkApi {
  /** Who is on the backbone: endpoints and the cluster nodes they host. */
  readonly presence: PresenceTracker;
  private nodes: readonly PresenceNode[];
  private stores: readonly PresenceStore[] = [];
  private partials: readonly string[] = [];
  private filter: readonly string[] = [];
  /** What each other endpoint on the backbone wants, from its heartbeats. */
  private readonly remote = new InterestTable<string>();
  private encodeFailures = 0;
  private seq = 0;
  private heartbeats = 0;
  private lastState: BackboneState = 'connecting';
  private readonly events = new Emitter<{ state: BackboneState }>();
  private badFrames = 0;
  private timer: unknown;
  private detached = false;
  private readonly interval: number;

  constructor(
    readonly backbone: Backbone,
    private readonly host: EndpointBackboneSeam,
    options: BackboneLinkOptions = {},
  ) {
    this.nodes = options.nodes ?? [];
    this.interval = options.heartbeatInterval ?? HEARTBEAT_INTERVAL;
    this.presence = new PresenceTracker(host.selfId, host.timers, {
      timeout: options.presenceTimeout ?? PRESENCE_TIMEOUT,
    });
    this.presence.on('endpointUp', (ev) => {
      // Until its heartbeat tells its interest (a `changed` event follows at once when it does),
      // an endpoint is taken to want everything.
      this.remote.set(ev.id, EVERYTHING);
      this.remote.unionChanged = false;
      host.overlay.backboneMembersChanged();
    });
    this.presence.on('endpointDown', (ev) => {
      backbone.forgetRemote(ev.id);
      this.remote.delete(ev.id);
      this.remote.unionChanged = false;
      host.overlay.forgetOrigin(ev.id);
      host.overlay.backboneMembersChanged();
    });
    this.presence.on('changed', (ev) => {
      backbone.remotePartials(ev.id, ev.partials);
      this.remote.set(ev.id, ev.filter === undefined ? EVERYTHING : normalizeInterest(ev.filter));
      if (this.remote.unionChanged) {
        this.remote.unionChanged = false;
        host.overlay.backboneMembersChanged();
      }
    });
    this.presence.on('helloSeen', () => this.heartbeat('heartbeat'));
    backbone.start({
      data: (frame) => this.onData(frame),
      control: (payload) => this.onControl(payload),
      state: (state) => this.onState(state),
    });
    host.overlay.setBackbone({
      isMember: (id) => this.presence.isPresent(id),
      wants: (topic) => this.remote.size > 0 && this.remote.match(topic).length > 0,
      remoteFilters: () => this.remoteFilters(),
      send: (topic, encoded) => {
        backbone.publish(topic, encoded);
      },
      interest: (filter) => this.setInterest(filter),
    });
    this.schedule();
  }

  /** Sets the cluster nodes this endpoint hosts; the next heartbeat (sent at once) lists them. */
  setNodes(nodes: readonly PresenceNode[]): void {
    this.nodes = [...nodes];
    this.heartbeat('heartbeat');
  }

  /** Sets the stores this endpoint masters, with their fencing epochs (sent at once). */
  setStores(stores: readonly PresenceStore[]): void {
    this.stores = [...stores];
    this.heartbeat('heartbeat');
  }

  stats(): BackboneLinkStats {
    return {
      ...this.backbone.stats(),
      endpoints: this.presence.endpoints().length,
      badFrames: this.badFrames,
      badControl: this.presence.stats().invalid,
      heartbeats: this.heartbeats,
      heartbeatFailures: this.encodeFailures,
    };
  }

  /** Says bye, stops presence and closes the backbone (the NATS connection stays the caller's). */
  async detach(): Promise<void> {
    if (this.detached) return;
    this.heartbeat('bye');
    this.detached = true;
    this.host.clearLink(this);
    if (this.timer !== undefined) this.host.timers.clearTimeout(this.timer);
    this.timer = undefined;
    this.host.overlay.setBackbone(undefined);
    this.presence.close();
    await this.backbone.close();
  }

  private schedule(): void {
    this.timer = this.host.timers.setTimeout(() => {
      this.timer = undefined;
      if (this.detached) return;
      this.heartbeat('heartbeat');
      this.schedule();
    }, this.interval);
  }

  private heartbeat(kind: ControlMessage['kind']): void {
    if (this.detached) return;
    this.seq++;
    this.heartbeats++;
    let payload: Uint8Array;
    try {
      payload = this.encodeHeartbeat(kind);
    } catch {
      // Only a local mistake (too many nodes or stores listed) gets here: counted, never thrown
      // out of a timer.
      this.encodeFailures++;
      return;
    }
    this.backbone.publishControl(payload);
  }

  private encodeHeartbeat(kind: ControlMessage['kind']): Uint8Array {
    return encodeControl({
      kind,
      id: this.host.selfId,
      name: this.host.selfName,
      seq: this.seq,
      nodes: this.nodes,
      partials: this.partials,
      stores: this.stores,
      interval: this.interval,
      filter: this.filter,
    });
  }

  private *remoteFilters(): Iterable<readonly [string, readonly string[]]> {
    for (const id of this.remote.keys()) yield [id, this.remote.filterOf(id) ?? []];
  }

  /** Subscribes what we want (bounded) and tells everyone at once when it changed. */
  private setInterest(wanted: readonly string[]): void {
    const filter = boundFilter(wanted, BACKBONE_FILTER_BOUNDS);
    if (sameStrings(filter, this.filter)) return;
    this.filter = filter;
    this.backbone.setInterest(filter);
    this.partials = [...this.backbone.partials()];
    this.heartbeat('heartbeat');
  }

  /** The backbone connection's state now. */
  get state(): BackboneState {
    return this.lastState;
  }

  /**
   * Listens to the connection's state (`connected`, `disconnected`, `reconnected`, `closed`);
   * returns a function that stops listening. A listener that throws is ignored.
   */
  on(event: 'state', fn: (state: BackboneState) => void): Unsubscribe {
    return this.events.on(event, fn);
  }

  private onState(state: BackboneState): void {
    this.lastState = state;
    this.events.emit('state', state);
    // After a (re)connect everyone may have forgotten us, and we them: a hello makes everyone
    // answer at once instead of within a heartbeat interval.
    // (`connected` follows `start` and every `reconnected`.)
    if (state === 'connected') this.heartbeat('hello');
  }

  private onData(frame: Uint8Array): void {
    let msgs: ReturnType<typeof decodeFrame>;
    try {
      msgs = decodeFrame(frame);
    } catch (err) {
      this.badFrames++;
      this.host.overlay.backboneBadFrame(err instanceof DecodeError ? err.message : String(err));
      return;
    }
    const overlay = this.host.overlay;
    // A batch usually holds one origin's messages: its id is made once.
    let lastOrigin: Uint8Array | undefined;
    let lastOriginId = '';
    for (const m of msgs) {
      if (m.kind !== MessageKind.Data) {
        this.badFrames++;
        overlay.backboneBadFrame(`message kind ${m.kind} on a backbone data subject`);
        continue;
      }
      if (lastOrigin === undefined || !sameBytes(lastOrigin, m.origin)) {
        lastOrigin = m.origin;
        lastOriginId = idFromBytes(m.origin);
      }
      overlay.receiveBackbone(m, lastOriginId);
    }
  }

  private onControl(payload: Uint8Array): void {
    this.presence.receivePayload(payload);
  }
}

function sameStrings(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
