/*
 * The native receiver data plane of the rtp transport (README, "Throughput at 4K"): the same logic as
 * src/core/rtp/ (TypeScript), which stays the reference and the fallback. Each part here is a port of one
 * TypeScript file and is tested against it (tests/unit/native/). Nothing here trusts its input: every
 * length is checked, nothing is read or written outside the buffers given.
 */
#ifndef GB_RTP_H
#define GB_RTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GB_EXPORT __attribute__((visibility("default")))

typedef enum { GB_CODEC_H264 = 0, GB_CODEC_HEVC = 1 } gb_codec;

/* ---- AES-256-GCM through the running process's OpenSSL (gcm.c; aes-gcm.ts) ----------------------- */

/* Resolves OpenSSL's EVP functions: the process's own (Node exports them), else libcrypto.so.3. 0 on success, else -1 with a message in err. */
GB_EXPORT int gb_gcm_init(char *err, size_t errlen);
typedef struct gb_gcm gb_gcm;
/* One kept context per key (encrypt != 0: sealing). NULL on failure. */
GB_EXPORT gb_gcm *gb_gcm_new(const uint8_t key[32], int encrypt);
GB_EXPORT void gb_gcm_free(gb_gcm *gcm);
/* out may be in; 0 on success. */
GB_EXPORT int gb_gcm_seal(gb_gcm *gcm, const uint8_t iv[12], const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t len, uint8_t *out, uint8_t tag[16]);
/* out may be in; true when the tag verifies. */
GB_EXPORT bool gb_gcm_open(gb_gcm *gcm, const uint8_t iv[12], const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t len, uint8_t *out, const uint8_t tag[16]);

/* ---- SRTP receive, RTP only (srtp.c; SrtpUnprotector.unprotectRtp in srtp-gcm.ts) ---------------- */

enum { GB_SRTP_OK = 0, GB_SRTP_SHORT = 1, GB_SRTP_MALFORMED = 2, GB_SRTP_AUTH = 3, GB_SRTP_REPLAY = 4 };

typedef struct {
  bool marker;
  uint8_t payload_type;
  uint16_t seq;
  uint32_t timestamp;
  uint32_t ssrc;
  bool has_send_stamp; /* abs-send-time (readAbsSendTime in rtp-packet.ts) */
  uint32_t send_stamp;
  const uint8_t *payload; /* inside the packet given, decrypted in place */
  size_t payload_len;
} gb_rtp_packet;

typedef struct gb_srtp_rx gb_srtp_rx;
/* The session key and salt (derived in JavaScript from the master); replay window 4096, at most 4 SSRCs. */
GB_EXPORT gb_srtp_rx *gb_srtp_rx_new(const uint8_t key[32], const uint8_t salt[12]);
GB_EXPORT void gb_srtp_rx_free(gb_srtp_rx *rx);
/* Authenticates and decrypts in place; GB_SRTP_OK and *out filled, or an error (the packet may then be garbled). */
GB_EXPORT int gb_srtp_rx_open(gb_srtp_rx *rx, uint8_t *packet, size_t len, gb_rtp_packet *out);

/* ---- FEC (fec.c, rs.c; fec.ts, reed-solomon.ts) -------------------------------------------------- */

typedef struct {
  uint16_t base_seq;
  uint8_t k, m, index;
  bool ends_frame, starts_frame;
  uint16_t shard_length;
} gb_fec_header;

/* parseFecPayload: false for anything malformed; *shard points into payload. */
GB_EXPORT bool gb_fec_parse(const uint8_t *payload, size_t len, gb_fec_header *header, const uint8_t **shard);
/*
 * recoverBlock: media[i]/media_len[i] for i < k (NULL where missing), parity[j] for j < m (NULL where
 * missing; each header->shard_length bytes). On success every missing media[i]/media_len[i] is filled,
 * pointing into scratch (k * shard_length bytes), and true is returned; false when too few arrived or
 * what arrived does not fit the header.
 */
GB_EXPORT bool gb_fec_recover(const gb_fec_header *header, const uint8_t **media, size_t *media_len, const uint8_t *const *parity, uint8_t *scratch);

/* ---- depacketizer (depacketize.c; depacketize.ts) ------------------------------------------------ */

/* The payloads of one access unit → Annex B in out. Bytes written; -1 when malformed or empty, -2 when out is too small. */
GB_EXPORT long gb_depacketize(gb_codec codec, const uint8_t *const *payloads, const size_t *lens, size_t count, uint8_t *out, size_t cap, bool *keyframe);

/* ---- MPEG-TS (ts_writer.c; mpegts-writer.ts) ----------------------------------------------------- */

typedef struct {
  gb_codec codec;
  uint8_t pat_cc, pmt_cc, video_cc;
  bool has_tables;
  double tables_at_ms;
} gb_ts_writer;

GB_EXPORT void gb_ts_init(gb_ts_writer *ts, gb_codec codec);
/* The most bytes gb_ts_write writes for an access unit this long. */
GB_EXPORT size_t gb_ts_bound(size_t au_len);
/* TsWriter.write; returns the bytes written into out (at least gb_ts_bound(au_len) long). */
GB_EXPORT size_t gb_ts_write(gb_ts_writer *ts, const uint8_t *au, size_t au_len, double pts_ms, bool keyframe, uint8_t *out);

/* ---- delay gauge (gauge.c; delay-gauge.ts) ------------------------------------------------------- */

typedef struct gb_gauge gb_gauge;
typedef struct {
  bool has_queue_delay;
  double queue_delay_ms;
  double received_kbps;
  bool has_train;
  double train_kbps;
} gb_gauge_second;

GB_EXPORT gb_gauge *gb_gauge_new(void);
GB_EXPORT void gb_gauge_free(gb_gauge *gauge);
GB_EXPORT void gb_gauge_fec(gb_gauge *gauge, size_t bytes);
GB_EXPORT void gb_gauge_packet(gb_gauge *gauge, uint32_t timestamp, size_t bytes, double now, bool has_stamp, uint32_t stamp);
GB_EXPORT void gb_gauge_take_second(gb_gauge *gauge, gb_gauge_second *out);

/* ---- frame assembler (assembler.c; frame-assembler.ts) ------------------------------------------- */

#define GB_MAX_NACK 4096

typedef struct {
  uint32_t timestamp;
  const uint8_t *data; /* Annex B, valid during the call only */
  size_t len;
  bool keyframe;
  double first_arrival;
} gb_frame;

typedef void (*gb_frame_sink)(void *ctx, const gb_frame *frame);

typedef struct {
  size_t nack_count;
  uint16_t nack[GB_MAX_NACK];
  bool pli;
  bool has_wake;
  double wake_at;
} gb_actions;

typedef struct {
  double frames_delivered, frames_lost, frames_skipped, fec_recovered, nack_recovered, nacks_sent, keyframe_requests;
  double clean_count; /* cleanPictureMs.length */
} gb_asm_counters;

typedef struct gb_asm gb_asm;
/* Frames go to sink, in order, as poll would return them. */
GB_EXPORT gb_asm *gb_asm_new(gb_codec codec, gb_frame_sink sink, void *ctx);
GB_EXPORT void gb_asm_free(gb_asm *a);
/* The round trip (ms); negative: not measured yet (rttMs() returning null). */
GB_EXPORT void gb_asm_set_rtt(gb_asm *a, double rtt_ms);
/* Each resets *out first, as the TypeScript returns a fresh AssemblerActions. */
GB_EXPORT void gb_asm_media(gb_asm *a, uint16_t seq, uint32_t timestamp, bool marker, const uint8_t *payload, size_t len, double now, gb_actions *out);
GB_EXPORT void gb_asm_fec(gb_asm *a, uint32_t timestamp, const uint8_t *payload, size_t len, double now, gb_actions *out);
GB_EXPORT void gb_asm_poll(gb_asm *a, double now, bool may_give_up, gb_actions *out);
GB_EXPORT void gb_asm_stalled(gb_asm *a, double ms);
GB_EXPORT void gb_asm_get_counters(gb_asm *a, gb_asm_counters *out);
/* The largest cleanPictureMs recorded since the last call, or -1 where none. */
GB_EXPORT double gb_asm_take_clean_max(gb_asm *a);

/* ---- the sender's parts (sender.c puts them together) --------------------------------------------- */

/* SRTP send, RTP only (srtp_tx.c; SrtpProtector.protectRtp in srtp-gcm.ts, its ROC per SSRC). */
typedef struct gb_srtp_tx gb_srtp_tx;
GB_EXPORT gb_srtp_tx *gb_srtp_tx_new(const uint8_t key[32], const uint8_t salt[12]);
GB_EXPORT void gb_srtp_tx_free(gb_srtp_tx *tx);
/*
 * The 12-byte header (20 with the abs-send-time extension where has_stamp, as writeRtpHeader writes it),
 * the payload sealed, and the tag, into out; the bytes written, or -1 when cap is too small.
 */
GB_EXPORT long gb_srtp_tx_protect(gb_srtp_tx *tx, bool marker, uint8_t payload_type, uint16_t seq, uint32_t timestamp, uint32_t ssrc, bool has_stamp, uint32_t stamp,
                                  const uint8_t *payload, size_t len, uint8_t *out, size_t cap);

/*
 * FEC encode (buildFecPayloads in fec.ts): the m FEC payloads (8-byte header + parity shard) of a block of
 * k media payloads, one after another in out, each 8 + shard_length bytes; returns shard_length (0 when m
 * is 0: nothing to write, whatever the lengths, as the TypeScript returns []), or -1 when k, m or a length
 * is out of bounds or cap is too small.
 */
GB_EXPORT long gb_fec_build(uint16_t base_seq, const uint8_t *const *payloads, const size_t *lens, size_t k, size_t m, bool ends_frame, bool starts_frame, uint8_t *out, size_t cap);

/* The pacer (pacer.c; Pacer in pacer.ts), with time passed in: packets are ids, sent through the callback. */
typedef struct gb_pacer gb_pacer;
typedef void (*gb_pacer_send)(void *ctx, uint64_t id, size_t length);
/* link_kbps <= 0: none known (linkKbps null). */
GB_EXPORT gb_pacer *gb_pacer_new(double target_kbps, double fps, double factor, double link_kbps, double now, gb_pacer_send send, void *ctx);
GB_EXPORT void gb_pacer_free(gb_pacer *pacer);
GB_EXPORT void gb_pacer_set_target(gb_pacer *pacer, double target_kbps, double fps, double factor, double link_kbps, double now);
GB_EXPORT void gb_pacer_push(gb_pacer *pacer, uint64_t id, size_t length, bool urgent, double now);
/* The pacer's timer came due (its setTimeout in the TypeScript): sends what may leave. */
GB_EXPORT void gb_pacer_drain(gb_pacer *pacer, double now);
/* When the timer is due (ms), or -1 when none is armed. */
GB_EXPORT double gb_pacer_next_at(gb_pacer *pacer);
GB_EXPORT size_t gb_pacer_backlog_bytes(gb_pacer *pacer);
GB_EXPORT double gb_pacer_delayed(gb_pacer *pacer);

/* ---- the receiver: socket, thread and all of the above (receiver.c; rtp-receiver.ts) -------------- */

/* Records on the event pipe (gb_rx_event_fd), each a 8-byte head (u8 type, 3 zero bytes, u32 length, little-endian) and its body. */
enum {
  /* An RTCP datagram as it came (JavaScript authenticates it): u8 family (4 or 6), u8 0, u16 port (BE), 16 bytes of address, then the datagram. */
  GB_EVENT_RTCP = 1,
  /* Feedback to send: u8 pli, u8 0, u16 count (LE), then count u16 sequence numbers (LE) to NACK. */
  GB_EVENT_FEEDBACK = 2,
  /* A frame, where there is no decoder fd: u32 timestamp (LE), u8 keyframe, 3 zero bytes, f64 first arrival (LE, ms), then Annex B. */
  GB_EVENT_FRAME = 3,
};

typedef struct {
  double originals;      /* media packets that arrived the first time */
  double expected;       /* highest - first + 1, 0 before any */
  double highest;        /* extended highest sequence number, -1 before any */
  double media_ssrc;     /* -1 before any media */
  double rejected;
  double last_authentic_at; /* ms on gb_rx_now's clock, -1 before any */
  double events_dropped; /* event records that did not fit the pipe's backlog */
  double decoder_frames_dropped; /* frames not written: the decoder's backlog was full */
  double now;            /* gb_rx_now() when these were read */
  gb_asm_counters assembler;
} gb_rx_stats;

typedef struct gb_rx gb_rx;
/* Binds listen:port (IPv4 or IPv6 literal); NULL with a message in err. */
GB_EXPORT gb_rx *gb_rx_new(const char *listen, int port, const uint8_t key[32], const uint8_t salt[12], gb_codec codec, char *err, size_t errlen);
GB_EXPORT int gb_rx_port(gb_rx *rx);
/* The read end of the event pipe (non-blocking). */
GB_EXPORT int gb_rx_event_fd(gb_rx *rx);
/* Starts the thread. decoder_fd >= 0: MPEG-TS goes to a duplicate of it (closed by gb_rx_close); else GB_EVENT_FRAME records. 0, or -1. */
GB_EXPORT int gb_rx_start(gb_rx *rx, int decoder_fd);
GB_EXPORT double gb_rx_now(void);
GB_EXPORT void gb_rx_set_rtt(gb_rx *rx, double rtt_ms);
/* Sends a datagram (sealed RTCP) to the host's address; -1 where none is known yet or sending failed. */
GB_EXPORT int gb_rx_send(gb_rx *rx, const uint8_t *data, size_t len);
/* Takes the address of an authenticated RTCP datagram (its event's 20 address bytes) as the host's, where none is known. */
GB_EXPORT void gb_rx_adopt_remote(gb_rx *rx, const uint8_t *address20);
GB_EXPORT void gb_rx_get_stats(gb_rx *rx, gb_rx_stats *out);
GB_EXPORT void gb_rx_take_second(gb_rx *rx, gb_gauge_second *gauge, double *clean_max);
/* Stops the thread and frees everything; rx is gone after. */
GB_EXPORT void gb_rx_close(gb_rx *rx);

/* ---- the sender: the fan-out's sources, each viewer's stream, and a thread (sender.c; rtp-output.ts, rtp-peer-sender.ts) ---- */

/* Records on the event pipe (gb_tx_event_fd), headed as the receiver's are. */
enum {
  /* An RTCP datagram from a viewer, as it came (JavaScript authenticates it): u32 viewer id (LE), then the datagram. */
  GB_TX_EVENT_RTCP = 1,
  /* A source took over: i32 id of the one it replaced (LE), -1 where none ran. */
  GB_TX_EVENT_SWITCHED = 2,
  /* A payload for the viewers JavaScript sends to (gb_tx_set_js_viewers): u8 marker, u8 frame start, 2 zero bytes, u32 timestamp (LE), then the payload. */
  GB_TX_EVENT_PAYLOAD = 3,
};

typedef struct {
  double frames;       /* frames that began going out to the viewers */
  double source_lost;  /* encoder packets lost on the loopback hop */
  double frames_cut;   /* frames cut short for it */
  double oversized;    /* encoder payloads longer than any of ours (cut short as lost) */
  double events_dropped;
} gb_tx_stats;

typedef struct {
  double packets_sent, bytes_sent, fec_packets_sent, retransmitted;
  double resend_refused; /* NACKed packets no longer kept, not yet sent, or over the resend rate */
  double send_failed;    /* packets the socket would not take */
  double rtcp_dropped;   /* RTCP-shaped datagrams over RTCP_PER_SECOND */
  double pacer_delayed, backlog_bytes;
} gb_tx_viewer_stats;

typedef struct {
  const char *host; /* an IP literal */
  int port;
  const uint8_t *key;  /* 32 bytes: the session key (derived in JavaScript) */
  const uint8_t *salt; /* 12 bytes */
  uint32_t ssrc, fec_ssrc;
  uint16_t seq, fec_seq;
  uint8_t payload_type;
  double fec_ratio;
  double pacing_factor; /* <= 0: no pacing */
  double target_kbps, fps, link_kbps; /* link_kbps <= 0: none known */
} gb_tx_viewer_setup;

typedef struct gb_tx gb_tx;
/* Starts the thread. clock_offset_ms: added to CLOCK_MONOTONIC ms for the frames' timestamps (preciseNow's clock). NULL with a message in err. */
GB_EXPORT gb_tx *gb_tx_new(double clock_offset_ms, char *err, size_t errlen);
GB_EXPORT int gb_tx_event_fd(gb_tx *tx);
/* A loopback source for an encoder run sending from from_port; its id (> 0) and *port, or -1. armed: RtpOutput.arm at once. */
GB_EXPORT int gb_tx_open_source(gb_tx *tx, int from_port, bool armed, int *port);
GB_EXPORT void gb_tx_arm(gb_tx *tx, int id);
GB_EXPORT void gb_tx_drop_source(gb_tx *tx, int id);
GB_EXPORT bool gb_tx_is_active(gb_tx *tx, int id);
GB_EXPORT bool gb_tx_switching(gb_tx *tx);
/* How many viewers JavaScript sends to: while any, every payload also goes out as a GB_TX_EVENT_PAYLOAD record. */
GB_EXPORT void gb_tx_set_js_viewers(gb_tx *tx, int count);
/* A viewer's stream (its socket connected to host:port); its id (> 0), or -1 with a message in err. */
GB_EXPORT int gb_tx_add_viewer(gb_tx *tx, const gb_tx_viewer_setup *setup, char *err, size_t errlen);
GB_EXPORT void gb_tx_remove_viewer(gb_tx *tx, int id);
GB_EXPORT void gb_tx_set_fec_ratio(gb_tx *tx, int id, double ratio);
GB_EXPORT void gb_tx_set_pacing(gb_tx *tx, int id, double target_kbps, double fps, double link_kbps);
GB_EXPORT void gb_tx_resend(gb_tx *tx, int id, const uint16_t *seqs, size_t count);
/* A sealed RTCP datagram to the viewer at once; 0, or -1. */
GB_EXPORT int gb_tx_send_now(gb_tx *tx, int id, const uint8_t *data, size_t len);
GB_EXPORT int gb_tx_get_viewer_stats(gb_tx *tx, int id, gb_tx_viewer_stats *out);
GB_EXPORT void gb_tx_get_stats(gb_tx *tx, gb_tx_stats *out);
/* Stops the thread, closes every socket and frees everything; tx is gone after. */
GB_EXPORT void gb_tx_close(gb_tx *tx);

#endif
