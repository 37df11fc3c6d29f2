/*
 * One viewer's encrypted stream from the host (viewer_stream.c; what rtp-peer-sender.ts does per packet):
 * its connected socket, SRTP, FEC at the share JavaScript sets, the pacer on a timerfd, sendmmsg, the resend
 * history and its rate, and the RTCP that comes back (passed up, at most RTCP_PER_SECOND). sender.c owns
 * the streams and calls these under its lock. Internal to the library.
 */
#ifndef GB_VIEWER_STREAM_H
#define GB_VIEWER_STREAM_H

#include "gb_rtp.h"

/* The encoder packetizes to 1200 bytes (pipeline.ts); a longer payload is not one of its packets. */
#define GB_MAX_PAYLOAD_BYTES 1400

typedef struct gb_viewer_stream gb_viewer_stream;

/* The frame in progress, as the fan-out keeps it for its FEC (usable: every payload kept). */
typedef struct {
  const uint8_t *const *payloads;
  const size_t *lens;
  size_t count;
  bool usable;
  uint32_t timestamp;
  /* room for a block's FEC payloads, shared by the streams */
  uint8_t *fec_out;
  size_t fec_cap;
} gb_frame_payloads;

/* The most bytes a block's FEC payloads take (gb_frame_payloads.fec_out). */
#define GB_FEC_OUT_BYTES (255u * (8u + 2u + GB_MAX_PAYLOAD_BYTES))

/* Its socket connected to setup->host:port, and its timer; NULL with a message in err. */
gb_viewer_stream *gb_viewer_stream_new(const gb_tx_viewer_setup *setup, char *err, size_t errlen);
void gb_viewer_stream_free(gb_viewer_stream *s);
int gb_viewer_stream_socket(const gb_viewer_stream *s);
int gb_viewer_stream_timer(const gb_viewer_stream *s);
/* RtpPeerSender.packet: one payload of the fan-out's; at a frame's marker, its FEC from `frame`. */
void gb_viewer_stream_packet(gb_viewer_stream *s, const gb_frame_payloads *frame, const uint8_t *payload, size_t len, bool marker, bool frame_start);
/* Its timer fired: the pacer sends what may leave. */
void gb_viewer_stream_timer_due(gb_viewer_stream *s);
/* Sends what was queued for sendmmsg. */
void gb_viewer_stream_flush(gb_viewer_stream *s);
/* The next RTCP-shaped datagram from the viewer within the rate, copied into buffer: its length, or 0 when there is none. */
size_t gb_viewer_stream_take_rtcp(gb_viewer_stream *s, uint8_t *buffer, size_t cap);
void gb_viewer_stream_set_fec_ratio(gb_viewer_stream *s, double ratio);
void gb_viewer_stream_set_pacing(gb_viewer_stream *s, double target_kbps, double fps, double link_kbps);
void gb_viewer_stream_resend(gb_viewer_stream *s, const uint16_t *seqs, size_t count);
int gb_viewer_stream_send_now(gb_viewer_stream *s, const uint8_t *data, size_t len);
void gb_viewer_stream_stats(const gb_viewer_stream *s, gb_tx_viewer_stats *out);

#endif
