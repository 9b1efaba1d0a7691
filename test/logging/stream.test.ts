/** Log streams: Zeek's default path, stream definitions, and records built from plain values. */
import { describe, expect, it } from 'vitest';
import {
  CONN_LOG,
  KNOWN_HOSTS_LOG,
  ValueError,
  address,
  count,
  defineLogStream,
  enumValue,
  fromRecord,
  none,
  port,
  set,
  string,
  toRecord,
  toText,
  vector,
  type LogColumnType,
} from 'isobroker';
import { checkRecord, defaultLogPath } from '../../src/internal.js';

describe('defaultLogPath (Zeek Log::default_path_func)', () => {
  it.each([
    ['Conn::LOG', 'conn'],
    ['HTTP::LOG', 'http'],
    ['DNS::LOG', 'dns'],
    ['X509::LOG', 'x509'],
    ['PacketFilter::LOG', 'packet_filter'],
    ['OpenFlow::LOG', 'open_flow'],
    ['FooBarBaz::LOG', 'foo_bar_baz'],
    ['FooBarBazQux::LOG', 'foo_bar_baz_qux'],
    // Zeek keeps the first two camel-case breaks only: the fifth word is dropped.
    ['AbcDefGhiJklMno::LOG', 'abc_def_ghi_jkl'],
    // The module part is split on /[^A-Z][A-Z][a-z]*/, so an underscore counts as a break.
    ['DCE_RPC::LOG', 'dce__r_pc'],
    ['Known::HOSTS_LOG', 'known_hosts'],
    ['Notice::ALARM_LOG', 'notice_alarm'],
    ['Notice::POLICY_LOG', 'notice_policy'],
    ['SMB::FILES_LOG', 'smb_files'],
    ['Foo::BAR', 'foo_bar'],
    ['A::B::LOG', 'a_b::log'],
    ['Standalone', 'standalone'],
  ])('%s → %s', (id, path) => {
    expect(defaultLogPath(id)).toBe(path);
  });
});

describe('defineLogStream', () => {
  it('derives the path, freezes the result and indexes the columns', () => {
    const s = defineLogStream({
      id: 'Software::LOG',
      columns: [
        { name: 'ts', type: 'time' },
        { name: 'name', type: 'string', optional: true },
      ],
    });
    expect(s.path).toBe('software');
    expect(Object.isFrozen(s) && Object.isFrozen(s.columns) && Object.isFrozen(s.columns[0])).toBe(true);
    expect(s.index.get('name')).toBe(1);
    expect(s.columns[1]).toMatchObject({ optional: true, container: undefined, element: 'string' });
    const t = defineLogStream({
      id: 'X::LOG',
      path: 'x',
      columns: [
        { name: 's', type: 'set[addr]' },
        { name: 'v', type: 'vector[interval]' },
      ],
    });
    expect(t.columns.map((c) => [c.container, c.element])).toEqual([
      ['set', 'addr'],
      ['vector', 'interval'],
    ]);
  });

  it('rejects what Zeek could not log, naming it', () => {
    const col = (type: string) => [{ name: 'c', type: type as LogColumnType }];
    expect(() => defineLogStream({ id: 'A::LOG', columns: col('table') })).toThrow(
      /column 'c' of log stream A::LOG: unknown log column type 'table'/,
    );
    expect(() => defineLogStream({ id: 'A::LOG', columns: col('set[set[count]]') })).toThrow(ValueError);
    expect(() => defineLogStream({ id: 'A::LOG', columns: col('vector') })).toThrow(ValueError);
    expect(() => defineLogStream({ id: 'A::LOG', columns: [] })).toThrow(/at least one column/);
    expect(() => defineLogStream({ id: '', columns: col('count') })).toThrow(/non-empty id/);
    expect(() =>
      defineLogStream({
        id: 'A::LOG',
        columns: [
          { name: 'x', type: 'count' },
          { name: 'x', type: 'int' },
        ],
      }),
    ).toThrow(/two columns named 'x'/);
    for (const path of ['', '.', '..', 'a/b', '../conn', 'a\\b', 'a\0b']) {
      expect(() => defineLogStream({ id: 'A::LOG', path, columns: col('count') }), path).toThrow(/invalid log path/);
    }
    expect(() => defineLogStream({ id: 'A::LOG', columns: [{ name: 'n', type: 'count', default: -1 }] })).toThrow(
      /column 'n' of A::LOG \(count\): count -1 is outside/,
    );
  });
});

describe('the standard streams', () => {
  it('CONN_LOG has the #fields and #types of Zeek 8 conn.log (btest core.tunnels.ayiya/conn.log)', () => {
    expect(CONN_LOG.id).toBe('Conn::LOG');
    expect(CONN_LOG.path).toBe('conn');
    expect(CONN_LOG.columns.map((c) => c.name).join('\t')).toBe(
      'ts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\t' +
        'conn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\torig_pkts\torig_ip_bytes\tresp_pkts\t' +
        'resp_ip_bytes\ttunnel_parents\tip_proto',
    );
    expect(CONN_LOG.columns.map((c) => c.type).join('\t')).toBe(
      'time\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\tbool\tbool\tcount\t' +
        'string\tcount\tcount\tcount\tcount\tset[string]\tcount',
    );
    // Only ts, uid, the 4-tuple and proto are required (missed_bytes has &default=0).
    expect(CONN_LOG.columns.filter((c) => !c.optional && c.default === undefined).map((c) => c.name)).toEqual([
      'ts',
      'uid',
      'id.orig_h',
      'id.orig_p',
      'id.resp_h',
      'id.resp_p',
      'proto',
    ]);
    expect(KNOWN_HOSTS_LOG).toMatchObject({ id: 'Known::HOSTS_LOG', path: 'known_hosts' });
    expect(KNOWN_HOSTS_LOG.columns.map((c) => `${c.name}:${c.type}`)).toEqual(['ts:time', 'host:addr']);
  });
});

const conn = {
  ts: 1700000000.123456,
  uid: 'CHhAvVGS1DHFjwGM9',
  'id.orig_h': '10.0.0.1',
  'id.orig_p': 49152,
  'id.resp_h': '2001:db8::1',
  'id.resp_p': '53/udp',
  proto: 'udp',
};

describe('toRecord', () => {
  it('builds the Broker vector in column order with none for unset optional fields', () => {
    const r = toRecord(CONN_LOG, { ...conn, service: 'dns', tunnel_parents: new Set(['b', 'a', 'b']) });
    expect(r.type).toBe('vector');
    expect(r.elements).toHaveLength(CONN_LOG.columns.length);
    expect(r.elements.map((e) => e.type)).toEqual([
      'timestamp',
      'string',
      'address',
      'port',
      'address',
      'port',
      'enum-value',
      'string',
      'none',
      'none',
      'none',
      'none',
      'none',
      'none',
      'count',
      'none',
      'none',
      'none',
      'none',
      'none',
      'set',
      'none',
    ]);
    // The double 1700000000.123456 lies 1.28 ns above the decimal; the timestamp keeps it to the ns.
    expect(r.elements[0]).toEqual({ type: 'timestamp', ns: 1700000000123456001n });
    expect(r.elements[3]).toEqual(port(49152, 'tcp'));
    expect(r.elements[5]).toEqual(port(53, 'udp'));
    expect(r.elements[6]).toEqual(enumValue('udp'));
    expect(r.elements[14]).toEqual(count(0)); // &default=0
    expect(r.elements[20]).toEqual(set([string('a'), string('b')]));
  });

  it('takes values in column order and Broker values of the right type', () => {
    const values = CONN_LOG.columns.map(() => undefined as unknown);
    Object.values(conn).forEach((v, i) => {
      values[i] = v;
    });
    values[9] = count(5);
    values[14] = 7n;
    values[20] = set([string('x')]);
    const r = toRecord(CONN_LOG, values);
    expect(toText(r.elements[9]!)).toBe('5');
    expect(r.elements[14]).toEqual(count(7));
    expect(toRecord(CONN_LOG, { ...conn, 'id.orig_h': address('10.0.0.1') })).toEqual(toRecord(CONN_LOG, conn));
    expect(() => toRecord(CONN_LOG, values.slice(1))).toThrow(/has 22 values in column order, got 21/);
  });

  it('names the missing required column', () => {
    const { uid: _uid, ...rest } = conn;
    expect(() => toRecord(CONN_LOG, rest)).toThrow(ValueError);
    expect(() => toRecord(CONN_LOG, rest)).toThrow("missing value for column 'uid' (string) of Conn::LOG");
    expect(() => toRecord(CONN_LOG, { ...conn, ts: null })).toThrow(
      "missing value for column 'ts' (time) of Conn::LOG",
    );
  });

  it('names the column whose value does not fit', () => {
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ uid: 5 }, /column 'uid' of Conn::LOG \(string\): expected string, got number/],
      [{ 'id.orig_h': '10.0.0.256' }, /column 'id.orig_h' of Conn::LOG \(addr\): invalid address/],
      [{ 'id.orig_p': 70000 }, /column 'id.orig_p' of Conn::LOG \(port\): port number 70000/],
      [{ orig_bytes: -1 }, /column 'orig_bytes' of Conn::LOG \(count\): count -1/],
      [{ orig_bytes: 1.5 }, /column 'orig_bytes' .*must be an integer/],
      [{ duration: 'long' }, /column 'duration' of Conn::LOG \(interval\): expected interval, got string/],
      [{ local_orig: 'T' }, /column 'local_orig' .*expected bool, got string/],
      [{ ts: count(1) }, /column 'ts' .*expected time, got a Broker count/],
      [{ tunnel_parents: 'C1' }, /column 'tunnel_parents' .*expected an iterable/],
      [
        { tunnel_parents: [1] },
        /column 'tunnel_parents' of Conn::LOG \(set\[string\]\): expected string elements, got number/,
      ],
      [
        { tunnel_parents: vector([string('a')]) },
        /column 'tunnel_parents' .*expected set\[string\], got a Broker vector/,
      ],
      [{ tunnel_parents: set([count(1)]) }, /column 'tunnel_parents' .*holds a Broker count element/],
      [{ nope: 1 }, /Conn::LOG has no column 'nope'/],
    ];
    for (const [patch, message] of bad)
      expect(() => toRecord(CONN_LOG, { ...conn, ...patch }), message.source).toThrow(message);
    expect(() => toRecord(CONN_LOG, 'x' as never)).toThrow(/an object or an array/);
  });

  it('converts every column type from plain values', () => {
    const all = defineLogStream({
      id: 'All::LOG',
      columns: [
        { name: 'b', type: 'bool' },
        { name: 'i', type: 'int' },
        { name: 'd', type: 'double' },
        { name: 't', type: 'time' },
        { name: 'iv', type: 'interval' },
        { name: 'sn', type: 'subnet' },
        { name: 'e', type: 'enum' },
        { name: 'vc', type: 'vector[count]' },
      ],
    });
    const r = toRecord(all, {
      b: true,
      i: -42,
      d: 3.14,
      t: new Date(1000),
      iv: 1.5,
      sn: '10.0.0.1/24',
      e: 'SSH::LOG',
      vc: [10, null, 30],
    });
    expect(r.elements.map(toText)).toEqual([
      'T',
      '-42',
      '3.14',
      '1970-01-01T00:00:01.000',
      '1500ms',
      '10.0.0.0/24',
      'SSH::LOG',
      '[10, nil, 30]',
    ]);
    const plain = { b: false, i: 0, d: 0, t: 0, iv: 0, sn: '::/0', e: 'x' };
    expect(() => toRecord(all, { ...plain, vc: [1, 'x'] })).toThrow(
      /column 'vc' of All::LOG \(vector\[count\]\): expected count elements, got string/,
    );
  });
});

describe('checkRecord and fromRecord', () => {
  it('accepts a record of the stream and gives its fields by name', () => {
    const r = toRecord(KNOWN_HOSTS_LOG, { ts: 1, host: '10.1.2.3' });
    expect(checkRecord(KNOWN_HOSTS_LOG, r)).toBe(r);
    const f = fromRecord(CONN_LOG, toRecord(CONN_LOG, { ...conn, service: 'dns' }));
    expect(Object.keys(f)).toEqual([
      'ts',
      'uid',
      'id.orig_h',
      'id.orig_p',
      'id.resp_h',
      'id.resp_p',
      'proto',
      'service',
      'missed_bytes',
    ]);
    expect(toText(f['id.resp_h']!)).toBe('2001:db8::1');
  });

  it('rejects other shapes, naming the column', () => {
    expect(() => checkRecord(KNOWN_HOSTS_LOG, string('x'))).toThrow(/must be a Broker vector/);
    expect(() => checkRecord(KNOWN_HOSTS_LOG, vector([none()]))).toThrow(/has 2 fields, got 1/);
    expect(() => checkRecord(KNOWN_HOSTS_LOG, vector([none(), address('10.0.0.1')]))).toThrow(
      "column 'ts' (time) of Known::HOSTS_LOG is unset but not optional",
    );
    expect(() => checkRecord(KNOWN_HOSTS_LOG, vector([count(1), address('10.0.0.1')]))).toThrow(
      /column 'ts' of Known::HOSTS_LOG \(time\): expected time, got a Broker count/,
    );
  });
});
