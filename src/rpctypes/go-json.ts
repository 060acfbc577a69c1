// JSON with the error texts of Go's encoding/json scanner, which clients print as they are: etcd's
// gateway decodes request bodies with a json.Decoder (one value read, the rest of the body
// ignored, "unexpected EOF" when it ends inside the value), and etcdctl reports an answer that
// is not the JSON it expects ("invalid character 'p' after top-level value" for a "404 page not
// found" body).

/** Parses `body`; a syntax error throws Go's text for the first bad byte. */
export function goJsonParse(body: Uint8Array | string): unknown {
  const text = typeof body === "string" ? body : new TextDecoder().decode(body);
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(goSyntaxError(text));
  }
}

function quoteChar(c: string): string {
  if (c === "'") return "'\\''";
  if (c === '"') return "'\"'";
  const q = JSON.stringify(c);
  return `'${q.slice(1, -1)}'`;
}

/** The message of Go's json.Unmarshal for the first problem in `s` (the whole text one value). */
export function goSyntaxError(s: string): string {
  const r = scan(s, true);
  return "error" in r ? r.error : "unexpected end of JSON input";
}

/**
 * What Go's json.Decoder reads first from `s`: the end of the first value (leading white space
 * skipped, anything after it left alone), or Decode's error text for it.
 */
export function goDecodeFirst(s: string): { end: number } | { error: string } {
  const r = scan(s, false);
  if ("error" in r) return { error: r.atEnd ? "unexpected EOF" : r.error };
  return r;
}

/** Scans one value; `whole`: anything but white space after it is an error too. */
function scan(s: string, whole: boolean): { end: number } | { error: string; atEnd: boolean } {
  let i = 0;
  const ws = () => {
    while (i < s.length && " \t\r\n".includes(s[i]!)) i++;
  };
  class Stop extends Error {
    constructor(
      message: string,
      readonly atEnd: boolean,
    ) {
      super(message);
    }
  }
  const fail = (what: string): never => {
    if (i >= s.length) throw new Stop("unexpected end of JSON input", true);
    throw new Stop(`invalid character ${quoteChar(s[i]!)} ${what}`, false);
  };
  const literal = (word: string) => {
    for (let k = 0; k < word.length; k++, i++) {
      if (i >= s.length) fail("");
      if (s[i] !== word[k]) fail(`in literal ${word} (expecting ${quoteChar(word[k]!)})`);
    }
  };
  const string = () => {
    i++;
    for (;;) {
      if (i >= s.length) fail("");
      const c = s[i]!;
      if (c === '"') {
        i++;
        return;
      }
      if (c === "\\") {
        i++;
        if (i >= s.length) fail("");
        if (!'"\\/bfnrtu'.includes(s[i]!)) fail("in string escape code");
        if (s[i] === "u") {
          for (let k = 0; k < 4; k++) {
            i++;
            if (i >= s.length) fail("");
            if (!/[0-9a-fA-F]/.test(s[i]!)) fail("in \\u hexadecimal character escape");
          }
        }
        i++;
        continue;
      }
      if (c < " ") fail("in string literal");
      i++;
    }
  };
  const number = () => {
    if (s[i] === "-") i++;
    if (i >= s.length) fail("");
    if (s[i] === "0") i++;
    else if (/[1-9]/.test(s[i]!)) while (i < s.length && /[0-9]/.test(s[i]!)) i++;
    else fail("in numeric literal");
    if (s[i] === ".") {
      i++;
      if (i >= s.length) fail("");
      if (!/[0-9]/.test(s[i]!)) fail("after decimal point in numeric literal");
      while (i < s.length && /[0-9]/.test(s[i]!)) i++;
    }
    if (s[i] === "e" || s[i] === "E") {
      i++;
      if (s[i] === "+" || s[i] === "-") i++;
      if (i >= s.length) fail("");
      if (!/[0-9]/.test(s[i]!)) fail("in exponent of numeric literal");
      while (i < s.length && /[0-9]/.test(s[i]!)) i++;
    }
  };
  const value = (): void => {
    ws();
    if (i >= s.length) fail("");
    const c = s[i]!;
    if (c === "{") {
      i++;
      ws();
      if (s[i] === "}") {
        i++;
        return;
      }
      for (;;) {
        ws();
        if (s[i] !== '"') fail("looking for beginning of object key string");
        string();
        ws();
        if (s[i] !== ":") fail("after object key");
        i++;
        value();
        ws();
        if (s[i] === ",") {
          i++;
          continue;
        }
        if (s[i] === "}") {
          i++;
          return;
        }
        fail("after object key:value pair");
      }
    }
    if (c === "[") {
      i++;
      ws();
      if (s[i] === "]") {
        i++;
        return;
      }
      for (;;) {
        value();
        ws();
        if (s[i] === ",") {
          i++;
          continue;
        }
        if (s[i] === "]") {
          i++;
          return;
        }
        fail("after array element");
      }
    }
    if (c === '"') return string();
    if (c === "t") return literal("true");
    if (c === "f") return literal("false");
    if (c === "n") return literal("null");
    if (c === "-" || (c >= "0" && c <= "9")) return number();
    fail("looking for beginning of value");
  };
  try {
    value();
    const end = i;
    if (whole) {
      ws();
      if (i < s.length) fail("after top-level value");
    }
    return { end };
  } catch (e) {
    if (e instanceof Stop) return { error: e.message, atEnd: e.atEnd };
    throw e;
  }
}
