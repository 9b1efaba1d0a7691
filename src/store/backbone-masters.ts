/**
 * Store masters on a backbone (ARCHITECTURE.md, "Backbone"): every endpoint's presence heartbeats
 * list the stores it masters, and without a lease bucket that list is what keeps one master per
 * store across the backbone:
 *
 * - `createMaster` is refused with `master_exists` while presence shows another endpoint mastering
 *   the store (`conflictingMaster`);
 * - two masters created before either heard of the other (a race, or a partition) both serve until
 *   their heartbeats cross; then the later claim steps down: it closes and reports `master_exists`
 *   on its error channel. "Later" is decided the same way on both sides: the greater claim time
 *   (`claimedAt`, the master's clock when it was created), then the greater endpoint id.
 *
 * Best effort, by design: while partitioned both sides keep serving (and taking writes); after the
 * heal one of them steps down and what was written to it alone is lost to the store (its clones
 * resync from the remaining master). Clocks that disagree by more than the time between two claims
 * may pick the earlier one as "later"; both sides still agree on it. Where that is not good enough,
 * masters take a lease (`MasterOptions.lease`): the bucket decides, and the presence check is not
 * made (a leased master never steps down for presence; a lease-less one yields to a leased one).
 * Only masters on the backbone members themselves are listed: a master on a native peer behind a
 * member is found by the reachability check of `createMaster`, not by presence.
 */
import type { PresenceStore } from '../backbone/control.js';
import type { PresenceEndpoint } from '../backbone/presence.js';
import { type BackboneLinkApi, backboneAttachHooks } from '../endpoint/backbone-seam.js';
import type { Endpoint } from '../endpoint/endpoint.js';
import { StoreError } from '../errors.js';

/** A master open on an endpoint, as the backbone's presence sees it. */
export interface BackboneMaster {
  readonly name: string;
  /** Its fencing epoch (0: no lease). */
  readonly epoch: number;
  /** When it was claimed (lease-less masters only), an integer ≥ 1, ms on its endpoint's clock. */
  readonly claimedAt: number | undefined;
  /** Closes it, reporting `reason` on its error channel (it lost to an earlier claim). */
  stepDown(reason: StoreError): void;
}

/** The claim that wins between two lease-less masters of one store: the earlier one. */
export interface Claim {
  readonly claimedAt: number;
  readonly endpointId: string;
}

/** Whether claim `a` is later than claim `b` (it steps down): greater time, then greater id. */
export function isLaterClaim(a: Claim, b: Claim): boolean {
  if (a.claimedAt !== b.claimedAt) return a.claimedAt > b.claimedAt;
  return a.endpointId > b.endpointId;
}

/** The stores list of a heartbeat: each master with its epoch, and its claim time when lease-less. */
export function presenceStores(masters: readonly BackboneMaster[]): PresenceStore[] {
  return masters.map((m) =>
    m.claimedAt === undefined
      ? { name: m.name, epoch: m.epoch }
      : { name: m.name, epoch: m.epoch, claimedAt: m.claimedAt },
  );
}

/** Another endpoint that presence shows mastering store `name`, if any (the first found). */
export function conflictingMaster(endpoint: Endpoint, name: string): PresenceEndpoint | undefined {
  const link = endpoint.backbone;
  if (link === undefined) return undefined;
  return link.presence.endpoints().find((ep) => ep.id !== endpoint.id && ep.stores.some((s) => s.name === name));
}

/**
 * Whether the local master `m` must step down for `other`, a store of the same name that the
 * endpoint `otherId` lists: never when `m` holds a lease (the bucket decides); always for a leased
 * master elsewhere; else when `m`'s claim is the later one (a claim time not told counts as the
 * earliest: an endpoint that does not tell it never steps down itself).
 */
export function mustStepDown(m: BackboneMaster, selfId: string, other: PresenceStore, otherId: string): boolean {
  if (m.claimedAt === undefined) return false;
  if (other.epoch > 0) return true;
  return isLaterClaim(
    { claimedAt: m.claimedAt, endpointId: selfId },
    { claimedAt: other.claimedAt ?? 0, endpointId: otherId },
  );
}

/**
 * Keeps the heartbeats of endpoints with a backbone listing their masters, and makes a lease-less
 * master that lost a race step down. `list(endpoint)` gives the masters open on an endpoint now.
 */
export class BackboneMasters {
  /** Links whose presence is watched already. */
  private readonly watched = new WeakSet<BackboneLinkApi>();

  constructor(private readonly list: (endpoint: Endpoint) => readonly BackboneMaster[]) {
    // A backbone attached after masters were opened lists them at once.
    backboneAttachHooks.add((endpoint, link) => {
      const ep = endpoint as Endpoint;
      if (this.list(ep).length > 0) this.sync(ep, link);
    });
  }

  /** The masters on `endpoint` changed (opened, closed, lease held or lost): tell the backbone. */
  changed(endpoint: Endpoint): void {
    const link = endpoint.backbone;
    if (link !== undefined) this.sync(endpoint, link);
  }

  private sync(endpoint: Endpoint, link: BackboneLinkApi): void {
    this.watch(endpoint, link);
    link.setStores(presenceStores(this.list(endpoint)));
    // What presence knows already (listed before this master opened, or before the link was
    // watched) is checked now; later listings arrive as `changed` events.
    for (const ep of link.presence.endpoints()) this.resolve(endpoint, ep.id, ep.name, ep.stores);
  }

  private watch(endpoint: Endpoint, link: BackboneLinkApi): void {
    if (this.watched.has(link)) return;
    this.watched.add(link);
    link.presence.on('changed', (ev) => {
      if (endpoint.backbone !== link) return; // detached since
      this.resolve(endpoint, ev.id, link.presence.endpoint(ev.id)?.name ?? ev.id, ev.stores);
    });
  }

  /** Steps down every local master that lost to a store `otherId` lists. */
  private resolve(endpoint: Endpoint, otherId: string, otherName: string, stores: readonly PresenceStore[]): void {
    if (stores.length === 0 || otherId === endpoint.id) return;
    const theirs = new Map(stores.map((s) => [s.name, s]));
    for (const m of this.list(endpoint)) {
      const other = theirs.get(m.name);
      if (other === undefined || !mustStepDown(m, endpoint.id, other, otherId)) continue;
      const why =
        other.epoch > 0
          ? `it holds the store's lease (epoch ${other.epoch})`
          : `its claim is earlier (${other.claimedAt ?? 'unknown'} vs ${m.claimedAt})`;
      // Out of the presence listener: closing sends a heartbeat on the link at once.
      queueMicrotask(() =>
        m.stepDown(
          new StoreError(
            'master_exists',
            `master of ${m.name} stepped down: endpoint '${otherName}' (${otherId}) masters it too and ${why}; ` +
              'without a lease one master per store is kept only once heartbeats cross (best effort)',
          ),
        ),
      );
    }
  }
}
