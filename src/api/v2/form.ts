// Form parameters as Go's net/http reads them for etcd's v2 handlers (Request.ParseForm): the
// urlencoded body of POST/PUT/PATCH first, then the query string; the first value of a name wins.
// Parse errors carry Go's texts (they become the cause of a 210 "Invalid POST form").

export type Form = ReadonlyMap<string, readonly string[]>;

/** Go's http.maxFormSize: a larger urlencoded body is refused. */
export const MAX_FORM_BYTES = 10 << 20;

export class FormError extends Error {}

/** A urlencoded body over MAX_FORM_BYTES that was not read into memory. */
export const TOO_LARGE: unique symbol = Symbol("form body too large");
export type FormBody = string | null | typeof TOO_LARGE;

const HEX = /^[0-9a-fA-F]{2}$/;
const utf8 = new TextDecoder("utf-8");

/** Go's url.QueryUnescape: "+" is a space, %XX a byte; the bytes read as UTF-8. */
export function queryUnescape(s: string): string {
  if (!s.includes("%") && !s.includes("+")) return s;
  const bytes: number[] = [];
  const enc = new TextEncoder();
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === "%") {
      const hex = s.slice(i + 1, i + 3);
      if (!HEX.test(hex)) throw new FormError(`invalid URL escape ${goQuote(s.slice(i, i + 3))}`);
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else if (c === "+") bytes.push(0x20);
    else {
      const cp = s.codePointAt(i)!;
      if (cp > 0xffff) i++;
      for (const b of enc.encode(String.fromCodePoint(cp))) bytes.push(b);
    }
  }
  return utf8.decode(new Uint8Array(bytes));
}

/** strconv.Quote for the short ASCII fragments of escape errors. */
function goQuote(s: string): string {
  return JSON.stringify(s);
}

/** Go's url.ParseQuery into `into` (appending); returns the first error, after parsing all. */
export function parseQueryInto(q: string, into: Map<string, string[]>): FormError | undefined {
  let err: FormError | undefined;
  for (const pair of q.split("&")) {
    if (pair.includes(";")) {
      err ??= new FormError("invalid semicolon separator in query");
      continue;
    }
    if (pair === "") continue;
    const eq = pair.indexOf("=");
    const rawKey = eq < 0 ? pair : pair.slice(0, eq);
    const rawVal = eq < 0 ? "" : pair.slice(eq + 1);
    let key: string;
    let val: string;
    try {
      key = queryUnescape(rawKey);
      val = queryUnescape(rawVal);
    } catch (e) {
      if (!(e instanceof FormError)) throw e;
      err ??= e;
      continue;
    }
    const list = into.get(key);
    if (list === undefined) into.set(key, [val]);
    else list.push(val);
  }
  return err;
}

/**
 * Request.ParseForm: body values (urlencoded POST/PUT/PATCH bodies only), then the query's.
 * Throws FormError with Go's first error.
 */
export function parseForm(method: string, contentType: string | null, body: FormBody, rawQuery: string): Form {
  const form = new Map<string, string[]>();
  let err: FormError | undefined;
  if ((method === "POST" || method === "PUT" || method === "PATCH") && body !== null) {
    const mediaType = (contentType ?? "application/octet-stream").split(";")[0]!.trim().toLowerCase();
    if (mediaType === "") err = new FormError("mime: no media type");
    else if (mediaType === "application/x-www-form-urlencoded") {
      if (body === TOO_LARGE || body.length > MAX_FORM_BYTES) err = new FormError("http: POST too large");
      else err = parseQueryInto(body, form);
    }
  }
  const qerr = parseQueryInto(rawQuery, form);
  err ??= qerr;
  if (err !== undefined) throw err;
  return form;
}

/** Form.FormValue: the first value, or "". */
export function formValue(f: Form, key: string): string {
  return f.get(key)?.[0] ?? "";
}
