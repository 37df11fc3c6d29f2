import { describe, expect, it } from 'vitest';
import { AppInfo, events, isEventName, isMethodName, methods } from '../../../src/shared/contract';
import { ErrorCode } from '../../../src/shared/errors';

describe('contract', () => {
  it('names every method domain.verb and gives it params, result and a description', () => {
    for (const [name, spec] of Object.entries(methods)) {
      expect(name).toMatch(/^[a-z]+(\.[a-zA-Z]+)+$/);
      expect(spec.description.length).toBeGreaterThan(5);
      expect(typeof spec.params.safeParse).toBe('function');
      expect(typeof spec.result.safeParse).toBe('function');
    }
  });

  it('names every event and gives it a payload schema', () => {
    for (const [name, spec] of Object.entries(events)) {
      expect(name).toMatch(/^[a-z]+(\.[a-zA-Z]+)+$/);
      expect(typeof spec.payload.safeParse).toBe('function');
    }
  });

  it('knows its own names and no inherited ones', () => {
    expect(isMethodName('app.info')).toBe(true);
    expect(isMethodName('toString')).toBe(false);
    expect(isMethodName('__proto__')).toBe(false);
    expect(isEventName('app.heartbeat')).toBe(true);
    expect(isEventName('constructor')).toBe(false);
  });

  it('app.info takes no params and rejects unknown ones', () => {
    expect(methods['app.info'].params.safeParse(undefined).success).toBe(true);
    expect(methods['app.info'].params.safeParse({}).success).toBe(true);
    expect(methods['app.info'].params.safeParse({ extra: 1 }).success).toBe(false);
  });

  it('app.info result requires shell desktop|web and the capability flags', () => {
    const good = {
      name: 'gpu-bridge',
      version: '0.1.0',
      hostname: 'ws',
      shell: 'web',
      platform: 'linux',
      arch: 'x64',
      pid: 1,
      startedAt: new Date().toISOString(),
      capabilities: { nvidiaSmi: false, nvml: false, ffmpeg: true, ffmpegVersion: '5.1', ffmpegEncoders: ['libx264'], xDisplay: null, pkexec: false, qemu: true, libvirt: false, notRecorded: [] },
      snapshot: null,
    };
    expect(AppInfo.safeParse(good).success).toBe(true);
    expect(AppInfo.safeParse({ ...good, snapshot: { host: 'ws-7', takenAt: '2026-12-01T00:00:00Z', source: null } }).success).toBe(true);
    expect(AppInfo.safeParse({ ...good, shell: 'cli' }).success).toBe(false);
    const { pkexec: _pkexec, ...withoutPkexec } = good.capabilities;
    expect(AppInfo.safeParse({ ...good, capabilities: withoutPkexec }).success).toBe(false);
  });

  it('has stable, unique error codes', () => {
    const codes = Object.values(ErrorCode);
    expect(new Set(codes).size).toBe(codes.length);
    expect(ErrorCode.UnknownMethod).toBe('UNKNOWN_METHOD');
    expect(ErrorCode.InvalidParams).toBe('INVALID_PARAMS');
    expect(ErrorCode.MessageTooLarge).toBe('MESSAGE_TOO_LARGE');
    expect(ErrorCode.ParseError).toBe('PARSE_ERROR');
    expect(ErrorCode.Internal).toBe('INTERNAL');
  });
});
