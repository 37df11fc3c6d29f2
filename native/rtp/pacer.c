/*
 * Pacer (src/core/rtp/pacer.ts) in C, with time passed in: the same packets leave at the same calls for
 * the same inputs. The TypeScript is the reference; the comments there say why each rule is as it is.
 * Its setTimeout is the time gb_pacer_next_at reports (the delay as Node takes it), and gb_pacer_drain
 * is that timer firing. Floating point keeps the TypeScript's order of operations, Math.max and
 * Math.min their NaN.
 *
 * One departure: the TypeScript queues without bound; here at most MAX_QUEUED packets wait (urgent and
 * not together), and a packet pushed past that (or where the queue cannot grow) is sent at once, as one
 * that finds tokens is: ahead of those waiting, not counted as delayed. In practice only a timer that
 * stops firing gets there: the age rule sends all that waited 200 ms (65536 packets in 200 ms: 3.6 Gbit/s).
 */
#include "gb_rtp.h"

#include <math.h>
#include <stdlib.h>

#define MAX_BACKLOG_MS 200.0
#define OVER_PUSHED 1.1
#define WINDOW_MS 500.0
#define MIN_OVER_TARGET 1.15
#define MIN_BURST_BYTES (8.0 * 1500)
/* Node's setTimeout: a delay that is not a number from 1 to 2^31 - 1 ms becomes 1 */
#define TIMEOUT_MAX 2147483647.0

enum { MAX_QUEUED = 65536, FIRST_RING_SLOTS = 256 };

typedef struct {
  uint64_t id;
  size_t length;
  double at;
} entry;

/* A FIFO of entries, its slots a power of two, grown by doubling (never shrunk: no allocation once warm). */
typedef struct {
  entry *slots;
  size_t size, head, count;
} ring;

struct gb_pacer {
  gb_pacer_send send;
  void *ctx;
  double bytes_per_ms, burst_bytes, tokens, refilled_at;
  ring queue, urgent;
  size_t queued_bytes;
  bool armed;
  double next_at;
  struct {
    double current, previous, since;
  } pushed;
  double delayed;
};

static double js_max(double a, double b) { return isnan(a) || isnan(b) ? NAN : a > b ? a : b; }
static double js_min(double a, double b) { return isnan(a) || isnan(b) ? NAN : a < b ? a : b; }

/* Math.round: halves go up (floor(x + 0.5) is off for some x just under a half) */
static double js_round(double x) {
  double r = floor(x);
  return x - r >= 0.5 ? r + 1 : r;
}

static bool ring_push(ring *r, entry e) {
  if (r->count == r->size) {
    size_t size = r->size ? 2 * r->size : FIRST_RING_SLOTS;
    entry *slots = malloc(size * sizeof *slots);
    if (!slots) return false;
    for (size_t i = 0; i < r->count; i++) slots[i] = r->slots[(r->head + i) & (r->size - 1)];
    free(r->slots);
    r->slots = slots;
    r->size = size;
    r->head = 0;
  }
  r->slots[(r->head + r->count) & (r->size - 1)] = e;
  r->count++;
  return true;
}

static entry ring_shift(ring *r) {
  entry e = r->slots[r->head];
  r->head = (r->head + 1) & (r->size - 1);
  r->count--;
  return e;
}

static double rate(const gb_pacer *p, double now) {
  double span_ms = now - p->pushed.since + WINDOW_MS;
  return js_max(p->bytes_per_ms, (OVER_PUSHED * (p->pushed.current + p->pushed.previous)) / span_ms);
}

static void refill(gb_pacer *p, double now) {
  if (now - p->pushed.since >= WINDOW_MS) {
    bool stale = now - p->pushed.since >= 2 * WINDOW_MS;
    p->pushed.previous = stale ? 0 : p->pushed.current;
    p->pushed.current = 0;
    p->pushed.since = now;
  }
  p->tokens = js_min(p->burst_bytes, p->tokens + (now - p->refilled_at) * rate(p, now));
  p->refilled_at = now;
}

static double oldest(const gb_pacer *p) {
  double urgent = p->urgent.count ? p->urgent.slots[p->urgent.head].at : INFINITY;
  double queued = p->queue.count ? p->queue.slots[p->queue.head].at : INFINITY;
  return js_min(urgent, queued);
}

static void schedule(gb_pacer *p) {
  if (p->armed || p->queued_bytes == 0) return;
  double for_tokens = (1 - p->tokens) / rate(p, p->refilled_at);
  double for_stale = oldest(p) + MAX_BACKLOG_MS - p->refilled_at;
  double delay = js_max(1, js_min(for_tokens, for_stale));
  if (!(delay >= 1 && delay <= TIMEOUT_MAX)) delay = 1;
  p->armed = true;
  p->next_at = p->refilled_at + delay;
}

gb_pacer *gb_pacer_new(double target_kbps, double fps, double factor, double link_kbps, double now, gb_pacer_send send, void *ctx) {
  if (!send) return NULL;
  gb_pacer *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->send = send;
  p->ctx = ctx;
  gb_pacer_set_target(p, target_kbps, fps, factor, link_kbps, now);
  p->tokens = p->burst_bytes;
  p->refilled_at = now;
  p->pushed.since = now;
  return p;
}

void gb_pacer_free(gb_pacer *pacer) {
  if (!pacer) return;
  free(pacer->queue.slots);
  free(pacer->urgent.slots);
  free(pacer);
}

void gb_pacer_set_target(gb_pacer *p, double target_kbps, double fps, double factor, double link_kbps, double now) {
  double link_bytes_per_ms = link_kbps > 0 ? link_kbps / 8 : INFINITY;
  p->bytes_per_ms = js_max((target_kbps * MIN_OVER_TARGET) / 8, js_min((target_kbps * factor) / 8, link_bytes_per_ms));
  p->burst_bytes = js_max(MIN_BURST_BYTES, js_round((target_kbps * 1000) / 8 / js_max(1, fps)));
  if (p->armed) {
    p->armed = false;
    refill(p, now);
    schedule(p);
  }
}

void gb_pacer_push(gb_pacer *p, uint64_t id, size_t length, bool urgent, double now) {
  refill(p, now);
  p->pushed.current += (double)length;
  bool full = p->queue.count + p->urgent.count >= MAX_QUEUED;
  /* full, or no memory to queue it: it goes at once, as a packet that finds tokens */
  if ((p->queued_bytes == 0 && p->tokens > 0) || full || !ring_push(urgent ? &p->urgent : &p->queue, (entry){id, length, p->refilled_at})) {
    p->tokens -= (double)length;
    p->send(p->ctx, id, length);
    return;
  }
  p->delayed += 1;
  p->queued_bytes += length;
  schedule(p);
}

void gb_pacer_drain(gb_pacer *p, double now) {
  p->armed = false;
  refill(p, now);
  double stale = p->refilled_at - MAX_BACKLOG_MS;
  /* the counts too: queued_bytes could only disagree with them past size_t, never with real lengths */
  while (p->queued_bytes > 0 && (p->urgent.count || p->queue.count) && (p->tokens > 0 || oldest(p) <= stale)) {
    entry e = ring_shift(p->urgent.count ? &p->urgent : &p->queue);
    p->queued_bytes -= e.length;
    if (p->tokens > 0) p->tokens -= (double)e.length;
    p->send(p->ctx, e.id, e.length);
  }
  schedule(p);
}

double gb_pacer_next_at(gb_pacer *p) { return p->armed ? p->next_at : -1; }

size_t gb_pacer_backlog_bytes(gb_pacer *p) { return p->queued_bytes; }

double gb_pacer_delayed(gb_pacer *p) { return p->delayed; }
