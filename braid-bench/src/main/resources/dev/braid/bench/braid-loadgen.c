/*
 * braid-loadgen: a point-read load generator for `braid bench http --client native`, in C so that
 * the client costs the two CPUs of a small machine as little as it can (the Java client used about
 * 30 us of CPU per request on the 2-vCPU VM, and its JIT compiled beside the server's).
 *
 * One thread, one epoll set, N keep-alive HTTP/1.1 connections to 127.0.0.1:PORT, each with at
 * most one request in flight. Requests are GET PATH_PREFIX + key, the key a fixed-width decimal
 * drawn uniformly from [0, KEYS) by a seeded xorshift generator.
 *
 *   closed  each connection sends its next request as soon as its previous answer is in: the peak.
 *   open    requests are due at one constant RATE (the i-th at start + i / RATE s); each is sent
 *           when due on a free connection, and waits, its clock running, while every connection
 *           has one in flight. Latency is counted from the due time, not the sending (no
 *           coordinated omission, as in wrk2). The loop sleeps in epoll_pwait2 until the next due
 *           time or an answer, whichever comes first.
 *
 * Every answer must be "HTTP/1.1 200" with a Content-Length; any other status counts as an error.
 * A closed connection or a malformed answer aborts the run (exit 2), with a message on stderr.
 *
 * Usage: braid-loadgen closed|open PORT PATH_PREFIX KEY_DIGITS KEYS CONNECTIONS SECONDS RATE SEED OUT
 * (RATE is ignored in closed mode). Prints one line of key=value pairs on stdout:
 *   requests errors seconds rate p50_us p90_us p99_us p999_us max_us sent_p99_us served_p99_us
 *   waits cpu_us_per_request kept
 * and writes every latency, in nanoseconds as little-endian 64-bit integers, to three files:
 *   OUT.latency  per answer, from its due time (open) or its sending (closed)
 *   OUT.served   per answer, from its sending
 *   OUT.sent     per request sent (open only), from its due time to its sending
 * Latencies are exact (every one is kept, up to 1.2 x the rate x the seconds in open mode and 400,000
 * a second in closed mode; "kept" says how many), in microseconds with one decimal on stdout.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BUF 65536

struct conn {
  int fd;
  int busy;
  int64_t due;   /* when its request was due (open) or sent (closed), ns */
  int64_t sent;  /* when its request was written, ns */
  int have;      /* answer bytes read so far */
  char buf[BUF];
};

static int64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t) t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void die(const char *what) {
  fprintf(stderr, "braid-loadgen: %s: %s\n", what, errno ? strerror(errno) : "failed");
  exit(2);
}

static uint64_t rng;
static uint64_t next_random(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

/* The request, with the key's digits rewritten in place per request. */
static char request[512];
static int request_len, digits_at, key_digits;
static uint64_t keys;

static void write_request(struct conn *c) {
  uint64_t k = next_random() % keys;
  for (int i = key_digits - 1; i >= 0; i--) {
    request[digits_at + i] = (char) ('0' + k % 10);
    k /= 10;
  }
  ssize_t n = write(c->fd, request, (size_t) request_len);
  if (n != request_len) {
    die("write of a request (short or failed)");
  }
  c->busy = 1;
  c->have = 0;
}

/*
 * Reads what the socket has. Returns 1 when the answer is complete (its status in *status),
 * 0 when more is to come.
 */
static int read_answer(struct conn *c, int *status) {
  for (;;) {
    ssize_t n = read(c->fd, c->buf + c->have, (size_t) (BUF - 1 - c->have));
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        break;
      }
      die("read of an answer");
    }
    if (n == 0) {
      errno = 0;
      die("the server closed a connection");
    }
    c->have += (int) n;
    if (c->have >= BUF - 1) {
      errno = 0;
      die("an answer over 64 KiB");
    }
  }
  c->buf[c->have] = 0;
  char *end = strstr(c->buf, "\r\n\r\n");
  if (end == NULL) {
    return 0;
  }
  if (c->have < 12 || strncmp(c->buf, "HTTP/1.1 ", 9) != 0) {
    errno = 0;
    die("an answer that is not HTTP/1.1");
  }
  *status = atoi(c->buf + 9);
  char *cl = strcasestr(c->buf, "\r\ncontent-length:");
  if (cl == NULL || cl > end) {
    errno = 0;
    die("an answer without Content-Length");
  }
  long length = strtol(cl + 17, NULL, 10);
  long total = (end + 4 - c->buf) + length;
  if (c->have < total) {
    return 0;
  }
  if (c->have > total) {
    errno = 0;
    die("more bytes than the answer's Content-Length");
  }
  c->busy = 0;
  return 1;
}

static int cmp64(const void *a, const void *b) {
  int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
  return x < y ? -1 : x > y;
}

static double pct_us(int64_t *sorted, long n, double p) {
  if (n == 0) {
    return 0;
  }
  long i = (long) (p / 100.0 * (double) n + 0.5) - 1; /* nearest rank */
  if (i < 0) {
    i = 0;
  }
  if (i >= n) {
    i = n - 1;
  }
  return sorted[i] / 1000.0;
}

/* Writes n values to PREFIX SUFFIX, little-endian as this machine's int64 (x86-64 and arm64 are). */
static void save(const char *prefix, const char *suffix, const int64_t *values, long n) {
  char path[4096 + 16];
  snprintf(path, sizeof path, "%s%s", prefix, suffix);
  FILE *f = fopen(path, "wb");
  if (f == NULL || (n > 0 && fwrite(values, sizeof(int64_t), (size_t) n, f) != (size_t) n) || fclose(f) != 0) {
    die(path);
  }
}

static double cpu_us(void) {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec * 1e6 + u.ru_utime.tv_usec + u.ru_stime.tv_sec * 1e6 + u.ru_stime.tv_usec;
}

int main(int argc, char **argv) {
  if (argc != 11) {
    fprintf(stderr, "usage: braid-loadgen closed|open PORT PATH_PREFIX KEY_DIGITS KEYS CONNECTIONS SECONDS RATE SEED OUT\n");
    return 64;
  }
  int open_loop = strcmp(argv[1], "open") == 0;
  if (!open_loop && strcmp(argv[1], "closed") != 0) {
    fprintf(stderr, "braid-loadgen: mode must be closed or open, got '%s'\n", argv[1]);
    return 64;
  }
  int port = atoi(argv[2]);
  const char *prefix = argv[3];
  key_digits = atoi(argv[4]);
  keys = strtoull(argv[5], NULL, 10);
  int nconn = atoi(argv[6]);
  double seconds = atof(argv[7]);
  double rate = atof(argv[8]);
  rng = strtoull(argv[9], NULL, 10) * 0x9E3779B97F4A7C15ULL + 1;
  const char *out = argv[10];
  if (port <= 0 || key_digits < 1 || key_digits > 18 || keys < 1 || nconn < 1 || nconn > 1024 || seconds <= 0
      || (open_loop && rate <= 0) || strlen(prefix) > 300 || strlen(out) > 4000) {
    fprintf(stderr, "braid-loadgen: bad arguments\n");
    return 64;
  }
  request_len = snprintf(request, sizeof request, "GET %s%0*d HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", prefix,
      key_digits, 0);
  digits_at = 4 + (int) strlen(prefix);

  int ep = epoll_create1(0);
  if (ep < 0) {
    die("epoll_create1");
  }
  struct conn *conns = calloc((size_t) nconn, sizeof *conns);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t) port)};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (int i = 0; i < nconn; i++) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *) &addr, sizeof addr) != 0) {
      die("connect to 127.0.0.1");
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) {
      die("fcntl O_NONBLOCK");
    }
    conns[i].fd = fd;
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t) i};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
      die("epoll_ctl");
    }
  }

  long capacity = (long) ((open_loop ? rate : 400000.0) * seconds * 1.2) + 1024;
  int64_t *latency = malloc((size_t) capacity * sizeof(int64_t));
  int64_t *sent_delay = open_loop ? malloc((size_t) capacity * sizeof(int64_t)) : NULL;
  int64_t *served = malloc((size_t) capacity * sizeof(int64_t));
  if (latency == NULL || served == NULL || (open_loop && sent_delay == NULL)) {
    die("malloc");
  }
  long done = 0, errors = 0, waits = 0, scheduled = 0, last_waiting = -1;
  int *free_list = malloc((size_t) nconn * sizeof(int));
  int nfree = 0;
  double cpu0 = cpu_us();
  int64_t start = now_ns();
  int64_t stop = start + (int64_t) (seconds * 1e9);
  double interval = open_loop ? 1e9 / rate : 0;

  if (!open_loop) {
    for (int i = 0; i < nconn; i++) {
      conns[i].due = conns[i].sent = now_ns();
      write_request(&conns[i]);
    }
  } else {
    for (int i = nconn - 1; i >= 0; i--) {
      free_list[nfree++] = i;
    }
  }

  struct epoll_event events[256];
  int64_t last_done = start;
  for (;;) {
    int64_t now = now_ns();
    if (open_loop) {
      /*
       * Send every request due by now, while a connection is free. A request due before the end is
       * sent even after it, once a connection is free: it counts, with its wait.
       */
      for (;;) {
        int64_t due = start + (int64_t) (scheduled * interval);
        if (due > now || due >= stop) {
          break;
        }
        if (nfree == 0) {
          if (last_waiting != scheduled) {
            waits++;
            last_waiting = scheduled;
          }
          break; /* sent when an answer frees a connection; its clock keeps running */
        }
        struct conn *c = &conns[free_list[--nfree]];
        c->due = due;
        c->sent = now;
        write_request(c);
        if (scheduled < capacity) {
          sent_delay[scheduled] = now - due;
        }
        scheduled++;
      }
    }
    int in_flight = 0;
    for (int i = 0; i < nconn; i++) {
      in_flight += conns[i].busy;
    }
    int64_t next_due = open_loop ? start + (int64_t) (scheduled * interval) : stop;
    if (now >= stop && in_flight == 0 && next_due >= stop) {
      break;
    }
    /* Wake for the next due request, at the end, or (draining) once a second to check for stalls. */
    int64_t wait = open_loop && nfree > 0 && next_due < stop ? next_due - now : now < stop ? stop - now : 1000000000LL;
    if (wait < 0) {
      wait = 0;
    }
    struct timespec timeout = {wait / 1000000000LL, wait % 1000000000LL};
    int n = epoll_pwait2(ep, events, 256, &timeout, NULL);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      die("epoll_pwait2");
    }
    if (n == 0 && now >= stop && now_ns() - last_done > 5000000000LL) {
      errno = 0;
      die("answers still missing 5 s after the end");
    }
    for (int e = 0; e < n; e++) {
      struct conn *c = &conns[events[e].data.u32];
      int status = 0;
      if (!c->busy || !read_answer(c, &status)) {
        if (!c->busy) {
          errno = 0;
          die("bytes on a connection with no request in flight");
        }
        continue;
      }
      int64_t at = now_ns();
      last_done = at;
      if (status != 200) {
        errors++;
      }
      if (done < capacity) {
        latency[done] = at - c->due;
        served[done] = at - c->sent;
      }
      done++;
      if (!open_loop) {
        if (at < stop) {
          c->due = c->sent = at;
          write_request(c);
        }
      } else {
        free_list[nfree++] = (int) (c - conns);
      }
    }
  }
  double elapsed = (double) (now_ns() - start) / 1e9;
  double cpu = cpu_us() - cpu0;
  long kept = done < capacity ? done : capacity;
  long kept_sent = open_loop ? (scheduled < capacity ? scheduled : capacity) : 0;
  save(out, ".latency", latency, kept);
  save(out, ".served", served, kept);
  save(out, ".sent", sent_delay, kept_sent);
  qsort(latency, (size_t) kept, sizeof(int64_t), cmp64);
  qsort(served, (size_t) kept, sizeof(int64_t), cmp64);
  if (open_loop) {
    qsort(sent_delay, (size_t) kept_sent, sizeof(int64_t), cmp64);
  }
  printf("requests=%ld errors=%ld seconds=%.3f rate=%.1f p50_us=%.1f p90_us=%.1f p99_us=%.1f p999_us=%.1f "
         "max_us=%.1f sent_p99_us=%.1f served_p99_us=%.1f waits=%ld cpu_us_per_request=%.2f kept=%ld\n",
      done, errors, elapsed, done / elapsed, pct_us(latency, kept, 50), pct_us(latency, kept, 90),
      pct_us(latency, kept, 99), pct_us(latency, kept, 99.9), kept ? latency[kept - 1] / 1000.0 : 0,
      open_loop ? pct_us(sent_delay, kept_sent, 99) : 0, pct_us(served, kept, 99), waits,
      done ? cpu / (double) done : 0, kept);
  return 0;
}
