import { createRequire } from 'node:module';

/**
 * libpulse's asynchronous API (koffi), the few calls a playback stream needs, on a plain `pa_mainloop` that
 * the caller iterates without blocking from Node's own loop: every callback libpulse makes then runs on
 * Node's thread, inside `pa_mainloop_iterate`. Null with a reason where libpulse (Debian: libpulse0, which
 * pulseaudio-utils and ffmpeg depend on) cannot be loaded.
 */

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- koffi's functions take and return what the signature says
type Native = (...args: any[]) => any;

export interface PulseLib {
  mainloopNew: Native;
  mainloopGetApi: Native;
  mainloopIterate: Native;
  mainloopFree: Native;
  contextNew: Native;
  contextConnect: Native;
  contextGetState: Native;
  contextErrno: Native;
  contextDisconnect: Native;
  contextUnref: Native;
  strerror: Native;
  streamNew: Native;
  streamConnectPlayback: Native;
  streamGetState: Native;
  streamWrite: Native;
  streamCork: Native;
  streamUpdateTimingInfo: Native;
  streamGetTimingInfo: Native;
  streamSetUnderflowCallback: Native;
  streamDisconnect: Native;
  streamUnref: Native;
  operationUnref: Native;
  /** A JavaScript function as a `pa_stream_notify_cb_t` (release it with `unregister`). */
  notifyCallback(fn: () => void): unknown;
  unregister(callback: unknown): void;
  /** The fields of a `pa_timing_info` this code reads. */
  timingInfo(pointer: unknown): TimingInfo;
}

export interface TimingInfo {
  /** When the server's figures were current: local wall-clock ms (gettimeofday). */
  atMs: number;
  playing: boolean;
  /** Bytes: the server's read index, and the write index as it knew it (ours, where both are valid). */
  readIndex: number | null;
  writeIndex: number | null;
  /** How long the sink's own buffer holds what it read (µs): heard this long after leaving our stream. */
  sinkUsec: number;
}

export const PA_CONTEXT_READY = 4;
export const PA_CONTEXT_FAILED = 5;
export const PA_CONTEXT_TERMINATED = 6;
export const PA_STREAM_READY = 2;
export const PA_STREAM_FAILED = 3;
export const PA_STREAM_TERMINATED = 4;
export const PA_CONTEXT_NOAUTOSPAWN = 1;
export const PA_SAMPLE_S16LE = 3;
export const PA_STREAM_START_CORKED = 0x1;
export const PA_STREAM_ADJUST_LATENCY = 0x2000;
export const PA_SEEK_RELATIVE = 0;
export const PA_SEEK_RELATIVE_ON_READ = 2;

let loaded: { lib: PulseLib } | { error: string } | undefined;

function load(): PulseLib {
  if (!loaded) {
    try {
      const koffi = createRequire(import.meta.url)('koffi') as {
        load(path: string): { func(signature: string): Native };
        struct(name: string, fields: Record<string, string>): unknown;
        proto(signature: string): unknown;
        pointer(type: unknown): unknown;
        register(fn: (...args: unknown[]) => unknown, type: unknown): unknown;
        unregister(callback: unknown): void;
        decode(pointer: unknown, type: unknown): Record<string, unknown>;
      };
      const lib = koffi.load('libpulse.so.0');
      koffi.struct('gb_pa_sample_spec', { format: 'int', rate: 'uint32_t', channels: 'uint8_t' });
      koffi.struct('gb_pa_buffer_attr', { maxlength: 'uint32_t', tlength: 'uint32_t', prebuf: 'uint32_t', minreq: 'uint32_t', fragsize: 'uint32_t' });
      const timing = koffi.struct('gb_pa_timing_info', {
        tv_sec: 'long',
        tv_usec: 'long',
        synchronized_clocks: 'int',
        sink_usec: 'uint64_t',
        source_usec: 'uint64_t',
        transport_usec: 'uint64_t',
        playing: 'int',
        write_index_corrupt: 'int',
        write_index: 'int64_t',
        read_index_corrupt: 'int',
        read_index: 'int64_t',
        configured_sink_usec: 'uint64_t',
        configured_source_usec: 'uint64_t',
        since_underrun: 'int64_t',
      });
      const notify = koffi.proto('void gb_pa_stream_notify_cb(void *stream, void *userdata)');
      loaded = {
        lib: {
          mainloopNew: lib.func('void *pa_mainloop_new()'),
          mainloopGetApi: lib.func('void *pa_mainloop_get_api(void *m)'),
          mainloopIterate: lib.func('int pa_mainloop_iterate(void *m, int block, void *retval)'),
          mainloopFree: lib.func('void pa_mainloop_free(void *m)'),
          contextNew: lib.func('void *pa_context_new(void *api, const char *name)'),
          contextConnect: lib.func('int pa_context_connect(void *c, const char *server, int flags, void *api)'),
          contextGetState: lib.func('int pa_context_get_state(void *c)'),
          contextErrno: lib.func('int pa_context_errno(void *c)'),
          contextDisconnect: lib.func('void pa_context_disconnect(void *c)'),
          contextUnref: lib.func('void pa_context_unref(void *c)'),
          strerror: lib.func('const char *pa_strerror(int error)'),
          streamNew: lib.func('void *pa_stream_new(void *c, const char *name, const gb_pa_sample_spec *ss, void *map)'),
          streamConnectPlayback: lib.func('int pa_stream_connect_playback(void *s, const char *dev, const gb_pa_buffer_attr *attr, int flags, void *volume, void *sync)'),
          streamGetState: lib.func('int pa_stream_get_state(void *s)'),
          streamWrite: lib.func('int pa_stream_write(void *s, const uint8_t *data, size_t nbytes, void *free_cb, int64_t offset, int seek)'),
          streamCork: lib.func('void *pa_stream_cork(void *s, int b, void *cb, void *userdata)'),
          streamUpdateTimingInfo: lib.func('void *pa_stream_update_timing_info(void *s, void *cb, void *userdata)'),
          streamGetTimingInfo: lib.func('const gb_pa_timing_info *pa_stream_get_timing_info(void *s)'),
          streamSetUnderflowCallback: lib.func('void pa_stream_set_underflow_callback(void *s, gb_pa_stream_notify_cb *cb, void *userdata)'),
          streamDisconnect: lib.func('int pa_stream_disconnect(void *s)'),
          streamUnref: lib.func('void pa_stream_unref(void *s)'),
          operationUnref: lib.func('void pa_operation_unref(void *o)'),
          notifyCallback: (fn) => koffi.register(() => fn(), koffi.pointer(notify)),
          unregister: (callback) => koffi.unregister(callback),
          timingInfo: (pointer) => {
            const t = koffi.decode(pointer, timing) as Record<string, number | bigint>;
            const num = (v: number | bigint | undefined): number => Number(v ?? 0);
            return {
              atMs: num(t.tv_sec) * 1000 + num(t.tv_usec) / 1000,
              playing: num(t.playing) !== 0,
              readIndex: num(t.read_index_corrupt) !== 0 ? null : num(t.read_index),
              writeIndex: num(t.write_index_corrupt) !== 0 ? null : num(t.write_index),
              sinkUsec: num(t.sink_usec),
            };
          },
        },
      };
    } catch (error) {
      loaded = { error: `libpulse cannot be loaded (${(error as Error).message.split('\n')[0]}): install libpulse0` };
    }
  }
  if ('error' in loaded) throw new Error(loaded.error);
  return loaded.lib;
}

/** libpulse, or the reason it cannot be had (thrown). */
export function pulseLib(): PulseLib {
  return load();
}
