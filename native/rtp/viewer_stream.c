/*
 * One viewer's encrypted stream from the host: RtpPeerSender (rtp-peer-sender.ts) per packet, its
 * reference and fallback. Sealed packets wait for the pacer in the resend history (media) or a ring of
 * their own (FEC), so a packet is sealed once and never copied; a frame's first packet is kept plain and
 * sealed as it leaves, with its send time (abs-send-time).
 */
#define _GNU_SOURCE
#include "viewer_stream.h"
#include "io.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

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
#define RETRANSMIT_PER_SECOND 400.0
/* RTCP goes up to JavaScript to be authenticated: a flood of RTCP-shaped datagrams is cut to this many a second first. */
#define RTCP_PER_SECOND 200.0
#define DATAGRAM_BYTES 4096
#define READS_PER_TURN 64
#define SEND_BUFFER (4 << 20)
#define RECEIVE_BUFFER (1 << 20)
#define OUT_BATCH 64
#define ABS_SEND_TIME_PER_MS 262.144

enum { KIND_MEDIA = 1, KIND_FEC = 2 };

typedef struct {
  int32_t seq; /* -1: empty */
  uint16_t len;
  /* a frame's first packet waiting for its turn: its plain payload at data + 20, sealed as it leaves */
  bool pending;
  bool marker;
  uint32_t timestamp;
  uint8_t data[SLOT_BYTES];
} slot;

struct gb_viewer_stream {
  int sock, timer;
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
};

static void on_turn(void *ctx, uint64_t id, size_t length);

gb_viewer_stream *gb_viewer_stream_new(const gb_tx_viewer_setup *setup, char *err, size_t errlen) {
  struct sockaddr_storage to;
  socklen_t to_len;
  if (!setup->host || setup->port <= 0 || setup->port > 65535 || !gb_sockaddr_parse(setup->host, setup->port, &to, &to_len)) {
    errno = EINVAL;
    gb_fail(err, errlen, "the viewer's address is not an IP literal and port");
    return NULL;
  }
  gb_viewer_stream *s = calloc(1, sizeof *s);
  if (!s) {
    errno = ENOMEM;
    gb_fail(err, errlen, "out of memory");
    return NULL;
  }
  s->sock = s->timer = -1;
  s->payload_type = setup->payload_type & 0x7f;
  s->ssrc = setup->ssrc;
  s->fec_ssrc = setup->fec_ssrc;
  s->seq = setup->seq;
  s->fec_seq = setup->fec_seq;
  s->fec_ratio = setup->fec_ratio;
  s->pacing_factor = setup->pacing_factor;
  s->tokens = RETRANSMIT_PER_SECOND;
  s->rtcp_tokens = RTCP_PER_SECOND;
  s->tokens_at = s->rtcp_tokens_at = gb_monotonic_ms();
  const char *step = "the viewer's parts";
  errno = ENOMEM;
  s->history = malloc(HISTORY * sizeof *s->history);
  s->fec_ring = malloc(FEC_RING * sizeof *s->fec_ring);
  s->srtp = gb_srtp_tx_new(setup->key, setup->salt);
  if (!s->history || !s->fec_ring || !s->srtp) goto failed;
  for (size_t i = 0; i < HISTORY; i += 1) s->history[i].seq = -1;
  for (size_t i = 0; i < FEC_RING; i += 1) s->fec_ring[i].seq = -1;
  if (setup->pacing_factor > 0) {
    s->pacer = gb_pacer_new(setup->target_kbps, setup->fps, setup->pacing_factor, setup->link_kbps, gb_monotonic_ms(), on_turn, s);
    if (!s->pacer) goto failed;
  }
  step = "socket";
  s->sock = socket(to.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s->sock < 0) goto failed;
  int send_buffer = SEND_BUFFER, receive_buffer = RECEIVE_BUFFER;
  setsockopt(s->sock, SOL_SOCKET, SO_SNDBUF, &send_buffer, sizeof send_buffer);
  setsockopt(s->sock, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
  /* connected: each send skips the address lookup, and only the viewer's datagrams come back here */
  step = "connect";
  if (connect(s->sock, (struct sockaddr *)&to, to_len) != 0) goto failed;
  step = "timerfd";
  s->timer = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (s->timer < 0) goto failed;
  return s;

failed:
  gb_fail(err, errlen, step);
  gb_viewer_stream_free(s);
  return NULL;
}

void gb_viewer_stream_free(gb_viewer_stream *s) {
  if (!s) return;
  if (s->sock >= 0) close(s->sock);
  if (s->timer >= 0) close(s->timer);
  gb_pacer_free(s->pacer);
  gb_srtp_tx_free(s->srtp);
  free(s->history);
  free(s->fec_ring);
  free(s);
}

int gb_viewer_stream_socket(const gb_viewer_stream *s) { return s->sock; }

int gb_viewer_stream_timer(const gb_viewer_stream *s) { return s->timer; }

/* ---- packets out ---- */

void gb_viewer_stream_flush(gb_viewer_stream *s) {
  int done = 0;
  while (done < s->out_count) {
    int n = sendmmsg(s->sock, s->out + done, (unsigned)(s->out_count - done), MSG_DONTWAIT);
    if (n > 0) {
      done += n;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    /* the socket's buffer is full or the path refused it: these are lost, as on the wire */
    s->stats.send_failed += s->out_count - done;
    break;
  }
  s->out_count = 0;
}

static void queue_out(gb_viewer_stream *s, const uint8_t *data, size_t len) {
  if (s->out_count == OUT_BATCH) gb_viewer_stream_flush(s);
  struct iovec *iov = &s->out_iov[s->out_count];
  iov->iov_base = (void *)data;
  iov->iov_len = len;
  struct mmsghdr *m = &s->out[s->out_count];
  memset(m, 0, sizeof *m);
  m->msg_hdr.msg_iov = iov;
  m->msg_hdr.msg_iovlen = 1;
  s->out_count += 1;
}

static uint32_t abs_send_time(double ms) { return (uint32_t)(int64_t)floor(ms * ABS_SEND_TIME_PER_MS) & 0xffffff; }

/* The pacer's turn for a packet (or, without a pacer, at once). */
static void on_turn(void *ctx, uint64_t id, size_t length) {
  gb_viewer_stream *s = ctx;
  uint16_t seq = (uint16_t)id;
  slot *p = (id >> 32) == KIND_FEC ? &s->fec_ring[seq & (FEC_RING - 1)] : &s->history[seq & (HISTORY - 1)];
  (void)length;
  /* overwritten while it waited (more than the store holds was queued): it is lost */
  if (p->seq != seq) {
    s->stats.send_failed += 1;
    return;
  }
  if (p->pending) {
    /* a frame's first packet: sealed with the time it leaves (sealFrameStart) */
    size_t payload_len = p->len;
    memcpy(s->scratch, p->data + RTP_HEADER_BYTES + ABS_SEND_TIME_BYTES, payload_len);
    long n = gb_srtp_tx_protect(s->srtp, p->marker, s->payload_type, seq, p->timestamp, s->ssrc, true, abs_send_time(gb_monotonic_ms()), s->scratch, payload_len, p->data, SLOT_BYTES);
    p->pending = false;
    if (n < 0) {
      p->seq = -1;
      s->stats.send_failed += 1;
      return;
    }
    p->len = (uint16_t)n;
  }
  queue_out(s, p->data, p->len);
}

static void rearm(gb_viewer_stream *s) {
  double next = s->pacer ? gb_pacer_next_at(s->pacer) : -1;
  if (next < 0) {
    if (s->armed) gb_timer_disarm(s->timer);
    s->armed = false;
    return;
  }
  if (s->armed && s->armed_at == next) return;
  s->armed = true;
  s->armed_at = next;
  gb_timer_arm(s->timer, next);
}

/* send(): paced (urgent: ahead of the queue), or at once without a pacer. */
static void send_packet(gb_viewer_stream *s, uint64_t id, size_t length, bool urgent) {
  s->stats.bytes_sent += (double)length;
  if (s->pacer) {
    gb_pacer_push(s->pacer, id, length, urgent, gb_monotonic_ms());
    rearm(s);
  } else {
    on_turn(s, id, length);
  }
}

void gb_viewer_stream_timer_due(gb_viewer_stream *s) {
  uint64_t expirations;
  (void)!read(s->timer, &expirations, sizeof expirations);
  if (!s->armed || !s->pacer) return;
  double now = gb_monotonic_ms();
  if (now + 0.001 < s->armed_at) return;
  s->armed = false;
  gb_pacer_drain(s->pacer, now);
  rearm(s);
}

/* ---- FEC (fec.ts: blocksForFrame, parityCount; rtp-peer-sender.ts: sendFec) ---- */

static size_t parity_count(size_t k, double ratio) {
  double cap = fmax(0, fmin((double)(MAX_SHARDS - (int)k), (double)k));
  double clamped = isfinite(ratio) ? fmin(1, fmax(0, ratio)) : 0;
  double wanted = fmax(fmax(ceil((double)k * clamped - 1e-9), 1), clamped > 0 ? 1 : 0);
  return (size_t)fmin(cap, wanted);
}

static void send_fec(gb_viewer_stream *s, const gb_frame_payloads *frame) {
  if (!frame->usable || frame->count == 0) return;
  size_t count = frame->count;
  size_t block_count = (count + MAX_BLOCK_PACKETS - 1) / MAX_BLOCK_PACKETS;
  size_t start = 0;
  for (size_t b = 0; b < block_count; b += 1) {
    size_t k = count / block_count + (b < count % block_count ? 1 : 0);
    size_t m = parity_count(k, s->fec_ratio);
    long shard = m == 0 ? 0 : gb_fec_build((uint16_t)(s->frame_first_seq + start), frame->payloads + start, frame->lens + start, k, m, b == block_count - 1, b == 0, frame->fec_out, frame->fec_cap);
    size_t each = FEC_HEADER_BYTES + (size_t)(shard > 0 ? shard : 0);
    for (size_t j = 0; shard > 0 && j < m; j += 1) {
      uint16_t seq = s->fec_seq++;
      slot *p = &s->fec_ring[seq & (FEC_RING - 1)];
      long n = gb_srtp_tx_protect(s->srtp, false, FEC_PAYLOAD_TYPE, seq, frame->timestamp, s->fec_ssrc, false, 0, frame->fec_out + j * each, each, p->data, SLOT_BYTES);
      p->pending = false;
      if (n < 0) {
        p->seq = -1;
        continue;
      }
      p->seq = seq;
      p->len = (uint16_t)n;
      s->stats.fec_packets_sent += 1;
      send_packet(s, (uint64_t)KIND_FEC << 32 | seq, (size_t)n, false);
    }
    start += k;
  }
}

/* ---- media ---- */

void gb_viewer_stream_packet(gb_viewer_stream *s, const gb_frame_payloads *frame, const uint8_t *payload, size_t len, bool marker, bool frame_start) {
  if (frame_start) {
    s->synced = true;
    s->in_frame = true;
    s->frame_first_seq = s->seq;
  }
  /* a stream that joined mid-frame waits for the next one */
  if (!s->synced || !s->in_frame || len > GB_MAX_PAYLOAD_BYTES) return;
  uint16_t seq = s->seq++;
  s->stats.packets_sent += 1;
  slot *p = &s->history[seq & (HISTORY - 1)];
  p->seq = seq;
  p->marker = marker;
  p->timestamp = frame->timestamp;
  if (frame_start && s->pacer) {
    p->pending = true;
    p->len = (uint16_t)len;
    memcpy(p->data + RTP_HEADER_BYTES + ABS_SEND_TIME_BYTES, payload, len);
    send_packet(s, (uint64_t)KIND_MEDIA << 32 | seq, RTP_HEADER_BYTES + ABS_SEND_TIME_BYTES + len + TAG_BYTES, false);
  } else {
    p->pending = false;
    long n = gb_srtp_tx_protect(s->srtp, marker, s->payload_type, seq, frame->timestamp, s->ssrc, frame_start, frame_start ? abs_send_time(gb_monotonic_ms()) : 0, payload, len, p->data, SLOT_BYTES);
    if (n < 0) {
      p->seq = -1;
      s->stats.send_failed += 1;
    } else {
      p->len = (uint16_t)n;
      send_packet(s, (uint64_t)KIND_MEDIA << 32 | seq, (size_t)n, false);
    }
  }
  if (marker) {
    send_fec(s, frame);
    s->in_frame = false;
  }
}

/* ---- what JavaScript asks for ---- */

void gb_viewer_stream_set_fec_ratio(gb_viewer_stream *s, double ratio) { s->fec_ratio = ratio; }

void gb_viewer_stream_set_pacing(gb_viewer_stream *s, double target_kbps, double fps, double link_kbps) {
  if (!s->pacer) return;
  gb_pacer_set_target(s->pacer, target_kbps, fps, s->pacing_factor, link_kbps, gb_monotonic_ms());
  rearm(s);
}

/* RtpPeerSender.retransmit, for each sequence number NACKed. */
void gb_viewer_stream_resend(gb_viewer_stream *s, const uint16_t *seqs, size_t count) {
  for (size_t i = 0; i < count; i += 1) {
    double now = gb_monotonic_ms();
    s->tokens = fmin(RETRANSMIT_PER_SECOND, s->tokens + (now - s->tokens_at) / 1000.0 * RETRANSMIT_PER_SECOND);
    s->tokens_at = now;
    uint16_t seq = seqs[i];
    const slot *p = &s->history[seq & (HISTORY - 1)];
    /* no longer kept, or a frame start still waiting for its turn (not sent yet), or over the rate */
    if (p->seq != seq || p->pending || s->tokens < 1) {
      s->stats.resend_refused += 1;
      continue;
    }
    s->tokens -= 1;
    s->stats.retransmitted += 1;
    /* the same bytes again: the receiver never accepted this index, so its replay window lets it in once */
    send_packet(s, (uint64_t)KIND_MEDIA << 32 | seq, p->len, true);
  }
}

int gb_viewer_stream_send_now(gb_viewer_stream *s, const uint8_t *data, size_t len) {
  s->stats.bytes_sent += (double)len;
  return send(s->sock, data, len, MSG_DONTWAIT) == (ssize_t)len ? 0 : -1;
}

size_t gb_viewer_stream_take_rtcp(gb_viewer_stream *s, uint8_t *buffer, size_t cap) {
  for (int read = 0; read < READS_PER_TURN; read += 1) {
    ssize_t n = recv(s->sock, buffer, cap, MSG_DONTWAIT | MSG_TRUNC);
    if (n < 0) return 0;
    if ((size_t)n > cap || n < 2 || buffer[1] < 192 || buffer[1] > 223) continue;
    double now = gb_monotonic_ms();
    s->rtcp_tokens = fmin(RTCP_PER_SECOND, s->rtcp_tokens + (now - s->rtcp_tokens_at) / 1000.0 * RTCP_PER_SECOND);
    s->rtcp_tokens_at = now;
    if (s->rtcp_tokens < 1) {
      s->stats.rtcp_dropped += 1;
      continue;
    }
    s->rtcp_tokens -= 1;
    return (size_t)n;
  }
  return 0;
}

void gb_viewer_stream_stats(const gb_viewer_stream *s, gb_tx_viewer_stats *out) {
  *out = s->stats;
  out->pacer_delayed = s->pacer ? gb_pacer_delayed(s->pacer) : 0;
  out->backlog_bytes = s->pacer ? (double)gb_pacer_backlog_bytes(s->pacer) : 0;
}
