import type { AudioStats } from '../../shared/contract/peers';
import type { RtpKeys } from '../rtp/rtp-keys';
import { summarize } from '../sessions/quantiles';
import { audioKeys } from './audio-keys';
import { AudioRtpSender } from './audio-sender';
import { HostAudio, type EncodedAudio } from './host-audio';

/** The sound's figures for one viewer's second, as the Sessions page and Prometheus take them. */
export interface AudioSecondFigures {
  audioKbps: number | null;
  audioPacketsLost: number | null;
  audioPacketsRecovered: number | null;
  audioConcealedMs: number | null;
  audioLatencyMs: number | null;
  avOffsetMs: number | null;
}

export interface AudioTotals {
  latencyP50Ms: number | null;
  avOffsetP50Ms: number | null;
  /** Of the offset's size (early or late alike). */
  avOffsetP95Ms: number | null;
  concealedMs: number;
  packetsLost: number;
  packetsRecovered: number;
}

const NO_FIGURES: AudioSecondFigures = { audioKbps: null, audioPacketsLost: null, audioPacketsRecovered: null, audioConcealedMs: null, audioLatencyMs: null, avOffsetMs: null };

/**
 * A session's sound on the host: one capture and encoder (HostAudio) for the session, one encrypted
 * sender per viewer (its own socket, keys derived from the viewer's), and the viewers' per-second
 * reports summed for the self-test. `why` says in one line why a session asked for sound has none.
 */
export class SessionAudio {
  private host: HostAudio | null = null;
  private readonly senders = new Map<string, { sender: AudioRtpSender; forward: (packet: EncodedAudio) => void }>();
  private readonly latencies: number[] = [];
  private readonly offsets: number[] = [];
  private totals = { concealedMs: 0, packetsLost: 0, packetsRecovered: 0 };
  /** Times a viewer's output ran dry (audible gaps concealment did not fill), over the session. */
  underruns = 0;
  why: string | null = null;
  /** Viewers where the sound is not heard, and why (their own words, or ours for an older peer). */
  private readonly notes = new Map<string, string>();
  private closed = false;

  constructor(private readonly options: { env?: NodeJS.ProcessEnv; device?: string } = {}) {}

  get on(): boolean {
    return this.host !== null;
  }

  /** Starts capturing, once; a host with no sound server gets `why` and the session goes on without. */
  async open(): Promise<void> {
    if (this.host || this.why || this.closed) return;
    const opened = await HostAudio.open(this.options);
    if (this.closed) {
      // the session ended while the capture started: it must not outlive it
      if ('audio' in opened) await opened.audio.close();
      return;
    }
    if ('unavailable' in opened) {
      this.why = opened.unavailable;
      return;
    }
    this.host = opened.audio;
    this.host.once('ended', (reason: string) => {
      this.why = reason;
      void this.close();
    });
  }

  /** Sends the sound to a viewer that answered with an audio port. */
  async addViewer(name: string, where: { host: string; audioPort?: number }, keys: RtpKeys): Promise<void> {
    const host = this.host;
    if (!host || where.audioPort === undefined) return;
    this.removeViewer(name);
    const sender = new AudioRtpSender({ host: where.host, port: where.audioPort }, audioKeys(keys));
    try {
      await sender.start();
    } catch (error) {
      sender.close();
      throw error;
    }
    // closed meanwhile (the session ended): no socket may outlive it
    if (this.host !== host) {
      sender.close();
      return;
    }
    const forward = (packet: EncodedAudio) => sender.packet(packet.payload, packet.capturedAt);
    host.on('packet', forward);
    this.senders.set(name, { sender, forward });
  }

  /**
   * Every encoded packet from now on, for a transport that carries the sound itself (srt: inside its
   * MPEG-TS); returns the function that stops it. Nothing where the session has no sound.
   */
  onPacket(listener: (packet: EncodedAudio) => void): () => void {
    const host = this.host;
    if (!host) return () => undefined;
    host.on('packet', listener);
    return () => host.off('packet', listener);
  }

  /** What a viewer said of the sound when its receiver opened (`why` null: it plays it). */
  note(name: string, why: string | null): void {
    if (why) this.notes.set(name, why);
    else this.notes.delete(name);
  }

  /** The viewers that do not hear the sound the session carries, and why. */
  get notHeard(): { viewer: string; why: string }[] {
    return [...this.notes].map(([viewer, why]) => ({ viewer, why }));
  }

  removeViewer(name: string): void {
    const entry = this.senders.get(name);
    if (!entry) return;
    this.senders.delete(name);
    this.host?.off('packet', entry.forward);
    entry.sender.close();
  }

  /** A viewer's report for this second, its clock's offset removed from the latency. */
  second(stats: AudioStats | undefined, offsetMs: number | null): AudioSecondFigures {
    if (!stats) return NO_FIGURES;
    const latency = stats.delayMs === null ? null : Math.round((stats.delayMs - (offsetMs ?? 0)) * 10) / 10;
    if (latency !== null) this.latencies.push(latency);
    if (stats.avOffsetMs !== null) this.offsets.push(stats.avOffsetMs);
    this.totals.concealedMs += stats.concealedMs;
    this.totals.packetsLost += stats.lost;
    this.totals.packetsRecovered += stats.recovered;
    this.underruns += stats.underruns;
    return { audioKbps: stats.bitrateKbps, audioPacketsLost: stats.lost, audioPacketsRecovered: stats.recovered, audioConcealedMs: stats.concealedMs, audioLatencyMs: latency, avOffsetMs: stats.avOffsetMs };
  }

  /** Over the whole session (the first seconds' start-up left in: the self-test runs long enough to outweigh them). */
  summary(): AudioTotals {
    const latency = summarize(this.latencies);
    // the offset's p50 keeps its sign (which way the sound leans); its p95 is of the size, either way
    return { latencyP50Ms: latency.p50Ms, avOffsetP50Ms: summarize(this.offsets).p50Ms, avOffsetP95Ms: summarize(this.offsets.map(Math.abs)).p95Ms, ...this.totals };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const name of [...this.senders.keys()]) this.removeViewer(name);
    const host = this.host;
    this.host = null;
    await host?.close();
  }
}
