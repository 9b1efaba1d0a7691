/**
 * Log streams: a stream id (`Conn::LOG`), the path its files are named after (`conn`) and its
 * typed columns, as Zeek's logging framework defines them. Types are in `log-types.ts`; records
 * are built and checked in `log-record.ts`.
 */
import { ValueError } from '../errors.js';
import { toColumnData } from './record.js';
import { parseLogColumnType, type LogColumn, type LogColumnSpec, type LogStream, type LogStreamSpec } from './types.js';

/** ASCII lower case, as Zeek's `to_lower`. */
function asciiLower(s: string): string {
  return s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
}

/**
 * Zeek's `split_string_n(module, /[^A-Z][A-Z][a-z]*\/, T, 4)`: text and separators alternating,
 * at most four separators, the rest (possibly empty) last.
 */
function splitModule(module: string): string[] {
  const sep = /[^A-Z][A-Z][a-z]*/y;
  const out: string[] = [];
  let rest = module;
  for (let seps = 0; ; seps++) {
    let at = -1;
    let len = 0;
    if (seps < 4) {
      for (let i = 0; i < rest.length && at < 0; i++) {
        sep.lastIndex = i;
        const m = sep.exec(rest);
        if (m) {
          at = i;
          len = m[0].length;
        }
      }
    }
    if (at < 0) {
      out.push(rest);
      return out;
    }
    out.push(rest.slice(0, at), rest.slice(at, at + len));
    rest = rest.slice(at + len);
  }
}

/**
 * The path Zeek's `Log::default_path_func` derives from a stream id: `Conn::LOG` → `conn`,
 * `HTTP::LOG` → `http`, `PacketFilter::LOG` → `packet_filter`, `Known::HOSTS_LOG` →
 * `known_hosts`, `Notice::ALARM_LOG` → `notice_alarm`, an id without `::` in lower case. Zeek's
 * quirks are kept: only the first two camel-case breaks of a module name count
 * (`AbcDefGhiJklMno::LOG` → `abc_def_ghi_jkl`), and ids such as `DCE_RPC::LOG` come out odd
 * (`dce__r_pc`; Zeek's own streams like that set a path).
 */
export function defaultLogPath(id: string): string {
  if (typeof id !== 'string') throw new ValueError(`log stream id must be a string, got ${typeof id}`);
  const cut = id.indexOf('::');
  if (cut < 0) return asciiLower(id);
  const module = id.slice(0, cut);
  let name = id.slice(cut + 2);
  if (name === 'LOG') {
    const [p0 = '', p1 = '', p2 = '', p3 = ''] = splitModule(module);
    let out = p0;
    if (p1 !== '') out += `${p1.slice(0, 1)}_${p1.slice(1)}`;
    if (p2 !== '') out += `_${p2}`;
    if (p3 !== '') out += `${p3.slice(0, 1)}_${p3.slice(1)}`;
    return asciiLower(out);
  }
  if (name.endsWith('_LOG')) name = name.slice(0, -4);
  return `${asciiLower(module)}_${asciiLower(name)}`;
}

/** A path must name one file inside the log directory. */
function checkPath(path: unknown): string {
  if (typeof path !== 'string' || path === '' || path === '.' || path === '..' || /[/\\\0]/.test(path)) {
    throw new ValueError(
      `invalid log path ${JSON.stringify(path)}: must be one non-empty file-name segment without / or \\`,
    );
  }
  return path;
}

/**
 * Defines a log stream. Checks the id, the path, unique column names and known column types, and
 * converts column defaults; throws `ValueError` naming what is wrong.
 */
export function defineLogStream(spec: LogStreamSpec): LogStream {
  if (typeof spec !== 'object' || spec === null) throw new ValueError('defineLogStream takes { id, path?, columns }');
  const { id } = spec;
  if (typeof id !== 'string' || id === '') throw new ValueError('a log stream needs a non-empty id such as Conn::LOG');
  const path = checkPath(spec.path ?? defaultLogPath(id));
  if (!Array.isArray(spec.columns) || spec.columns.length === 0) {
    throw new ValueError(`log stream ${id} needs at least one column`);
  }
  const index = new Map<string, number>();
  const columns = spec.columns.map((c: LogColumnSpec, i): LogColumn => {
    const name = c?.name;
    if (typeof name !== 'string' || name === '') throw new ValueError(`column ${i} of log stream ${id} needs a name`);
    if (index.has(name)) throw new ValueError(`log stream ${id} has two columns named '${name}'`);
    index.set(name, i);
    let parsed: ReturnType<typeof parseLogColumnType>;
    try {
      parsed = parseLogColumnType(c.type);
    } catch (e) {
      throw new ValueError(`column '${name}' of log stream ${id}: ${(e as Error).message}`, { cause: e });
    }
    const column: LogColumn = {
      name,
      type: c.type,
      optional: c.optional === true,
      container: parsed.container,
      element: parsed.element,
      default: undefined,
    };
    const def = c.default === undefined ? undefined : toColumnData(id, column, c.default);
    return Object.freeze({ ...column, default: def });
  });
  return Object.freeze({ id, path, columns: Object.freeze(columns), index });
}
