import { EventEmitter } from 'node:events';
import type { TLSSocket } from 'node:tls';
import { ControlChannel } from '../../../src/core/pairing/channel';
import type { ControlMessage } from '../../../src/shared/contract/peers';

/** Just enough of a socket for the channel: chunks in, written lines out. */
function fakeSocket() {
  const socket = new EventEmitter() as EventEmitter & { written: string[]; ended: boolean; destroyed: boolean };
  socket.written = [];
  socket.ended = false;
  socket.destroyed = false;
  Object.assign(socket, {
    setEncoding: () => socket,
    setNoDelay: () => socket,
    write: (text: string) => void socket.written.push(text),
    end: () => void (socket.ended = true),
    destroy: () => void (socket.destroyed = true),
  });
  return socket;
}

function setup(options = {}) {
  const socket = fakeSocket();
  const channel = new ControlChannel(socket as unknown as TLSSocket, options);
  const messages: ControlMessage[] = [];
  channel.on('message', (message: ControlMessage) => messages.push(message));
  const errors = () => socket.written.map((line) => JSON.parse(line) as { type: string; code?: string }).filter((m) => m.type === 'error').map((m) => m.code);
  return { socket, channel, messages, errors };
}

describe('control channel framing', () => {
  it('reassembles lines split across chunks and several lines per chunk', () => {
    const { socket, messages } = setup();
    socket.emit('data', '{"type":"ping","id":1,');
    socket.emit('data', '"t0":2}\n{"type":"hello","name":"a"}\n{"type":"pi');
    socket.emit('data', 'ng","id":2,"t0":3}\n');
    expect(messages.map((m) => m.type)).toEqual(['ping', 'hello', 'ping']);
  });

  it('answers an oversized line split over many chunks once, discards it, and carries on', () => {
    const { socket, messages, errors } = setup({ maxLineBytes: 100 });
    for (let i = 0; i < 10; i += 1) socket.emit('data', 'x'.repeat(50));
    socket.emit('data', 'tail\n{"type":"ping","id":1,"t0":2}\n');
    expect(errors()).toEqual(['MESSAGE_TOO_LARGE']);
    expect(messages.map((m) => m.type)).toEqual(['ping']);
  });

  it('counts malformed messages and closes after too many', () => {
    const { socket, channel, errors } = setup({ maxMalformed: 3 });
    socket.emit('data', 'a\nb\n{"type":"x"}\n');
    expect(errors()).toEqual(['PARSE_ERROR', 'PARSE_ERROR', 'INVALID_REQUEST']);
    expect(channel.counters.malformed).toBe(3);
    expect(channel.isClosed).toBe(false);
    socket.emit('data', '[]\n');
    expect(channel.isClosed).toBe(true);
    expect(socket.ended).toBe(true);
  });

  it('closes a flood', () => {
    const { socket, channel, errors } = setup({ maxMessagesPerSecond: 50 });
    socket.emit('data', '{"type":"ping","id":1,"t0":2}\n'.repeat(60));
    expect(channel.isClosed).toBe(true);
    expect(errors()).toContain('RATE_LIMITED');
  });
});
