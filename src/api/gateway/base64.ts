// Go's base64.StdEncoding.Decode validation, for the exact "illegal base64 data at input
// byte N" the gateway reports (encoding/json decodes []byte with it; CR/LF are skipped).
const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const valid = new Uint8Array(128);
for (let i = 0; i < ALPHABET.length; i++) valid[ALPHABET.charCodeAt(i)] = 1;

const isNl = (c: number) => c === 10 || c === 13;

/** Index of the first illegal byte, or -1 when `s` is valid padded standard base64. */
export function base64ErrorOffset(s: string): number {
  const n = s.length;
  let si = 0;
  for (;;) {
    // decodeQuantum: up to four symbols.
    let j = 0;
    for (; j < 4; j++) {
      if (si === n) {
        if (j === 0) return -1;
        return si - j;
      }
      const c = s.charCodeAt(si++);
      if (c < 128 && valid[c] === 1) continue;
      if (isNl(c)) {
        j--;
        continue;
      }
      if (c !== 61 /* = */) return si - 1;
      // Padding reached.
      if (j === 0 || j === 1) return si - 1;
      if (j === 2) {
        while (si < n && isNl(s.charCodeAt(si))) si++;
        if (si === n) return n;
        if (s.charCodeAt(si) !== 61) return si - 1;
        si++;
      }
      while (si < n && isNl(s.charCodeAt(si))) si++;
      if (si < n) return si;
      return -1;
    }
  }
}
