import type { SharingState } from '../../shared/contract';
import type { AuditLog } from '../audit/audit-log';
import type { EventHub } from '../rpc/event-hub';
import type { HandlerGroup } from '../rpc/handlers';

/** Something that must stop when the kill switch is used (sessions, remote input). */
export type KillHook = (reason: string) => Promise<void> | void;

/**
 * The host's one "am I sharing" switch (the tray toggle) and the kill switch. Services that stream
 * or inject input register a kill hook; `kill()` runs them all, then turns sharing off.
 */
export class SharingService {
  private state: SharingState = { sharing: false, changedAt: new Date().toISOString(), reason: null };
  private readonly hooks = new Set<KillHook>();

  constructor(
    private readonly events: EventHub,
    private readonly audit: AuditLog,
  ) {}

  get(): SharingState {
    return this.state;
  }

  get sharing(): boolean {
    return this.state.sharing;
  }

  onKill(hook: KillHook): () => void {
    this.hooks.add(hook);
    return () => this.hooks.delete(hook);
  }

  async set(sharing: boolean, who: string, reason: string | null = null): Promise<SharingState> {
    if (this.state.sharing !== sharing) {
      this.state = { sharing, changedAt: new Date().toISOString(), reason };
      this.events.emit('sharing.changed', this.state);
      await this.audit.append({ who, action: sharing ? 'sharing.on' : 'sharing.off', target: null, result: 'ok', detail: reason });
    }
    return this.state;
  }

  async kill(who: string): Promise<SharingState> {
    const failures: string[] = [];
    for (const hook of this.hooks) {
      try {
        await hook('kill switch');
      } catch (error) {
        failures.push((error as Error).message);
      }
    }
    this.state = { sharing: false, changedAt: new Date().toISOString(), reason: 'kill switch' };
    this.events.emit('sharing.changed', this.state);
    await this.audit.append({
      who,
      action: 'sharing.kill',
      target: null,
      result: failures.length === 0 ? 'ok' : 'failed',
      detail: failures.length === 0 ? null : failures.join('; '),
    });
    return this.state;
  }

  handlers(): HandlerGroup<'sharing.get' | 'sharing.set' | 'sharing.kill'> {
    return {
      'sharing.get': () => this.get(),
      'sharing.set': (params, ctx) => this.set(params.sharing, `${ctx.shell}:${ctx.clientId}`),
      'sharing.kill': (_params, ctx) => this.kill(`${ctx.shell}:${ctx.clientId}`),
    };
  }
}
