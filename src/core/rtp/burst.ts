/**
 * Work left for the end of the burst of datagrams being read now (UdpBatchReceiver reads a burst: the one
 * Node handed over, then what recvmmsg finds behind it), else for the end of this turn of the event loop.
 * A frame's packets come in one burst: what must happen once per frame (its datagrams sent in one
 * sendmmsg, the receiver's next look at the clock) happens as the burst ends, not in a setImmediate of
 * its own, which costs each frame one more turn of the loop (and one more epoll_wait).
 */
let depth = 0;
const queued: (() => void)[] = [];

/** Runs `read` as a burst: the tasks `afterBurst` queued meanwhile run, in order, when it returns. */
export function readBurst(read: () => void): void {
  depth += 1;
  try {
    read();
  } finally {
    depth -= 1;
    if (depth === 0) {
      // a task may queue more (a sender's flush after a receiver's decision): they run too
      for (let index = 0; index < queued.length; index += 1) runTask(queued[index]!);
      queued.length = 0;
    }
  }
}

/**
 * `task` runs at the end of the burst being read, or at the end of this turn of the event loop when none
 * is. The caller keeps its own flag against queueing one task twice; pass the same function each time
 * (made once), so that no closure is made per call.
 */
export function afterBurst(task: () => void): void {
  if (depth > 0) queued.push(task);
  else setImmediate(task);
}

function runTask(task: () => void): void {
  try {
    task();
  } catch (error) {
    // one owner's fault must not keep the others' tasks from running; thrown on, as setImmediate would
    queueMicrotask(() => {
      throw error;
    });
  }
}
