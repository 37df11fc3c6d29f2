/*
 * FrameAssembler (src/core/rtp/frame-assembler.ts) in C: the same decisions at the same times for the
 * same inputs. The TypeScript is the reference; the comments there say why each rule is as it is, and
 * are not repeated here. Only the trace stays in TypeScript.
 *
 * One departure: besides the TypeScript's caps (frames in flight, packets and blocks per frame), the
 * payload bytes held are capped at PAYLOAD_BYTES_CAP against a hostile (authenticated) sender; past it the
 * oldest frame is given up as any frame given up. A parity shard counts twice there: its own bytes and
 * the most that rebuilding its block can add.
 */
#include "gb_rtp.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum {
  MAX_FRAMES = 48,
  MAX_PACKETS_PER_FRAME = 4096,
  MAX_SEQ_JUMP = 2000,
  MAX_NACK_PACKETS = 48,
  MAX_BLOCKS_PER_FRAME = 64,
  MAX_MISSING = 512,
  ASKED_CLEAR_ABOVE = 4096,
  /* the asked table never holds more than ASKED_CLEAR_ABOVE + MAX_NACK_PACKETS: kept under a quarter full */
  ASKED_BITS = 14,
  ASKED_SLOTS = 1 << ASKED_BITS,
  CHUNK_BYTES = 64 * 1024,
  SPARE_CHUNKS_MAX = 64,
};
#define REORDER_WAIT_MS 3.0
#define STALL_MIN_MS 4.0
#define LINK_SILENCE_MS 50.0
#define PAYLOAD_BYTES_CAP ((size_t)64 << 20)
#define ASKED_EMPTY INT64_MIN

/* A frame's payloads live in chunks that never move: pointers into them stay valid until it is released. */
typedef struct chunk {
  struct chunk *next;
  size_t size, used;
  _Alignas(8) uint8_t data[];
} chunk;

typedef struct {
  int64_t seq;
  const uint8_t *data;
  size_t len;
} held_packet;

typedef struct {
  int64_t base;
  gb_fec_header header; /* as the block's first parity packet gave it */
  const uint8_t **parity; /* header.m slots, NULL where not received */
  unsigned parity_count;
} fec_block;

typedef struct {
  bool in_use;
  uint32_t timestamp;
  bool has_first, has_last;
  int64_t first, last, min_seq, max_seq;
  double first_arrival, last_arrival, arrived_by, stalled_ms;
  /*
   * Sorted by seq: in-order packets append, a lookup is a binary search. Not indexed by seq - min_seq:
   * the packets of one timestamp may lie far apart (any seq a sender gives it), and such an array would not be bounded.
   */
  held_packet *packets;
  size_t packet_count, packet_capacity;
  fec_block blocks[MAX_BLOCKS_PER_FRAME]; /* in arrival order, as the Map iterates */
  unsigned block_count;
  chunk *chunks; /* the newest first */
  size_t held_bytes; /* counted against PAYLOAD_BYTES_CAP */
} pending_frame;

struct gb_asm {
  gb_codec codec;
  gb_frame_sink sink;
  void *ctx;
  bool has_rtt;
  double rtt_ms;
  gb_asm_counters counters;
  double clean_max;

  bool has_highest; /* SeqExtender */
  int64_t highest;

  pending_frame slots[MAX_FRAMES + 1];
  pending_frame *frames[MAX_FRAMES + 1]; /* sorted by min_seq when one is added, as the TypeScript sorts */
  unsigned frame_count;

  bool has_next_expected;
  int64_t next_expected;
  bool broken, started;
  bool has_burst_end;
  double burst_end_at;
  bool has_last_arrival;
  double last_arrival;
  bool has_settled, settled_handed_on;
  uint32_t settled_timestamp;
  bool has_frame_interval;
  double frame_interval_ms;
  double last_pli_at;
  bool pending_pli;

  int64_t asked_seq[ASKED_SLOTS]; /* ext seq → when it was last asked for; open addressing */
  double asked_at[ASKED_SLOTS];
  size_t asked_count;

  chunk *spare_chunks;
  unsigned spare_chunk_count;
  size_t held_bytes;

  int64_t missing[MAX_MISSING];
  const uint8_t **unit_payloads;
  size_t *unit_lens;
  size_t unit_capacity;
  uint8_t *unit_out;
  size_t unit_out_capacity;
  const uint8_t *block_media[255];
  size_t block_media_len[255];
  uint8_t *fec_scratch;
  size_t fec_scratch_capacity;
};

static double min_d(double a, double b) { return b < a ? b : a; }
static double max_d(double a, double b) { return b > a ? b : a; }

static bool rtt_known(const gb_asm *a) { return a->has_rtt; }
static double rtt_or_guess(const gb_asm *a) { return a->has_rtt ? a->rtt_ms : 40; }

static double repair_budget_ms(const gb_asm *a) { return max_d(25, min_d(150, 2.5 * rtt_or_guess(a) + 10)); }
static double pli_repeat_ms(const gb_asm *a) { return max_d(250, 2 * rtt_or_guess(a) + 200); }

/* ---- SeqExtender ---- */

static int64_t seq_delta(const gb_asm *a, uint16_t seq) { return (int64_t)((((int)seq - (int)(a->highest & 0xffff) + 32768) & 0xffff)) - 32768; }

static int64_t seq_extend(gb_asm *a, uint16_t seq) {
  if (!a->has_highest) {
    a->has_highest = true;
    a->highest = (int64_t)seq + 65536;
    return a->highest;
  }
  int64_t ext = a->highest + seq_delta(a, seq);
  if (ext > a->highest) a->highest = ext;
  return ext;
}

/* ---- the asked map ---- */

static size_t asked_home(int64_t seq) { return (size_t)(((uint64_t)seq * 0x9E3779B97F4A7C15ull) >> (64 - ASKED_BITS)); }

/* The slot holding seq (true), or the empty one where it would go (false). */
static bool asked_find(const gb_asm *a, int64_t seq, size_t *slot) {
  size_t i = asked_home(seq);
  while (a->asked_seq[i] != ASKED_EMPTY && a->asked_seq[i] != seq) i = (i + 1) & (ASKED_SLOTS - 1);
  *slot = i;
  return a->asked_seq[i] == seq;
}

static bool asked_get(const gb_asm *a, int64_t seq, double *at) {
  size_t slot;
  if (!asked_find(a, seq, &slot)) return false;
  *at = a->asked_at[slot];
  return true;
}

static void asked_set(gb_asm *a, int64_t seq, double at) {
  size_t slot;
  if (!asked_find(a, seq, &slot)) {
    a->asked_seq[slot] = seq;
    a->asked_count += 1;
  }
  a->asked_at[slot] = at;
}

static bool asked_delete(gb_asm *a, int64_t seq) {
  size_t hole;
  if (!asked_find(a, seq, &hole)) return false;
  /* backward shift: pull later entries of the run into the hole where their probe passes it */
  for (size_t j = (hole + 1) & (ASKED_SLOTS - 1); a->asked_seq[j] != ASKED_EMPTY; j = (j + 1) & (ASKED_SLOTS - 1)) {
    size_t home = asked_home(a->asked_seq[j]);
    bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
    if (stays) continue;
    a->asked_seq[hole] = a->asked_seq[j];
    a->asked_at[hole] = a->asked_at[j];
    hole = j;
  }
  a->asked_seq[hole] = ASKED_EMPTY;
  a->asked_count -= 1;
  return true;
}

static void asked_clear(gb_asm *a) {
  for (size_t i = 0; i < ASKED_SLOTS; i += 1) a->asked_seq[i] = ASKED_EMPTY;
  a->asked_count = 0;
}

/* ---- a frame's storage ---- */

static const uint8_t EMPTY_PAYLOAD[1];

/* n bytes (8-aligned) that stay put until the frame is released; NULL when out of memory. */
static uint8_t *frame_alloc(gb_asm *a, pending_frame *frame, size_t n) {
  if (n == 0) return (uint8_t *)EMPTY_PAYLOAD;
  chunk *c = frame->chunks;
  size_t aligned = c ? (c->used + 7) & ~(size_t)7 : 0;
  if (c && aligned <= c->size && c->size - aligned >= n) {
    c->used = aligned;
  } else {
    if (n <= CHUNK_BYTES && a->spare_chunks) {
      c = a->spare_chunks;
      a->spare_chunks = c->next;
      a->spare_chunk_count -= 1;
    } else {
      size_t size = n > CHUNK_BYTES ? n : CHUNK_BYTES;
      c = malloc(sizeof(chunk) + size);
      if (!c) return NULL;
      c->size = size;
    }
    c->used = 0;
    c->next = frame->chunks;
    frame->chunks = c;
  }
  uint8_t *at = c->data + c->used;
  c->used += n;
  return at;
}

/* The index of seq among the frame's packets, or where it would go. */
static size_t packet_position(const pending_frame *frame, int64_t seq, bool *found) {
  size_t lo = 0, hi = frame->packet_count;
  if (hi > 0 && frame->packets[hi - 1].seq < seq) lo = hi; /* in order: the usual case */
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (frame->packets[mid].seq < seq) lo = mid + 1;
    else hi = mid;
  }
  *found = lo < frame->packet_count && frame->packets[lo].seq == seq;
  return lo;
}

static const held_packet *packet_get(const pending_frame *frame, int64_t seq) {
  bool found;
  size_t at = packet_position(frame, seq, &found);
  return found ? &frame->packets[at] : NULL;
}

/* Keeps a copy of the payload at position `at` (from packet_position); false when out of memory. */
static bool packet_insert(gb_asm *a, pending_frame *frame, size_t at, int64_t seq, const uint8_t *payload, size_t len) {
  if (frame->packet_count == frame->packet_capacity) {
    size_t capacity = frame->packet_capacity ? 2 * frame->packet_capacity : 64;
    held_packet *grown = realloc(frame->packets, capacity * sizeof *grown);
    if (!grown) return false;
    frame->packets = grown;
    frame->packet_capacity = capacity;
  }
  uint8_t *copy = frame_alloc(a, frame, len);
  if (!copy) return false;
  if (len > 0) memcpy(copy, payload, len);
  memmove(&frame->packets[at + 1], &frame->packets[at], (frame->packet_count - at) * sizeof *frame->packets);
  frame->packets[at] = (held_packet){ .seq = seq, .data = copy, .len = len };
  frame->packet_count += 1;
  return true;
}

static pending_frame *frame_acquire(gb_asm *a, uint32_t timestamp, int64_t seq, double now) {
  pending_frame *frame = NULL;
  for (unsigned i = 0; i <= MAX_FRAMES && !frame; i += 1)
    if (!a->slots[i].in_use) frame = &a->slots[i];
  if (!frame) return NULL; /* never: at most MAX_FRAMES are held between calls, and there are MAX_FRAMES + 1 slots */
  frame->in_use = true;
  frame->timestamp = timestamp;
  frame->has_first = frame->has_last = false;
  frame->first = frame->last = 0;
  frame->min_seq = frame->max_seq = seq;
  frame->first_arrival = frame->last_arrival = frame->arrived_by = now;
  frame->stalled_ms = 0;
  frame->packet_count = 0;
  frame->block_count = 0;
  frame->chunks = NULL;
  frame->held_bytes = 0;
  return frame;
}

static void frame_release(gb_asm *a, pending_frame *frame) {
  for (chunk *c = frame->chunks, *next; c; c = next) {
    next = c->next;
    if (c->size == CHUNK_BYTES && a->spare_chunk_count < SPARE_CHUNKS_MAX) {
      c->next = a->spare_chunks;
      a->spare_chunks = c;
      a->spare_chunk_count += 1;
    } else {
      free(c);
    }
  }
  frame->chunks = NULL;
  /* rebuilt packets can take a frame past its cap: do not keep such an array for every frame after */
  if (frame->packet_capacity > MAX_PACKETS_PER_FRAME) {
    free(frame->packets);
    frame->packets = NULL;
    frame->packet_capacity = 0;
  }
  a->held_bytes -= frame->held_bytes;
  frame->in_use = false;
}

static void frames_remove(gb_asm *a, const pending_frame *frame) {
  for (unsigned i = 0; i < a->frame_count; i += 1) {
    if (a->frames[i] != frame) continue;
    memmove(&a->frames[i], &a->frames[i + 1], (a->frame_count - i - 1) * sizeof *a->frames);
    a->frame_count -= 1;
    return;
  }
}

/* ---- the assembler's decisions (the sink is called within them: it must not call back in) ---- */

static void break_picture(gb_asm *a, double now) {
  if (!a->broken) {
    a->broken = true;
    if (!a->has_burst_end || now - a->burst_end_at > 1000) {
      a->has_burst_end = true;
      a->burst_end_at = now;
    }
    if (now - a->last_pli_at >= 20) a->pending_pli = true;
  }
  a->started = true;
}

static void settle(gb_asm *a, const pending_frame *frame, bool handed_on) {
  bool had_previous = a->has_settled, previous_handed_on = a->settled_handed_on;
  uint32_t previous_timestamp = a->settled_timestamp;
  a->has_settled = true;
  a->settled_timestamp = frame->timestamp;
  a->settled_handed_on = handed_on;
  if (!handed_on || !had_previous || !previous_handed_on) return;
  double interval_ms = (double)(uint32_t)(frame->timestamp - previous_timestamp) / 90;
  if (interval_ms > 0 && interval_ms < 200) {
    a->frame_interval_ms = a->has_frame_interval ? 0.9 * a->frame_interval_ms + 0.1 * interval_ms : interval_ms;
    a->has_frame_interval = true;
  }
}

static void give_up(gb_asm *a, pending_frame *frame, double now) {
  frames_remove(a, frame);
  a->counters.frames_lost += 1;
  settle(a, frame, false);
  a->has_next_expected = frame->has_last;
  a->next_expected = frame->has_last ? frame->last + 1 : 0;
  frame_release(a, frame);
  break_picture(a, now);
}

static void discontinuity(gb_asm *a, double now) {
  a->counters.frames_lost += a->frame_count;
  for (unsigned i = 0; i < a->frame_count; i += 1) frame_release(a, a->frames[i]);
  a->frame_count = 0;
  a->has_next_expected = false;
  break_picture(a, now);
}

static void note_arrival(gb_asm *a, int64_t seq, bool has_before, int64_t before, double now) {
  bool silent = a->has_last_arrival && now - a->last_arrival >= LINK_SILENCE_MS;
  bool gap = has_before && seq > before + 1;
  if (silent || gap) {
    a->has_burst_end = true;
    a->burst_end_at = now;
    if (silent && a->broken && a->started) a->pending_pli = true;
  }
  if (has_before && seq > before + MAX_SEQ_JUMP) discontinuity(a, now);
  a->has_last_arrival = true;
  a->last_arrival = now;
}

/* The frame with this timestamp, or a new one; NULL where the new one was given up at once (the oldest of too many). */
static pending_frame *frame_for(gb_asm *a, uint32_t timestamp, int64_t seq, double now) {
  for (unsigned i = 0; i < a->frame_count; i += 1) {
    if (a->frames[i]->timestamp != timestamp) continue;
    a->frames[i]->last_arrival = now;
    return a->frames[i];
  }
  pending_frame *frame = frame_acquire(a, timestamp, seq, now);
  if (!frame) return NULL;
  a->frames[a->frame_count++] = frame;
  /* a stable sort of all, as Array.prototype.sort: the others' min_seq may have moved since the last one */
  for (unsigned i = 1; i < a->frame_count; i += 1) {
    pending_frame *moving = a->frames[i];
    unsigned j = i;
    for (; j > 0 && a->frames[j - 1]->min_seq > moving->min_seq; j -= 1) a->frames[j] = a->frames[j - 1];
    a->frames[j] = moving;
  }
  if (a->frame_count > MAX_FRAMES) {
    pending_frame *oldest = a->frames[0];
    give_up(a, oldest, now);
    if (oldest == frame) return NULL;
  }
  return frame;
}

/* Gives up the oldest frames until `cost` more bytes fit the cap; false where `frame` went with them. */
static bool make_room(gb_asm *a, const pending_frame *frame, size_t cost, double now) {
  bool kept = true;
  while (a->frame_count > 0 && (cost > PAYLOAD_BYTES_CAP || a->held_bytes > PAYLOAD_BYTES_CAP - cost)) {
    if (a->frames[0] == frame) kept = false;
    give_up(a, a->frames[0], now);
  }
  return kept && cost <= PAYLOAD_BYTES_CAP;
}

static void hold_bytes(gb_asm *a, pending_frame *frame, size_t bytes) {
  frame->held_bytes += bytes;
  a->held_bytes += bytes;
}

/* Asks (again) for the packets whose resend is not on its way; false: too late for one never asked for. */
static bool request_repair(gb_asm *a, const int64_t *seqs, size_t count, double now, double due, gb_actions *out, double *wake_at) {
  double rtt = rtt_or_guess(a);
  double retry_ms = rtt_known(a) ? max_d(5, rtt * 1.5 + 5) : INFINITY;
  int64_t ask[MAX_NACK_PACKETS];
  size_t ask_count = 0;
  double wake = due;
  for (size_t i = 0; i < count; i += 1) {
    double asked;
    bool was_asked = asked_get(a, seqs[i], &asked);
    if (was_asked && now - asked < retry_ms) wake = min_d(wake, asked + retry_ms);
    else if (now + rtt + 5 <= due) ask[ask_count++] = seqs[i];
    else if (!was_asked) return false;
  }
  for (size_t i = 0; i < ask_count; i += 1) {
    asked_set(a, ask[i], now);
    if (out->nack_count < GB_MAX_NACK) out->nack[out->nack_count++] = (uint16_t)(ask[i] & 0xffff);
  }
  if (ask_count > 0) wake = min_d(wake, now + retry_ms);
  *wake_at = wake;
  return true;
}

static double gap_arrival(const gb_asm *a, const pending_frame *head) {
  if (!a->has_settled) return -INFINITY;
  double span_ms = (double)(uint32_t)(head->timestamp - a->settled_timestamp) / 90;
  return head->first_arrival - max_d(0, span_ms - (a->has_frame_interval ? a->frame_interval_ms : 0));
}

typedef enum { GAP_NONE, GAP_GIVEN_UP, GAP_LATER, GAP_WAIT } gap_outcome;

static gap_outcome gap_before(gb_asm *a, pending_frame *head, double now, gb_actions *out, bool may_give_up, double *wake_at) {
  if (!head->has_first || !a->has_next_expected || head->first <= a->next_expected) return GAP_NONE;
  int64_t gap = head->first - a->next_expected;
  double due = gap_arrival(a, head) + head->stalled_ms + repair_budget_ms(a);
  if (gap <= MAX_NACK_PACKETS && now < due) {
    int64_t seqs[MAX_NACK_PACKETS];
    for (int64_t i = 0; i < gap; i += 1) seqs[i] = a->next_expected + i;
    if (request_repair(a, seqs, (size_t)gap, now, due, out, wake_at)) return GAP_WAIT;
  }
  if (!may_give_up) return GAP_LATER;
  a->counters.frames_lost += 1;
  a->next_expected = head->first;
  a->has_settled = false;
  break_picture(a, now);
  return GAP_GIVEN_UP;
}

static bool frame_range(const gb_asm *a, const pending_frame *frame, int64_t *lo, int64_t *hi) {
  if (!frame->has_first && !a->has_next_expected) return false;
  *lo = frame->has_first ? frame->first : a->next_expected;
  *hi = frame->has_last ? frame->last : a->frame_count > 1 ? a->frames[1]->min_seq - 1 : frame->max_seq;
  return *hi >= *lo && *hi - *lo <= MAX_PACKETS_PER_FRAME;
}

/* The first MAX_MISSING sequence numbers of the range not held, into a->missing; how many. */
static size_t find_missing(gb_asm *a, const pending_frame *frame, int64_t lo, int64_t hi) {
  if (frame->min_seq >= lo && frame->max_seq <= hi && frame->packet_count == (size_t)(hi - lo + 1)) return 0;
  bool found;
  size_t next = packet_position(frame, lo, &found);
  size_t count = 0;
  for (int64_t seq = lo; seq <= hi && count < MAX_MISSING; seq += 1) {
    while (next < frame->packet_count && frame->packets[next].seq < seq) next += 1;
    if (next < frame->packet_count && frame->packets[next].seq == seq) continue;
    a->missing[count++] = seq;
  }
  return count;
}

/* Rebuilds what the FEC blocks can; true when it rebuilt anything. */
static bool recover(gb_asm *a, pending_frame *frame) {
  bool rebuilt = false;
  for (unsigned b = 0; b < frame->block_count; b += 1) {
    const fec_block *block = &frame->blocks[b];
    unsigned k = block->header.k;
    if (block->parity_count == 0) continue;
    unsigned held = 0;
    for (unsigned i = 0; i < k; i += 1) {
      const held_packet *packet = packet_get(frame, block->base + i);
      a->block_media[i] = packet ? packet->data : NULL;
      a->block_media_len[i] = packet ? packet->len : 0;
      held += packet != NULL;
    }
    if (held == k || held + block->parity_count < k) continue;
    size_t scratch = (size_t)k * block->header.shard_length;
    if (scratch > a->fec_scratch_capacity) {
      uint8_t *grown = realloc(a->fec_scratch, scratch);
      if (!grown) continue;
      a->fec_scratch = grown;
      a->fec_scratch_capacity = scratch;
    }
    if (!gb_fec_recover(&block->header, a->block_media, a->block_media_len, block->parity, a->fec_scratch)) continue;
    for (unsigned i = 0; i < k; i += 1) {
      bool found;
      size_t at = packet_position(frame, block->base + i, &found);
      if (found || !packet_insert(a, frame, at, block->base + i, a->block_media[i], a->block_media_len[i])) continue;
      asked_delete(a, block->base + i);
      a->counters.fec_recovered += 1;
      rebuilt = true;
    }
    if (block->base < frame->min_seq) frame->min_seq = block->base;
    if (block->base + k - 1 > frame->max_seq) frame->max_seq = block->base + k - 1;
    if (block->header.ends_frame) {
      frame->has_last = true;
      frame->last = block->base + k - 1;
    }
  }
  return rebuilt;
}

/* The frame's Annex B into a->unit_out: its length, or -1 where undecodable. */
static long depacketize_frame(gb_asm *a, const pending_frame *frame, bool *keyframe) {
  size_t count = frame->packet_count, total = 0;
  if (count > a->unit_capacity) {
    const uint8_t **payloads = realloc(a->unit_payloads, count * sizeof *payloads);
    if (payloads) a->unit_payloads = payloads;
    size_t *lens = realloc(a->unit_lens, count * sizeof *lens);
    if (lens) a->unit_lens = lens;
    if (!payloads || !lens) return -1;
    a->unit_capacity = count;
  }
  for (size_t i = 0; i < count; i += 1) {
    a->unit_payloads[i] = frame->packets[i].data;
    a->unit_lens[i] = frame->packets[i].len;
    total += frame->packets[i].len;
  }
  /* a start code per NAL unit costs at most 2 bytes more than the size or header it replaces, per 3 bytes */
  size_t want = 2 * total + 4 * count + 64;
  if (want > a->unit_out_capacity) {
    uint8_t *grown = realloc(a->unit_out, want);
    if (!grown) return -1;
    a->unit_out = grown;
    a->unit_out_capacity = want;
  }
  long written = gb_depacketize(a->codec, a->unit_payloads, a->unit_lens, count, a->unit_out, a->unit_out_capacity, keyframe);
  return written < 0 ? -1 : written;
}

static void hand_on(gb_asm *a, pending_frame *frame, double now) {
  settle(a, frame, true);
  bool keyframe = false;
  long length = depacketize_frame(a, frame, &keyframe);
  if (length < 0) {
    a->counters.frames_lost += 1;
    break_picture(a, now);
    return;
  }
  if (a->broken && !keyframe) {
    a->counters.frames_skipped += 1;
    if (!a->started) {
      a->started = true;
      a->pending_pli = true;
    }
    return;
  }
  if (a->broken) {
    if (a->started && a->has_burst_end) {
      double clean_ms = max_d(0, now - a->burst_end_at);
      a->counters.clean_count += 1;
      a->clean_max = max_d(a->clean_max, clean_ms);
    }
    a->broken = false;
    a->started = true;
  }
  a->counters.frames_delivered += 1;
  gb_frame handed = { .timestamp = frame->timestamp, .data = a->unit_out, .len = (size_t)length, .keyframe = keyframe, .first_arrival = frame->first_arrival };
  if (a->sink) a->sink(a->ctx, &handed);
}

static void set_wake(gb_actions *out, double at) {
  out->has_wake = true;
  out->wake_at = at;
}

static void reset_actions(gb_actions *out) {
  out->nack_count = 0;
  out->pli = false;
  out->has_wake = false;
  out->wake_at = 0;
}

GB_EXPORT void gb_asm_poll(gb_asm *a, double now, bool may_give_up, gb_actions *out) {
  reset_actions(out);
  while (a->frame_count > 0) {
    pending_frame *head = a->frames[0];
    double gap_wake = 0;
    gap_outcome gap = gap_before(a, head, now, out, may_give_up, &gap_wake);
    if (gap == GAP_GIVEN_UP) continue;
    if (gap == GAP_LATER) {
      set_wake(out, now);
      break;
    }
    if (gap == GAP_WAIT) {
      set_wake(out, gap_wake);
      break;
    }
    int64_t lo = 0, hi = 0;
    bool ranged = frame_range(a, head, &lo, &hi);
    size_t missing = ranged ? find_missing(a, head, lo, hi) : 0;
    if ((!ranged || missing > 0 || !head->has_last) && recover(a, head)) {
      ranged = frame_range(a, head, &lo, &hi);
      missing = ranged ? find_missing(a, head, lo, hi) : 0;
    }
    if (ranged && missing == 0 && head->has_last) {
      frames_remove(a, head);
      a->has_next_expected = true;
      a->next_expected = hi + 1;
      hand_on(a, head, now);
      frame_release(a, head);
      continue;
    }
    double due = head->arrived_by + head->stalled_ms + repair_budget_ms(a);
    if (now >= due && !may_give_up) {
      set_wake(out, now);
      break;
    }
    if (now >= due) {
      give_up(a, head, now);
      continue;
    }
    bool later = a->frame_count > 1;
    bool hole_sure = later || now >= head->last_arrival + REORDER_WAIT_MS;
    double wake_at = hole_sure ? due : min_d(due, head->last_arrival + REORDER_WAIT_MS);
    if (hole_sure && ranged && missing > 0) {
      double asked_wake = 0;
      bool in_time = missing <= MAX_NACK_PACKETS && request_repair(a, a->missing, missing, now, due, out, &asked_wake);
      if (!in_time) {
        if (!may_give_up) {
          set_wake(out, now);
          break;
        }
        give_up(a, head, now);
        continue;
      }
      wake_at = min_d(wake_at, asked_wake);
    }
    set_wake(out, wake_at);
    break;
  }
  if (a->asked_count > ASKED_CLEAR_ABOVE) asked_clear(a);
  if (a->pending_pli) {
    a->pending_pli = false;
    a->last_pli_at = now;
    a->counters.keyframe_requests += 1;
    out->pli = true;
  } else if (a->broken && a->started && now - a->last_pli_at >= pli_repeat_ms(a)) {
    a->last_pli_at = now;
    a->counters.keyframe_requests += 1;
    out->pli = true;
  }
  if (a->broken && a->started) {
    double repeat_at = a->last_pli_at + pli_repeat_ms(a);
    set_wake(out, out->has_wake ? min_d(out->wake_at, repeat_at) : repeat_at);
  }
  a->counters.nacks_sent += (double)out->nack_count;
}

GB_EXPORT void gb_asm_media(gb_asm *a, uint16_t seq16, uint32_t timestamp, bool marker, const uint8_t *payload, size_t len, double now, gb_actions *out) {
  bool has_before = a->has_highest;
  int64_t before = a->highest;
  int64_t seq = seq_extend(a, seq16);
  note_arrival(a, seq, has_before, before, now);
  if (a->has_next_expected && seq < a->next_expected) {
    gb_asm_poll(a, now, false, out);
    return;
  }
  bool resent = asked_delete(a, seq);
  if (resent) a->counters.nack_recovered += 1;
  pending_frame *frame = frame_for(a, timestamp, seq, now);
  bool found = true;
  size_t at = frame ? packet_position(frame, seq, &found) : 0;
  if (frame && frame->packet_count < MAX_PACKETS_PER_FRAME && !found && make_room(a, frame, len, now)) {
    bool newest = seq > frame->max_seq;
    if (packet_insert(a, frame, at, seq, payload, len)) {
      hold_bytes(a, frame, len);
      if (!resent && newest) frame->arrived_by = now;
      if (marker) {
        frame->has_last = true;
        frame->last = seq;
      }
      if (seq < frame->min_seq) frame->min_seq = seq;
      if (seq > frame->max_seq) frame->max_seq = seq;
    }
  }
  gb_asm_poll(a, now, false, out);
}

static fec_block *block_for(gb_asm *a, pending_frame *frame, int64_t base, const gb_fec_header *header) {
  for (unsigned i = 0; i < frame->block_count; i += 1)
    if (frame->blocks[i].base == base) return &frame->blocks[i];
  if (frame->block_count >= MAX_BLOCKS_PER_FRAME) return NULL;
  const uint8_t **parity = (const uint8_t **)frame_alloc(a, frame, header->m * sizeof *parity);
  if (!parity && header->m > 0) return NULL;
  if (header->m > 0) memset(parity, 0, header->m * sizeof *parity);
  fec_block *block = &frame->blocks[frame->block_count++];
  *block = (fec_block){ .base = base, .header = *header, .parity = parity, .parity_count = 0 };
  return block;
}

GB_EXPORT void gb_asm_fec(gb_asm *a, uint32_t timestamp, const uint8_t *payload, size_t len, double now, gb_actions *out) {
  gb_fec_header header;
  const uint8_t *shard;
  if (!gb_fec_parse(payload, len, &header, &shard) || !a->has_highest) {
    gb_asm_poll(a, now, false, out);
    return;
  }
  int64_t base = a->highest + seq_delta(a, header.base_seq);
  if (a->has_next_expected && base < a->next_expected) {
    gb_asm_poll(a, now, false, out);
    return;
  }
  pending_frame *frame = frame_for(a, timestamp, base, now);
  fec_block *block = frame ? block_for(a, frame, base, &header) : NULL;
  if (!block || block->header.k != header.k || block->header.m != header.m || block->header.shard_length != header.shard_length) {
    gb_asm_poll(a, now, false, out);
    return;
  }
  const uint8_t *held = block->parity[header.index];
  if (held) {
    /* a copy of a shard held: the newest replaces it, as Map.set does, in place (the same length) */
    memcpy((uint8_t *)held, shard, header.shard_length);
  } else {
    size_t cost = 2 * (size_t)header.shard_length;
    uint8_t *copy = make_room(a, frame, cost, now) ? frame_alloc(a, frame, header.shard_length) : NULL;
    if (!copy) {
      gb_asm_poll(a, now, false, out);
      return;
    }
    memcpy(copy, shard, header.shard_length);
    hold_bytes(a, frame, cost);
    block->parity[header.index] = copy;
    block->parity_count += 1;
  }
  if (header.ends_frame) {
    frame->has_last = true;
    frame->last = base + header.k - 1;
  }
  if (header.starts_frame) {
    frame->has_first = true;
    frame->first = base;
  }
  frame->last_arrival = now;
  frame->arrived_by = now;
  gb_asm_poll(a, now, false, out);
}

GB_EXPORT void gb_asm_stalled(gb_asm *a, double ms) {
  if (!(ms >= STALL_MIN_MS)) return;
  double budget = repair_budget_ms(a);
  for (unsigned i = 0; i < a->frame_count; i += 1) a->frames[i]->stalled_ms = min_d(budget, a->frames[i]->stalled_ms + ms);
}

GB_EXPORT void gb_asm_set_rtt(gb_asm *a, double rtt_ms) {
  a->has_rtt = rtt_ms >= 0;
  a->rtt_ms = a->has_rtt ? rtt_ms : 0;
}

GB_EXPORT void gb_asm_get_counters(gb_asm *a, gb_asm_counters *out) { *out = a->counters; }

GB_EXPORT double gb_asm_take_clean_max(gb_asm *a) {
  double max = a->clean_max;
  a->clean_max = -1;
  return max;
}

GB_EXPORT gb_asm *gb_asm_new(gb_codec codec, gb_frame_sink sink, void *ctx) {
  gb_asm *a = calloc(1, sizeof *a);
  if (!a) return NULL;
  a->codec = codec;
  a->sink = sink;
  a->ctx = ctx;
  a->clean_max = -1;
  a->broken = true;
  a->last_pli_at = -INFINITY;
  asked_clear(a);
  return a;
}

GB_EXPORT void gb_asm_free(gb_asm *a) {
  if (!a) return;
  for (unsigned i = 0; i <= MAX_FRAMES; i += 1) {
    if (a->slots[i].in_use) frame_release(a, &a->slots[i]);
    free(a->slots[i].packets);
  }
  for (chunk *c = a->spare_chunks, *next; c; c = next) {
    next = c->next;
    free(c);
  }
  free(a->unit_payloads);
  free(a->unit_lens);
  free(a->unit_out);
  free(a->fec_scratch);
  free(a);
}
