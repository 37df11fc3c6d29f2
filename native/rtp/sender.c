/*
 * The host's end of the rtp transport on a thread of its own (the sender's native data plane): the
 * fan-out of rtp-output.ts (the encoder runs' loopback sources, make before break, a damaged frame cut
 * short, our own timestamps) and, for each viewer, its stream (viewer_stream.c: what rtp-peer-sender.ts
 * does per packet, SRTP, FEC, the pacer, the resend history and its rate), all on one epoll. Those two
 * TypeScript files stay the reference and the fallback. JavaScript keeps what is rare: RTCP from the
 * viewers (it authenticates and parses it, and answers NACKs with gb_tx_resend), sender reports (sealed
 * there, sent with gb_tx_send_now), the FEC share and the pacing target (pushed here when they change),
 * and the encoder runs themselves. It hears of RTCP, a source taking over, and (for a viewer whose
 * transport is in JavaScript, a browser's) the payloads, through records on a pipe.
 */
#define _GNU_SOURCE
#include "gb_rtp.h"
#include "io.h"
#include "viewer_stream.h"

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
#include <unistd.h>

#define MAX_SOURCES 8
#define MAX_VIEWERS 16
#define RECEIVE_BATCH 64
#define DATAGRAM_BYTES 4096
#define BATCHES_PER_TURN 16
#define RTP_HEADER_BYTES 12
/* A frame's payloads kept for its FEC; a frame longer than this (19 MB) is sent without FEC. */
#define MAX_FRAME_PACKETS 16384
/* Packets a waiting source may queue while the old one finishes its frame. */
#define MAX_QUEUED 4096
#define FIRST_FRAME_WAIT_MS 3000.0
#define MAX_EVENT_BACKLOG (32u << 20)
#define SOURCE_RECEIVE_BUFFER (8 << 20)

enum { TAG_WAKE = 1, TAG_EVENTS = 2, TAG_SOURCE = 3, TAG_VIEWER = 4, TAG_TIMER = 5 };

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

typedef struct {
  int id;
  gb_viewer_stream *stream;
} viewer;

struct gb_tx {
  int epoll, wake, event_read, event_write;
  pthread_mutex_t lock;
  pthread_t thread;
  bool started, closing;
  double clock_offset;
  source sources[MAX_SOURCES];
  viewer viewers[MAX_VIEWERS]; /* id 0: a free slot */
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
  uint8_t fec_out[GB_FEC_OUT_BYTES];
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
  const gb_frame_payloads frame = {
    .payloads = tx->frame_payloads, .lens = tx->frame_lens, .count = tx->frame_count, .usable = !tx->frame_overflow,
    .timestamp = tx->frame_timestamp, .fec_out = tx->fec_out, .fec_cap = sizeof tx->fec_out,
  };
  for (int i = 0; i < MAX_VIEWERS; i += 1)
    if (tx->viewers[i].id) gb_viewer_stream_packet(tx->viewers[i].stream, &frame, payload, len, marker, frame_start);
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
    if (payload_len > GB_MAX_PAYLOAD_BYTES) {
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
  if (payload_len > GB_MAX_PAYLOAD_BYTES) {
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

/* RTCP from a viewer: to JavaScript (its stream passes at most RTCP_PER_SECOND up). */
static void read_viewer(gb_tx *tx, const viewer *v) {
  size_t n;
  while ((n = gb_viewer_stream_take_rtcp(v->stream, tx->buffers[0], DATAGRAM_BYTES)) > 0) {
    uint32_t id = (uint32_t)v->id;
    emit(tx, GB_TX_EVENT_RTCP, (const uint8_t *)&id, 4, tx->buffers[0], n);
  }
}

static void flush_all(gb_tx *tx) {
  for (int i = 0; i < MAX_VIEWERS; i += 1)
    if (tx->viewers[i].id) gb_viewer_stream_flush(tx->viewers[i].stream);
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
      } else if (kind == TAG_VIEWER && index < MAX_VIEWERS && tx->viewers[index].id) {
        read_viewer(tx, &tx->viewers[index]);
      } else if (kind == TAG_TIMER && index < MAX_VIEWERS && tx->viewers[index].id) {
        gb_viewer_stream_timer_due(tx->viewers[index].stream);
      }
    }
    flush_all(tx);
    pthread_mutex_unlock(&tx->lock);
  }
  return NULL;
}

/* ---- the API ---- */

GB_EXPORT gb_tx *gb_tx_new(double clock_offset_ms, char *err, size_t errlen) {
  if (gb_gcm_init(err, errlen) != 0) return NULL;
  gb_tx *tx = calloc(1, sizeof *tx);
  if (!tx) {
    errno = ENOMEM;
    gb_fail(err, errlen, "out of memory");
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
  gb_fail(err, errlen, step);
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

static void remove_viewer(gb_tx *tx, viewer *v) {
  epoll_ctl(tx->epoll, EPOLL_CTL_DEL, gb_viewer_stream_socket(v->stream), NULL);
  epoll_ctl(tx->epoll, EPOLL_CTL_DEL, gb_viewer_stream_timer(v->stream), NULL);
  gb_viewer_stream_free(v->stream);
  *v = (viewer){0};
}

GB_EXPORT int gb_tx_add_viewer(gb_tx *tx, const gb_tx_viewer_setup *setup, char *err, size_t errlen) {
  gb_viewer_stream *stream = gb_viewer_stream_new(setup, err, errlen);
  if (!stream) return -1;
  pthread_mutex_lock(&tx->lock);
  int index = -1;
  for (int i = 0; i < MAX_VIEWERS && index < 0; i += 1)
    if (!tx->viewers[i].id) index = i;
  struct epoll_event on_socket = {.events = EPOLLIN, .data.u64 = tag(TAG_VIEWER, index)};
  struct epoll_event on_timer = {.events = EPOLLIN, .data.u64 = tag(TAG_TIMER, index)};
  const char *refused = index < 0 ? "more viewers than one session takes (16)" : NULL;
  if (!refused && epoll_ctl(tx->epoll, EPOLL_CTL_ADD, gb_viewer_stream_socket(stream), &on_socket) != 0) refused = "epoll";
  if (!refused && epoll_ctl(tx->epoll, EPOLL_CTL_ADD, gb_viewer_stream_timer(stream), &on_timer) != 0) {
    epoll_ctl(tx->epoll, EPOLL_CTL_DEL, gb_viewer_stream_socket(stream), NULL);
    refused = "epoll";
  }
  if (refused) {
    pthread_mutex_unlock(&tx->lock);
    if (err && errlen > 0) snprintf(err, errlen, "%s", refused);
    gb_viewer_stream_free(stream);
    return -1;
  }
  int id = tx->next_id++;
  tx->viewers[index] = (viewer){.id = id, .stream = stream};
  pthread_mutex_unlock(&tx->lock);
  return id;
}

static viewer *find_viewer(gb_tx *tx, int id) {
  for (int i = 0; i < MAX_VIEWERS; i += 1)
    if (id > 0 && tx->viewers[i].id == id) return &tx->viewers[i];
  return NULL;
}

GB_EXPORT void gb_tx_remove_viewer(gb_tx *tx, int id) {
  pthread_mutex_lock(&tx->lock);
  viewer *v = find_viewer(tx, id);
  if (v) remove_viewer(tx, v);
  pthread_mutex_unlock(&tx->lock);
}

GB_EXPORT void gb_tx_set_fec_ratio(gb_tx *tx, int id, double ratio) {
  pthread_mutex_lock(&tx->lock);
  viewer *v = find_viewer(tx, id);
  if (v) gb_viewer_stream_set_fec_ratio(v->stream, ratio);
  pthread_mutex_unlock(&tx->lock);
}

GB_EXPORT void gb_tx_set_pacing(gb_tx *tx, int id, double target_kbps, double fps, double link_kbps) {
  pthread_mutex_lock(&tx->lock);
  viewer *v = find_viewer(tx, id);
  if (v) {
    gb_viewer_stream_set_pacing(v->stream, target_kbps, fps, link_kbps);
    gb_viewer_stream_flush(v->stream);
  }
  pthread_mutex_unlock(&tx->lock);
}

GB_EXPORT void gb_tx_resend(gb_tx *tx, int id, const uint16_t *seqs, size_t count) {
  pthread_mutex_lock(&tx->lock);
  viewer *v = find_viewer(tx, id);
  if (v) {
    gb_viewer_stream_resend(v->stream, seqs, count);
    gb_viewer_stream_flush(v->stream);
  }
  pthread_mutex_unlock(&tx->lock);
}

GB_EXPORT int gb_tx_send_now(gb_tx *tx, int id, const uint8_t *data, size_t len) {
  pthread_mutex_lock(&tx->lock);
  viewer *v = find_viewer(tx, id);
  int result = v ? gb_viewer_stream_send_now(v->stream, data, len) : -1;
  pthread_mutex_unlock(&tx->lock);
  return result;
}

GB_EXPORT int gb_tx_get_viewer_stats(gb_tx *tx, int id, gb_tx_viewer_stats *out) {
  pthread_mutex_lock(&tx->lock);
  viewer *v = find_viewer(tx, id);
  if (v) gb_viewer_stream_stats(v->stream, out);
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
  for (int i = 0; i < MAX_VIEWERS; i += 1)
    if (tx->viewers[i].id) remove_viewer(tx, &tx->viewers[i]);
  /* the event pipe's read end is the caller's (JavaScript reads it through its own handle) */
  int fds[] = {tx->event_write, tx->epoll, tx->wake};
  for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i += 1)
    if (fds[i] >= 0) close(fds[i]);
  free(tx->frame.data);
  free(tx->events.data);
  pthread_mutex_destroy(&tx->lock);
  free(tx);
}
