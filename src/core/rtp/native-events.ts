import { Socket } from 'node:net';

const HEAD_BYTES = 8;

/**
 * Reads a native data plane's event pipe (native/rtp/io.c, gb_queue_record): records back to back, each
 * an 8-byte head (u8 type, 3 zero bytes, u32 length, little-endian) and its body; a record split across
 * reads is kept until its rest comes. The returned handle owns the fd: destroying it closes it.
 */
export function readNativeEvents(fd: number, onRecord: (type: number, body: Buffer) => void): Socket {
  const events = new Socket({ fd, readable: true, writable: false });
  let pending: Buffer = Buffer.alloc(0);
  events.on('data', (chunk: Buffer) => {
    let data = pending.length > 0 ? Buffer.concat([pending, chunk]) : chunk;
    while (data.length >= HEAD_BYTES) {
      const length = data.readUInt32LE(4);
      if (data.length < HEAD_BYTES + length) break;
      onRecord(data[0]!, data.subarray(HEAD_BYTES, HEAD_BYTES + length));
      data = data.subarray(HEAD_BYTES + length);
    }
    // what is left may be the start of the next record: its own copy, not a view of a chunk kept whole
    pending = data.length > 0 ? Buffer.from(data) : Buffer.alloc(0);
  });
  events.on('error', () => undefined);
  return events;
}
