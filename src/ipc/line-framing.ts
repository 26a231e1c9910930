import { PROTOCOL_VERSION, type RequestId } from './protocol.js';

/**
 * Splits one connection's bytes into request lines, none longer than `maxLineBytes`. A partial
 * line is kept until its newline arrives; its size counts against the limit from the first byte.
 */
export class LineReader {
  #buffered: Buffer[] = [];
  #bufferedBytes = 0;

  constructor(readonly maxLineBytes: number) {}

  /**
   * Hands each complete line of `chunk` to `onLine`, which answers whether to read on (false once
   * the connection closed). Returns `too_long` as soon as a line passes the limit; the rest of the
   * chunk is not read.
   */
  push(chunk: Buffer, onLine: (line: string) => boolean): 'ok' | 'too_long' {
    let start = 0;
    let nl = chunk.indexOf(0x0a, start);
    while (nl !== -1) {
      const part = chunk.subarray(start, nl);
      if (this.#bufferedBytes + part.length > this.maxLineBytes) return 'too_long';
      const line = this.#bufferedBytes === 0 ? part : Buffer.concat([...this.#buffered, part]);
      this.#buffered = [];
      this.#bufferedBytes = 0;
      if (!onLine(line.toString('utf8'))) return 'ok';
      start = nl + 1;
      nl = chunk.indexOf(0x0a, start);
    }
    if (start >= chunk.length) return 'ok';
    const rest = chunk.subarray(start);
    if (this.#bufferedBytes + rest.length > this.maxLineBytes) return 'too_long';
    this.#buffered.push(Buffer.from(rest));
    this.#bufferedBytes += rest.length;
    return 'ok';
  }
}

/** One answer line: `{"v":1,"id":…,"result":…}` or `{"v":1,"id":…,"error":{code,message}}`. */
export function encodeLine(id: RequestId | null, body: object): string {
  return `${JSON.stringify({ v: PROTOCOL_VERSION, id, ...body })}\n`;
}
