/** Reading TSV logs back: header, raw rows, zeek-cut, typed values, and format → parse round trips. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CONN_LOG,
  DecodeError,
  ValueError,
  address,
  boolean,
  count,
  createJsonFormat,
  createTsvFormat,
  defineLogStream,
  enumValue,
  equals,
  integer,
  none,
  parseZeekTsv,
  port,
  real,
  set,
  string,
  subnet,
  timespan,
  timestamp,
  toRecord,
  toText,
  vector,
  zeekCut,
  type Data,
  type LogStream,
  type SetData,
  type VectorData,
} from 'isobroker';
import { parseZeekTsvValue, zeekTsvRecords } from '../../src/internal.js';

const tsv = createTsvFormat({ timeZone: 'utc' });
const OPEN = Date.UTC(2026, 10, 26, 14, 40, 0);

function file(stream: LogStream, records: readonly Data[], close = true): string {
  return (
    tsv.header(stream, OPEN) +
    records.map((r) => `${tsv.record(stream, r)}\n`).join('') +
    (close ? tsv.footer(stream, OPEN + 60_000) : '')
  );
}

const conn = (uid: string, extra: Record<string, unknown> = {}): VectorData =>
  toRecord(CONN_LOG, {
    ts: 1700000000.5,
    uid,
    'id.orig_h': '10.0.0.1',
    'id.orig_p': 1234,
    'id.resp_h': '2001:db8::1',
    'id.resp_p': '53/udp',
    proto: 'udp',
    ...extra,
  });

describe('parseZeekTsv', () => {
  it('reads the header and the raw rows', () => {
    const log = parseZeekTsv(
      file(CONN_LOG, [conn('C1', { service: 'dns', tunnel_parents: ['a,b', 'c'] }), conn('C2')]),
    );
    expect(log.header).toEqual({
      separator: '\t',
      setSeparator: ',',
      emptyField: '(empty)',
      unsetField: '-',
      path: 'conn',
      open: '2026-11-26-14-40-00',
      close: '2026-11-26-14-41-00',
      fields: CONN_LOG.columns.map((c) => c.name),
      types: CONN_LOG.columns.map((c) => c.type),
    });
    expect(log.rows).toHaveLength(2);
    expect(zeekCut(log, ['uid', 'service', 'id.resp_p', 'tunnel_parents'])).toEqual([
      ['C1', 'dns', '53', 'a\\x2cb,c'],
      ['C2', '-', '53', '-'],
    ]);
    expect(() => zeekCut(log, ['nope'])).toThrow(ValueError);
  });

  it('reads an open file, other separators, and files one after another', () => {
    const open = parseZeekTsv(file(CONN_LOG, [conn('C1')], false));
    expect(open.header.close).toBeUndefined();
    const pipe = createTsvFormat({ separator: '|', setSeparator: ';', timeZone: 'utc' });
    const s = defineLogStream({
      id: 'P::LOG',
      columns: [
        { name: 'v', type: 'vector[string]' },
        { name: 'n', type: 'count' },
      ],
    });
    const text = `${pipe.header(s, OPEN)}${pipe.record(s, toRecord(s, [['a|b', 'c;d'], 1]))}\n`;
    expect(() => parseZeekTsv(text + file(CONN_LOG, [conn('C9')]))).toThrow(/line 16: a second log with other #fields/);
    const both = parseZeekTsv(file(CONN_LOG, [conn('C1')]) + file(CONN_LOG, [conn('C2'), conn('C3')], false));
    expect(zeekCut(both, ['uid'])).toEqual([['C1'], ['C2'], ['C3']]);
    expect(both.header.close).toBeUndefined();
    const first = parseZeekTsv(text);
    expect(first.header).toMatchObject({ separator: '|', setSeparator: ';', fields: ['v', 'n'] });
    expect(first.rows).toEqual([['a\\x7cb;c\\x3bd', '1']]);
    expect(zeekTsvRecords(first)[0]).toEqual(toRecord(s, [['a|b', 'c;d'], 1]));
  });

  it('rejects what is not a Zeek TSV log', () => {
    expect(() => parseZeekTsv('{"a":1}\n')).toThrow(DecodeError);
    const text = file(CONN_LOG, [conn('C1')]).replace('\tC1\t', '\tC1\tEXTRA\t');
    expect(() => parseZeekTsv(text)).toThrow(/line 9: 23 fields where #fields names 22/);
  });
});

describe('parseZeekTsvValue', () => {
  it('reads every type, the markers and escapes', () => {
    const cases: [string, string, Data][] = [
      ['-', 'count', none()],
      ['T', 'bool', boolean(true)],
      ['18446744073709551615', 'count', count(18446744073709551615n)],
      ['-9223372036854775808', 'int', integer(-9223372036854775808n)],
      ['1.5', 'double', real(1.5)],
      ['-inf', 'double', real(-Infinity)],
      ['1700000000.123456', 'time', timestamp(1700000000123456000n)],
      ['-0.500000', 'interval', timespan(-500000000n)],
      ['0.0000000015', 'interval', timespan(2n)],
      ['::1.2.3.4', 'addr', address('::102:304')],
      ['10.0.0.0/8', 'subnet', subnet('10.0.0.0/8')],
      ['80', 'port', port(80, 'unknown')],
      ['53/udp', 'port', port(53, 'udp')],
      ['(empty)', 'string', string('')],
      ['\\x2d', 'string', string('-')],
      ['\\x28empty)', 'string', string('(empty)')],
      ['a\\\\x41\\x41', 'string', string('a\\x41A')],
      ['\\xc3\\xa9\\x09', 'enum', enumValue('é\t')],
      ['(empty)', 'set[count]', set()],
      ['3,1,1', 'set[count]', set([count(1), count(3)])],
      ['1,-,3', 'vector[count]', vector([count(1), none(), count(3)])],
      ['(empty),\\x2c', 'vector[string]', vector([string(''), string(',')])],
    ];
    for (const [text, type, value] of cases)
      expect(toText(parseZeekTsvValue(text, type)), `${type} ${text}`).toBe(toText(value));
    for (const [text, type] of [
      ['x', 'count'],
      ['1.5', 'count'],
      ['Y', 'bool'],
      ['1.2.3', 'addr'],
      ['abc', 'time'],
      ['\\xff', 'string'],
      ['1', 'table'],
    ]) {
      expect(() => parseZeekTsvValue(text!, type!), `${type} ${text}`).toThrow(ValueError);
    }
  });

  it('cannot tell {""} from {}, nor [nil] from unset — Zeek\'s format writes them alike', () => {
    const s = defineLogStream({
      id: 'S::LOG',
      columns: [
        { name: 'ss', type: 'set[string]' },
        { name: 'v', type: 'vector[count]', optional: true },
      ],
    });
    expect(tsv.record(s, toRecord(s, [[''], [null]]))).toBe('(empty)\t-');
    expect(tsv.record(s, toRecord(s, [[], null]))).toBe('(empty)\t-');
  });
});

/** A stream with every column type, all optional. */
const ALL = defineLogStream({
  id: 'All::LOG',
  columns: (
    [
      ['ts', 'time'],
      ['b', 'bool'],
      ['c', 'count'],
      ['i', 'int'],
      ['d', 'double'],
      ['iv', 'interval'],
      ['s', 'string'],
      ['a', 'addr'],
      ['sn', 'subnet'],
      ['p', 'port'],
      ['e', 'enum'],
      ['ss', 'set[string]'],
      ['sa', 'set[addr]'],
      ['vc', 'vector[count]'],
      ['vs', 'vector[string]'],
      ['vi', 'vector[interval]'],
      ['sd', 'set[double]'],
    ] as const
  ).map(([name, type]) => ({ name, type, optional: true })),
});

/** Characters that exercise every escape: markers, separators, backslashes, controls, bad and good UTF-8. */
const tricky = fc
  .array(
    fc.constantFrom(
      'a',
      'Z',
      '-',
      '(',
      ')',
      'empty',
      '\\',
      'x',
      '4',
      '1',
      '#',
      ',',
      '\t',
      '\n',
      '\0',
      '\x7f',
      '\u0085',
      'é',
      '\ue000',
      '\ufff0',
      '🚀',
      ' ',
    ),
    { maxLength: 8 },
  )
  .map((cs) => cs.join(''));
const text = fc.oneof(
  tricky,
  fc.string({ unit: 'grapheme', maxLength: 12 }),
  fc.constantFrom('', '-', '(empty)', '#x', '\\x41'),
);

// Values exact at the log's precision: times and intervals to the microsecond, doubles with at
// most six decimals (NaN and ±inf too); a TSV log keeps a port's number, not its protocol.
const micros = (max: number) => fc.integer({ min: -max, max }).map((us) => BigInt(us) * 1000n);
const tsNs = fc.bigInt({ min: -(2n ** 31n) * 1_000_000n, max: 2n ** 32n * 1_000_000n - 1n }).map((us) => us * 1000n);
const double = fc.oneof(
  fc.integer({ min: -(2 ** 50), max: 2 ** 50 }).map((k) => k / 1e6),
  fc.constantFrom(NaN, Infinity, -Infinity, 0),
);
const addr = fc
  .oneof(fc.uint8Array({ minLength: 4, maxLength: 4 }), fc.uint8Array({ minLength: 16, maxLength: 16 }))
  .map((b) => address(b));
const maybe = <T extends Data>(a: fc.Arbitrary<T>): fc.Arbitrary<Data> => fc.option(a, { nil: none(), freq: 4 });
/** A container holding just "" reads back as empty, a vector of one hole as unset (see above). */
const ambiguous = (c: SetData | VectorData): boolean =>
  c.elements.length === 1 &&
  (c.elements[0]!.type === 'none' || (c.elements[0]!.type === 'string' && c.elements[0]!.value === ''));

const allRecord = fc
  .tuple(
    maybe(tsNs.map(timestamp)),
    maybe(fc.boolean().map(boolean)),
    maybe(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(count)),
    maybe(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(integer)),
    maybe(double.map(real)),
    maybe(micros(2 ** 45).map(timespan)),
    maybe(text.map(string)),
    maybe(addr),
    maybe(
      fc
        .tuple(addr, fc.integer({ min: 0, max: 128 }))
        .map(([a, n]) =>
          subnet(
            a,
            a.bytes[10] === 0xff && a.bytes[11] === 0xff && a.bytes.slice(0, 10).every((x) => x === 0) ? n % 33 : n,
          ),
        ),
    ),
    maybe(fc.integer({ min: 0, max: 65535 }).map((n) => port(n, 'unknown'))),
    maybe(text.map(enumValue)),
    maybe(
      fc
        .array(text, { maxLength: 4 })
        .map((xs) => set(xs.map(string)))
        .filter((c) => !ambiguous(c)),
    ),
    maybe(fc.array(addr, { maxLength: 4 }).map((xs) => set(xs))),
    maybe(
      fc
        .array(maybe(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(count)), { maxLength: 4 })
        .map(vector)
        .filter((c) => !ambiguous(c)),
    ),
    maybe(
      fc
        .array(text, { maxLength: 4 })
        .map((xs) => vector(xs.map(string)))
        .filter((c) => !ambiguous(c)),
    ),
    maybe(fc.array(micros(2 ** 40).map(timespan), { maxLength: 3 }).map(vector)),
    maybe(fc.array(double.map(real), { maxLength: 3 }).map((xs) => set(xs))),
  )
  .map((fields): VectorData => vector(fields));

describe('format → parse round trip', () => {
  it('gives back every field of conn records', () => {
    const records = [
      conn('C1', {
        service: 'dns',
        duration: 0.000123,
        orig_bytes: 0,
        local_orig: false,
        history: 'Dd',
        tunnel_parents: ['Cx', 'C,y'],
        ip_proto: 17,
      }),
      conn('#C2', { service: '', conn_state: '-', history: '(empty)' }),
    ];
    const back = zeekTsvRecords(parseZeekTsv(file(CONN_LOG, records)));
    expect(back.map((r) => r.elements.map(toText))).toEqual(
      records.map((r) =>
        r.elements.map((e, i) => toText(i === 3 || i === 5 ? (e.type === 'port' ? port(e.number, 'unknown') : e) : e)),
      ),
    );
  });

  it('gives back every field of random records of a stream with every column type', () => {
    fc.assert(
      fc.property(fc.array(allRecord, { minLength: 1, maxLength: 5 }), (records) => {
        const log = parseZeekTsv(file(ALL, records));
        expect(log.header.fields).toEqual(ALL.columns.map((c) => c.name));
        const back = zeekTsvRecords(log);
        expect(back).toHaveLength(records.length);
        back.forEach((r, n) => {
          r.elements.forEach((v, i) => {
            const want = records[n]!.elements[i]!;
            if (!equals(v, want))
              throw new Error(`record ${n}, column ${ALL.columns[i]!.name}: wrote ${toText(want)}, read ${toText(v)}`);
          });
        });
        // The same records as JSON lines: one object per line with the set fields' names.
        const json = createJsonFormat();
        for (const r of records) {
          const o = JSON.parse(json.record(ALL, r)) as Record<string, unknown>;
          expect(Object.keys(o)).toEqual(
            ALL.columns.filter((_, i) => r.elements[i]!.type !== 'none').map((c) => c.name),
          );
        }
      }),
      { numRuns: 300 },
    );
  });
});
