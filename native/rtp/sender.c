/*
 * The host's end of the rtp transport on a thread of its own (the sender's native data plane): the
 * fan-out of rtp-output.ts (the encoder runs' loopback sources, make before break, a damaged frame cut
 * short, our own timestamps) and, for each viewer, what rtp-peer-sender.ts does per packet (SRTP, FEC,
 * the pacer, the resend history and its rate). Those two TypeScript files stay the reference and the
 * fallback. JavaScript keeps what is rare: RTCP from the viewers (it authenticates and parses it, and
 * answers NACKs with gb_tx_resend), sender reports (sealed there, sent with gb_tx_send_now), the FEC share
 * and the pacing target (pushed here when they change), and the encoder runs themselves. It hears of
 * RTCP, a source taking over, and (for a viewer whose transport is in JavaScript, a browser's) the
 * payloads, through records on a pipe.
 */
#define _GNU_SOURCE
#include "gb_rtp.h"
#include "io.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#define MAX_SOURCES 8
#define MAX_VIEWERS 16
#define RECEIVE_BATCH 64
#define DATAGRAM_BYTES 4096
#define BATCHES_PER_TURN 16
/* The encoder packetizes to 1200 bytes (pipeline.ts); a longer payload is not one of its packets. */
#define MAX_PAYLOAD_BYTES 1400
#define RTP_HEADER_BYTES 12
#define ABS_SEND_TIME_BYTES 8
#define TAG_BYTES 16
#define FEC_HEADER_BYTES 8
/* a sealed packet: header, abs-send-time, payload (or an FEC header and a shard of the longest payload plus its 2-byte length), tag */
#define SLOT_BYTES 1448
/*
 * Sent packets kept for resends, and the pacer's store of those waiting to leave (a power of two). The
 * pacer lets nothing wait past 200 ms: at 100 Mbit/s that is about 2 100 packets.
 */
#define HISTORY 4096
#define FEC_RING 2048
#define MAX_BLOCK_PACKETS 48
#define MAX_SHARDS 255
#define FEC_PAYLOAD_TYPE 100
/* A frame's payloads kept for its FEC; a frame longer than this (19 MB) is sent without FEC. */
#define MAX_FRAME_PACKETS 16384
#define MAX_QUEUED 4096
#define FIRST_FRAME_WAIT_MS 3000.0
#define RETRANSMIT_PER_SECOND 400.0
#define RTCP_PER_SECOND 200.0
#define MAX_EVENT_BACKLOG (32u << 20)
#define SOURCE_RECEIVE_BUFFER (8 << 20)
#define VIEWER_SEND_BUFFER (4 << 20)
#define VIEWER_RECEIVE_BUFFER (1 << 20)
#define OUT_BATCH 64
#define ABS_SEND_TIME_PER_MS 262.144

enum { KIND_MEDIA = 1, KIND_FEC = 2 };
enum { TAG_WAKE = 1, TAG_EVENTS = 2, TAG_SOURCE = 3, TAG_VIEWER = 4, TAG_TIMER = 5 };

typedef struct {
  int32_t seq; /* -1: empty */
  uint16_t len;
  /* a frame's first packet waiting for its turn: its plain payload at data + 20, sealed as it leaves */
  bool pending;
  bool marker;
  uint32_t timestamp;
  uint8_t data[SLOT_BYTES];
} slot;

typedef struct {
  bool used;
  int id, sock, port;
  bool mid_frame, damaged, has_next_seq, forwarded;
  uint16_t next_seq;
  double armed_at;
  /* packets that came before this source could take over: their payloads back to back */
  gb_byte_queue queued;
  size_t queued_count;
  uint32_t queued_len[MAX_QUEUED];
  bool queued_marker[MAX_QUEUED];
} source;

typedef struct gb_tx gb_tx;

typedef struct {
  bool used;
  int id, sock, timer;
  gb_tx *tx;
  gb_srtp_tx *srtp;
  uint8_t payload_type;
  uint32_t ssrc, fec_ssrc;
  uint16_t seq, fec_seq;
  slot *history, *fec_ring;
  gb_pacer *pacer;
  double pacing_factor;
  bool armed;
  double armed_at;
  bool synced, in_frame;
  uint16_t frame_first_seq;
  double fec_ratio;
  double tokens, tokens_at;
  double rtcp_tokens, rtcp_tokens_at;
  gb_tx_viewer_stats stats;
  int out_count;
  struct iovec out_iov[OUT_BATCH];
  struct mmsghdr out[OUT_BATCH];
  uint8_t scratch[SLOT_BYTES];
} viewer;

struct gb_tx {
  int epoll, wake, event_read, event_write;
  pthread_mutex_t lock;
  pthread_t thread;
  bool started, closing;
  double clock_offset;
  source sources[MAX_SOURCES];
  viewer *viewers[MAX_VIEWERS];
  int next_id;
  int active, pending; /* source slots, -1: none */
  bool last_marker;
  uint32_t frame_timestamp;
  int js_viewers;
  /* the frame in progress, for its FEC */
  gb_byte_queue frame;
  size_t frame_count;
  bool frame_overflow;
  uint32_t frame_len[MAX_FRAME_PACKETS];
  const uint8_t *frame_payloads[MAX_FRAME_PACKETS];
  size_t frame_lens[MAX_FRAME_PACKETS];
  uint8_t fec_out[MAX_SHARDS * (FEC_HEADER_BYTES + 2 + MAX_PAYLOAD_BYTES)];
  gb_byte_queue events;
  bool events_polled;
  gb_tx_stats stats;
  uint8_t buffers[RECEIVE_BATCH][DATAGRAM_BYTES];
  struct iovec iov[RECEIVE_BATCH];
  struct mmsghdr msgs[RECEIVE_BATCH];
};

static uint64_t tag(int kind, int index) { return (uint64_t)kind << 32 | (uint32_t)index; }

/* ---- events to JavaScript ---- */

static void watch_events(gb_tx *tx, bool want) {
  if (tx->events_polled == want) return;
  struct epoll_event ev = {.events = EPOLLOUT, .data.u64 = tag(TAG_EVENTS, 0)};
  epoll_ctl(tx->epoll, want ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, tx->event_write, &ev);
  tx->events_polled = want;
}

static void flush_events(gb_tx *tx) {
  gb_queue_flush(&tx->events, tx->event_write);
  watch_events(tx, tx->events.len > 0);
}

static void emit(gb_tx *tx, uint8_t type, const uint8_t *head, size_t head_len, const uint8_t *body, size_t body_len) {
  if (!gb_queue_record(&tx->events, MAX_EVENT_BACKLOG, type, head, head_len, body, body_len)) tx->stats.events_dropped += 1;
}

/* ---- a viewer's packets out ---- */

static void flush_out(viewer *v) {
  int done = 0;
  while (done < v->out_count) {
    int n = sendmmsg(v->sock, v->out + done, (unsigned)(v->out_count - done), MSG_DONTWAIT);
    if (n > 0) {
      done += n;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    /* the socket's buffer is full or the path refused it: these are lost, as on the wire */
    v->stats.send_failed += v->out_count - done;
    break;
  }
  v->out_count = 0;
}

static void queue_out(viewer *v, const uint8_t *data, size_t len) {
  if (v->out_count == OUT_BATCH) flush_out(v);
  struct iovec *iov = &v->out_iov[v->out_count];
  iov->iov_base = (void *)data;
  iov->iov_len = len;
  struct mmsghdr *m = &v->out[v->out_count];
  memset(m, 0, sizeof *m);
  m->msg_hdr.msg_iov = iov;
  m->msg_hdr.msg_iovlen = 1;
  v->out_count += 1;
}

static uint32_t abs_send_time(double ms) { return (uint32_t)(int64_t)floor(ms * ABS_SEND_TIME_PER_MS) & 0xffffff; }

/* The pacer's turn for a packet (or, without a pacer, at once). */
static void on_turn(void *ctx, uint64_t id, size_t length) {
  viewer *v = ctx;
  uint16_t seq = (uint16_t)id;
  slot *s = (id >> 32) == KIND_FEC ? &v->fec_ring[seq & (FEC_RING - 1)] : &v->history[seq & (HISTORY - 1)];
  /* overwritten while it waited (more than the store holds was queued): it is lost */
  if (s->seq != seq) {
    v->stats.send_failed += 1;
    return;
  }
  if (s->pending) {
    /* a frame's first packet: sealed with the time it leaves (sealFrameStart) */
    size_t payload_len = s->len;
    memcpy(v->scratch, s->data + RTP_HEADER_BYTES + ABS_SEND_TIME_BYTES, payload_len);
    long n = gb_srtp_tx_protect(v->srtp, s->marker, v->payload_type, seq, s->timestamp, v->ssrc, true, abs_send_time(gb_monotonic_ms()), v->scratch, payload_len, s->data, SLOT_BYTES);
    s->pending = false;
    if (n < 0) {
      s->seq = -1;
      v->stats.send_failed += 1;
      return;
    }
    s->len = (uint16_t)n;
  }
  (void)length;
  queue_out(v, s->data, s->len);
}

static void rearm(viewer *v) {
  double next = v->pacer ? gb_pacer_next_at(v->pacer) : -1;
  if (next < 0) {
    if (v->armed) gb_timer_disarm(v->timer);
    v->armed = false;
    return;
  }
  if (v->armed && v->armed_at == next) return;
  v->armed = true;
  v->armed_at = next;
  gb_timer_arm(v->timer, next);
}

/* send(): paced (urgent: ahead of the queue), or at once without a pacer. */
static void send_packet(viewer *v, uint64_t id, size_t length, bool urgent) {
  v->stats.bytes_sent += (double)length;
  if (v->pacer) {
    gb_pacer_push(v->pacer, id, length, urgent, gb_monotonic_ms());
    rearm(v);
  } else {
    on_turn(v, id, length);
  }
}

/* ---- FEC (fec.ts: blocksForFrame, parityCount) ---- */

static size_t parity_count(size_t k, double ratio) {
  double cap = fmax(0, fmin((double)(MAX_SHARDS - (int)k), (double)k));
  double clamped = isfinite(ratio) ? fmin(1, fmax(0, ratio)) : 0;
  double wanted = fmax(fmax(ceil((double)k * clamped - 1e-9), 1), clamped > 0 ? 1 : 0);
  return (size_t)fmin(cap, wanted);
}

static void send_fec(gb_tx *tx, viewer *v) {
  if (tx->frame_overflow || tx->frame_count == 0) return;
  size_t count = tx->frame_count;
  size_t block_count = (count + MAX_BLOCK_PACKETS - 1) / MAX_BLOCK_PACKETS;
  size_t start = 0;
  for (size_t b = 0; b < block_count; b += 1) {
    size_t k = count / block_count + (b < count % block_count ? 1 : 0);
    size_t m = parity_count(k, v->fec_ratio);
    if (m > 0) {
      long shard = gb_fec_build((uint16_t)(v->frame_first_seq + start), tx->frame_payloads + start, tx->frame_lens + start, k, m, b == block_count - 1, b == 0, tx->fec_out, sizeof tx->fec_out);
      if (shard > 0) {
        size_t each = FEC_HEADER_BYTES + (size_t)shard;
        for (size_t j = 0; j < m; j += 1) {
          uint16_t seq = v->fec_seq++;
          slot *s = &v->fec_ring[seq & (FEC_RING - 1)];
          long n = gb_srtp_tx_protect(v->srtp, false, FEC_PAYLOAD_TYPE, seq, tx->frame_timestamp, v->fec_ssrc, false, 0, tx->fec_out + j * each, each, s->data, SLOT_BYTES);
          if (n < 0) {
            s->seq = -1;
            continue;
          }
          s->seq = seq;
          s->len = (uint16_t)n;
          s->pending = false;
          v->stats.fec_packets_sent += 1;
          send_packet(v, (uint64_t)KIND_FEC << 32 | seq, (size_t)n, false);
        }
      }
    }
    start += k;
  }
}

/* RtpPeerSender.packet */
static void viewer_packet(gb_tx *tx, viewer *v, const uint8_t *payload, size_t len, bool marker, bool frame_start) {
  if (frame_start) {
    v->synced = true;
    v->in_frame = true;
    v->frame_first_seq = v->seq;
  }
  if (!v->synced || !v->in_frame) return;
  uint16_t seq = v->seq++;
  v->stats.packets_sent += 1;
  slot *s = &v->history[seq & (HISTORY - 1)];
  s->seq = seq;
  s->marker = marker;
  s->timestamp = tx->frame_timestamp;
  if (frame_start && v->pacer) {
    s->pending = true;
    s->len = (uint16_t)len;
    memcpy(s->data + RTP_HEADER_BYTES + ABS_SEND_TIME_BYTES, payload, len);
    send_packet(v, (uint64_t)KIND_MEDIA << 32 | seq, RTP_HEADER_BYTES + ABS_SEND_TIME_BYTES + len + TAG_BYTES, false);
  } else {
    s->pending = false;
    long n = gb_srtp_tx_protect(v->srtp, marker, v->payload_type, seq, tx->frame_timestamp, v->ssrc, frame_start, frame_start ? abs_send_time(gb_monotonic_ms()) : 0, payload, len, s->data, SLOT_BYTES);
    if (n < 0) {
      s->seq = -1;
      v->stats.send_failed += 1;
    } else {
      s->len = (uint16_t)n;
      send_packet(v, (uint64_t)KIND_MEDIA << 32 | seq, (size_t)n, false);
    }
  }
  if (marker) {
    send_fec(tx, v);
    v->in_frame = false;
  }
}

/* ---- the fan-out (rtp-output.ts) ---- */

static double precise_now(gb_tx *tx) { return gb_monotonic_ms() + tx->clock_offset; }

static void forward(gb_tx *tx, const uint8_t *payload, size_t len, bool marker) {
  tx->sources[tx->active].forwarded = true;
  bool frame_start = tx->last_marker;
  if (frame_start) {
    /* our own 90 kHz clock (rtpClock of preciseNow): continuous across encoder runs */
    uint32_t timestamp = (uint32_t)(uint64_t)llround(precise_now(tx) * 90.0);
    tx->frame_timestamp = timestamp == tx->frame_timestamp ? timestamp + 1 : timestamp;
    tx->stats.frames += 1;
    tx->frame.len = 0;
    tx->frame_count = 0;
    tx->frame_overflow = false;
  }
  tx->last_marker = marker;
  if (!tx->frame_overflow) {
    if (tx->frame_count < MAX_FRAME_PACKETS && gb_queue_push(&tx->frame, payload, len)) tx->frame_len[tx->frame_count++] = (uint32_t)len;
    else tx->frame_overflow = true;
  }
  /* the frame's payloads for FEC, where the queue may have moved them as it grew */
  if (marker && !tx->frame_overflow) {
    size_t at = 0;
    for (size_t i = 0; i < tx->frame_count; i += 1) {
      tx->frame_payloads[i] = tx->frame.data + at;
      tx->frame_lens[i] = tx->frame_len[i];
      at += tx->frame_len[i];
    }
  }
  for (int i = 0; i < MAX_VIEWERS; i += 1)
    if (tx->viewers[i]) viewer_packet(tx, tx->viewers[i], payload, len, marker, frame_start);
  if (tx->js_viewers > 0) {
    uint8_t head[8] = {marker ? 1 : 0, frame_start ? 1 : 0, 0, 0};
    memcpy(head + 4, &tx->frame_timestamp, 4);
    emit(tx, GB_TX_EVENT_PAYLOAD, head, sizeof head, payload, len);
  }
}

static void close_source(gb_tx *tx, source *s) {
  epoll_ctl(tx->epoll, EPOLL_CTL_DEL, s->sock, NULL);
  close(s->sock);
  free(s->queued.data);
  memset(s, 0, sizeof *s);
}

static void take_over(gb_tx *tx) {
  if (tx->pending < 0) return;
  int old = tx->active;
  source *next = &tx->sources[tx->pending];
  tx->active = tx->pending;
  tx->pending = -1;
  tx->last_marker = true;
  size_t at = 0;
  for (size_t i = 0; i < next->queued_count; i += 1) {
    forward(tx, next->queued.data + at, next->queued_len[i], next->queued_marker[i]);
    next->mid_frame = !next->queued_marker[i];
    at += next->queued_len[i];
  }
  next->queued.len = 0;
  next->queued_count = 0;
  int32_t old_id = -1;
  if (old >= 0) {
    old_id = tx->sources[old].id;
    close_source(tx, &tx->sources[old]);
  }
  emit(tx, GB_TX_EVENT_SWITCHED, (const uint8_t *)&old_id, 4, NULL, 0);
}

static int rtp_header_length(const uint8_t *p, size_t len) {
  if (len < RTP_HEADER_BYTES || p[0] >> 6 != 2) return -1;
  size_t header = RTP_HEADER_BYTES + (size_t)(p[0] & 0x0f) * 4;
  if (p[0] & 0x10) {
    if (len < header + 4) return -1;
    header += 4 + (size_t)((p[header + 2] << 8) | p[header + 3]) * 4;
  }
  return len < header ? -1 : (int)header;
}

static void on_source_packet(gb_tx *tx, int index, const uint8_t *data, size_t len) {
  source *s = &tx->sources[index];
  if (len >= 2 && data[1] >= 192 && data[1] <= 223) return; /* ffmpeg's own sender reports */
  int header = rtp_header_length(data, len);
  if (header < 0) return;
  bool marker = (data[1] & 0x80) != 0;
  uint16_t seq = (uint16_t)(data[2] << 8 | data[3]);
  const uint8_t *payload = data + header;
  size_t payload_len = len - (size_t)header;
  uint16_t lost = s->has_next_seq ? (uint16_t)(seq - s->next_seq) : 0;
  s->has_next_seq = true;
  s->next_seq = (uint16_t)(seq + 1);
  if (index == tx->active) {
    bool cut = lost > 0 && lost < 0x8000;
    if (cut) tx->stats.source_lost += lost;
    /* a payload no encoder of ours sends: cut short as a lost one would be */
    if (payload_len > MAX_PAYLOAD_BYTES) {
      tx->stats.oversized += 1;
      cut = true;
    }
    if (cut) {
      if (!s->damaged) tx->stats.frames_cut += 1;
      s->damaged = true;
    }
    if (s->damaged) {
      s->mid_frame = !marker;
      if (marker) {
        s->damaged = false;
        tx->last_marker = true;
        if (tx->pending >= 0 && tx->sources[tx->pending].queued_count > 0) take_over(tx);
      }
      return;
    }
    forward(tx, payload, payload_len, marker);
    s->mid_frame = !marker;
    if (marker && tx->pending >= 0 && tx->sources[tx->pending].queued_count > 0) take_over(tx);
    return;
  }
  if (index != tx->pending) return;
  if (payload_len > MAX_PAYLOAD_BYTES) {
    tx->stats.oversized += 1;
    return;
  }
  if (s->queued_count < MAX_QUEUED && gb_queue_push(&s->queued, payload, payload_len)) {
    s->queued_len[s->queued_count] = (uint32_t)payload_len;
    s->queued_marker[s->queued_count] = marker;
    s->queued_count += 1;
  }
  if (tx->active < 0 || !tx->sources[tx->active].mid_frame) take_over(tx);
}

static void read_source(gb_tx *tx, int index) {
  for (int turn = 0; turn < BATCHES_PER_TURN; turn += 1) {
    source *s = &tx->sources[index];
    /* taken over and closed by a packet of this batch's */
    if (!s->used) return;
    for (int i = 0; i < RECEIVE_BATCH; i += 1) {
      tx->iov[i].iov_base = tx->buffers[i];
      tx->iov[i].iov_len = DATAGRAM_BYTES;
      memset(&tx->msgs[i].msg_hdr, 0, sizeof tx->msgs[i].msg_hdr);
      tx->msgs[i].msg_hdr.msg_iov = &tx->iov[i];
      tx->msgs[i].msg_hdr.msg_iovlen = 1;
    }
    int count = recvmmsg(s->sock, tx->msgs, RECEIVE_BATCH, MSG_DONTWAIT, NULL);
    if (count <= 0) return;
    for (int i = 0; i < count && tx->sources[index].used; i += 1) {
      if (tx->msgs[i].msg_hdr.msg_flags & MSG_TRUNC) continue;
      on_source_packet(tx, index, tx->buffers[i], tx->msgs[i].msg_len);
    }
    if (count < RECEIVE_BATCH) return;
  }
}

/* ---- RTCP from a viewer: to JavaScript, at most RTCP_PER_SECOND ---- */

static void read_viewer(gb_tx *tx, viewer *v) {
  for (int turn = 0; turn < BATCHES_PER_TURN; turn += 1) {
    ssize_t n = recv(v->sock, tx->buffers[0], DATAGRAM_BYTES, MSG_DONTWAIT | MSG_TRUNC);
    if (n < 0) return;
    if (n > DATAGRAM_BYTES || n < 2 || tx->buffers[0][1] < 192 || tx->buffers[0][1] > 223) continue;
    double now = gb_monotonic_ms();
    v->rtcp_tokens = fmin(RTCP_PER_SECOND, v->rtcp_tokens + (now - v->rtcp_tokens_at) / 1000.0 * RTCP_PER_SECOND);
    v->rtcp_tokens_at = now;
    if (v->rtcp_tokens < 1) {
      v->stats.rtcp_dropped += 1;
      continue;
    }
    v->rtcp_tokens -= 1;
    uint32_t id = (uint32_t)v->id;
    emit(tx, GB_TX_EVENT_RTCP, (const uint8_t *)&id, 4, tx->buffers[0], (size_t)n);
  }
}

static void on_timer(viewer *v) {
  uint64_t expirations;
  (void)!read(v->timer, &expirations, sizeof expirations);
  if (!v->armed || !v->pacer) return;
  double now = gb_monotonic_ms();
  if (now + 0.001 < v->armed_at) return;
  v->armed = false;
  gb_pacer_drain(v->pacer, now);
  rearm(v);
}

static void flush_all(gb_tx *tx) {
  for (int i = 0; i < MAX_VIEWERS; i += 1)
    if (tx->viewers[i] && tx->viewers[i]->out_count > 0) flush_out(tx->viewers[i]);
  if (tx->events.len > 0) flush_events(tx);
}

static void *run(void *arg) {
  gb_tx *tx = arg;
  struct epoll_event events[32];
  for (;;) {
    int n = epoll_wait(tx->epoll, events, 32, -1);
    if (n < 0 && errno != EINTR) break;
    pthread_mutex_lock(&tx->lock);
    if (tx->closing) {
      pthread_mutex_unlock(&tx->lock);
      break;
    }
    for (int i = 0; i < n; i += 1) {
      int kind = (int)(events[i].data.u64 >> 32);
      int index = (int)(uint32_t)events[i].data.u64;
      if (kind == TAG_WAKE) {
        uint64_t value;
        (void)!read(tx->wake, &value, sizeof value);
      } else if (kind == TAG_EVENTS) {
        flush_events(tx);
      } else if (kind == TAG_SOURCE && index < MAX_SOURCES && tx->sources[index].used) {
        read_source(tx, index);
      } else if (kind == TAG_VIEWER && index < MAX_VIEWERS && tx->viewers[index]) {
        read_viewer(tx, tx->viewers[index]);
      } else if (kind == TAG_TIMER && index < MAX_VIEWERS && tx->viewers[index]) {
        on_timer(tx->viewers[index]);
      }
    }
    flush_all(tx);
    pthread_mutex_unlock(&tx->lock);
  }
  return NULL;
}

/* ---- the API ---- */

static void fail(char *err, size_t errlen, const char *what) {
  if (err && errlen > 0) snprintf(err, errlen, "%s: %s", what, strerror(errno));
}

GB_EXPORT gb_tx *gb_tx_new(double clock_offset_ms, char *err, size_t errlen) {
  if (gb_gcm_init(err, errlen) != 0) return NULL;
  gb_tx *tx = calloc(1, sizeof *tx);
  if (!tx) {
    errno = ENOMEM;
    fail(err, errlen, "out of memory");
    return NULL;
  }
  tx->epoll = tx->wake = tx->event_read = tx->event_write = -1;
  tx->clock_offset = clock_offset_ms;
  tx->active = tx->pending = -1;
  tx->last_marker = true;
  tx->next_id = 1;
  pthread_mutex_init(&tx->lock, NULL);
  int pipe_fds[2];
  const char *step = "pipe";
  if (pipe2(pipe_fds, O_NONBLOCK | O_CLOEXEC) != 0) goto failed;
  tx->event_read = pipe_fds[0];
  tx->event_write = pipe_fds[1];
  fcntl(tx->event_write, F_SETPIPE_SZ, 1 << 20);
  step = "epoll or eventfd";
  tx->epoll = epoll_create1(EPOLL_CLOEXEC);
  tx->wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (tx->epoll < 0 || tx->wake < 0) goto failed;
  struct epoll_event ev = {.events = EPOLLIN, .data.u64 = tag(TAG_WAKE, 0)};
  if (epoll_ctl(tx->epoll, EPOLL_CTL_ADD, tx->wake, &ev) != 0) goto failed;
  step = "thread";
  if (pthread_create(&tx->thread, NULL, run, tx) != 0) goto failed;
  tx->started = true;
  return tx;

failed:
  fail(err, errlen, step);
  if (tx->event_read >= 0) close(tx->event_read);
  tx->event_read = -1;
  gb_tx_close(tx);
  return NULL;
}

GB_EXPORT int gb_tx_event_fd(gb_tx *tx) { return tx->event_read; }

GB_EXPORT int gb_tx_open_source(gb_tx *tx, int from_port, bool armed, int *port_out) {
  if (from_port <= 0 || from_port > 65535) return -1;
  pthread_mutex_lock(&tx->lock);
  int index = -1;
  for (int i = 0; i < MAX_SOURCES && index < 0; i += 1)
    if (!tx->sources[i].used) index = i;
  int fd = -1;
  if (index < 0) goto failed;
  fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) goto failed;
  int buffer = SOURCE_RECEIVE_BUFFER;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
  struct sockaddr_storage here, from;
  socklen_t here_len, from_len;
  gb_sockaddr_parse("127.0.0.1", 0, &here, &here_len);
  gb_sockaddr_parse("127.0.0.1", from_port, &from, &from_len);
  /* connected to the encoder's own port: no other local process can slip packets into the stream */
  if (bind(fd, (struct sockaddr *)&here, here_len) != 0 || connect(fd, (struct sockaddr *)&from, from_len) != 0) goto failed;
  struct sockaddr_in bound;
  socklen_t bound_len = sizeof bound;
  if (getsockname(fd, (struct sockaddr *)&bound, &bound_len) != 0) goto failed;
  source *s = &tx->sources[index];
  memset(s, 0, sizeof *s);
  s->used = true;
  s->id = tx->next_id++;
  s->sock = fd;
  s->port = ntohs(bound.sin_port);
  struct epoll_event ev = {.events = EPOLLIN, .data.u64 = tag(TAG_SOURCE, index)};
  if (epoll_ctl(tx->epoll, EPOLL_CTL_ADD, fd, &ev) != 0) {
    memset(s, 0, sizeof *s);
    goto failed;
  }
  int id = s->id;
  *port_out = s->port;
  pthread_mutex_unlock(&tx->lock);
  if (armed) gb_tx_arm(tx, id);
  return id;

failed:
  if (fd >= 0) close(fd);
  pthread_mutex_unlock(&tx->lock);
  return -1;
}

static int source_index(gb_tx *tx, int id) {
  for (int i = 0; i < MAX_SOURCES; i += 1)
    if (tx->sources[i].used && tx->sources[i].id == id) return i;
  return -1;
}

static void drop_source(gb_tx *tx, int index) {
  close_source(tx, &tx->sources[index]);
  if (tx->pending == index) tx->pending = -1;
  if (tx->active == index) {
    tx->active = -1;
    /* a frame cut off mid-way is left for the receivers' loss handling; the next one starts clean */
    tx->last_marker = true;
    if (tx->pending >= 0) take_over(tx);
  }
}

GB_EXPORT void gb_tx_arm(gb_tx *tx, int id) {
  pthread_mutex_lock(&tx->lock);
  int index = source_index(tx, id);
  if (index >= 0 && index != tx->active && index != tx->pending) {
    if (tx->pending >= 0) drop_source(tx, tx->pending);
    tx->sources[index].armed_at = gb_monotonic_ms();
    if (tx->active >= 0) tx->pending = index;
    else tx->active = index;
  }
  flush_all(tx);
  pthread_mutex_unlock(&tx->lock);
}

GB_EXPORT void gb_tx_drop_source(gb_tx *tx, int id) {
  pthread_mutex_lock(&tx->lock);
  int index = source_index(tx, id);
  if (index >= 0) drop_source(tx, index);
  flush_all(tx);
  pthread_mutex_unlock(&tx->lock);
}

GB_EXPORT bool gb_tx_is_active(gb_tx *tx, int id) {
  pthread_mutex_lock(&tx->lock);
  bool active = tx->active >= 0 && tx->sources[tx->active].id == id;
  pthread_mutex_unlock(&tx->lock);
  return active;
}

GB_EXPORT bool gb_tx_switching(gb_tx *tx) {
  pthread_mutex_lock(&tx->lock);
  const source *a = tx->active >= 0 ? &tx->sources[tx->active] : NULL;
  bool switching = tx->pending >= 0 || (a && !a->forwarded && gb_monotonic_ms() - a->armed_at < FIRST_FRAME_WAIT_MS);
  pthread_mutex_unlock(&tx->lock);
  return switching;
}

GB_EXPORT void gb_tx_set_js_viewers(gb_tx *tx, int count) {
  pthread_mutex_lock(&tx->lock);
  tx->js_viewers = count < 0 ? 0 : count;
  pthread_mutex_unlock(&tx->lock);
}

static void free_viewer(gb_tx *tx, viewer *v) {
  if (!v) return;
  if (v->sock >= 0) {
    if (tx) epoll_ctl(tx->epoll, EPOLL_CTL_DEL, v->sock, NULL);
    close(v->sock);
  }
  if (v->timer >= 0) {
    if (tx) epoll_ctl(tx->epoll, EPOLL_CTL_DEL, v->timer, NULL);
    close(v->timer);
  }
  gb_pacer_free(v->pacer);
  gb_srtp_tx_free(v->srtp);
  free(v->history);
  free(v->fec_ring);
  free(v);
}

GB_EXPORT int gb_tx_add_viewer(gb_tx *tx, const gb_tx_viewer_setup *setup, char *err, size_t errlen) {
  struct sockaddr_storage to;
  socklen_t to_len;
  if (setup->port <= 0 || setup->port > 65535 || !gb_sockaddr_parse(setup->host, setup->port, &to, &to_len)) {
    errno = EINVAL;
    fail(err, errlen, "the viewer's address is not an IP literal and port");
    return -1;
  }
  viewer *v = calloc(1, sizeof *v);
  if (!v) {
    errno = ENOMEM;
    fail(err, errlen, "out of memory");
    return -1;
  }
  v->sock = v->timer = -1;
  v->tx = tx;
  v->payload_type = setup->payload_type & 0x7f;
  v->ssrc = setup->ssrc;
  v->fec_ssrc = setup->fec_ssrc;
  v->seq = setup->seq;
  v->fec_seq = setup->fec_seq;
  v->fec_ratio = setup->fec_ratio;
  v->pacing_factor = setup->pacing_factor;
  v->tokens = RETRANSMIT_PER_SECOND;
  v->rtcp_tokens = RTCP_PER_SECOND;
  v->tokens_at = v->rtcp_tokens_at = gb_monotonic_ms();
  const char *step = "the viewer's parts";
  errno = ENOMEM;
  v->history = malloc(HISTORY * sizeof *v->history);
  v->fec_ring = malloc(FEC_RING * sizeof *v->fec_ring);
  v->srtp = gb_srtp_tx_new(setup->key, setup->salt);
  if (!v->history || !v->fec_ring || !v->srtp) goto failed;
  for (size_t i = 0; i < HISTORY; i += 1) v->history[i].seq = -1;
  for (size_t i = 0; i < FEC_RING; i += 1) v->fec_ring[i].seq = -1;
  if (setup->pacing_factor > 0) {
    v->pacer = gb_pacer_new(setup->target_kbps, setup->fps, setup->pacing_factor, setup->link_kbps, gb_monotonic_ms(), on_turn, v);
    if (!v->pacer) goto failed;
  }
  step = "socket";
  v->sock = socket(to.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (v->sock < 0) goto failed;
  int send_buffer = VIEWER_SEND_BUFFER, receive_buffer = VIEWER_RECEIVE_BUFFER;
  setsockopt(v->sock, SOL_SOCKET, SO_SNDBUF, &send_buffer, sizeof send_buffer);
  setsockopt(v->sock, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
  /* connected: each send skips the address lookup, and only the viewer's datagrams come back here */
  step = "connect";
  if (connect(v->sock, (struct sockaddr *)&to, to_len) != 0) goto failed;
  step = "timerfd";
  v->timer = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (v->timer < 0) goto failed;

  pthread_mutex_lock(&tx->lock);
  int index = -1;
  for (int i = 0; i < MAX_VIEWERS && index < 0; i += 1)
    if (!tx->viewers[i]) index = i;
  if (index < 0) {
    pthread_mutex_unlock(&tx->lock);
    errno = EMFILE;
    step = "too many viewers";
    goto failed;
  }
  v->id = tx->next_id++;
  struct epoll_event on_sock = {.events = EPOLLIN, .data.u64 = tag(TAG_VIEWER, index)};
  struct epoll_event on_timer_ev = {.events = EPOLLIN, .data.u64 = tag(TAG_TIMER, index)};
  if (epoll_ctl(tx->epoll, EPOLL_CTL_ADD, v->sock, &on_sock) != 0 || epoll_ctl(tx->epoll, EPOLL_CTL_ADD, v->timer, &on_timer_ev) != 0) {
    epoll_ctl(tx->epoll, EPOLL_CTL_DEL, v->sock, NULL);
    pthread_mutex_unlock(&tx->lock);
    step = "epoll";
    goto failed;
  }
  tx->viewers[index] = v;
  int id = v->id;
  pthread_mutex_unlock(&tx->lock);
  return id;

failed:
  fail(err, errlen, step);
  free_viewer(NULL, v);
  return -1;
}

static viewer *find_viewer(gb_tx *tx, int id, int *index) {
  for (int i = 0; i < MAX_VIEWERS; i += 1)
    if (tx->viewers[i] && tx->viewers[i]->id == id) {
      if (index) *index = i;
      return tx->viewers[i];
    }
  return NULL;
}

GB_EXPORT void gb_tx_remove_viewer(gb_tx *tx, int id) {
  pthread_mutex_lock(&tx->lock);
  int index;
  viewer *v = find_viewer(tx, id, &index);
  if (v) {
    tx->viewers[index] = NULL;
    free_viewer(tx, v);
  }
  pthread_mutex_unlock(&tx->lock);
}

GB_EXPORT void gb_tx_set_fec_ratio(gb_tx *tx, int id, double ratio) {
  pthread_mutex_lock(&tx->lock);
  viewer *v = find_viewer(tx, id, NULL);
  if (v) v->fec_ratio = ratio;
  pthread_mutex_unlock(&tx->lock);
}

GB_EXPORT void gb_tx_set_pacing(gb_tx *tx, int id, double target_kbps, double fps, double link_kbps) {
  pthread_mutex_lock(&tx->lock);
  viewer *v = find_viewer(tx, id, NULL);
  if (v && v->pacer) {
    gb_pacer_set_target(v->pacer, target_kbps, fps, v->pacing_factor, link_kbps, gb_monotonic_ms());
    rearm(v);
    flush_out(v);
  }
  pthread_mutex_unlock(&tx->lock);
}

/* RtpPeerSender.retransmit, for each sequence number NACKed. */
GB_EXPORT void gb_tx_resend(gb_tx *tx, int id, const uint16_t *seqs, size_t count) {
  pthread_mutex_lock(&tx->lock);
  viewer *v = find_viewer(tx, id, NULL);
  for (size_t i = 0; v && i < count; i += 1) {
    double now = gb_monotonic_ms();
    v->tokens = fmin(RETRANSMIT_PER_SECOND, v->tokens + (now - v->tokens_at) / 1000.0 * RETRANSMIT_PER_SECOND);
    v->tokens_at = now;
    uint16_t seq = seqs[i];
    const slot *s = &v->history[seq & (HISTORY - 1)];
    /* a frame start still waiting for its turn has not left yet: nothing to resend */
    if (s->seq != seq || s->pending) {
      v->stats.resend_refused += 1;
      continue;
    }
    if (v->tokens < 1) {
      v->stats.resend_refused += 1;
      continue;
    }
    v->tokens -= 1;
    v->stats.retransmitted += 1;
    /* the same bytes again: the receiver never accepted this index, so its replay window lets it in once */
    send_packet(v, (uint64_t)KIND_MEDIA << 32 | seq, s->len, true);
  }
  if (v) flush_out(v);
  pthread_mutex_unlock(&tx->lock);
}

GB_EXPORT int gb_tx_send_now(gb_tx *tx, int id, const uint8_t *data, size_t len) {
  pthread_mutex_lock(&tx->lock);
  viewer *v = find_viewer(tx, id, NULL);
  int sock = v ? v->sock : -1;
  if (v) v->stats.bytes_sent += (double)len;
  int result = sock >= 0 && send(sock, data, len, MSG_DONTWAIT) == (ssize_t)len ? 0 : -1;
  pthread_mutex_unlock(&tx->lock);
  return result;
}

GB_EXPORT int gb_tx_get_viewer_stats(gb_tx *tx, int id, gb_tx_viewer_stats *out) {
  pthread_mutex_lock(&tx->lock);
  viewer *v = find_viewer(tx, id, NULL);
  if (v) {
    *out = v->stats;
    out->pacer_delayed = v->pacer ? gb_pacer_delayed(v->pacer) : 0;
    out->backlog_bytes = v->pacer ? (double)gb_pacer_backlog_bytes(v->pacer) : 0;
  }
  pthread_mutex_unlock(&tx->lock);
  return v ? 0 : -1;
}

GB_EXPORT void gb_tx_get_stats(gb_tx *tx, gb_tx_stats *out) {
  pthread_mutex_lock(&tx->lock);
  *out = tx->stats;
  pthread_mutex_unlock(&tx->lock);
}

GB_EXPORT void gb_tx_close(gb_tx *tx) {
  if (!tx) return;
  pthread_mutex_lock(&tx->lock);
  tx->closing = true;
  bool started = tx->started;
  pthread_mutex_unlock(&tx->lock);
  if (started) {
    uint64_t one = 1;
    (void)!write(tx->wake, &one, sizeof one);
    pthread_join(tx->thread, NULL);
  }
  for (int i = 0; i < MAX_SOURCES; i += 1)
    if (tx->sources[i].used) close_source(tx, &tx->sources[i]);
  for (int i = 0; i < MAX_VIEWERS; i += 1) free_viewer(tx, tx->viewers[i]);
  /* the event pipe's read end is the caller's (JavaScript reads it through its own handle) */
  int fds[] = {tx->event_write, tx->epoll, tx->wake};
  for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i += 1)
    if (fds[i] >= 0) close(fds[i]);
  free(tx->frame.data);
  free(tx->events.data);
  pthread_mutex_destroy(&tx->lock);
  free(tx);
}
