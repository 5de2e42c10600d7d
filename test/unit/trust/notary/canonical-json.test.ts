import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalize } from '../../../../src/trust/notary/canonical-json.js';
import { parseJson } from '../../../../src/trust/notary/json-parse.js';
import { isTrustError } from '../../../../src/trust/notary/errors.js';

const bytes = (...parts: (string | number[])[]): Buffer => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p))));

const rejects = (code: string) => (err: unknown) => isTrustError(err) && err.code === code;

describe('canonicalize (docker/go canonical/json rules)', () => {
  it('sorts keys by UTF-8 bytes, writes no whitespace and escapes only " and \\', () => {
    const value = {
      b: '<&>\u2028\u00e9\u0001\n"\\',
      a: [1, true, null, { z: 0, y: -5 }],
      '\ufb01': 1, // U+FB01: EF AC 81
      '\u{1F600}': 2, // U+1F600: F0 9F 98 80 — before U+FB01 in UTF-16 order, after it in UTF-8
      A: 'x',
    };
    const expected = bytes(
      '{"A":"x","a":[1,true,null,{"y":-5,"z":0}],"b":"',
      [0x3c, 0x26, 0x3e], // < & > raw (Go's wire format would write \u003c \u0026 \u003e)
      [0xe2, 0x80, 0xa8], // U+2028 raw
      [0xc3, 0xa9], // é raw
      [0x01, 0x0a], // control characters raw
      '\\"\\\\",',
      [0x22, 0xef, 0xac, 0x81, 0x22],
      ':1,',
      [0x22, 0xf0, 0x9f, 0x98, 0x80, 0x22],
      ':2}',
    );
    assert.deepEqual(canonicalize(value), expected);
  });

  it('re-canonicalises Go HTML-escaped wire text into raw bytes', () => {
    const wire = '{ "k" : "\\u003ctag\\u003e\\u0026\\u2028\\u2029\\u00e9\\/" , "a":[ ] ,"o":{}}';
    assert.deepEqual(canonicalize(parseJson(wire)), bytes('{"a":[],"k":"<tag>&', [0xe2, 0x80, 0xa8, 0xe2, 0x80, 0xa9, 0xc3, 0xa9], '/","o":{}}'));
  });

  it('writes integral doubles as int64 decimals, as Go does after its float64 decode', () => {
    const parsed = parseJson('{"n":1.0,"m":1e3,"z":-0,"big":9007199254740993,"neg":-12}');
    // 9007199254740993 is not a double: Go's verifier sees 9007199254740992 too.
    assert.equal(canonicalize(parsed).toString(), '{"big":9007199254740992,"m":1000,"n":1,"neg":-12,"z":0}');
    assert.equal(canonicalize(-(2 ** 63)).toString(), '-9223372036854775808');
    assert.equal(canonicalize(2n ** 63n - 1n).toString(), '9223372036854775807');
  });

  it('refuses non-integers and values Go cannot canonicalise', () => {
    for (const bad of [1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 63, 2n ** 63n, undefined, () => 1, Symbol('x'), new Date(0)]) {
      assert.throws(() => canonicalize({ v: bad }), rejects('canonical_json'), String(bad));
    }
    assert.throws(() => canonicalize(parseJson('{"x":0.5}')), rejects('canonical_json'));
  });

  it('treats a lone surrogate as U+FFFD, like Go, and refuses keys that collide then', () => {
    assert.deepEqual(canonicalize('\ud800'), bytes('"', [0xef, 0xbf, 0xbd], '"'));
    assert.throws(() => canonicalize({ '\ud800': 1, '\udc00': 2 }), rejects('canonical_json'));
  });

  it('keeps "__proto__" as an ordinary key', () => {
    const parsed = parseJson('{"__proto__":{"x":1},"a":2}');
    assert.deepEqual(Object.keys(parsed as object), ['__proto__', 'a']);
    assert.equal(canonicalize(parsed).toString(), '{"__proto__":{"x":1},"a":2}');
  });
});

describe('parseJson (Go decoding choices)', () => {
  it('decodes invalid surrogate escapes to U+FFFD without eating the next escape', () => {
    assert.equal(parseJson('"\\ud800\\u0041"'), '\ufffdA');
    assert.equal(parseJson('"\\udc00"'), '\ufffd');
    assert.equal(parseJson('"\\ud800\\ud83d\\ude00"'), '\ufffd\u{1F600}');
    assert.equal(parseJson('"\\ud83d\\ude00"'), '\u{1F600}');
    assert.equal(parseJson('"\\ud800x"'), '\ufffdx');
  });

  it('keeps the last of duplicate keys', () => {
    assert.equal(canonicalize(parseJson('{"a":1,"b":2,"a":3}')).toString(), '{"a":3,"b":2}');
  });

  it('refuses invalid UTF-8, raw control characters, bad syntax and trailing data', () => {
    const bad: (string | Buffer)[] = [
      Buffer.from([0x22, 0xff, 0x22]),
      Buffer.from([0x22, 0xe2, 0x80, 0x22]),
      '"a\u0001b"',
      '{"a":1,}',
      '[1 2]',
      '01',
      '1.',
      '"\\x"',
      '"\\u12"',
      '{"a":1} x',
      'nul',
      '1e400',
      '',
      '\ufeff{}',
    ];
    for (const input of bad) assert.throws(() => parseJson(input), rejects('canonical_json'), String(input));
  });

  it('limits nesting depth', () => {
    assert.doesNotThrow(() => parseJson('['.repeat(64) + ']'.repeat(64)));
    assert.throws(() => parseJson('['.repeat(65) + ']'.repeat(65)), rejects('canonical_json'));
    assert.throws(() => parseJson('[[[]]]', { maxDepth: 2 }), rejects('canonical_json'));
  });

  it('can refuse non-integer number literals (typed metadata fields)', () => {
    assert.equal(parseJson('{"v":12}', { integerLiteralsOnly: true }) !== null, true);
    for (const text of ['{"v":1.0}', '{"v":1e3}', '{"v":1E0}']) {
      assert.throws(() => parseJson(text, { integerLiteralsOnly: true }), rejects('canonical_json'), text);
    }
  });
});
