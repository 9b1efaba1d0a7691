/**
 * Zeek's ASCII writer, TSV and JSON, checked byte for byte against Zeek's own btest baselines
 * (zeek/zeek `testing/btest/Baseline/…`, cited per test). The baselines mask times as
 * `XXXXXXXXXX.XXXXXX` and `XXXX-XX-XX-XX-XX-XX`; here they are filled with known values.
 */
import { describe, expect, it } from 'vitest';
import {
  CONN_LOG,
  ValueError,
  address,
  count,
  createJsonFormat,
  createTsvFormat,
  defineLogStream,
  none,
  real,
  string,
  timestampFromSeconds,
  toRecord,
  vector,
  type LogColumnType,
  type LogStream,
} from 'isobroker';
import {
  formatJsonDouble,
  formatLogStamp,
  formatLogValue,
  formatTsvDouble,
  formatZeekAddress,
} from '../../src/internal.js';

const OPEN = Date.UTC(2026, 10, 26, 14, 40, 0);
const CLOSE = Date.UTC(2026, 10, 26, 15, 0, 0);
const tsv = createTsvFormat({ timeZone: 'utc' });

function tsvFile(stream: LogStream, rows: readonly (Readonly<Record<string, unknown>> | readonly unknown[])[]): string {
  let out = tsv.header(stream, OPEN);
  for (const r of rows) out += `${tsv.record(stream, toRecord(stream, r))}\n`;
  return out + tsv.footer(stream, CLOSE);
}

/** Fills the masked times of a baseline, in order. */
function unmask(baseline: string, times: readonly string[]): string {
  let i = 0;
  return baseline
    .replace(/XXXXXXXXXX\.XXXXXX/g, () => times[i++]!)
    .replace('#open\tXXXX-XX-XX-XX-XX-XX', '#open\t2026-11-26-14-40-00')
    .replace('#close\tXXXX-XX-XX-XX-XX-XX', '#close\t2026-11-26-15-00-00');
}

const oneColumn = (type: LogColumnType, name = 's'): LogStream =>
  defineLogStream({ id: 'Test::LOG', columns: [{ name, type, optional: true }] });

describe('TSV: a whole conn.log', () => {
  it('matches Zeek byte for byte (btest Baseline/core.tunnels.ayiya/conn.log)', () => {
    const baseline = [
      '#separator \\x09',
      '#set_separator\t,',
      '#empty_field\t(empty)',
      '#unset_field\t-',
      '#path\tconn',
      '#open\tXXXX-XX-XX-XX-XX-XX',
      '#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents\tip_proto',
      '#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\tbool\tbool\tcount\tstring\tcount\tcount\tcount\tcount\tset[string]\tcount',
      'XXXXXXXXXX.XXXXXX\tCP5puj4I8PtEU4qzYg\t::\t135\tff02::1:ff00:2\t136\ticmp\t-\t-\t-\t-\tOTH\tT\tF\t0\t-\t1\t64\t0\t0\tC4J4Th3PJpwUYZZ6gc\t58',
      'XXXXXXXXXX.XXXXXX\tCHhAvVGS1DHFjwGM9\t192.168.3.101\t53796\t216.14.98.22\t5072\tudp\tayiya\t-\t-\t-\tSHR\tT\tF\t0\t^d\t0\t0\t1\t176\t-\t17',
      'XXXXXXXXXX.XXXXXX\tC4J4Th3PJpwUYZZ6gc\t192.168.3.101\t53859\t216.14.98.22\t5072\tudp\tayiya\t20.879001\t5129\t6109\tSF\tT\tF\t0\tDd\t21\t5717\t13\t6473\t-\t17',
      'XXXXXXXXXX.XXXXXX\tC37jN32gN3y3AZzyf6\t2001:4978:f:4c::2\t53382\t2001:4860:b002::68\t80\ttcp\thttp\t2.101052\t2981\t4665\tS1\tF\tF\t0\tShADad\t10\t3605\t11\t5329\tC4J4Th3PJpwUYZZ6gc\t6',
      // Zeek writes set elements in its hash table's order (here CHhAv…,C4J4…); a Broker set is
      // sorted, so this one line has the two elements the other way round.
      'XXXXXXXXXX.XXXXXX\tClEkJM2Vm5giqnMf4h\t2001:4978:f:4c::1\t128\t2001:4978:f:4c::2\t129\ticmp\t-\t23.834987\t168\t56\tOTH\tF\tF\t0\t-\t3\t312\t1\t104\tC4J4Th3PJpwUYZZ6gc,CHhAvVGS1DHFjwGM9\t58',
      'XXXXXXXXXX.XXXXXX\tCmES5u32sYpV7JYN\tfe80::216:cbff:fe9a:4cb9\t131\tff02::1:ff00:2\t130\ticmp\t-\t0.919988\t32\t0\tOTH\tT\tF\t0\t-\t2\t144\t0\t0\tC4J4Th3PJpwUYZZ6gc\t58',
      'XXXXXXXXXX.XXXXXX\tCtPZjS20MLrsMUOJi2\tfe80::216:cbff:fe9a:4cb9\t131\tff02::1:ff9a:4cb9\t130\ticmp\t-\t4.922880\t32\t0\tOTH\tT\tF\t0\t-\t2\t144\t0\t0\tC4J4Th3PJpwUYZZ6gc\t58',
      'XXXXXXXXXX.XXXXXX\tCUM0KZ3MLUfNB0cl11\tfe80::216:cbff:fe9a:4cb9\t131\tff02::2:f901:d225\t130\ticmp\t-\t0.719947\t32\t0\tOTH\tT\tF\t0\t-\t2\t144\t0\t0\tC4J4Th3PJpwUYZZ6gc\t58',
      '#close\tXXXX-XX-XX-XX-XX-XX',
      '',
    ].join('\n');
    const ts = [
      '1257655293.629048',
      '1257655296.585034',
      '1257655296.585188',
      '1257655299.488746',
      '1257655300.250000',
      '1257655301.000001',
      '1257655302.999999',
      '1257655313.000000',
    ];
    const C4 = 'C4J4Th3PJpwUYZZ6gc';
    const rows: unknown[][] = [
      [
        ts[0],
        'CP5puj4I8PtEU4qzYg',
        '::',
        '135/icmp',
        'ff02::1:ff00:2',
        '136/icmp',
        'icmp',
        null,
        null,
        null,
        null,
        'OTH',
        true,
        false,
        0,
        null,
        1,
        64,
        0,
        0,
        [C4],
        58,
      ],
      [
        ts[1],
        'CHhAvVGS1DHFjwGM9',
        '192.168.3.101',
        '53796/udp',
        '216.14.98.22',
        '5072/udp',
        'udp',
        'ayiya',
        null,
        null,
        null,
        'SHR',
        true,
        false,
        0,
        '^d',
        0,
        0,
        1,
        176,
        null,
        17,
      ],
      [
        ts[2],
        C4,
        '192.168.3.101',
        '53859/udp',
        '216.14.98.22',
        '5072/udp',
        'udp',
        'ayiya',
        20.879001,
        5129,
        6109,
        'SF',
        true,
        false,
        0,
        'Dd',
        21,
        5717,
        13,
        6473,
        null,
        17,
      ],
      [
        ts[3],
        'C37jN32gN3y3AZzyf6',
        '2001:4978:f:4c::2',
        53382,
        '2001:4860:b002::68',
        80,
        'tcp',
        'http',
        2.101052,
        2981,
        4665,
        'S1',
        false,
        false,
        0,
        'ShADad',
        10,
        3605,
        11,
        5329,
        [C4],
        6,
      ],
      [
        ts[4],
        'ClEkJM2Vm5giqnMf4h',
        '2001:4978:f:4c::1',
        '128/icmp',
        '2001:4978:f:4c::2',
        '129/icmp',
        'icmp',
        null,
        23.834987,
        168,
        56,
        'OTH',
        false,
        false,
        0,
        null,
        3,
        312,
        1,
        104,
        ['CHhAvVGS1DHFjwGM9', C4],
        58,
      ],
      [
        ts[5],
        'CmES5u32sYpV7JYN',
        'fe80::216:cbff:fe9a:4cb9',
        '131/icmp',
        'ff02::1:ff00:2',
        '130/icmp',
        'icmp',
        null,
        0.919988,
        32,
        0,
        'OTH',
        true,
        false,
        0,
        null,
        2,
        144,
        0,
        0,
        [C4],
        58,
      ],
      [
        ts[6],
        'CtPZjS20MLrsMUOJi2',
        'fe80::216:cbff:fe9a:4cb9',
        '131/icmp',
        'ff02::1:ff9a:4cb9',
        '130/icmp',
        'icmp',
        null,
        4.92288,
        32,
        0,
        'OTH',
        true,
        false,
        0,
        null,
        2,
        144,
        0,
        0,
        [C4],
        58,
      ],
      [
        ts[7],
        'CUM0KZ3MLUfNB0cl11',
        'fe80::216:cbff:fe9a:4cb9',
        '131/icmp',
        'ff02::2:f901:d225',
        '130/icmp',
        'icmp',
        null,
        0.719947,
        32,
        0,
        'OTH',
        true,
        false,
        0,
        null,
        2,
        144,
        0,
        0,
        [C4],
        58,
      ],
    ].map((r) => [Number(r[0]), ...r.slice(1)]);
    expect(tsvFile(CONN_LOG, rows)).toBe(unmask(baseline, ts));
  });

  it('writes #open/#close in local time by default, as Zeek (strftime of localtime)', () => {
    const saved = process.env.TZ;
    process.env.TZ = 'America/New_York';
    try {
      const local = createTsvFormat();
      expect(local.header(CONN_LOG, OPEN)).toContain('\n#open\t2026-11-26-09-40-00\n');
      expect(local.footer(CONN_LOG, CLOSE)).toBe('#close\t2026-11-26-10-00-00\n');
      expect(formatLogStamp(OPEN, 'utc')).toBe('2026-11-26-14-40-00');
    } finally {
      if (saved === undefined) delete process.env.TZ;
      else process.env.TZ = saved;
    }
  });
});

describe('TSV: values', () => {
  it('writes every column type (the records of btest logging/ascii-json.zeek)', () => {
    const all = defineLogStream({
      id: 'SSH::LOG',
      columns: (
        [
          ['b', 'bool'],
          ['i', 'int'],
          ['e', 'enum'],
          ['c', 'count'],
          ['p', 'port'],
          ['sn', 'subnet'],
          ['a', 'addr'],
          ['d', 'double'],
          ['t', 'time'],
          ['iv', 'interval'],
          ['s', 'string'],
          ['sc', 'set[count]'],
          ['ss', 'set[string]'],
          ['se', 'set[string]'],
          ['vc', 'vector[count]'],
          ['ve', 'vector[string]'],
          ['vn', 'vector[count]'],
        ] as const
      ).map(([name, type]) => ({ name, type })),
    });
    const t = Date.UTC(2008, 6, 9, 16, 13, 30) / 1000 + 0.54321;
    const values = {
      b: true,
      i: -42,
      e: 'SSH::LOG',
      c: 21,
      p: '123/tcp',
      sn: '10.0.0.1/24',
      a: '1.2.3.4',
      d: 3.14,
      t,
      iv: 100,
      s: 'hurz',
      sc: [1, 2, 3, 4],
      ss: ['AA', 'BB', 'CC'],
      se: [],
      vc: [10, 20, 30],
      ve: [],
      vn: [0, null, 2],
    };
    expect(tsv.record(all, toRecord(all, values))).toBe(
      'T\t-42\tSSH::LOG\t21\t123\t10.0.0.0/24\t1.2.3.4\t3.14\t1215620010.543210\t100.000000\thurz\t1,2,3,4\tAA,BB,CC\t(empty)\t10,20,30\t(empty)\t0,-,2',
    );
    // btest Baseline/scripts.base.frameworks.logging.ascii-json/ssh.log, with Broker's sorted sets.
    expect(createJsonFormat().record(all, toRecord(all, values))).toBe(
      '{"b":true,"i":-42,"e":"SSH::LOG","c":21,"p":123,"sn":"10.0.0.0/24","a":"1.2.3.4","d":3.14,"t":1215620010.54321,' +
        '"iv":100.0,"s":"hurz","sc":[1,2,3,4],"ss":["AA","BB","CC"],"se":[],"vc":[10,20,30],"ve":[],"vn":[0,null,2]}',
    );
  });

  it('writes doubles as Zeek does (btest Baseline/…logging.ascii-double/test.log and json.log)', () => {
    const dmax = 1.79e308;
    const inputs = [
      2153226000.0,
      2153226000.1,
      // biome-ignore lint/correctness/noPrecisionLoss: the literal is Zeek's test input; the test is about how the rounded double prints
      2153226000.123456789,
      1.0,
      1.1,
      1.123456789,
      -1.123456789,
      1.1234,
      0.1234,
      5e4,
      -5e4,
      3.14e15,
      -3.14e15,
      dmax,
      -dmax,
      1.23456789e-5,
      2.23e-308,
      -2.23e-308,
      dmax * 2,
      -dmax * 2,
      -0.0,
      NaN,
    ];
    const huge =
      '178999999999999996376899522972626047077637637819240219954027593177370961667659291027329061638406108931437333529420935752785895444161234074984843178962619172326295244262722141766382622299223626438470088150218987997954747866198184686628013966119769261150988554952970462018533787926725176560021258785656871583744.0';
    expect(inputs.map(formatTsvDouble)).toEqual([
      '2153226000.0',
      '2153226000.1',
      '2153226000.123457',
      '1.0',
      '1.1',
      '1.123457',
      '-1.123457',
      '1.1234',
      '0.1234',
      '50000.0',
      '-50000.0',
      '3140000000000000.0',
      '-3140000000000000.0',
      huge,
      `-${huge}`,
      '0.000012',
      '0.0',
      '-0.0',
      'inf',
      '-inf',
      '0.0',
      'nan',
    ]);
    expect(inputs.map(formatJsonDouble)).toEqual([
      '2153226000.0',
      '2153226000.1',
      '2153226000.123457',
      '1.0',
      '1.1',
      '1.123456789',
      '-1.123456789',
      '1.1234',
      '0.1234',
      '50000.0',
      '-50000.0',
      '3140000000000000.0',
      '-3140000000000000.0',
      '1.79e308',
      '-1.79e308',
      '0.0000123456789',
      '2.23e-308',
      '-2.23e-308',
      'null',
      'null',
      '-0.0',
      'null',
    ]);
    // Zeek's quirk: a value that rounds to 0 but is not within 1e-9 of it loses its ".0".
    expect([1e-7, -3e-7, 2.0000001, 1e-10].map(formatTsvDouble)).toEqual(['0', '-0', '2', '0.0']);
    // rapidjson switches to exponents below 1e-6 and from 1e21.
    expect([1e-7, 1.5e-7, 1e21, 1.5e22, 123456789012345680000].map(formatJsonDouble)).toEqual([
      '1e-7',
      '1.5e-7',
      '1e21',
      '1.5e22',
      '123456789012345680000.0',
    ]);
    const d = oneColumn('double', 'd');
    expect(tsv.record(d, vector([real(0.1 + 0.2)]))).toBe('0.3');
  });

  it('prints times and intervals with six decimals, negative ones too', () => {
    const s = defineLogStream({
      id: 'T::LOG',
      columns: [
        { name: 't', type: 'time' },
        { name: 'i', type: 'interval' },
      ],
    });
    const line = (t: number, i: number) => tsv.record(s, toRecord(s, [t, i]));
    // btest Baseline/…logging.ascii-timestamps/test.log
    expect(line(1234567890.01, 0.000001)).toBe('1234567890.010000\t0.000001');
    expect(line(2385642157, -1.5)).toBe('2385642157.000000\t-1.500000');
    expect(line(-315619200, 0.0000004)).toBe('-315619200.000000\t0.000000');
    // biome-ignore lint/correctness/noPrecisionLoss: the literal is Zeek's test input; the test is about how the rounded double prints
    expect(line(1234567890.0000001, 3600)).toBe('1234567890.000000\t3600.000000');
  });

  it('prints addresses as Zeek does, with its IPv4-in-IPv6 forms', () => {
    const cases: [string, string][] = [
      ['10.0.0.1', '10.0.0.1'],
      ['::', '::'],
      ['::1', '::1'],
      ['::2', '::2'],
      ['::0.1.0.0', '::0.1.0.0'],
      ['::1.2.3.4', '::1.2.3.4'],
      ['::ffff:0:1.2.3.4', '::ffff:0:1.2.3.4'],
      ['::ffff:1.2.3.4', '1.2.3.4'],
      ['2001:db8::1', '2001:db8::1'],
      ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
      ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'],
      ['1:0:2:3:4:5:6:7', '1:0:2:3:4:5:6:7'],
      ['fe80::', 'fe80::'],
      ['1::', '1::'],
    ];
    for (const [text, zeek] of cases) expect(formatZeekAddress(address(text).bytes), text).toBe(zeek);
    const sn = oneColumn('subnet');
    expect(tsv.record(sn, toRecord(sn, ['2001:db8::1/32']))).toBe('2001:db8::/32');
  });
});

describe('TSV: escaping', () => {
  const s = oneColumn('string');
  const ss = oneColumn('set[string]', 'ss');
  const line = (v: string) => tsv.record(s, vector([string(v)]));

  it('marks unset and empty fields and escapes values equal to the markers', () => {
    // btest Baseline/…logging.ascii-escape-notset-str/test.log: x="-", y unset, z="".
    const xyz = defineLogStream({
      id: 'Test::LOG',
      columns: ['x', 'y', 'z'].map((name) => ({ name, type: 'string' as const, optional: true })),
    });
    expect(tsv.record(xyz, toRecord(xyz, { x: '-', z: '' }))).toBe('\\x2d\t-\t(empty)');
    expect(line('(empty)')).toBe('\\x28empty)');
    expect(line('--')).toBe('--');
    // btest Baseline/…logging.ascii-escape-empty-str/test.log, empty_field = "EMPTY".
    const custom = createTsvFormat({ emptyField: 'EMPTY', timeZone: 'utc' });
    expect(custom.record(ss, toRecord(ss, [['EMPTY']]))).toBe('\\x45MPTY');
    expect(custom.header(ss, OPEN)).toContain('\n#empty_field\tEMPTY\n');
    expect(tsv.record(ss, toRecord(ss, [['', '-']]))).toBe('(empty),\\x2d');
  });

  it('escapes the set separator inside sets (btest …ascii-escape-set-separator and …utf8-enabled-set-separator-escape)', () => {
    expect(tsv.record(ss, toRecord(ss, [['AA', ',', ',,', 'CC']]))).toBe('\\x2c,\\x2c\\x2c,AA,CC'); // Zeek: hash order
    expect(line('a,b')).toBe('a,b'); // outside a set a comma is plain text
    const reg = createTsvFormat({ setSeparator: '\u00ae', timeZone: 'utc' });
    expect(reg.header(ss, OPEN)).toContain('\n#set_separator\t\\xc2\\xae\n');
    expect(reg.record(ss, toRecord(ss, [['\u00ae']]))).toBe('\\xc2\\xae');
    expect(reg.record(ss, toRecord(ss, [['a', 'b']]))).toBe('a\u00aeb');
  });

  it('escapes the separator, backslashes and stretches holding control characters', () => {
    // btest Baseline/…logging.ascii-utf8-enabled-control-characters/test.log
    expect(line('foo \n\t\0 bar')).toBe('foo \\x0a\\x09\\x00 bar');
    // btest Baseline/…logging.ascii-utf8-enabled/test.log: valid UTF-8 passes.
    expect(line('foo \u00ae bar')).toBe('foo \u00ae bar');
    expect(line('दुनिया को नमस्ते')).toBe('दुनिया को नमस्ते');
    expect(line('hello \u{2070e}')).toBe('hello \u{2070e}');
    // btest Baseline/…logging.ascii-escape-binary/test.log: a backslash is written "\\".
    expect(line('foo\x00bar\\0baz')).toBe('foo\\x00bar\\\\0baz');
    expect(line('AB\\xffCD\0')).toBe('AB\\\\xffCD\\x00');
    // A bad character escapes all non-ASCII of its stretch, not of the others.
    expect(line('é\x01é\té')).toBe('\\xc3\\xa9\\x01\\xc3\\xa9\\x09é');
    expect(line('\u0085 \ue000 \ufff0 \x7f')).toBe('\\xc2\\x85 \\xee\\x80\\x80 \\xef\\xbf\\xb0 \\x7f');
    expect(line('\u{10033c}')).toBe('\u{10033c}'); // only the BMP private-use area is bad
  });

  it('escapes a leading # so a record never reads as a header (btest …ascii-line-like-comment)', () => {
    const dc = defineLogStream({
      id: 'Test::LOG',
      columns: [
        { name: 'data', type: 'string' },
        { name: 'c', type: 'count' },
      ],
    });
    expect(['Test1', '#Kaputt', 'Test2'].map((data) => tsv.record(dc, toRecord(dc, { data, c: 42 })))).toEqual([
      'Test1\t42',
      '\\x23Kaputt\t42',
      'Test2\t42',
    ]);
  });

  it('escapes enums like strings and formats single values', () => {
    const e = oneColumn('enum');
    expect(tsv.record(e, toRecord(e, ['A\tB']))).toBe('A\\x09B');
    expect(formatLogValue(CONN_LOG.columns[0]!, timestampFromSeconds(1.5))).toBe('1.500000');
    expect(formatLogValue(CONN_LOG.columns[20]!, none())).toBe('-');
    expect(() => formatLogValue(CONN_LOG.columns[0]!, count(1))).toThrow(ValueError);
  });
});

describe('TSV: header and record shape', () => {
  it('writes the header Zeek writes, with the separators escaped', () => {
    const h = createTsvFormat({ separator: '|', timeZone: 'utc' }).header(oneColumn('count', 'n'), OPEN);
    expect(h).toBe(
      '#separator |\n#set_separator|,\n#empty_field|(empty)\n#unset_field|-\n#path|test\n#open|2026-11-26-14-40-00\n#fields|n\n#types|count\n',
    );
    expect(() => createTsvFormat({ separator: '' })).toThrow(ValueError);
  });

  it('rejects records that do not fit the stream, naming the column', () => {
    const k = defineLogStream({
      id: 'K::LOG',
      columns: [
        { name: 'a', type: 'addr' },
        { name: 'v', type: 'vector[count]' },
      ],
    });
    expect(() => tsv.record(k, vector([address('10.0.0.1')]))).toThrow('a record of K::LOG has 2 fields, got 1');
    expect(() => tsv.record(k, string('x'))).toThrow('a record of K::LOG must be a Broker vector');
    expect(() => tsv.record(k, vector([string('10.0.0.1'), none()]))).toThrow(
      "column 'a' (addr) of K::LOG: got a Broker string",
    );
    expect(() => tsv.record(k, vector([none(), vector([string('1')])]))).toThrow(
      "column 'v' (vector[count]) of K::LOG: got a Broker string",
    );
    expect(() => createJsonFormat().record(k, vector([count(1), none()]))).toThrow(
      "column 'a' (addr) of K::LOG: got a Broker count",
    );
  });
});

describe('JSON lines', () => {
  const s = oneColumn('string');
  const json = createJsonFormat();
  const line = (v: string) => json.record(s, vector([string(v)]));

  it('leaves unset fields out, or writes null (btest …ascii-json-optional)', () => {
    const opt = defineLogStream({
      id: 'T::LOG',
      columns: [
        { name: 'ts', type: 'time', optional: true },
        { name: 'msg', type: 'string' },
      ],
    });
    const r = toRecord(opt, { msg: 'Testing 1 2 3 ' });
    expect(json.record(opt, r)).toBe('{"msg":"Testing 1 2 3 "}');
    expect(createJsonFormat({ includeUnsetFields: true }).record(opt, r)).toBe('{"ts":null,"msg":"Testing 1 2 3 "}');
    expect(json.header(opt, OPEN) + json.footer(opt, CLOSE)).toBe('');
  });

  it("escapes strings as Zeek's HEX policy (btest Baseline/…logging.ascii-json-utf8/ssh.log.hex)", () => {
    const cases: [string, string][] = [
      ['a', '{"s":"a"}'],
      ['\b\f\n\r\t\x00\x15', String.raw`{"s":"\b\f\n\r\t\\x00\\x15"}`],
      ['\u00f1', '{"s":"\u00f1"}'],
      ['\u20a1', '{"s":"\u20a1"}'],
      ['\u08e1', '{"s":"\u08e1"}'],
      ['\u{1033c}', '{"s":"\u{1033c}"}'],
      ['\u{4033c}', '{"s":"\u{4033c}"}'],
      ['\u{10033c}', '{"s":"\u{10033c}"}'],
      ['\\\\', String.raw`{"s":"\\\\"}`],
      ['\t\\t\t', String.raw`{"s":"\t\\t\t"}`],
      ['\v\\v\v', String.raw`{"s":"\\x0b\\v\\x0b"}`],
      ['\n\\n\n', String.raw`{"s":"\n\\n\n"}`],
      ['\\x', String.raw`{"s":"\\x"}`],
      ['\x00', String.raw`{"s":"\\x00"}`],
      ['\x01', String.raw`{"s":"\\x01"}`],
      ['\x09', String.raw`{"s":"\t"}`],
      ['\x0d', String.raw`{"s":"\r"}`],
      ['\\\\x\\abc\\x.exe', String.raw`{"s":"\\\\x\\abc\\x.exe"}`],
      ['a rocket 🚀!', '{"s":"a rocket 🚀!"}'],
      ['a rocket 🚀!\x00 NUL\x00', String.raw`{"s":"a rocket \\xf0\\x9f\\x9a\\x80!\\x00 NUL\\x00"}`],
      ['\x07\b', String.raw`{"s":"\\x07\b"}`],
      ['\\a=\x07 \\b=\b \\t=\t \\n=\n', String.raw`{"s":"\\a=\\x07 \\b=\b \\t=\t \\n=\n"}`],
    ];
    for (const [input, expected] of cases) expect(line(input), JSON.stringify(input)).toBe(expected);
    const e = oneColumn('enum');
    expect(json.record(e, toRecord(e, ['A"B\x01']))).toBe(String.raw`{"s":"A\"B\\x01"}`);
  });

  it('writes times per LogAscii::json_timestamps (btest …ascii-negative-ts, …ascii-json-iso-timestamps)', () => {
    const t = oneColumn('time', 'ts');
    const at = (fmt: ReturnType<typeof createJsonFormat>, seconds: number) =>
      fmt.record(t, vector([timestampFromSeconds(seconds)]));
    expect(at(json, -315619200)).toBe('{"ts":-315619200.0}');
    expect(at(createJsonFormat({ timestamps: 'millis' }), -315619200)).toBe('{"ts":-315619200000}');
    const iso = createJsonFormat({ timestamps: 'iso8601' });
    expect(at(iso, -315619200)).toBe('{"ts":"1960-01-01T00:00:00.000000Z"}');
    const base = Date.UTC(2008, 6, 9, 16, 13, 30) / 1000;
    const times = [
      base + 0.0054321,
      Date.UTC(1986, 11, 1, 1, 1, 1) / 1000 + 0.9,
      -0.4,
      -0.5,
      -0.6,
      -1.0,
      -1.4,
      -1.5,
      -1.6,
      -99,
    ];
    expect(times.map((x) => JSON.parse(at(iso, x)).ts)).toEqual([
      '2008-07-09T16:13:30.005432Z',
      '1986-12-01T01:01:01.900000Z',
      '1969-12-31T23:59:59.600000Z',
      '1969-12-31T23:59:59.500000Z',
      '1969-12-31T23:59:59.400000Z',
      '1969-12-31T23:59:59.000000Z',
      '1969-12-31T23:59:58.600000Z',
      '1969-12-31T23:59:58.500000Z',
      '1969-12-31T23:59:58.400000Z',
      '1969-12-31T23:58:21.000000Z',
    ]);
    expect(() => createJsonFormat({ timestamps: 'nope' as never })).toThrow(ValueError);
  });

  it("writes a conn record as Zeek's JSON conn.log does", () => {
    const r = toRecord(CONN_LOG, {
      ts: 1700000000.123456,
      uid: 'CHhAvVGS1DHFjwGM9',
      'id.orig_h': '10.0.0.1',
      'id.orig_p': 49152,
      'id.resp_h': '10.0.0.2',
      'id.resp_p': 443,
      proto: 'tcp',
      duration: 0.25,
      conn_state: 'SF',
      local_orig: true,
      history: 'ShADadFf',
      tunnel_parents: [],
    });
    expect(json.record(CONN_LOG, r)).toBe(
      '{"ts":1700000000.123456,"uid":"CHhAvVGS1DHFjwGM9","id.orig_h":"10.0.0.1","id.orig_p":49152,"id.resp_h":"10.0.0.2",' +
        '"id.resp_p":443,"proto":"tcp","duration":0.25,"conn_state":"SF","local_orig":true,"missed_bytes":0,"history":"ShADadFf","tunnel_parents":[]}',
    );
  });
});
