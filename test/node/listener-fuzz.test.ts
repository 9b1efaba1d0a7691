/**
 * Fuzzing the listener's header handling (seeded; fast-check prints the seed of a failure):
 * credential extraction never throws and never yields a value with characters outside the
 * credential alphabet; the Origin check accepts only exact allowlist entries and loopback pages;
 * and random Origin/Host/Authorization/subprotocol/cookie headers against a live hub always get
 * an answer (101 or a 4xx) while a normal client keeps working.
 */
import type { IncomingMessage } from 'node:http';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { upgradeCredential } from '../../src/node/listener/upgrade-credential.js';
import { upgradeOriginCheck } from '../../src/node/listener/upgrade-origin.js';
import { fakeAuthenticate, GOOD_TOKEN, rawUpgrade, startHub, upgradeRequest } from './listener-fixtures.js';
import { rawClient } from '../support/ws-client.js';

const SEED = Number(process.env.FUZZ_SEED ?? 11011);
// Header values as HTTP allows them: visible ASCII, space and tab (Node refuses CR/LF and NUL).
const headerChar = fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c));
const headerValue = fc.oneof(
  fc.string({ unit: headerChar, maxLength: 200 }),
  fc
    .constantFrom('Bearer ', 'ApiKey ', 'bearer.', 'isobroker.v1', 'isb=', ',', ';', '"', ' ')
    .chain((p) => fc.string({ unit: headerChar, maxLength: 60 }).map((s) => p + s)),
);

describe('header fuzz (pure)', () => {
  it('upgradeCredential never throws and only yields credential-alphabet values', () => {
    fc.assert(
      fc.property(
        fc.record(
          { authorization: headerValue, 'sec-websocket-protocol': headerValue, cookie: headerValue },
          { requiredKeys: [] },
        ),
        fc.boolean(),
        (headers, cookieOk) => {
          const r = upgradeCredential({ headers } as unknown as IncomingMessage, {
            cookieName: 'isb',
            cookieOriginAllowed: cookieOk,
            maxBytes: 150,
          });
          if ('credential' in r && r.credential) {
            expect(r.credential.value).toMatch(/^[A-Za-z0-9._~+/=-]+$/);
            if (r.source === 'cookie') expect(cookieOk).toBe(true);
          }
          if ('invalid' in r)
            for (const v of Object.values(headers)) if (v.length > 8) expect(r.invalid.message).not.toContain(v);
        },
      ),
      { seed: SEED, numRuns: 5000 },
    );
  });

  it('the Origin check accepts exact allowlist entries and the own origin only (not loopback pages of other ports)', () => {
    const allowed = ['https://app.example.test:8443', 'https://dash.example.test'];
    const check = upgradeOriginCheck('192.0.2.10', [], allowed);
    const host = fc.constantFrom(
      'app.example.test',
      'dash.example.test',
      'example.test',
      '192.0.2.10',
      'evil.test',
      'app.example.test.evil.test',
      '127.0.0.1',
      'localhost',
      '[::1]',
      '127.0.0.1.evil.test',
    );
    const origin = fc.oneof(
      fc
        .tuple(
          fc.constantFrom('http', 'https', 'file', 'ws', 'HTTPS'),
          host,
          fc.option(fc.integer({ min: 0, max: 65535 })),
        )
        .map(([s, h, p]) => `${s}://${h}${p === null ? '' : `:${p}`}`),
      fc.string({ unit: headerChar, maxLength: 60 }),
    );
    // The Host the request came with: the own origin is the same host and port.
    const hostHeader = fc.option(fc.constantFrom('127.0.0.1:4000', 'localhost:4000', '192.0.2.10:4000', 'localhost'));
    fc.assert(
      fc.property(origin, hostHeader, (o, h) => {
        if (!check.originAllowed(o, 4000, h ?? undefined)) return;
        const lower = o.toLowerCase();
        const own = /^https?:\/\/192\.0\.2\.10:4000$/.test(lower);
        const sameAsHost =
          h !== null &&
          (lower === `http://${h}` ||
            lower === `https://${h}` ||
            (h === 'localhost' && (lower === 'http://localhost:80' || lower === 'https://localhost:443')));
        expect(allowed.includes(lower) || own || sameAsHost, `${o} (Host ${h})`).toBe(true);
      }),
      { seed: SEED, numRuns: 5000 },
    );
  });
});

describe('header fuzz (live hub)', () => {
  it('300 upgrades with random Origin/Host/Authorization/subprotocol/cookie headers all get 101 or a 4xx', async () => {
    const h = await startHub({
      auth: { authenticate: fakeAuthenticate(), cookieName: 'isb', origins: ['https://dash.example.test'] },
      limits: { maxAuthFailuresPerIp: 1_000_000 },
    });
    try {
      const port = h.listener.port;
      const samples = fc.sample(
        fc.record(
          {
            Origin: fc.oneof(headerValue, fc.constant('https://dash.example.test')),
            Host: fc.oneof(
              { arbitrary: fc.constant(`127.0.0.1:${port}`), weight: 4 },
              { arbitrary: headerValue, weight: 1 },
            ),
            Authorization: headerValue,
            'Sec-WebSocket-Protocol': headerValue,
            Cookie: headerValue,
          },
          { requiredKeys: [] },
        ),
        { seed: SEED, numRuns: 300 },
      );
      const statuses = new Map<number, number>();
      for (let i = 0; i < samples.length; i += 30) {
        const batch = await Promise.all(
          samples.slice(i, i + 30).map(async (headers) => {
            const r = await rawUpgrade(
              port,
              upgradeRequest(port, '/v1/messages/json', headers as Record<string, string>),
            );
            r.socket.destroy();
            return r.status;
          }),
        );
        for (const s of batch) statuses.set(s, (statuses.get(s) ?? 0) + 1);
      }
      for (const s of statuses.keys()) expect(s === 101 || (s >= 400 && s < 500), `status ${s}`).toBe(true);
      console.log(`live header fuzz (seed ${SEED}): ${JSON.stringify(Object.fromEntries(statuses))}`);
      const ok = await rawClient(h.listener.jsonUrl, { Authorization: `Bearer ${GOOD_TOKEN}` });
      ok.ws.send('["t/"]');
      expect(JSON.parse((await ok.waitTexts(1))[0]!)).toMatchObject({ type: 'ack' });
      ok.close();
    } finally {
      await h.close();
    }
  }, 30_000);
});
