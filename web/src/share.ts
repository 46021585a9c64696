// A model shared as a URL: the file's path and its text, deflated (fflate) and base64url-encoded
// in the fragment, so the text never reaches a server: `#file=models/x.pst&src=…`.
import { deflateSync, inflateSync, strFromU8, strToU8 } from 'fflate';

function toBase64Url(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function fromBase64Url(text: string): Uint8Array {
  const s = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

export function encodeShare(path: string, text: string): string {
  return new URLSearchParams({ file: path, src: toBase64Url(deflateSync(strToU8(text), { level: 9 })) }).toString();
}

/** The shared file of a URL fragment, or undefined when there is none (or it is damaged). */
export function decodeShare(fragment: string): { path: string; text: string } | undefined {
  const params = new URLSearchParams(fragment);
  const path = params.get('file');
  const src = params.get('src');
  if (!path || !src) return undefined;
  try {
    return { path, text: strFromU8(inflateSync(fromBase64Url(src))) };
  } catch {
    return undefined;
  }
}
