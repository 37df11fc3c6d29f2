// The Wayland capture sources against real headless desktops (tests/helpers/wayland-rig.ts): GNOME's
// portal (the real xdg-desktop-portal frontend, with a test backend standing in for the consent dialog)
// and Mutter's own API, and sway through wlr-screencopy. The self-test runs the whole pipeline from each
// source, as the desktop user, to a local peer process that decodes every frame and reads its stamp.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCapture } from '../../src/core/capture/open-capture';
import { CLI } from '../helpers/spawn-cli';
import { until } from '../helpers/until';
import { startXvfb } from '../helpers/xvfb';
import { rigUnavailable, startGnomeRig, startSwayRig, startWaylandAnimator, type GnomeRig, type SwayRig } from '../helpers/wayland-rig';

const gnomeSkip = rigUnavailable('gnome');
if (gnomeSkip) console.warn(`SKIP capture-sources (GNOME): ${gnomeSkip}`);
const swaySkip = rigUnavailable('sway');
if (swaySkip) console.warn(`SKIP capture-sources (sway): ${swaySkip}`);

interface Selftest {
  ok: boolean;
  reason: string | null;
  source: string;
  framesDecoded: number;
  framesIntact: number;
  p50Ms: number | null;
}

let rigLogs: () => string = () => '';
let rigEnv: () => NodeJS.ProcessEnv = () => ({});

function lastJson(run: { stdout: string; stderr: string; code: number | null }): Selftest {
  const line = run.stdout.trim().split('\n').pop();
  if (!line) throw new Error(`the CLI printed no result (exit ${run.code}): ${run.stderr.slice(-2000)}\n${rigLogs()}`);
  return JSON.parse(line) as Selftest;
}

const SELFTEST = ['session', 'selftest', '--size', '1280x720', '--fps', '30', '--seconds', '4', '--json'];

describe.skipIf(gnomeSkip !== null)('capture on a headless GNOME (mutter, PipeWire, WirePlumber, the real portal frontend)', () => {
  let gnome: GnomeRig;

  beforeAll(async () => {
    gnome = await startGnomeRig();
    rigLogs = () => gnome.rig.logs();
    startWaylandAnimator(gnome.rig, 1280, 720, 30);
  }, 60_000);
  afterAll(async () => {
    await gnome?.rig.stop();
  });

  it('portal: the self-test streams the desktop; the owner approves once, a second run reuses the restore token with no dialog', async () => {
    const first = await gnome.rig.runCli(CLI, [...SELFTEST, '--source', 'portal']);
    const result = lastJson(first);
    expect(result, first.stderr).toMatchObject({ ok: true, source: 'portal' });
    expect(result.framesIntact).toBeGreaterThan(60);
    expect(result.p50Ms).not.toBeNull();
    expect(gnome.portalLog().filter((e) => e.dialog === true)).toHaveLength(1);
    expect(statSync(join(gnome.rig.home, '.config/gpu-bridge/portal-restore-token.json')).mode & 0o777).toBe(0o600);
    const second = await gnome.rig.runCli(CLI, [...SELFTEST, '--source', 'portal']);
    expect(lastJson(second), second.stderr).toMatchObject({ ok: true, source: 'portal' });
    const log = gnome.portalLog();
    expect(log.filter((e) => e.dialog === true)).toHaveLength(1);
    expect(log.filter((e) => e.dialog === false)).toHaveLength(1);
  }, 120_000);

  it('portal: a revoked grant leads to a new request; a cancelled or refused dialog ends with one sentence saying so', async () => {
    const dialogs = () => gnome.portalLog().filter((e) => e.dialog === true).length;
    expect(lastJson(await gnome.rig.runCli(CLI, [...SELFTEST, '--source', 'portal']))).toMatchObject({ ok: true });
    const before = dialogs();
    gnome.revokeGrants();
    const again = await gnome.rig.runCli(CLI, [...SELFTEST, '--source', 'portal']);
    expect(lastJson(again), again.stderr).toMatchObject({ ok: true });
    expect(dialogs()).toBe(before + 1);
    gnome.revokeGrants();
    await gnome.setAnswer('cancel');
    const cancelled = await gnome.rig.runCli(CLI, [...SELFTEST, '--source', 'portal']);
    expect(cancelled.code).not.toBe(0);
    expect(cancelled.stderr, cancelled.stderr).toMatch(/screen share portal: the screen share was cancelled on the workstation/);
    await gnome.setAnswer('deny');
    const refused = await gnome.rig.runCli(CLI, [...SELFTEST, '--source', 'portal']);
    expect(refused.stderr, refused.stderr).toMatch(/screen share portal: the screen share was refused on the workstation/);
    await gnome.setAnswer('grant');
  }, 120_000);

  it('gnome: refused until the owner allows unattended sharing; then Mutter\'s own screen cast with no dialog', async () => {
    const refused = await gnome.rig.runCli(CLI, [...SELFTEST, '--source', 'gnome']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/unattended sharing is off/);
    expect((await gnome.rig.runCli(CLI, ['session', 'unattended', 'on'])).code).toBe(0);
    const dialogs = gnome.portalLog().filter((e) => e.dialog !== undefined).length;
    const run = await gnome.rig.runCli(CLI, [...SELFTEST, '--source', 'gnome']);
    const result = lastJson(run);
    expect(result, run.stderr).toMatchObject({ ok: true, source: 'gnome' });
    expect(result.framesIntact).toBeGreaterThan(60);
    expect(gnome.portalLog().filter((e) => e.dialog !== undefined).length).toBe(dialogs);
  }, 120_000);

  it('a still screen still feeds the encoder a steady rate (the last frame repeated)', async () => {
    await gnome.rig.kill('animator');
    const configDir = mkdtempSync(join(tmpdir(), 'gb-capture-'));
    // Mutter answers a root client too: the feed itself, in this process
    const capture = await openCapture({ kind: 'gnome', width: 1280, height: 720, fps: 30 }, { env: { ...process.env, ...gnome.rig.env }, configDir });
    try {
      const before = { ...capture.feed!.counts };
      await new Promise((resolve) => setTimeout(resolve, 2000));
      const repeated = capture.feed!.counts.framesRepeated - before.framesRepeated;
      const fresh = capture.feed!.counts.framesIn - before.framesIn;
      expect(fresh + repeated).toBeGreaterThan(45);
      expect(repeated).toBeGreaterThan(fresh);
    } finally {
      await capture.close();
      rmSync(configDir, { recursive: true, force: true });
      startWaylandAnimator(gnome.rig, 1280, 720, 30);
    }
  });

  it('info lists the sources that work here and why the others do not', async () => {
    const info = await gnome.rig.runCli(CLI, ['info', '--json']);
    expect(info.code, info.stderr).toBe(0);
    console.log(`info as the desktop user: ${info.stdout}`);
    const capture = (JSON.parse(info.stdout) as { capture: { sessionType: string; defaultSource: string; sources: Array<{ kind: string; available: boolean; action: string | null }> } }).capture;
    expect(capture.sessionType).toBe('wayland');
    expect(capture.defaultSource).toBe('portal');
    expect(capture.sources.find((s) => s.kind === 'portal')?.available).toBe(true);
    expect(capture.sources.find((s) => s.kind === 'gnome')?.available).toBe(true);
    expect(capture.sources.find((s) => s.kind === 'wlroots')).toMatchObject({ available: false, action: expect.any(String) });
    expect(capture.sources.find((s) => s.kind === 'x11')).toMatchObject({ available: false, action: expect.any(String) });
  });
});

describe.skipIf(swaySkip !== null)('capture on a headless sway (wlroots, pixman)', () => {
  let sway: SwayRig;
  beforeAll(async () => {
    sway = await startSwayRig();
    rigLogs = () => sway.rig.logs();
    startWaylandAnimator(sway.rig, 1280, 720, 30);
  }, 60_000);
  afterAll(async () => {
    await sway?.rig.stop();
  });

  it('wlroots: a change of the output\'s size mid-capture: frames keep coming at the session\'s size', async () => {
    const configDir = mkdtempSync(join(tmpdir(), 'gb-capture-'));
    const capture = await openCapture({ kind: 'wlroots', width: 1280, height: 720, fps: 30 }, { env: { ...process.env, ...sway.rig.env }, configDir });
    try {
      const before = capture.feed!.counts.framesIn;
      expect(sway.swaymsg(['output', 'HEADLESS-1', 'resolution', '1920x1080'])).toMatch(/"success": true/);
      await new Promise((resolve) => setTimeout(resolve, 3000));
      expect(capture.feed!.ended).toBeNull();
      const afterChange = capture.feed!.counts.framesIn;
      await new Promise((resolve) => setTimeout(resolve, 2000));
      console.log(`output resized: ${afterChange - before} frames in the 3 s of the change, ${capture.feed!.counts.framesIn - afterChange} in the 2 s after; reader restarts ${capture.feed!.counts.readerRestarts}`);
      expect(capture.feed!.counts.framesIn - afterChange).toBeGreaterThan(10);
      expect(capture.feed!.frameBytes).toBe((1280 * 720 * 3) / 2);
    } finally {
      await capture.close();
      sway.swaymsg(['output', 'HEADLESS-1', 'resolution', '1280x720']);
      rmSync(configDir, { recursive: true, force: true });
    }
  }, 40_000);

  it('wlroots: the self-test streams the desktop through wlr-screencopy', async () => {
    const run = await sway.rig.runCli(CLI, [...SELFTEST, '--source', 'wlroots']);
    const result = lastJson(run);
    expect(result, run.stderr).toMatchObject({ ok: true, source: 'wlroots' });
    expect(result.framesIntact).toBeGreaterThan(60);
  }, 120_000);
});

/** Whether a gnome capture opens now (used to wait for a restarted compositor). */
async function runCapture(kind: 'gnome'): Promise<{ ok: boolean }> {
  const configDir = mkdtempSync(join(tmpdir(), 'gb-capture-'));
  try {
    const capture = await openCapture({ kind, width: 1280, height: 720, fps: 30 }, { env: { ...process.env, ...rigEnv() }, configDir, firstFrameTimeoutMs: 3000 });
    await capture.close();
    return { ok: true };
  } catch {
    return { ok: false };
  } finally {
    rmSync(configDir, { recursive: true, force: true });
  }
}

/** gst-launch and wf-recorder processes still running anywhere (a capture must leave none behind). */
function readers(): string[] {
  const found: string[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const command = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ');
      if (/gst-launch-1\.0 .*pipewiresrc|wf-recorder /.test(command)) found.push(`${entry}: ${command.slice(0, 120)}`);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

describe.skipIf(gnomeSkip !== null)('a Wayland capture when the desktop goes wrong (a GNOME rig of its own, no portal in it)', () => {
  let gnome: GnomeRig;
  let configDir: string;
  beforeAll(async () => {
    gnome = await startGnomeRig({ portal: false });
    rigLogs = () => gnome.rig.logs();
    rigEnv = () => gnome.rig.env;
    startWaylandAnimator(gnome.rig, 1280, 720, 30);
    configDir = mkdtempSync(join(tmpdir(), 'gb-capture-'));
  }, 60_000);
  afterAll(async () => {
    await gnome?.rig.stop();
    rmSync(configDir, { recursive: true, force: true });
  });

  it('no portal in the session: the portal source says so and what to install', async () => {
    const run = await gnome.rig.runCli(CLI, [...SELFTEST, '--source', 'portal']);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/screen share portal: this session has no xdg-desktop-portal ScreenCast: install xdg-desktop-portal/);
  });

  it('PipeWire gone mid-capture: the capture ends with one sentence, and no reader is left behind', async () => {
    const capture = await openCapture({ kind: 'gnome', width: 1280, height: 720, fps: 30 }, { env: { ...process.env, ...gnome.rig.env }, configDir });
    const ended = new Promise<string>((resolve) => capture.feed!.once('ended', resolve));
    await gnome.rig.kill('pipewire');
    const reason = await Promise.race([ended, new Promise<string>((resolve) => setTimeout(() => resolve('(still running after 20 s)'), 20_000))]);
    await capture.close();
    console.log(`PipeWire killed: "${reason}"`);
    expect(reason).toMatch(/^GNOME screen cast \(unattended\)(: GNOME ended the screen cast \(Mutter closed the session\): start the session again| stopped delivering frames .*check that the desktop session and PipeWire are still running)/);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(readers()).toEqual([]);
  }, 40_000);

  it('the compositor gone mid-capture: ended with a sentence saying so', async () => {
    // a PipeWire that went away leaves Mutter unable to cast until it restarts too: a fresh pair
    const env = gnome.rig.userEnv({ DBUS_SESSION_BUS_ADDRESS: gnome.address });
    await gnome.rig.kill('wireplumber');
    gnome.rig.startAsUser('pipewire', 'pipewire', [], env);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    gnome.rig.startAsUser('wireplumber', 'wireplumber', [], env);
    await gnome.rig.kill('mutter');
    gnome.rig.startAsUser('mutter', 'mutter', ['--headless', '--virtual-monitor', '1280x720', '--wayland-display=wayland-gb', '--no-x11'], { ...env, XDG_SESSION_TYPE: 'wayland' });
    await until('Mutter back on the bus', async () => (await runCapture('gnome')).ok, 20_000);
    const capture = await openCapture({ kind: 'gnome', width: 1280, height: 720, fps: 30 }, { env: { ...process.env, ...gnome.rig.env }, configDir });
    const ended = new Promise<string>((resolve) => capture.feed!.once('ended', resolve));
    await gnome.rig.kill('mutter');
    const reason = await Promise.race([ended, new Promise<string>((resolve) => setTimeout(() => resolve('(still running after 20 s)'), 20_000))]);
    await capture.close();
    console.log(`mutter killed: "${reason}"`);
    expect(reason).toMatch(/^GNOME screen cast \(unattended\): (the compositor \(GNOME Shell or Mutter\) went away: once the desktop is back, start the session again|GNOME ended the screen cast)/);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(readers()).toEqual([]);
  }, 40_000);
});

const noXvfb = spawnSync('sh', ['-c', 'command -v Xvfb']).status !== 0;
if (noXvfb) console.warn('SKIP capture-sources (x11): Xvfb is not installed (Debian: xvfb)');

describe.skipIf(noXvfb)('capture from an X display', () => {
  it('x11: the self-test streams the display through x11grab, and says so', async () => {
    const xvfb = await startXvfb('1280x720x24');
    try {
      const run = spawnSync(process.execPath, [CLI, ...SELFTEST, '--source', 'x11', '--display', xvfb.display], { encoding: 'utf8', timeout: 60_000 });
      const result = lastJson({ stdout: run.stdout, stderr: run.stderr, code: run.status });
      expect(result, run.stderr).toMatchObject({ ok: true, source: 'x11' });
      expect(result.framesIntact).toBeGreaterThan(60);
    } finally {
      xvfb.child.kill();
    }
  }, 90_000);
});
