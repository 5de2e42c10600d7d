import type { Context } from 'koa';
import { SignetError } from '../../errors.js';

/**
 * An `application/x-www-form-urlencoded` request body (the OAuth2 token request, RFC 6749
 * §4.3.2), read up to `maxBytes`: a declared or actual length beyond it is refused (413) before
 * more is read.
 */
export async function readForm(ctx: Context, maxBytes: number): Promise<URLSearchParams> {
  const req = ctx.req;
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') {
    throw new SignetError('UNSUPPORTED', 'POST /token takes an application/x-www-form-urlencoded body', { status: 415 });
  }
  const tooLarge = (): SignetError => {
    // The rest of the body stays unread: the connection cannot carry another request.
    ctx.set('Connection', 'close');
    return new SignetError('UNSUPPORTED', `the token request body exceeds ${maxBytes} bytes`, { status: 413 });
  };
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > maxBytes) throw tooLarge();
  const chunks: Buffer[] = [];
  let length = 0;
  // Events rather than an async iterator: leaving one early destroys the socket, and the 413
  // answer could not be sent.
  const body = await new Promise<Buffer>((resolve, reject) => {
    const done = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    const onData = (chunk: Buffer): void => {
      length += chunk.length;
      if (length > maxBytes) {
        done();
        req.pause();
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      done();
      resolve(Buffer.concat(chunks, length));
    };
    const onError = (err: Error): void => {
      done();
      reject(new SignetError('UNSUPPORTED', 'the token request body could not be read', { status: 400, cause: err }));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
  return new URLSearchParams(body.toString('utf8'));
}
