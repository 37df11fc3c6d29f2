/*
 * The peer's end of the rtp transport on a thread of its own (the native data plane; rtp-receiver.ts is
 * the reference): one UDP socket read with recvmmsg, every datagram authenticated and decrypted before
 * anything reads it, frames assembled with FEC and NACK, and each whole frame written as MPEG-TS to the
 * decoder's stdin. JavaScript keeps what is rare: RTCP (it authenticates, parses and sends feedback
 * through gb_rx_send), the per-second figures it reads with gb_rx_get_stats, and the round trip. It hears of
 * RTCP, feedback to send and (without a decoder fd) frames through records on a pipe, so a frame that
 * needs nothing from it does not wake it.
 */
#define _GNU_SOURCE
#include "gb_rtp.h"
#include "io.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define RECEIVE_BATCH 64
/* Our datagrams stay under the path MTU; a longer one is not ours. */
#define DATAGRAM_BYTES 4096
/* Batches read before the thread looks at its timer and fds again: a flood cannot hold it. */
#define BATCHES_PER_TURN 16
#define FEC_PAYLOAD_TYPE 100
#define NACKS_PER_FEEDBACK (64 * 17)
/* As rtp-input.ts: decoder input queued beyond this (a stuck decoder) is dropped rather than held. */
#define MAX_DECODER_BACKLOG (32u << 20)
/* Event records JavaScript has not read yet; frames (GB_EVENT_FRAME) are the large ones. */
#define MAX_EVENT_BACKLOG (32u << 20)
/* The resends asked for (rtp-receiver.ts `nacked`): a slot per sequence number modulo this; cleared past half full. */
#define NACKED_SLOTS 16384
#define RECEIVE_BUFFER_BYTES (8 << 20)
/*
 * RTCP goes to JavaScript to be authenticated: the host sends a few a second, so a flood of RTCP-shaped
 * datagrams is cut to this many a second (a bucket this deep) before it costs the main thread anything.
 */
#define RTCP_PER_SECOND 200.0
#define SEND_BUFFER_BYTES (1 << 20)
/*
 * A frame's packets come in a burst a few µs apart, and this thread, woken by the first, would wake again
 * for nearly each of the others (12 wakeups a frame at 8 Mbit/s, most of its cost). While a frame is
 * still coming in (its media, then its FEC up to the last parity packet), it naps this long and reads
 * what came meanwhile, at most NAPS_PER_BURST times: a frame cannot complete before its last packet,
 * so this adds at most a nap to when it does, and mostly much less.
 */
#define BURST_NAP_NS 150000L
#define NAPS_PER_BURST 4

typedef struct {
  bool known;
  int64_t highest;
} seq_extender;

struct gb_rx {
  int sock, event_read, event_write, epoll, timer, wake;
  int decoder_fd;
  int port;
  gb_codec codec;
  uint8_t media_payload_type;
  gb_srtp_rx *srtp;
  gb_asm *assembler;
  gb_gauge *gauge;
  gb_ts_writer ts;
  pthread_mutex_t lock;
  pthread_t thread;
  bool started, closing;

  struct sockaddr_storage remote;
  socklen_t remote_len;
  bool has_remote;

  seq_extender seqs;
  bool has_first;
  int64_t first_seq;
  double originals, rejected, last_authentic_at, events_dropped, decoder_frames_dropped, media_ssrc;
  int64_t *nacked;
  size_t nacked_count;

  /* when the assembler wants to look again: the latest answer of a burst (want), the timer set (armed) */
  /* the last datagram read leaves a frame still coming in (see BURST_NAP_NS) */
  bool burst_open;
  bool want_wake, armed;
  double want_at, armed_at;

  bool feedback_pli;
  size_t feedback_count;
  uint16_t feedback_nack[NACKS_PER_FEEDBACK];

  double rtcp_tokens, rtcp_tokens_at;
  gb_byte_queue events, decoder;
  bool events_polled, decoder_polled, decoder_broken;
  uint8_t *ts_buffer;
  size_t ts_cap;
  double started_at;

  gb_actions actions;
  uint8_t buffers[RECEIVE_BATCH][DATAGRAM_BYTES];
  struct sockaddr_storage from[RECEIVE_BATCH];
  struct iovec iov[RECEIVE_BATCH];
  struct mmsghdr msgs[RECEIVE_BATCH];
};

GB_EXPORT double gb_rx_now(void) { return gb_monotonic_ms(); }

/* ---- sequence numbers (seq.ts) ---- */

static int64_t seq_place(const seq_extender *s, uint16_t seq) {
  int64_t delta = (int64_t)(((seq - (uint32_t)(s->highest & 0xffff) + 32768u) & 0xffffu)) - 32768;
  return s->highest + delta;
}

static int64_t seq_extend(seq_extender *s, uint16_t seq) {
  if (!s->known) {
    s->known = true;
    s->highest = (int64_t)seq + 65536;
    return s->highest;
  }
  int64_t ext = seq_place(s, seq);
  if (ext > s->highest) s->highest = ext;
  return ext;
}

static void watch_writable(gb_rx *rx, int fd, bool *polled, bool want) {
  if (*polled == want) return;
  struct epoll_event ev = {.events = EPOLLOUT, .data.fd = fd};
  epoll_ctl(rx->epoll, want ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, fd, &ev);
  *polled = want;
}

static void flush_events(gb_rx *rx) {
  gb_queue_flush(&rx->events, rx->event_write);
  watch_writable(rx, rx->event_write, &rx->events_polled, rx->events.len > 0);
}

static void flush_decoder(gb_rx *rx) {
  if (rx->decoder_broken) return;
  if (gb_queue_flush(&rx->decoder, rx->decoder_fd) < 0) rx->decoder_broken = true;
  watch_writable(rx, rx->decoder_fd, &rx->decoder_polled, !rx->decoder_broken && rx->decoder.len > 0);
}

static void emit(gb_rx *rx, uint8_t type, const uint8_t *head, size_t head_len, const uint8_t *body, size_t body_len) {
  if (!gb_queue_record(&rx->events, MAX_EVENT_BACKLOG, type, head, head_len, body, body_len)) {
    rx->events_dropped += 1;
    return;
  }
  flush_events(rx);
}

/* ---- frames out ---- */

static void on_frame(void *ctx, const gb_frame *frame) {
  gb_rx *rx = ctx;
  if (rx->decoder_fd < 0) {
    uint8_t head[16] = {0};
    memcpy(head, &frame->timestamp, 4);
    head[4] = frame->keyframe ? 1 : 0;
    memcpy(head + 8, &frame->first_arrival, 8);
    emit(rx, GB_EVENT_FRAME, head, sizeof head, frame->data, frame->len);
    return;
  }
  if (rx->decoder_broken || rx->decoder.len > MAX_DECODER_BACKLOG) {
    rx->decoder_frames_dropped += 1;
    return;
  }
  size_t bound = gb_ts_bound(frame->len);
  if (bound > rx->ts_cap) {
    uint8_t *grown = realloc(rx->ts_buffer, bound);
    if (!grown) {
      rx->decoder_frames_dropped += 1;
      return;
    }
    rx->ts_buffer = grown;
    rx->ts_cap = bound;
  }
  size_t n = gb_ts_write(&rx->ts, frame->data, frame->len, frame->first_arrival - rx->started_at, frame->keyframe, rx->ts_buffer);
  if (!gb_queue_push(&rx->decoder, rx->ts_buffer, n)) {
    rx->decoder_frames_dropped += 1;
    return;
  }
  flush_decoder(rx);
}

/* ---- the assembler's answers ---- */

static bool nacked_take(gb_rx *rx, int64_t ext) {
  int64_t *slot = &rx->nacked[ext & (NACKED_SLOTS - 1)];
  if (*slot != ext) return false;
  *slot = -1;
  rx->nacked_count -= 1;
  return true;
}

static void nacked_add(gb_rx *rx, int64_t ext) {
  if (rx->nacked_count > NACKED_SLOTS / 2) {
    for (size_t i = 0; i < NACKED_SLOTS; i += 1) rx->nacked[i] = -1;
    rx->nacked_count = 0;
  }
  int64_t *slot = &rx->nacked[ext & (NACKED_SLOTS - 1)];
  if (*slot == ext) return;
  if (*slot < 0) rx->nacked_count += 1;
  *slot = ext;
}

static void act(gb_rx *rx) {
  const gb_actions *a = &rx->actions;
  for (size_t i = 0; i < a->nack_count; i += 1) {
    if (rx->seqs.known) nacked_add(rx, seq_place(&rx->seqs, a->nack[i]));
    if (rx->feedback_count < NACKS_PER_FEEDBACK) rx->feedback_nack[rx->feedback_count++] = a->nack[i];
  }
  if (a->pli) rx->feedback_pli = true;
  rx->want_wake = a->has_wake;
  rx->want_at = a->wake_at;
}

static void send_feedback(gb_rx *rx) {
  if (rx->feedback_count == 0 && !rx->feedback_pli) return;
  uint8_t head[4] = {rx->feedback_pli ? 1 : 0, 0, (uint8_t)rx->feedback_count, (uint8_t)(rx->feedback_count >> 8)};
  emit(rx, GB_EVENT_FEEDBACK, head, sizeof head, (const uint8_t *)rx->feedback_nack, rx->feedback_count * 2);
  rx->feedback_count = 0;
  rx->feedback_pli = false;
}

static void arm(gb_rx *rx, double at) {
  rx->armed = true;
  rx->armed_at = at;
  gb_timer_arm(rx->timer, at);
}

/* At a burst's end: the latest answer on when to look again counts (see settleWake in rtp-receiver.ts). */
static void settle(gb_rx *rx) {
  send_feedback(rx);
  if (rx->want_wake && (!rx->armed || rx->armed_at > rx->want_at)) arm(rx, rx->want_at);
}

/* ---- datagrams in ---- */

static void take_remote(gb_rx *rx, const struct sockaddr_storage *from, socklen_t len) {
  memcpy(&rx->remote, from, len);
  rx->remote_len = len;
  rx->has_remote = true;
}

static void on_datagram(gb_rx *rx, uint8_t *data, size_t len, const struct sockaddr_storage *from, socklen_t from_len, double now) {
  if (len >= 2 && data[1] >= 192 && data[1] <= 223) {
    rx->rtcp_tokens += (now - rx->rtcp_tokens_at) / 1000.0 * RTCP_PER_SECOND;
    if (rx->rtcp_tokens > RTCP_PER_SECOND) rx->rtcp_tokens = RTCP_PER_SECOND;
    rx->rtcp_tokens_at = now;
    if (rx->rtcp_tokens < 1) {
      rx->rejected += 1;
      return;
    }
    rx->rtcp_tokens -= 1;
    uint8_t head[20];
    gb_sockaddr_bytes(from, head);
    emit(rx, GB_EVENT_RTCP, head, sizeof head, data, len);
    return;
  }
  gb_rtp_packet packet;
  if (gb_srtp_rx_open(rx->srtp, data, len, &packet) != GB_SRTP_OK) {
    rx->rejected += 1;
    return;
  }
  rx->last_authentic_at = now;
  bool fec = packet.payload_type == FEC_PAYLOAD_TYPE;
  /* the host's NAT mapping: where its newest authenticated packets come from */
  bool newest_media = !fec && (!rx->seqs.known || seq_place(&rx->seqs, packet.seq) > rx->seqs.highest);
  if (!rx->has_remote || newest_media) take_remote(rx, from, from_len);
  if (fec) {
    /* the frame's last parity packet: its block ends the frame (flags bit 0) and its index is m - 1 */
    const uint8_t *f = packet.payload;
    rx->burst_open = !(packet.payload_len >= 8 && (f[5] & 0x01) && f[3] > 0 && f[4] == f[3] - 1);
    gb_gauge_fec(rx->gauge, len);
    gb_asm_fec(rx->assembler, packet.timestamp, packet.payload, packet.payload_len, now, &rx->actions);
    act(rx);
    return;
  }
  if (packet.payload_type != rx->media_payload_type) return;
  /* its FEC follows even the frame's last media packet */
  rx->burst_open = true;
  rx->media_ssrc = packet.ssrc;
  int64_t ext = seq_extend(&rx->seqs, packet.seq);
  if (!rx->has_first) {
    rx->has_first = true;
    rx->first_seq = ext;
  }
  if (nacked_take(rx, ext)) {
    gb_gauge_fec(rx->gauge, len);
  } else {
    rx->originals += 1;
    gb_gauge_packet(rx->gauge, packet.timestamp, len, now, packet.has_send_stamp, packet.send_stamp);
  }
  gb_asm_media(rx->assembler, packet.seq, packet.timestamp, packet.marker, packet.payload, packet.payload_len, now, &rx->actions);
  act(rx);
}

/* Reads what the socket holds, up to BATCHES_PER_TURN batches; true when it read anything. */
static bool drain(gb_rx *rx) {
  bool any = false;
  for (int turn = 0; turn < BATCHES_PER_TURN; turn += 1) {
    for (int i = 0; i < RECEIVE_BATCH; i += 1) {
      rx->iov[i].iov_base = rx->buffers[i];
      rx->iov[i].iov_len = DATAGRAM_BYTES;
      memset(&rx->msgs[i].msg_hdr, 0, sizeof rx->msgs[i].msg_hdr);
      rx->msgs[i].msg_hdr.msg_name = &rx->from[i];
      rx->msgs[i].msg_hdr.msg_namelen = sizeof rx->from[i];
      rx->msgs[i].msg_hdr.msg_iov = &rx->iov[i];
      rx->msgs[i].msg_hdr.msg_iovlen = 1;
    }
    int count = recvmmsg(rx->sock, rx->msgs, RECEIVE_BATCH, MSG_DONTWAIT, NULL);
    if (count <= 0) break;
    any = true;
    for (int i = 0; i < count; i += 1) {
      if (rx->msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
        rx->rejected += 1;
        continue;
      }
      on_datagram(rx, rx->buffers[i], rx->msgs[i].msg_len, &rx->from[i], rx->msgs[i].msg_hdr.msg_namelen, gb_rx_now());
    }
    if (count < RECEIVE_BATCH) break;
  }
  return any;
}

/* The assembler's look, due: after the datagrams that came meanwhile are read (see wake in rtp-receiver.ts). */
static void look(gb_rx *rx) {
  double now = gb_rx_now();
  if (!rx->armed || now + 0.001 < rx->armed_at) return;
  double late = now - rx->armed_at;
  rx->armed = false;
  gb_asm_stalled(rx->assembler, late);
  gb_asm_poll(rx->assembler, now, true, &rx->actions);
  act(rx);
  settle(rx);
}

static void *run(void *arg) {
  gb_rx *rx = arg;
  struct epoll_event events[8];
  for (;;) {
    int n = epoll_wait(rx->epoll, events, 8, -1);
    if (n < 0 && errno != EINTR) break;
    pthread_mutex_lock(&rx->lock);
    if (rx->closing) {
      pthread_mutex_unlock(&rx->lock);
      break;
    }
    for (int i = 0; i < n; i += 1) {
      int fd = events[i].data.fd;
      if (fd == rx->timer) {
        uint64_t expirations;
        (void)!read(rx->timer, &expirations, sizeof expirations);
      } else if (fd == rx->event_write) {
        flush_events(rx);
      } else if (fd == rx->decoder_fd) {
        flush_decoder(rx);
      }
    }
    if (drain(rx)) settle(rx);
    for (int naps = 0; rx->burst_open && naps < NAPS_PER_BURST && !rx->closing; naps += 1) {
      pthread_mutex_unlock(&rx->lock);
      struct timespec nap = {.tv_sec = 0, .tv_nsec = BURST_NAP_NS};
      nanosleep(&nap, NULL);
      pthread_mutex_lock(&rx->lock);
      if (!drain(rx)) break;
      settle(rx);
    }
    rx->burst_open = false;
    look(rx);
    pthread_mutex_unlock(&rx->lock);
  }
  return NULL;
}

/* ---- the API ---- */

GB_EXPORT gb_rx *gb_rx_new(const char *listen, int port, const uint8_t key[32], const uint8_t salt[12], gb_codec codec, char *err, size_t errlen) {
  if (gb_gcm_init(err, errlen) != 0) return NULL;
  if (port < 0 || port > 65535 || (codec != GB_CODEC_H264 && codec != GB_CODEC_HEVC)) {
    errno = EINVAL;
    gb_fail(err, errlen, "bad port or codec");
    return NULL;
  }
  struct sockaddr_storage address;
  socklen_t address_len;
  if (!gb_sockaddr_parse(listen, port, &address, &address_len)) {
    errno = EINVAL;
    gb_fail(err, errlen, "the listen address is not an IP literal");
    return NULL;
  }

  gb_rx *rx = calloc(1, sizeof *rx);
  if (!rx) {
    gb_fail(err, errlen, "out of memory");
    return NULL;
  }
  rx->sock = rx->event_read = rx->event_write = rx->epoll = rx->timer = rx->wake = rx->decoder_fd = -1;
  rx->codec = codec;
  rx->media_payload_type = codec == GB_CODEC_H264 ? 96 : 98;
  rx->last_authentic_at = -1;
  rx->media_ssrc = -1;
  pthread_mutex_init(&rx->lock, NULL);
  gb_ts_init(&rx->ts, codec);

  int pipe_fds[2];
  const char *step = "socket";
  rx->sock = socket(address.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (rx->sock < 0) goto failed;
  int receive_buffer = RECEIVE_BUFFER_BYTES, send_buffer = SEND_BUFFER_BYTES;
  setsockopt(rx->sock, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
  setsockopt(rx->sock, SOL_SOCKET, SO_SNDBUF, &send_buffer, sizeof send_buffer);
  step = "bind";
  if (bind(rx->sock, (struct sockaddr *)&address, address_len) != 0) goto failed;
  struct sockaddr_storage bound;
  socklen_t bound_len = sizeof bound;
  getsockname(rx->sock, (struct sockaddr *)&bound, &bound_len);
  rx->port = ntohs(bound.ss_family == AF_INET ? ((struct sockaddr_in *)&bound)->sin_port : ((struct sockaddr_in6 *)&bound)->sin6_port);
  step = "pipe";
  if (pipe2(pipe_fds, O_NONBLOCK | O_CLOEXEC) != 0) goto failed;
  rx->event_read = pipe_fds[0];
  rx->event_write = pipe_fds[1];
  fcntl(rx->event_write, F_SETPIPE_SZ, 1 << 20);
  step = "epoll, timerfd or eventfd";
  rx->epoll = epoll_create1(EPOLL_CLOEXEC);
  rx->timer = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  rx->wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (rx->epoll < 0 || rx->timer < 0 || rx->wake < 0) goto failed;
  int watched[] = {rx->sock, rx->timer, rx->wake};
  for (size_t i = 0; i < sizeof watched / sizeof watched[0]; i += 1) {
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = watched[i]};
    if (epoll_ctl(rx->epoll, EPOLL_CTL_ADD, watched[i], &ev) != 0) goto failed;
  }
  step = "the receiver's parts";
  errno = ENOMEM;
  rx->nacked = malloc(NACKED_SLOTS * sizeof *rx->nacked);
  rx->srtp = gb_srtp_rx_new(key, salt);
  rx->gauge = gb_gauge_new();
  rx->assembler = gb_asm_new(codec, on_frame, rx);
  if (!rx->nacked || !rx->srtp || !rx->gauge || !rx->assembler) goto failed;
  for (size_t i = 0; i < NACKED_SLOTS; i += 1) rx->nacked[i] = -1;
  return rx;

failed:
  gb_fail(err, errlen, step);
  if (rx->event_read >= 0) close(rx->event_read);
  rx->event_read = -1;
  gb_rx_close(rx);
  return NULL;
}

GB_EXPORT int gb_rx_port(gb_rx *rx) { return rx->port; }

GB_EXPORT int gb_rx_event_fd(gb_rx *rx) { return rx->event_read; }

GB_EXPORT int gb_rx_start(gb_rx *rx, int decoder_fd) {
  pthread_mutex_lock(&rx->lock);
  if (rx->started) {
    pthread_mutex_unlock(&rx->lock);
    return -1;
  }
  /*
   * our own copy: Node closes its handle on the decoder's stdin when the decoder exits, and the number
   * may be another file's by the time this thread writes again; ours is closed by gb_rx_close
   */
  if (decoder_fd >= 0) {
    rx->decoder_fd = fcntl(decoder_fd, F_DUPFD_CLOEXEC, 0);
    if (rx->decoder_fd < 0) {
      pthread_mutex_unlock(&rx->lock);
      return -1;
    }
    fcntl(rx->decoder_fd, F_SETFL, fcntl(rx->decoder_fd, F_GETFL) | O_NONBLOCK);
  }
  rx->started_at = gb_rx_now();
  rx->rtcp_tokens = RTCP_PER_SECOND;
  rx->rtcp_tokens_at = rx->started_at;
  rx->started = pthread_create(&rx->thread, NULL, run, rx) == 0;
  pthread_mutex_unlock(&rx->lock);
  return rx->started ? 0 : -1;
}

GB_EXPORT void gb_rx_set_rtt(gb_rx *rx, double rtt_ms) {
  pthread_mutex_lock(&rx->lock);
  gb_asm_set_rtt(rx->assembler, rtt_ms);
  pthread_mutex_unlock(&rx->lock);
}

GB_EXPORT int gb_rx_send(gb_rx *rx, const uint8_t *data, size_t len) {
  pthread_mutex_lock(&rx->lock);
  struct sockaddr_storage remote = rx->remote;
  socklen_t remote_len = rx->remote_len;
  bool known = rx->has_remote;
  pthread_mutex_unlock(&rx->lock);
  if (!known) return -1;
  return sendto(rx->sock, data, len, MSG_DONTWAIT, (struct sockaddr *)&remote, remote_len) == (ssize_t)len ? 0 : -1;
}

GB_EXPORT void gb_rx_adopt_remote(gb_rx *rx, const uint8_t *address20) {
  struct sockaddr_storage remote = {0};
  socklen_t len;
  if (address20[0] == 4) {
    struct sockaddr_in *in = (struct sockaddr_in *)&remote;
    in->sin_family = AF_INET;
    memcpy(&in->sin_port, address20 + 2, 2);
    memcpy(&in->sin_addr, address20 + 4, 4);
    len = sizeof *in;
  } else if (address20[0] == 6) {
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&remote;
    in6->sin6_family = AF_INET6;
    memcpy(&in6->sin6_port, address20 + 2, 2);
    memcpy(&in6->sin6_addr, address20 + 4, 16);
    len = sizeof *in6;
  } else {
    return;
  }
  pthread_mutex_lock(&rx->lock);
  if (!rx->has_remote) take_remote(rx, &remote, len);
  pthread_mutex_unlock(&rx->lock);
}

GB_EXPORT void gb_rx_get_stats(gb_rx *rx, gb_rx_stats *out) {
  pthread_mutex_lock(&rx->lock);
  out->originals = rx->originals;
  out->expected = rx->has_first ? (double)(rx->seqs.highest - rx->first_seq + 1) : 0;
  out->highest = rx->seqs.known ? (double)rx->seqs.highest : -1;
  out->media_ssrc = rx->media_ssrc;
  out->rejected = rx->rejected;
  out->last_authentic_at = rx->last_authentic_at;
  out->events_dropped = rx->events_dropped;
  out->decoder_frames_dropped = rx->decoder_frames_dropped;
  out->now = gb_rx_now();
  gb_asm_get_counters(rx->assembler, &out->assembler);
  pthread_mutex_unlock(&rx->lock);
}

GB_EXPORT void gb_rx_take_second(gb_rx *rx, gb_gauge_second *gauge, double *clean_max) {
  pthread_mutex_lock(&rx->lock);
  gb_gauge_take_second(rx->gauge, gauge);
  *clean_max = gb_asm_take_clean_max(rx->assembler);
  pthread_mutex_unlock(&rx->lock);
}

GB_EXPORT void gb_rx_close(gb_rx *rx) {
  if (!rx) return;
  pthread_mutex_lock(&rx->lock);
  rx->closing = true;
  bool started = rx->started;
  pthread_mutex_unlock(&rx->lock);
  if (started) {
    uint64_t one = 1;
    (void)!write(rx->wake, &one, sizeof one);
    pthread_join(rx->thread, NULL);
  }
  /* the event pipe's read end is the caller's (JavaScript reads it through its own handle) */
  int fds[] = {rx->sock, rx->event_write, rx->epoll, rx->timer, rx->wake, rx->decoder_fd};
  for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i += 1)
    if (fds[i] >= 0) close(fds[i]);
  if (rx->assembler) gb_asm_free(rx->assembler);
  if (rx->gauge) gb_gauge_free(rx->gauge);
  if (rx->srtp) gb_srtp_rx_free(rx->srtp);
  free(rx->nacked);
  free(rx->events.data);
  free(rx->decoder.data);
  free(rx->ts_buffer);
  pthread_mutex_destroy(&rx->lock);
  free(rx);
}
