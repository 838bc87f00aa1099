import { describe, expect, it } from "vitest";
import { canonicalJson } from "../../../protocols/index.ts";
import { expectAuditError } from "./fixtures.ts";

/** A double from its IEEE 754 bit pattern (RFC 8785 Appendix B lists numbers that way). */
const fromBits = (hex: string): number => {
  const view = new DataView(new ArrayBuffer(8));
  view.setBigUint64(0, BigInt(`0x${hex}`));
  return view.getFloat64(0);
};

describe("canonicalJson", () => {
  it("sorts object keys by UTF-16 code units (RFC 8785 §3.2.3)", () => {
    const input = JSON.parse(`{
      "\\u20ac": "Euro Sign",
      "\\r": "Carriage Return",
      "\\ufb33": "Hebrew Letter Dalet With Dagesh",
      "1": "One",
      "\\ud83d\\ude00": "Emoji: Grinning Face",
      "\\u0080": "Control",
      "\\u00f6": "Latin Small Letter O With Diaeresis"
    }`) as unknown;
    expect(canonicalJson(input)).toBe(
      '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis",' +
        '"\u20ac":"Euro Sign","\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
    );
  });

  it("produces the RFC 8785 §3.2.2 example output", () => {
    const input = JSON.parse(String.raw`{
      "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
      "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
      "literals": [null, true, false]
    }`) as unknown;
    expect(canonicalJson(input)).toBe(
      String.raw`{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}`,
    );
  });

  it.each([
    [1e30, "1e+30"],
    [4.5, "4.5"],
    [0.002, "0.002"],
    [1e-7, "1e-7"],
    [-0, "0"],
    [0, "0"],
    [100, "100"],
    [1e21, "1e+21"],
    [123456789012345680000, "123456789012345680000"],
  ])("serializes the number %s as %s", (value, expected) => {
    expect(canonicalJson(value)).toBe(expected);
  });

  it.each([
    ["0000000000000000", "0"],
    ["8000000000000000", "0"],
    ["0000000000000001", "5e-324"],
    ["8000000000000001", "-5e-324"],
    ["7fefffffffffffff", "1.7976931348623157e+308"],
    ["ffefffffffffffff", "-1.7976931348623157e+308"],
    ["4340000000000000", "9007199254740992"],
    ["c340000000000000", "-9007199254740992"],
    ["4430000000000000", "295147905179352830000"],
    ["44b52d02c7e14af5", "9.999999999999997e+22"],
    ["44b52d02c7e14af6", "1e+23"],
    ["3eb0c6f7a0b5ed8d", "0.000001"],
    ["3eb0c6f7a0b5ed8c", "9.999999999999997e-7"],
    ["41b3de4355555555", "333333333.3333333"],
  ])("serializes the IEEE 754 value 0x%s as %s (RFC 8785 Appendix B)", (bits, expected) => {
    expect(canonicalJson(fromBits(bits))).toBe(expected);
  });

  it("writes no whitespace and nests arrays and objects", () => {
    expect(canonicalJson({ b: [1, { d: true, c: null }], a: "x" })).toBe('{"a":"x","b":[1,{"c":null,"d":true}]}');
    expect(canonicalJson([])).toBe("[]");
    expect(canonicalJson({})).toBe("{}");
  });

  it("escapes strings as JSON.stringify does, control characters in lower-case hex", () => {
    expect(canonicalJson("\u0000\u001f\b\t\n\f\r\"\\/\u007f\u2028")).toBe('"\\u0000\\u001f\\b\\t\\n\\f\\r\\"\\\\/\u007f\u2028"');
  });

  it("leaves out object members whose value is undefined", () => {
    expect(canonicalJson({ a: 1, b: undefined })).toBe('{"a":1}');
  });

  it("accepts an object with no prototype and a shared (not cyclic) sub-object", () => {
    const shared = { x: 1 };
    const bare = Object.assign(Object.create(null) as Record<string, unknown>, { k: [shared, shared] });
    expect(canonicalJson(bare)).toBe('{"k":[{"x":1},{"x":1}]}');
  });

  it("keeps a __proto__ member parsed from JSON", () => {
    expect(canonicalJson(JSON.parse('{"__proto__":{"a":1},"b":2}'))).toBe('{"__proto__":{"a":1},"b":2}');
  });

  const cyclic: Record<string, unknown> = { a: 1 };
  cyclic["self"] = cyclic;
  let deep: unknown = 0;
  for (let i = 0; i < 300; i += 1) deep = [deep];

  it.each([
    ["NaN", Number.NaN],
    ["Infinity", Number.POSITIVE_INFINITY],
    ["-Infinity", [Number.NEGATIVE_INFINITY]],
    ["a lone high surrogate", "a\ud800b"],
    ["a lone low surrogate", "\udc00"],
    ["a lone surrogate in a key", { "\ud83d": 1 }],
    ["undefined at the top level", undefined],
    ["undefined inside an array", [1, undefined]],
    ["a function", { f: () => 1 }],
    ["a bigint", { n: 10n }],
    ["a symbol", [Symbol("s")]],
    ["a Date", { when: new Date(0) }],
    ["a Map", new Map()],
    ["a cycle", cyclic],
    ["nesting deeper than 256", deep],
  ])("refuses %s with ERR_AUDIT_CANONICAL_JSON", (_name, value) => {
    expectAuditError(() => canonicalJson(value), "ERR_AUDIT_CANONICAL_JSON");
  });
});
