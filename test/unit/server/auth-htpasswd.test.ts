import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import bcrypt from 'bcryptjs';
import { pino, type Logger } from 'pino';
import { HtpasswdFile } from '../../../src/server/auth/htpasswd-file.js';
import { parseHtpasswd } from '../../../src/server/auth/htpasswd-parse.js';
import { PasswordVerifier } from '../../../src/server/auth/password-verifier.js';
import { makeTempDir, removeDir } from '../../harness/tmp.js';

// Written by `htpasswd -Bbn alice 'correct horse'` (Apache 2.4): $2y$, cost 5.
const HTPASSWD_B_LINE = 'alice:$2y$05$Sr5henoT/FDdX6QIFu.sMelZTIWgnyRvkr3aGz06/CsKfOdH3gp6S';
// `htpasswd -bnm bob pw` (MD5) and `htpasswd -bns carol pw` (SHA-1): refused.
const MD5_LINE = 'bob:$apr1$s1AZn8nc$zIiQ6SdGhZ.kL5jRa3gh//';
const SHA_LINE = 'carol:{SHA}GpHWL3ymc5liWkNopqtdSjuqYHM=';

function capturingLogger(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'info' }, sink), lines };
}

describe('htpasswd parsing', () => {
  test('bcrypt entries are kept ($2y$ normalised to $2b$); other formats are refused with their line and user', () => {
    const dave = bcrypt.hashSync('pw', 4);
    const parsed = parseHtpasswd(`# users\n${HTPASSWD_B_LINE}\n\n${MD5_LINE}\r\n${SHA_LINE}\nerin:plain\nno-colon-line\ndave:${dave}\ndave:${dave}\n`);
    assert.deepEqual([...parsed.users.keys()], ['alice', 'dave']);
    assert.ok(parsed.users.get('alice')?.startsWith('$2b$05$'));
    assert.equal(parsed.users.get('dave'), dave);
    assert.deepEqual(
      parsed.rejected.map((r) => [r.line, r.user]),
      [
        [4, 'bob'],
        [5, 'carol'],
        [6, 'erin'],
        [7, ''],
        [9, 'dave'],
      ],
    );
    assert.match(parsed.rejected[0]?.reason ?? '', /MD5 \(\$apr1\$\) hash is not accepted: only bcrypt entries \(htpasswd -B\)/);
    assert.match(parsed.rejected[1]?.reason ?? '', /SHA-1/);
    assert.match(parsed.rejected[2]?.reason ?? '', /plain-text/);
    assert.match(parsed.rejected[4]?.reason ?? '', /listed twice/);
    // The hashes never appear in the reasons (they end up in the log).
    assert.ok(!JSON.stringify(parsed.rejected).includes('$apr1$s1AZn8nc'));
  });

  test('malformed bcrypt strings and out-of-range costs are refused', () => {
    const parsed = parseHtpasswd(
      'a:$2y$05$short\nb:$2b$03$Sr5henoT/FDdX6QIFu.sMelZTIWgnyRvkr3aGz06/CsKfOdH3gp6S\nc:$2x$05$Sr5henoT/FDdX6QIFu.sMelZTIWgnyRvkr3aGz06/CsKfOdH3gp6S\n',
    );
    assert.equal(parsed.users.size, 0);
    assert.match(parsed.rejected[0]?.reason ?? '', /malformed bcrypt/);
    assert.match(parsed.rejected[1]?.reason ?? '', /cost 3 is outside 4\.\.31/);
    assert.match(parsed.rejected[2]?.reason ?? '', /\$2x\$/);
  });
});

describe('the htpasswd file and password checks', () => {
  const dirs: string[] = [];
  after(async () => {
    for (const dir of dirs) await removeDir(dir);
  });
  const fileWith = async (text: string): Promise<string> => {
    const dir = await makeTempDir('htpasswd');
    dirs.push(dir);
    const path = join(dir, 'htpasswd');
    await writeFile(path, text);
    return path;
  };

  test('an entry written by htpasswd -B verifies; wrong passwords and unknown users do not', async () => {
    const { logger, lines } = capturingLogger();
    const file = new HtpasswdFile({ path: await fileWith(`${HTPASSWD_B_LINE}\n${MD5_LINE}\n`), logger });
    await file.load();
    const verifier = new PasswordVerifier({ file });
    assert.equal(await verifier.verify('alice', 'correct horse'), true);
    assert.equal(await verifier.verify('alice', 'correct horse '), false);
    assert.equal(await verifier.verify('mallory', 'correct horse'), false);
    assert.equal(await verifier.verify('bob', 'pw'), false, 'an MD5 entry never verifies');
    const refused = lines.find((l) => l.user === 'bob');
    assert.ok(refused, JSON.stringify(lines));
    assert.equal(refused.level, 50);
    assert.match(String(refused.msg), /htpasswd entry refused: an MD5/);
    assert.ok(!JSON.stringify(lines).includes('s1AZn8nc'), 'no hash in the log');
  });

  test('a file larger than the limit stops the start; later it keeps the last good contents', async () => {
    const path = await fileWith(`${HTPASSWD_B_LINE}\n`);
    const { logger, lines } = capturingLogger();
    await assert.rejects(new HtpasswdFile({ path, logger, maxBytes: 10 }).load(), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'CONFIG_INVALID');
      assert.match(err.message, /auth\.htpasswd: .* is \d+ bytes, more than the 10 allowed/);
      return true;
    });
    const file = new HtpasswdFile({ path, logger, maxBytes: 200 });
    await file.load();
    await writeFile(path, `${HTPASSWD_B_LINE}\n${'#'.repeat(300)}\n`);
    assert.ok(await file.lookup('alice'), 'the last good contents stay in use');
    assert.ok(lines.some((l) => /cannot be read; the last good contents stay in use/.test(String(l.msg))));
  });

  test('the file is re-read when it changes; verified passwords are remembered for credentialCacheSeconds', async () => {
    const path = await fileWith(`${HTPASSWD_B_LINE}\n`);
    const file = new HtpasswdFile({ path, logger: pino({ level: 'silent' }) });
    await file.load();
    let now = 1_000_000;
    const verifier = new PasswordVerifier({ file, clock: () => now, cacheSeconds: 60 });
    assert.equal(await verifier.verify('alice', 'correct horse'), true);

    // alice's password changes, and frank is added.
    const changed = `alice:${bcrypt.hashSync('new password', 4)}\nfrank:${bcrypt.hashSync('f', 4).replace(/^\$2b\$/, '$2y$')}\n`;
    await writeFile(path, changed);
    await utimes(path, new Date(), new Date(Date.now() + 5_000));
    assert.equal(await verifier.verify('frank', 'f'), true, 'a new user is found: the file was re-read');
    assert.equal(await verifier.verify('alice', 'new password'), true);
    assert.equal(await verifier.verify('alice', 'correct horse'), false, 'after the re-read, the remembered old password no longer counts');

    // Without a re-read, a remembered pair holds until it expires.
    const generation = file.generation;
    assert.equal(await verifier.verify('frank', 'f'), true);
    await writeFile(path, `alice:${bcrypt.hashSync('new password', 4)}\n`);
    await utimes(path, new Date(), new Date(Date.now() + 10_000));
    assert.equal(await verifier.verify('frank', 'f'), true, 'remembered within credentialCacheSeconds');
    assert.equal(file.generation, generation, 'a remembered pair costs no file check');
    now += 61_000;
    assert.equal(await verifier.verify('frank', 'f'), false, 'after credentialCacheSeconds the removal counts');
    assert.ok(file.generation > generation);
  });

  test('concurrent checks of one pair share one answer', async () => {
    const file = new HtpasswdFile({ path: await fileWith(`${HTPASSWD_B_LINE}\n`), logger: pino({ level: 'silent' }) });
    await file.load();
    const verifier = new PasswordVerifier({ file });
    const answers = await Promise.all(Array.from({ length: 8 }, () => verifier.verify('alice', 'correct horse')));
    assert.deepEqual(
      answers,
      Array.from({ length: 8 }, () => true),
    );
  });
});
