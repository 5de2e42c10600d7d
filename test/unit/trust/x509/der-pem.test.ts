import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TAG, integerValue, oidText, parseDer } from '../../../../src/trust/x509/der.js';
import { decodeFirstPemBlock, decodePemBlocks, encodePem } from '../../../../src/trust/x509/pem.js';
import { isX509Error } from '../../../../src/trust/x509/errors.js';

const hex = (s: string) => Buffer.from(s.replace(/ /g, ''), 'hex');
const malformed = (err: unknown) => isX509Error(err, 'malformed');

describe('parseDer (strict DER over asn1js)', () => {
  it('gives a typed view of well-formed DER', () => {
    const seq = parseDer(hex('30 0b 02 01 05 06 06 2a 86 48 86 f7 0d'));
    assert.equal(seq.tag, TAG.SEQUENCE);
    assert.equal(seq.children.length, 2);
    assert.equal(integerValue(seq.children[0]), 5n);
    assert.equal(oidText(seq.children[1]), '1.2.840.113549');
    assert.equal(integerValue(parseDer(hex('02 01 ff'))), -1n);
    const long = Buffer.concat([hex('04 81 80'), Buffer.alloc(128, 7)]);
    assert.equal(parseDer(long).content.length, 128);
  });

  const refused: Record<string, string> = {
    'empty input': '',
    truncated: '30 05 02 01 05',
    'trailing data': '30 03 02 01 05 00',
    'long form for a short length': '30 81 03 02 01 05',
    'leading zero length byte': '30 82 00 03 02 01 05',
    'indefinite length': '30 80 02 01 05 00 00',
    'non-minimal INTEGER': '30 04 02 02 00 05',
    'BOOLEAN 0x01': '30 03 01 01 01',
    'multi-byte tag': '30 04 1f 21 01 00',
    'constructed OCTET STRING': '30 05 24 03 04 01 00',
    'invalid UTF-8': '30 03 0c 01 ff',
    'odd BMPString': '30 03 1e 01 41',
    'BIT STRING padding bits set': '30 04 03 02 01 01',
    'non-minimal OID arc': '30 04 06 02 80 01',
  };
  for (const [name, bytes] of Object.entries(refused)) {
    it(`refuses ${name}`, () => assert.throws(() => parseDer(hex(bytes)), malformed));
  }
});

describe("PEM as Go's encoding/pem reads it", () => {
  const body = Buffer.from('hello, world').toString('base64');

  it('ignores surrounding text, reads headers, skips malformed blocks', () => {
    const text = [
      'preamble',
      '-----BEGIN BROKEN-----',
      'not base64 !!',
      '-----END BROKEN-----',
      '-----BEGIN THING-----',
      'Proc-Type: 4,ENCRYPTED',
      '',
      ` ${body.slice(0, 4)}\r`,
      body.slice(4),
      '-----END THING-----',
      'trailer',
    ].join('\n');
    const { blocks, truncated } = decodePemBlocks(text, 4);
    assert.equal(truncated, false);
    assert.deepEqual(
      blocks.map((b) => b.type),
      ['THING'],
    );
    const [block] = blocks;
    assert.ok(block);
    assert.equal(block.headers.get('Proc-Type'), '4,ENCRYPTED');
    assert.equal(block.bytes.toString(), 'hello, world');
    assert.equal(decodeFirstPemBlock(text)?.type, 'THING');
    assert.equal(decodeFirstPemBlock('nothing'), null);
  });

  it('stops at the block limit and round-trips encodePem', () => {
    const one = encodePem('CERTIFICATE', Buffer.alloc(100, 1));
    assert.ok(one.split('\n').every((line) => line.length <= 64));
    const three = one.repeat(3);
    assert.equal(decodePemBlocks(three, 3).blocks.length, 3);
    const limited = decodePemBlocks(three, 2);
    assert.equal(limited.truncated, true);
    assert.equal(limited.blocks.length, 2);
    assert.ok(decodePemBlocks(one, 1).blocks[0]?.bytes.equals(Buffer.alloc(100, 1)));
  });
});
