// POSIX path arithmetic for import resolution, without node:path (the language also runs in a
// browser, on an in-memory file map). Same results as node:path's posix normalize/join/dirname
// for the paths .pst imports use.

export function isAbsolute(p: string): boolean {
  return p.startsWith('/');
}

/** Collapse `.`, `..` and repeated slashes; keeps a trailing slash and leading `..` of a relative path. */
export function normalise(p: string): string {
  if (p === '') return '.';
  const absolute = isAbsolute(p);
  const trailing = p.endsWith('/');
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!absolute) out.push('..');
      continue;
    }
    out.push(part);
  }
  let joined = (absolute ? '/' : '') + out.join('/');
  if (joined === '') joined = absolute ? '/' : '.';
  if (trailing && joined !== '/') joined += '/';
  return joined;
}

export function join(...parts: string[]): string {
  const nonEmpty = parts.filter((p) => p !== '');
  return nonEmpty.length ? normalise(nonEmpty.join('/')) : '.';
}

export function dirname(p: string): string {
  const trimmed = p.length > 1 ? p.replace(/\/+$/, '') : p;
  const slash = trimmed.lastIndexOf('/');
  if (slash < 0) return '.';
  if (slash === 0) return '/';
  return trimmed.slice(0, slash);
}

/** The last segment of a path: `models/tiny/pst-tiny.pst` → `pst-tiny.pst`. */
export function basename(p: string): string {
  return p.slice(p.lastIndexOf('/') + 1);
}
