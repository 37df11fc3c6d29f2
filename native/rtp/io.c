#define _GNU_SOURCE
#include "io.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

bool gb_queue_push(gb_byte_queue *q, const uint8_t *data, size_t len) {
  if (q->len + len > q->cap) {
    size_t cap = q->cap ? q->cap : 65536;
    while (cap < q->len + len) cap *= 2;
    uint8_t *grown = realloc(q->data, cap);
    if (!grown) return false;
    q->data = grown;
    q->cap = cap;
  }
  if (len > 0) memcpy(q->data + q->len, data, len);
  q->len += len;
  return true;
}

int gb_queue_flush(gb_byte_queue *q, int fd) {
  size_t done = 0;
  while (done < q->len) {
    ssize_t n = write(fd, q->data + done, q->len - done);
    if (n > 0) {
      done += (size_t)n;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    q->len = 0;
    return -1;
  }
  memmove(q->data, q->data + done, q->len - done);
  q->len -= done;
  return 0;
}

bool gb_queue_record(gb_byte_queue *q, size_t max, uint8_t type, const uint8_t *head, size_t head_len, const uint8_t *body, size_t body_len) {
  size_t len = head_len + body_len;
  if (q->len + 8 + len > max) return false;
  uint8_t record[8] = {type, 0, 0, 0, (uint8_t)len, (uint8_t)(len >> 8), (uint8_t)(len >> 16), (uint8_t)(len >> 24)};
  size_t before = q->len;
  if (!gb_queue_push(q, record, 8) || !gb_queue_push(q, head, head_len) || !gb_queue_push(q, body, body_len)) {
    q->len = before;
    return false;
  }
  return true;
}

bool gb_sockaddr_parse(const char *host, int port, struct sockaddr_storage *out, socklen_t *len) {
  memset(out, 0, sizeof *out);
  struct sockaddr_in *in = (struct sockaddr_in *)out;
  struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)out;
  if (inet_pton(AF_INET, host, &in->sin_addr) == 1) {
    in->sin_family = AF_INET;
    in->sin_port = htons((uint16_t)port);
    *len = sizeof *in;
    return true;
  }
  if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons((uint16_t)port);
    *len = sizeof *in6;
    return true;
  }
  return false;
}

void gb_sockaddr_bytes(const struct sockaddr_storage *from, uint8_t out[20]) {
  memset(out, 0, 20);
  if (from->ss_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)from;
    out[0] = 4;
    memcpy(out + 2, &in->sin_port, 2);
    memcpy(out + 4, &in->sin_addr, 4);
  } else if (from->ss_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)from;
    out[0] = 6;
    memcpy(out + 2, &in6->sin6_port, 2);
    memcpy(out + 4, &in6->sin6_addr, 16);
  }
}

void gb_fail(char *err, size_t errlen, const char *what) {
  if (err && errlen > 0) snprintf(err, errlen, "%s: %s", what, strerror(errno));
}

double gb_monotonic_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

void gb_timer_arm(int timer, double at) {
  struct itimerspec when = {0};
  double seconds = at / 1000.0;
  if (seconds < 0) seconds = 0;
  when.it_value.tv_sec = (time_t)seconds;
  long nanoseconds = (long)((seconds - (double)when.it_value.tv_sec) * 1e9) + 1000;
  if (nanoseconds >= 1000000000L) {
    when.it_value.tv_sec += 1;
    nanoseconds -= 1000000000L;
  }
  /* it_value all zero would disarm: the earliest moment there is instead */
  when.it_value.tv_nsec = nanoseconds > 0 || when.it_value.tv_sec > 0 ? nanoseconds : 1;
  timerfd_settime(timer, TFD_TIMER_ABSTIME, &when, NULL);
}

void gb_timer_disarm(int timer) {
  struct itimerspec off = {0};
  timerfd_settime(timer, 0, &off, NULL);
}
