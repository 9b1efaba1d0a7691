/**
 * The one registry of an endpoint's connections. Every connection — a native session (dialled or
 * accepted), a Broker JSON v1 session we dialled (a Zeek), a JSON v1 client our listener accepted
 * — is a `Session`; `Endpoint.peers()`, `close()` and `unpeer()` read this registry only, and a
 * peering (`peering.ts`) is listed on its own while it has no session to show.
 */
import type { SessionKind } from './native-session.js';
import type { Peering, PeerProtocol, PeeringState } from './peering.js';
import type { SendQueueStats } from '../util/send-queue.js';

/** One peering or connection of an endpoint, as `endpoint.peers()` lists it. */
export interface PeerInfo {
  /** Peer endpoint id once the handshake succeeded. */
  readonly id?: string;
  readonly name?: string;
  readonly role?: string;
  /** URL we dial (outbound) or the remote address (inbound). */
  readonly url: string;
  readonly protocol: PeerProtocol;
  readonly direction: 'outbound' | 'inbound';
  readonly status: PeeringState;
  readonly stats?: SendQueueStats;
  /** Native links past their hello: what the link is to us (`router`, our `leaf`, or our `hub`). */
  readonly link?: SessionKind;
}

/** One connection of an endpoint, whatever its protocol and direction. */
export interface Session {
  /** The protocol it speaks. */
  readonly protocol: PeerProtocol;
  /** `outbound`: we dialled it (for a peering); `inbound`: a listener accepted it. */
  readonly direction: 'outbound' | 'inbound';
  /** The peering it serves (outbound sessions only). */
  readonly peering: Peering | undefined;
  /** The transport's remote address. */
  readonly remote: string;
  /** The other endpoint's id, once its handshake told it. */
  readonly peerId: string | undefined;
  /** Whether its handshake completed. */
  readonly established: boolean;
  /** How `peers()` shows it; undefined while there is nothing to show yet (before its handshake). */
  info(): PeerInfo | undefined;
  /** Its send buffer. */
  stats(): SendQueueStats;
  /** Ends it as our own decision (unpeer, endpoint closed). */
  close(code: number, reason: string): void;
}

/** The registry: every open session of one endpoint, in the order they opened. */
export class SessionRegistry implements Iterable<Session> {
  private readonly all = new Set<Session>();

  /** Number of open sessions. */
  get size(): number {
    return this.all.size;
  }

  add(s: Session): void {
    this.all.add(s);
  }

  /** Forgets a closed session; returns whether it was registered. */
  delete(s: Session): boolean {
    return this.all.delete(s);
  }

  [Symbol.iterator](): Iterator<Session> {
    return this.all.values();
  }

  /** The sessions serving peering `p`. */
  ofPeering(p: Peering): Session[] {
    return [...this.all].filter((s) => s.peering === p);
  }

  /**
   * What `endpoint.peers()` returns: every session past its handshake, then every peering none of
   * them serves (dialling, waiting to redial, standing by).
   */
  peers(peerings: Iterable<Peering>): PeerInfo[] {
    const out: PeerInfo[] = [];
    const shown = new Set<Peering>();
    for (const s of this.all) {
      const info = s.info();
      if (info === undefined) continue;
      if (s.peering) shown.add(s.peering);
      out.push(info);
    }
    for (const p of peerings) {
      if (shown.has(p)) continue;
      out.push({
        ...(p.peerId ? { id: p.peerId } : {}),
        url: p.url,
        protocol: p.protocol,
        direction: 'outbound',
        status: p.state,
      });
    }
    return out;
  }
}
