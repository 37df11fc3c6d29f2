/** ICE's UDP ports when nothing is configured: a fixed range a firewall can open. */
export const DEFAULT_WEBRTC_PORTS: [number, number] = [50000, 50199];

/** "MIN-MAX" (GPU_BRIDGE_WEBRTC_PORTS, `serve --webrtc-ports`): the UDP ports WebRTC's ICE may bind. */
export function parsePortRange(text: string | undefined): [number, number] {
  if (text === undefined || text === '') return DEFAULT_WEBRTC_PORTS;
  const match = /^(\d{1,5})-(\d{1,5})$/.exec(text.trim());
  const min = match ? Number(match[1]) : NaN;
  const max = match ? Number(match[2]) : NaN;
  if (!match || min < 1024 || max > 65535 || max <= min) {
    throw new Error(`bad WebRTC port range "${text.slice(0, 40)}": MIN-MAX with 1024 <= MIN < MAX <= 65535, e.g. 50000-50199`);
  }
  return [min, max];
}
