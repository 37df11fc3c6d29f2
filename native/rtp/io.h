/*
 * What the receiver's and the sender's threads both need (io.c): byte queues for the non-blocking fds
 * they write, the event records they send JavaScript, and socket addresses from IP literals. Internal to
 * the library: nothing here is exported.
 */
#ifndef GB_IO_H
#define GB_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

typedef struct {
  uint8_t *data;
  size_t len, cap;
} gb_byte_queue;

/* Appends, growing the queue; false when it cannot grow. */
bool gb_queue_push(gb_byte_queue *q, const uint8_t *data, size_t len);
/* Writes what the fd takes; -1 when it is broken for good (the reader gone). */
int gb_queue_flush(gb_byte_queue *q, int fd);
/*
 * One whole record or none (JavaScript reads them back to back): an 8-byte head (u8 type, 3 zero bytes,
 * u32 length, little-endian), then head and body. False, with nothing queued, when the queue would pass
 * max or cannot grow.
 */
bool gb_queue_record(gb_byte_queue *q, size_t max, uint8_t type, const uint8_t *head, size_t head_len, const uint8_t *body, size_t body_len);

/* An IPv4 or IPv6 literal and a port (0..65535, the caller's to check); false when host is neither. */
bool gb_sockaddr_parse(const char *host, int port, struct sockaddr_storage *out, socklen_t *len);
/* 20 bytes: u8 family (4 or 6), u8 0, u16 port (big-endian), 16 bytes of address. */
void gb_sockaddr_bytes(const struct sockaddr_storage *from, uint8_t out[20]);

/* `what: strerror(errno)` into err (errlen bytes), where there is room for a message. */
void gb_fail(char *err, size_t errlen, const char *what);

/* CLOCK_MONOTONIC, ms. */
double gb_monotonic_ms(void);
/* Arms a timerfd (CLOCK_MONOTONIC, absolute) for `at` ms, rounded up so it never fires before `at`. */
void gb_timer_arm(int timer, double at);
void gb_timer_disarm(int timer);

#endif
