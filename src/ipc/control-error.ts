/**
 * The one error of the control socket, on both ends. The worker throws it to refuse a request
 * (its code and message go to the client as they are); the client raises it for an error answer
 * (the worker's code) or for a failure to reach the worker (`connect_failed`, `timeout`, …).
 * `code` is stable for scripts; `message` is for people.
 */
export class ControlError extends Error {
  override name = 'ControlError';
  constructor(
    readonly code: ControlErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** Codes with a meaning of their own; methods add theirs (`unknown_tenant`, `config_invalid`, …). */
export type ControlErrorCode =
  | 'bad_json'
  | 'line_too_long'
  | 'bad_request'
  | 'bad_response'
  | 'unsupported_version'
  | 'unknown_method'
  | 'too_many_connections'
  | 'too_many_subscriptions'
  | 'idle_timeout'
  | 'response_too_large'
  | 'internal'
  | 'connect_failed'
  | 'connect_timeout'
  | 'connection_lost'
  | 'timeout'
  | (string & {});
