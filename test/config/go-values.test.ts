import { expect, test } from "bun:test";
import { msg } from "./helpers.ts";
import {
  formatGoDuration,
  goAtoi,
  parseGoBool,
  parseGoDuration,
  parseGoInt,
  parseGoUint,
  parseGoUint32,
} from "../../src/config/go-values.ts";

test("bools take strconv.ParseBool spellings only", () => {
  for (const s of ["1", "t", "T", "TRUE", "true", "True"]) expect(parseGoBool(s)).toBe(true);
  for (const s of ["0", "f", "F", "FALSE", "false", "False"]) expect(parseGoBool(s)).toBe(false);
  expect(msg(() => parseGoBool("yes"))).toBe("parse error");
  expect(msg(() => parseGoBool(""))).toBe("parse error");
});

test("integers use Go base-0 syntax", () => {
  expect(parseGoUint("100")).toBe(100);
  expect(parseGoUint("0x10")).toBe(16);
  expect(parseGoUint("0o17")).toBe(15);
  expect(parseGoUint("017")).toBe(15);
  expect(parseGoUint("0b101")).toBe(5);
  expect(parseGoUint("1_000")).toBe(1000);
  expect(parseGoUint("0")).toBe(0);
  expect(parseGoInt("-5")).toBe(-5);
  expect(parseGoInt("+5")).toBe(5);
  expect(msg(() => parseGoUint("-1"))).toBe("parse error");
  expect(msg(() => parseGoUint("1__0"))).toBe("parse error");
  expect(msg(() => parseGoUint("09"))).toBe("parse error");
  expect(msg(() => parseGoUint("12abc"))).toBe("parse error");
  expect(msg(() => parseGoUint("18446744073709551616"))).toBe("value out of range");
  expect(msg(() => parseGoInt("9223372036854775808"))).toBe("value out of range");
});

test("uint32 values carry strconv's own text", () => {
  expect(parseGoUint32("4294967295")).toBe(4294967295);
  expect(msg(() => parseGoUint32("4294967296"))).toBe('strconv.ParseUint: parsing "4294967296": value out of range');
  expect(msg(() => parseGoUint32("x"))).toBe('strconv.ParseUint: parsing "x": invalid syntax');
});

test("durations follow time.ParseDuration", () => {
  expect(parseGoDuration("0")).toBe(0);
  expect(parseGoDuration("100ms")).toBe(100e6);
  expect(parseGoDuration("1h30m")).toBe(5400e9);
  expect(parseGoDuration("1.5s")).toBe(1.5e9);
  expect(parseGoDuration(".5s")).toBe(0.5e9);
  expect(parseGoDuration("-2s")).toBe(-2e9);
  expect(parseGoDuration("3us")).toBe(3000);
  expect(parseGoDuration("3µs")).toBe(3000);
  expect(msg(() => parseGoDuration("5"))).toBe('time: missing unit in duration "5"');
  expect(msg(() => parseGoDuration("5d"))).toBe('time: unknown unit "d" in duration "5d"');
  expect(msg(() => parseGoDuration("abc"))).toBe('time: invalid duration "abc"');
  expect(msg(() => parseGoDuration(""))).toBe('time: invalid duration ""');
  expect(msg(() => parseGoDuration("."))).toBe('time: invalid duration "."');
});

test("durations print like time.Duration.String", () => {
  expect(formatGoDuration(0)).toBe("0s");
  expect(formatGoDuration(100e6)).toBe("100ms");
  expect(formatGoDuration(5e9)).toBe("5s");
  expect(formatGoDuration(7200e9)).toBe("2h0m0s");
  expect(formatGoDuration(90e9)).toBe("1m30s");
});

test("Atoi is plain decimal", () => {
  expect(goAtoi("12")).toBe(12);
  expect(goAtoi("-3")).toBe(-3);
  expect(goAtoi("0x1")).toBeUndefined();
  expect(goAtoi("1h")).toBeUndefined();
});
