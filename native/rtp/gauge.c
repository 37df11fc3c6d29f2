/*
 * One second of what the media packets' arrival says about the link: a port of DelayGauge in
 * src/core/rtp/delay-gauge.ts (the comments there say what each figure means).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gb_rtp.h"

#define BASE_WINDOW_SECONDS 10
#define MAX_TRAIN_KBPS 1000000.0
#define MAX_TRAINS 1000
/*
 * The TypeScript keeps every delay sample of a second (one per frame); here at most this many, the
 * minimum still taken over all of them. 4096 frames in a second is far beyond any stream.
 */
#define MAX_DELAYS 4096
#define RTP_CLOCK_PER_MS 90.0
#define SEND_STAMP_PER_MS 262.144
#define SEND_STAMP_WRAP 0x1000000

struct gb_gauge {
  bool has_timestamp_base;
  uint32_t timestamp_base;
  bool has_frame;
  struct {
    uint32_t timestamp;
    double first_at, last_at, bytes, first_bytes, packets;
  } frame;
  size_t delay_count, train_count, minima_count;
  double delays[MAX_DELAYS];
  double trains[MAX_TRAINS];
  double bytes;
  /* minimum one-way delay of each of the last seconds, the newest last */
  double minima[BASE_WINDOW_SECONDS + 1];
  double second_min;
  bool has_stamp;
  uint32_t stamp_raw;
  double stamp_ms;
};

gb_gauge *gb_gauge_new(void) {
  gb_gauge *g = calloc(1, sizeof *g);
  if (g) g->second_min = INFINITY;
  return g;
}

void gb_gauge_free(gb_gauge *gauge) { free(gauge); }

void gb_gauge_fec(gb_gauge *gauge, size_t bytes) { gauge->bytes += (double)bytes; }

static void close_train(gb_gauge *g) {
  if (g->frame.packets < 3 || g->train_count >= MAX_TRAINS) return;
  double span_ms = g->frame.last_at - g->frame.first_at;
  double kbps = span_ms > 0 ? ((g->frame.bytes - g->frame.first_bytes) * 8) / span_ms : MAX_TRAIN_KBPS;
  g->trains[g->train_count++] = kbps > MAX_TRAIN_KBPS ? MAX_TRAIN_KBPS : kbps;
}

/* When the frame's first packet left the host (ms, relative); false where the stream's clock cannot tell. */
static bool sent_ms(gb_gauge *g, uint32_t timestamp, bool has_stamp, uint32_t stamp, double *ms) {
  if (has_stamp) {
    double step = 0;
    if (!g->has_stamp) {
      /* samples from the frames' timestamps before (another clock): not the stamps' minimum */
      g->minima_count = 0;
      g->delay_count = 0;
      g->second_min = INFINITY;
      g->stamp_ms = stamp / SEND_STAMP_PER_MS;
    } else {
      /* 24 bits wrap every 64 s: each step from the last stamp is the nearer way round */
      int64_t diff = (int64_t)stamp - (int64_t)g->stamp_raw;
      step = (double)((diff % SEND_STAMP_WRAP + SEND_STAMP_WRAP * 3 / 2) % SEND_STAMP_WRAP - SEND_STAMP_WRAP / 2);
    }
    g->has_stamp = true;
    g->stamp_raw = stamp;
    g->stamp_ms = g->stamp_ms + step / SEND_STAMP_PER_MS;
    *ms = g->stamp_ms;
    return true;
  }
  if (g->has_stamp) return false;
  if (!g->has_timestamp_base) {
    g->has_timestamp_base = true;
    g->timestamp_base = timestamp;
  }
  *ms = (uint32_t)(timestamp - g->timestamp_base) / RTP_CLOCK_PER_MS;
  return true;
}

void gb_gauge_packet(gb_gauge *g, uint32_t timestamp, size_t bytes, double now, bool has_stamp, uint32_t stamp) {
  g->bytes += (double)bytes;
  if (g->has_frame && g->frame.timestamp == timestamp) {
    g->frame.last_at = now;
    g->frame.bytes += (double)bytes;
    g->frame.packets += 1;
    return;
  }
  if (g->has_frame) close_train(g);
  g->has_frame = true;
  g->frame.timestamp = timestamp;
  g->frame.first_at = g->frame.last_at = now;
  g->frame.bytes = g->frame.first_bytes = (double)bytes;
  g->frame.packets = 1;
  double sent;
  /* a stamped stream's frame whose stamped first packet was lost: no sample (the two clocks' offsets differ) */
  if (!sent_ms(g, timestamp, has_stamp, stamp, &sent)) return;
  double delay = now - sent;
  if (g->delay_count < MAX_DELAYS) g->delays[g->delay_count++] = delay;
  if (delay < g->second_min) g->second_min = delay;
}

/* A total order (NaN last), so that qsort is safe on any input. */
static int compare(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  if (isnan(x) || isnan(y)) return isnan(x) - isnan(y);
  return (x > y) - (x < y);
}

/* sorted[floor(n / 2)], as the TypeScript's median; sorts values in place. n > 0. */
static double median(double *values, size_t n) {
  qsort(values, n, sizeof *values, compare);
  return values[n / 2];
}

/* Math.round: halves go up. */
static double js_round(double x) {
  double r = floor(x);
  if (x - r >= 0.5) r += 1;
  return r == 0 && signbit(x) ? -0.0 : r;
}

void gb_gauge_take_second(gb_gauge *g, gb_gauge_second *out) {
  memset(out, 0, sizeof *out);
  if (isfinite(g->second_min)) g->minima[g->minima_count++] = g->second_min;
  if (g->minima_count > BASE_WINDOW_SECONDS) {
    memmove(g->minima, g->minima + 1, (g->minima_count - 1) * sizeof *g->minima);
    g->minima_count--;
  }
  if (g->minima_count > 0 && g->delay_count > 0) {
    double base = g->minima[0];
    for (size_t i = 1; i < g->minima_count; i++)
      if (g->minima[i] < base || isnan(g->minima[i])) base = g->minima[i];
    for (size_t i = 0; i < g->delay_count; i++) g->delays[i] -= base;
    out->has_queue_delay = true;
    out->queue_delay_ms = js_round(median(g->delays, g->delay_count) * 10) / 10;
  }
  out->received_kbps = js_round((g->bytes * 8) / 1000);
  if (g->train_count > 0) {
    out->has_train = true;
    out->train_kbps = js_round(median(g->trains, g->train_count));
  }
  g->delay_count = 0;
  g->train_count = 0;
  g->bytes = 0;
  g->second_min = INFINITY;
}
