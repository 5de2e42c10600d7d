import type { Dispatcher } from 'undici';

/**
 * An undici interceptor that replaces the error a response body fails with once its headers
 * arrived (a connection closed early, an idle timeout) by `translate(error)`. undici destroys
 * the body stream with the error its handler is given, so every reader of every body of an
 * upstream client — a manifest read whole, a blob streamed into the cache — sees the upstream's
 * fault as a coded error naming the upstream rather than as a bare socket error that the error
 * middleware could only answer with a 500. Errors before the headers (connect, response
 * timeout) pass unchanged: the client retries those itself.
 */
export function translateBodyErrors(translate: (error: Error, origin: string) => Error): Dispatcher.DispatcherComposeInterceptor {
  return (dispatch) =>
    (options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean => {
      let started = false;
      const wrapped: Dispatcher.DispatchHandler = {
        onRequestStart: (controller, context) => handler.onRequestStart?.(controller, context),
        onRequestUpgrade: (controller, statusCode, headers, socket) => handler.onRequestUpgrade?.(controller, statusCode, headers, socket),
        onResponseStart: (controller, statusCode, headers, statusMessage) => {
          started = true;
          handler.onResponseStart?.(controller, statusCode, headers, statusMessage);
        },
        onResponseData: (controller, chunk) => handler.onResponseData?.(controller, chunk),
        onResponseEnd: (controller, trailers) => handler.onResponseEnd?.(controller, trailers),
        onResponseError: (controller, error) => handler.onResponseError?.(controller, started ? translate(error, String(options.origin ?? '')) : error),
      };
      return dispatch(options, wrapped);
    };
}
