/**
 * A native session as the endpoint's registry sees it (`sessions.ts`): the overlay owns the
 * session and its routing; this adds the peering it serves and how `peers()` shows it.
 */
import type { NativeSession } from './native-session.js';
import type { Overlay } from './overlay.js';
import type { Peering } from './peering.js';
import type { PeerInfo, Session } from './sessions.js';
import type { SendQueueStats } from '../util/send-queue.js';

/** A native session (dialled for `peering`, or accepted when there is none) in the registry. */
export class NativeLink implements Session {
  readonly protocol = 'native' as const;

  constructor(
    readonly session: NativeSession,
    readonly peering: Peering | undefined,
    private readonly overlay: Overlay,
  ) {}

  get direction(): 'outbound' | 'inbound' {
    return this.peering ? 'outbound' : 'inbound';
  }

  get remote(): string {
    return this.session.remote;
  }

  get peerId(): string | undefined {
    return this.session.peerId;
  }

  get established(): boolean {
    return this.session.established;
  }

  /** Shown once past its hello, as the overlay's session for that peer (a redundant twin is not). */
  info(): PeerInfo | undefined {
    const s = this.session;
    if (s.peerId === undefined || this.overlay.session(s.peerId) !== s) return undefined;
    return {
      id: s.peerId,
      name: s.peerName,
      role: s.peerRole,
      url: this.peering?.url ?? s.remote,
      protocol: 'native',
      direction: this.direction,
      status: s.established ? 'connected' : 'connecting',
      stats: s.stats(),
      ...(s.kind ? { link: s.kind } : {}),
    };
  }

  stats(): SendQueueStats {
    return this.session.stats();
  }

  /** Says bye and closes (reported as peer_removed); the code and reason are the overlay's. */
  close(_code?: number, _reason?: string): void {
    this.overlay.remove(this.session);
  }
}
