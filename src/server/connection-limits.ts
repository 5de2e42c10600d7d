import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { DEFAULTS } from '../config/defaults.js';
import type { ListenConfig } from '../config/load.js';
import { SignetError } from '../errors.js';
import { rawErrorResponse } from './oci-errors.js';

/** What a listener needs to know about its clients' limits (`listen.maxConnections`, `listen.timeouts`). */
export type ConnectionLimits = Pick<ListenConfig, 'maxConnections' | 'timeouts'>;

/**
 * Bounds what clients can hold open, on a node:http or node:https server, before it listens:
 *
 * - `maxConnections`: connections beyond it are closed as soon as they are accepted (Node's
 *   `server.maxConnections`), so a flood of sockets cannot exhaust file descriptors and memory.
 * - `timeouts.headersMs` / `requestMs`: a client slower to send its headers / its whole request
 *   is answered 408 and disconnected (Node's `headersTimeout` / `requestTimeout`, checked every
 *   DEFAULTS.clientTimeoutCheckMs instead of Node's 30 s, so slowloris sockets do not linger).
 * - `timeouts.keepAliveMs`: an idle keep-alive connection is closed (`keepAliveTimeout`).
 * - `timeouts.sendMs`: a response being written to a client that reads nothing for that long is
 *   cut (the socket destroyed), which releases the buffers and the upstream or disk stream behind it.
 *
 * It also answers what Node refuses before any request handler runs (`clientError`) with an OCI
 * JSON body, as every other Signet error.
 */
export function applyConnectionLimits(server: Server | HttpsServer, limits: ConnectionLimits): void {
  // Node reads connectionsCheckingInterval when the server starts listening (setupConnectionsTracking).
  if (server.listening) throw new SignetError('INTERNAL', 'connection limits must be applied before the server listens');
  const { headersMs, requestMs, keepAliveMs, sendMs } = limits.timeouts;
  server.maxConnections = limits.maxConnections;
  server.requestTimeout = requestMs;
  // Node requires headersTimeout <= requestTimeout (storeHTTPOptions).
  server.headersTimeout = Math.min(headersMs, requestMs);
  server.keepAliveTimeout = keepAliveMs;
  // Both are documented server properties (http.createServer options) that @types/node lacks.
  const untyped = server as typeof server & { connectionsCheckingInterval: number; maxHeaderSize?: number };
  untyped.connectionsCheckingInterval = Math.max(1, Math.min(DEFAULTS.clientTimeoutCheckMs, headersMs, requestMs));
  const maxHeaderBytes = untyped.maxHeaderSize ?? DEFAULTS.maxHeaderBytes;
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => answerClientError(err, socket, maxHeaderBytes));
  server.on('request', (_req: IncomingMessage, res: ServerResponse) => limitSendStall(res, sendMs));
}

/**
 * Cuts a response whose client stopped reading: the socket's inactivity timer (Node counts a
 * write that reached the kernel, or a read, as activity; net.Socket _onTimeout) fires after
 * `sendMs`, and bytes are still waiting to go out. With nothing waiting, the response is being
 * worked out or its next bytes are slow to come (an upstream, a trust server or the disk, which
 * their own timeouts bound), not the client's fault: the timer is armed again. Between requests
 * Node's keep-alive timer takes over the same socket timer (resOnFinish).
 */
function limitSendStall(res: ServerResponse, sendMs: number): void {
  res.setTimeout(sendMs, () => {
    const socket = res.socket;
    if (!socket) return;
    if (res.headersSent && res.writableLength + socket.writableLength > 0) {
      socket.destroy();
      return;
    }
    socket.setTimeout(sendMs);
  });
}

/**
 * Node's own clientError answers (lib/_http_server.js socketOnError), with an OCI JSON body: 408
 * for a request not received in time, 431 for headers over the limit, 413 for chunk extensions
 * over Node's limit, 400 otherwise. Like Node, nothing is written to a socket that is gone or
 * that already carries part of a response (that would corrupt it for the client).
 */
export function answerClientError(err: NodeJS.ErrnoException, socket: Socket, maxHeaderBytes: number): void {
  const inFlight = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
  if (err.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent === true) {
    socket.destroy();
    return;
  }
  // The answer, then the socket closed once it is written (a client that never closes its side
  // must not keep the connection: Node's own handler destroys it too).
  socket.end(clientErrorResponse(err.code, maxHeaderBytes), () => socket.destroy());
}

function clientErrorResponse(code: string | undefined, maxHeaderBytes: number): string {
  switch (code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return rawErrorResponse(408, 'Request Timeout', 'UNSUPPORTED', 'the request was not received in time');
    case 'HPE_HEADER_OVERFLOW':
      return rawErrorResponse(431, 'Request Header Fields Too Large', 'UNSUPPORTED', `request headers exceed ${maxHeaderBytes} bytes`);
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return rawErrorResponse(413, 'Payload Too Large', 'UNSUPPORTED', 'chunk extensions exceed the limit');
    default:
      return rawErrorResponse(400, 'Bad Request', 'UNSUPPORTED', 'malformed HTTP request');
  }
}
