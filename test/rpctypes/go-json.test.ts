// Go's encoding/json texts: Unmarshal (the whole text is one value) and Decoder (the first value
// only, "unexpected EOF" when the text ends inside it). Texts as etcd 3.4 and etcdctl print them.
import { expect, test } from "bun:test";
import { goDecodeFirst, goSyntaxError } from "../../src/rpctypes/index.ts";

test("Unmarshal: the first bad byte in the scanner's words; trailing text is an error", () => {
  expect(goSyntaxError("404 page not found")).toBe("invalid character 'p' after top-level value");
  expect(goSyntaxError("{bad")).toBe("invalid character 'b' looking for beginning of object key string");
  expect(goSyntaxError('{"a":1 "b":2}')).toBe("invalid character '\"' after object key:value pair");
  expect(goSyntaxError('{"a" 1}')).toBe("invalid character '1' after object key");
  expect(goSyntaxError("[1 2]")).toBe("invalid character '2' after array element");
  expect(goSyntaxError("-x")).toBe("invalid character 'x' in numeric literal");
  expect(goSyntaxError("1.x")).toBe("invalid character 'x' after decimal point in numeric literal");
  expect(goSyntaxError("1ex")).toBe("invalid character 'x' in exponent of numeric literal");
  expect(goSyntaxError('"\\u12x4"')).toBe("invalid character 'x' in \\u hexadecimal character escape");
  expect(goSyntaxError('"a\tb"')).toBe("invalid character '\\t' in string literal");
  expect(goSyntaxError("'")).toBe("invalid character '\\'' looking for beginning of value");
  expect(goSyntaxError('{"a":')).toBe("unexpected end of JSON input");
});

test("Decoder: the end of the first value, or Decode's error", () => {
  expect(goDecodeFirst('  {"a":1} xyz')).toEqual({ end: 9 });
  expect(goDecodeFirst('{"a":[1,{"b":"}"}]}}')).toEqual({ end: 19 });
  expect(goDecodeFirst("true false")).toEqual({ end: 4 });
  expect(goDecodeFirst('{"a":1')).toEqual({ error: "unexpected EOF" });
  expect(goDecodeFirst("nul")).toEqual({ error: "unexpected EOF" });
  expect(goDecodeFirst('{"a":tru}')).toEqual({ error: "invalid character '}' in literal true (expecting 'e')" });
});
