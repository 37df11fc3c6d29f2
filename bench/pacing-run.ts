// bench/pacing: 20 Mbit/s with a keyframe every 2 s (ten frames big) through a 30 Mbit/s link whose
// queue holds 30 ms, through the real rtp sender and receiver; paced (1.5x) and unpaced in the same
// run. The relay runs in a process of its own. Prints frames lost each way and their ratio, then a JSON line.
import { childRelay, relayMain, relays } from './latency-relay';
import { streamThroughBottleneck, type BottleneckStreamResult } from '../tests/helpers/rtp-through-bottleneck';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 12);
const KBPS = Number(process.env.BENCH_KBPS ?? 20_000);
const CAP_KBPS = Number(process.env.BENCH_CAP_KBPS ?? 30_000);
const QUEUE_MS = Number(process.env.BENCH_QUEUE_MS ?? 30);

async function once(pacingFactor: number | null): Promise<BottleneckStreamResult> {
  return streamThroughBottleneck({
    seconds: SECONDS, fps: 60, kbps: KBPS, keyframeEverySeconds: 2, pacingFactor,
    link: { oneWayDelayMs: 5, loss: 0, capKbps: CAP_KBPS, queueMs: QUEUE_MS },
    relay: (target, profile) => childRelay(target, profile),
  });
}

function line(label: string, r: BottleneckStreamResult): string {
  const lostFrames = r.framesSent - r.framesDelivered;
  return `${label.padEnd(10)} frames sent ${r.framesSent} (${r.keyframesSent} keyframes), delivered ${r.framesDelivered}, lost ${lostFrames} (given up ${r.framesLost}, skipped after ${r.framesSkipped}); packets lost on the link ${r.lost} of ${r.packetsSent}, FEC ${r.fecRecovered}, NACK ${r.nackRecovered}`;
}

async function main(): Promise<void> {
  console.log(`bench/pacing: ${KBPS / 1000} Mbit/s, 60 fps, a keyframe every 2 s, through ${CAP_KBPS / 1000} Mbit/s with a ${QUEUE_MS} ms queue, ${SECONDS} s each`);
  const paced = await once(1.5);
  console.log(line('paced', paced));
  const unpaced = await once(null);
  console.log(line('unpaced', unpaced));
  const lost = (r: BottleneckStreamResult) => r.framesSent - r.framesDelivered;
  const ratio = lost(unpaced) / Math.max(1, lost(paced));
  console.log(`frames lost unpaced / paced: ${lost(unpaced)} / ${lost(paced)} (${ratio.toFixed(1)}x, paced counted as at least 1)`);
  console.log(JSON.stringify({ bench: 'pacing', kbps: KBPS, capKbps: CAP_KBPS, queueMs: QUEUE_MS, seconds: SECONDS, paced, unpaced, framesLostPaced: lost(paced), framesLostUnpaced: lost(unpaced), ratio }));
}

const stop = () => {
  for (const relay of relays) void relay.stop(500);
  process.exit(130);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
if (process.argv[2] === 'relay') await relayMain(process.argv.slice(3));
else await main().then(() => process.exit(0), (error: unknown) => {
  console.error(`bench/pacing could not run: ${(error as Error).message}`);
  process.exit(1);
});
