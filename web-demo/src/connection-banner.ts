/**
 * The connection banner: shown while the page is not connected (connecting, lost and
 * reconnecting, peer unreachable, browser offline), hidden once the handshake succeeds. Follows
 * the endpoint's Broker status events; `reconnectOnOnline` redials as soon as the network returns.
 */
import type { Endpoint } from 'isobroker';
import { reconnectOnOnline } from 'isobroker/browser';
import { h } from './dom.js';

export type ConnectionState = 'connecting' | 'connected' | 'lost' | 'unavailable' | 'offline' | 'invalid';

export interface BannerElements {
  readonly banner: HTMLElement;
  /** A small indicator in the header. */
  readonly dot: HTMLElement;
}

export class ConnectionBanner {
  private state: ConnectionState = 'connecting';
  private detail = '';

  constructor(
    private readonly endpoint: Endpoint,
    private readonly peer: string,
    private readonly el: BannerElements,
  ) {
    // The banner lives as long as the page: nothing here is ever unsubscribed.
    endpoint.on('status', (ev) => {
      if (this.state === 'invalid') return;
      if (ev.code === 'peer_added') this.set('connected');
      else if (ev.code === 'peer_lost' || ev.code === 'peer_removed') this.set('lost');
    });
    endpoint.on('error', (ev) => {
      if (ev.code === 'peer_unavailable' && this.state !== 'connected') this.set('unavailable', ev.context ?? '');
    });
    reconnectOnOnline(endpoint);
    const offline = (): void => this.set('offline');
    const online = (): void => {
      // A short outage may not have dropped the socket: then no new peer_added will come.
      if (this.state === 'offline') this.set(this.connectedNow() ? 'connected' : 'connecting');
    };
    window.addEventListener('offline', offline);
    window.addEventListener('online', online);
    this.set(navigator.onLine === false ? 'offline' : 'connecting');
  }

  private connectedNow(): boolean {
    return this.endpoint.peers().some((p) => p.direction === 'outbound' && p.status === 'connected');
  }

  /** Shows that the peer URL itself is unusable (no retry will help). */
  fail(message: string): void {
    this.set('invalid', message);
  }

  private set(state: ConnectionState, detail = ''): void {
    this.state = state;
    this.detail = detail;
    this.render();
  }

  private render(): void {
    const { banner, dot } = this.el;
    banner.dataset.state = this.state;
    dot.dataset.state = this.state;
    document.body.dataset.connection = this.state;
    dot.title = this.state === 'connected' ? `connected to ${this.peer}` : this.state;
    banner.hidden = this.state === 'connected';
    if (banner.hidden) return;
    const retry = h('button', { type: 'button', class: 'banner-retry' }, 'Retry now');
    retry.addEventListener('click', () => {
      this.endpoint.reconnectNow();
      this.set('connecting');
    });
    const peer = h('code', {}, this.peer);
    const text: (string | Node)[] =
      this.state === 'connecting'
        ? ['Connecting to ', peer, '…']
        : this.state === 'lost'
          ? ['Connection to ', peer, ' lost — reconnecting…']
          : this.state === 'offline'
            ? ['You are offline — the page reconnects as soon as the network is back.']
            : this.state === 'invalid'
              ? [
                  'Cannot use ',
                  peer,
                  `: ${this.detail}. Pass ?peer=ws://host:port (or a Zeek’s …/v1/messages/json URL).`,
                ]
              : [
                  'Cannot reach ',
                  peer,
                  ' — retrying. Is the cluster running?',
                  this.detail ? h('span', { class: 'banner-detail' }, ` (${this.detail})`) : '',
                ];
    const canRetry = this.state !== 'connecting' && this.state !== 'invalid';
    banner.replaceChildren(h('span', { class: 'banner-text' }, ...text), canRetry ? retry : '');
  }
}
