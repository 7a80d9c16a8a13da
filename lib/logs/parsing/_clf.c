/*
 * The compiled accelerator of the Common and Combined Log Formats, and of Combined with fields
 * after it (lib/logs/parsing/accelerators.py): one pass over a block of log lines that counts
 * what a Q1 summary needs (lib/logs/counting/summary.py: LogSummary), with the GIL released so
 * that blocks are scanned on several threads while another decompresses.
 *
 * Its rules are the grammar of lib/logs/parsing/clf.py, through the header _clf_grammar.h that
 * the grammar writes (the stamp's layout, the month names, the digits a status and a byte count
 * may have, the years it reads itself); a test keeps the header equal to the grammar and checks
 * this build's GRAMMAR against it.
 *
 * It is conservative. A line is accepted only when it is certain that the polars path
 * (lib/logs/reading/lines.py:block_to_lines, then lib/logs/parsing/kinds/clf.py:parse and
 * lib/logs/parsing/fields.py:with_clf_time) accepts it with the same values: a line of printable
 * ASCII (0x20-0x7E, so no decoding and no U+FFFD), of exactly the shape of clf.PREFIX and
 * clf.SUFFIX (or clf.COMBINED_SUFFIX), with a month named exactly Jan..Dec, a real calendar day
 * and a year in clf.CERTAIN_YEARS. Every other line is handed back, with its index in the block
 * and its bytes as read, for the polars path to accept or reject. What of polars' behaviour
 * this relies on (month names in any case, an Int64 sum that wraps, one trailing CR dropped, a
 * byte-order mark dropped at a buffer's start only) is pinned by tests/unit/logs/
 * test_polars_rules.py, so a polars upgrade that changes it fails a test by name.
 *
 * Combined with fields after it (nginx_request_time, ingress_nginx, traefik_clf, combined_plus,
 * a custom Apache or nginx string...: lib/logs/parsing/tails.py) is a format of the polars path's
 * regex kind, whose whole-line regular expression is Combined's as the format compilers write
 * it (the request an escaped field, like the referer and agent: it ends at its first quote no
 * backslash takes; nginx's second field the literal `-`), then a tail. Counter(..., tail=)
 * reads the Combined part with the rules above and matches the tail from the user agent's
 * closing quote to the line's end with a program of field shapes (tail_match: literal text,
 * quoted values, tokens, numbers, nginx's upstream lists, the rest of the line) that tails.py
 * derives from that regular expression, only where each shape's match is the one the regex's
 * leftmost-first match makes: any other tail leaves the line over. Where each field's value
 * is, tail_match can say (its spans; the module's _match_tail, which the tests hold to Python's
 * `re`): the time taken and the virtual host are read from the field of their index. The
 * other counts are Combined's: host, time, status, bytes, the `"referer" "agent"` pair without
 * the tail.
 *
 * What it counts, per accepted line, is what lib/logs/counting/parsed.py's summarize_parsed
 * counts of it: requests per host (and inside the window), per hour, status, zone and (Combined)
 * `"referer" "agent"` pair as logged, the bytes sent, the first and last times; and the
 * breakdowns of its _breakdowns (lib/logs/counting/bounded.py says how they are bounded):
 *   - bytes per host and per URL, summed as polars sums Int64 (wrapping; `-` adds nothing);
 *   - the 4xx and the 5xx of each hour, beside its requests;
 *   - requests and bytes per URL: the request is the text between the prefix's quote and
 *     the suffix's (as kinds/clf.py cuts it), its path what fields.py's _REQUEST_PATTERN
 *     makes of it (request_target says how, edge by edge; no path: the null URL), the URL the
 *     path up to its first `?`. More than twice url_cap URLs: the url_cap busiest are kept and
 *     the largest count dropped is added to url_error (bounded.top_urls' rule);
 *   - the distinct queries of the URLs and the distinct visitors of each UTC day, sampled by
 *     bounded.key_hash (zlib's CRC-32 << 32 | Adler-32) of bounded.query_key's and
 *     bounded.visitor_key's text (`url NUL query`; `YYYY-MM-DD NUL host NUL agent`, the agent
 *     decoded, empty when not logged or `-`): a key is kept when its key_hash is below
 *     2**(64 - level); a sample over its cap raises its level and drops the keys above
 *     (bounded.distinct). The queries' keys are kept in a table (Part), whose key_hash is
 *     computed once per distinct key. The visitors' sample keeps only the key_hashes of each
 *     day (HashSample: their text is never read), and a visitor's key_hash is computed once a
 *     day: the visitors seen today are remembered by identity (host and agent as kept in the
 *     tables: Front, Recent).
 * The user agent of the visitor's key is decoded as split_pairs decodes it: Apache's `\"` and
 * `\\`, and `\xHH` of a printable ASCII byte (nginx's `\x22`), are read here; a line whose
 * agent holds another escape (Apache's `\n`, `\xHH` from 0x7F) is left over. With a tail that
 * logs them, the time taken (duration_read: fields.py's duration_us, then
 * bounded.duration_bucket) is counted per URL and bucket, and the virtual host's text (neither
 * `-` nor empty) per vhost with its requests and bytes, as parsed.py's _breakdowns counts
 * them. key_hashes(keys) is
 * bounded.key_hash in C, for the polars path's keys.
 *
 * Counter(combined, window_start_us, window_end_us, *, tail=None, dash_ident=False,
 * url_cap, query_cap, visitor_cap, query_level, visitor_level) keeps the counts of one
 * piece:
 *   add(block) parses a block of whole lines without the GIL, counts its accepted lines into
 *     one of the Counter's shards (a lock each: blocks come from a thread pool) and returns
 *     the left-over lines;
 *   result() merges the shards and hands the counts back as plain lists
 *     (lib/logs/counting/counted.py makes them frames).
 * Keeping the counts here, not in per-block tables, is what makes the path cheap: turning a
 * block's 19,000 host counts into frames and merging them cost more than scanning its 75,000
 * lines, and so did building and merging a C table per block.
 *
 * Crafted collisions. The hosts, pairs, zones, hours, URLs, agents and the samples' keys are
 * counted in hash tables with linear probing, and a log is input anyone can write: host names (or hours) chosen to collide would
 * make every insertion walk one long run of slots, and counting quadratic. Two defences:
 *   - The hashes are seeded: a seed drawn from the kernel (getrandom) when the module loads, so
 *     nobody can compute collisions without it. A Counter hashes its lines under that seed
 *     (Counter(..., seed=) picks another, for tests).
 *   - The seed is not trusted to stay secret (nor this fast hash to hide it): every table
 *     counts the slots its finds step over past the first. Once they exceed STEPS_PER_FIND a
 *     find (random hashes average under 1.5 at our load of at most half) plus STEP_SLACK, the
 *     table draws a new seed from the kernel, which nobody knows yet, and hashes its keys again.
 *     So whatever the keys, probing costs at most STEPS_PER_FIND steps a find, plus STEP_SLACK
 *     for each new seed, and at most MAX_RESEEDS rehashes of the table (that cap only ends
 *     bad luck repeating itself; keys that collide under every seed would be needed to reach
 *     it). A table that re-seeded no longer shares the Counter's seed: its finds hash the key
 *     again under its own (the Line's precomputed hashes, the entries of another shard merged
 *     into it), which costs only the tables under attack. The visitors seen today (Front) are
 *     a cache of addresses: a find that steps too far empties it instead.
 * Chosen over a slower keyed hash (SipHash, as CPython's str: a few times this hash's cost on
 * the short keys here, and the hashes are a good part of a line's work) and over turning long
 * runs into trees (much more code): a check on the rare slow path keeps the common one as it
 * was. Hash functions and budget are checked by tests/unit/logs/test_clf_hash.py through
 * _hash and _table_probes.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#ifdef __linux__
#include <sys/random.h>
#endif

#include "_clf_grammar.h"

/* status_at is written for three digits. */
_Static_assert(CLF_STATUS_DIGITS == 3, "status_at reads three digits");

/* ------------------------------------------------------------------------------------------ */
/* Hash tables: open addressing, linear probing, power-of-two capacity, at most half full;     */
/* seeded, and re-seeded when probing costs too much (see "Crafted collisions" above).         */

#define INLINE_KEY 24 /* key bytes kept in the entry itself: one cache line per lookup */

#define STEPS_PER_FIND 4 /* slots a find may step over past its first, on average (random
                          * hashes at most half full: under 1.5) */
#define STEP_SLACK 1024  /* steps allowed beyond that, for a table's first seed and each next */
#define MAX_RESEEDS 16   /* then no more: only bad luck again and again gets there */

/* A table's seed and what its finds cost under it, which both kinds of table keep. */
typedef struct {
    uint64_t seed;  /* the table's hashes are under it */
    uint64_t finds; /* finds so far */
    uint64_t steps; /* slots they stepped over past the first */
    unsigned reseeds, max_reseeds;
} Probing;

typedef struct { /* 64 bytes */
    uint64_t count;
    uint64_t window; /* hosts: requests inside the window */
    uint64_t bytes;  /* hosts, URLs: bytes sent (wrapping, as polars' Int64 sums do); queries:
                      * the key's key_hash */
    const char *key; /* points into the block (alive while we hold it); NULL: empty slot */
    uint32_t hash;   /* the low half of the key's hash (a table has fewer than 2**32 slots) */
    uint32_t len;
    char head[INLINE_KEY]; /* the key's first bytes, compared instead of the block's copy (a
                            * cache miss somewhere in 8 MiB) when the key is that short */
} Entry;

_Static_assert(sizeof(Entry) == 64, "an entry is one cache line");

typedef struct {
    Entry *slots;
    size_t mask;
    size_t used;
    int owns_keys; /* new keys are copied (the blocks they come from go away) */
    Probing probing;
} Table;

/* An hour's counts. */
typedef struct {
    uint64_t requests, client_errors, server_errors; /* all, 4xx, 5xx */
} HourCounts;

typedef struct {
    int64_t *keys;
    HourCounts *counts;
    unsigned char *full;
    size_t mask;
    size_t used;
    Probing probing;
} IntTable;

static uint64_t process_seed; /* chosen once, when the module loads */

/* A seed nobody could know beforehand: from the kernel's random source (the clock, the process
 * id and an address if that fails, which getrandom does not for 8 bytes after early boot). */
static uint64_t
fresh_seed(void)
{
    uint64_t seed = 0;
#ifdef __linux__
    if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) == (ssize_t)sizeof seed)
        return seed;
#endif
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    seed = (uint64_t)now.tv_sec * 1000000007ULL ^ (uint64_t)now.tv_nsec ^
           (uint64_t)getpid() << 40 ^ (uint64_t)(uintptr_t)&now;
    seed = (seed ^ seed >> 31) * 0x9E3779B97F4A7C15ULL; /* spread over all the bits */
    return seed ^ seed >> 29;
}

static Probing
probing_of(uint64_t seed)
{
    return (Probing){.seed = seed, .max_reseeds = MAX_RESEEDS};
}

/* Count a find that stepped over `steps` slots past its first (not 0). True when the table's
 * finds have cost more than random hashes would make them, by far: keys that collide under
 * this seed, whoever chose them. The table is then to be hashed again under a new seed from
 * the kernel, which scatters them. */
static int
reseed_due(Probing *p, size_t steps)
{
    p->steps += steps;
    if (p->steps <= STEPS_PER_FIND * p->finds + STEP_SLACK * (p->reseeds + 1) ||
        p->reseeds >= p->max_reseeds)
        return 0;
    p->reseeds++;
    return 1;
}

static uint64_t
hash_bytes(const char *p, size_t n, uint64_t seed)
{
    /* Two lanes of 8 bytes, so that long keys (a referer and agent pair) take half the chain
     * of dependent multiplications. The seed starts both; the length is added to the second
     * (off the first's chain), with carries that depend on the seed, so that keys of different
     * lengths do not collide under every seed as they could if it were xored in. */
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ seed;
    uint64_t g = (0x6A09E667F3BCC909ULL ^ (seed << 32 | seed >> 32)) + (uint64_t)n;
    while (n >= 16) {
        uint64_t w, v;
        memcpy(&w, p, 8);
        memcpy(&v, p + 8, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdULL;
        g = (g ^ v) * 0xc4ceb9fe1a85ec53ULL;
        h ^= h >> 32;
        g ^= g >> 29;
        p += 16;
        n -= 16;
    }
    if (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdULL;
        h ^= h >> 32;
        p += 8;
        n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, p, n);
    h = (h ^ w ^ g) * 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 29;
    return h;
}

/* `count` zeroed items of `size` bytes, as calloc, but written now: calloc's fresh pages are
 * the kernel's shared zero page until written, so a table probed (read) before it is filled
 * takes two faults a page, and the second, a copy-on-write, flushes the other threads' TLBs with
 * an interrupt to each CPU (perf: 13% of a run's time in table_rehash's faults). Writing the
 * pages first costs one fault each and no flush. */
static void *
zeroed(size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size)
        return NULL;
    void *p = malloc(count && size ? count * size : 1);
    if (p)
        memset(p, 0, count * size);
    return p;
}

static int
table_init(Table *t, size_t capacity, int owns_keys, uint64_t seed)
{
    *t = (Table){.mask = capacity - 1, .owns_keys = owns_keys, .probing = probing_of(seed)};
    t->slots = zeroed(capacity, sizeof(Entry));
    return t->slots ? 0 : -1;
}

/* The entries again, in `capacity` slots, hashed under `seed` (the table's own: no key is
 * read; another: every key hashed again). */
static int
table_rehash(Table *t, size_t capacity, uint64_t seed)
{
    Entry *slots = zeroed(capacity, sizeof(Entry));
    if (!slots)
        return -1;
    for (size_t i = 0; i <= t->mask; i++) {
        Entry *e = &t->slots[i];
        if (!e->key)
            continue;
        if (seed != t->probing.seed)
            e->hash = (uint32_t)hash_bytes(e->key, e->len, seed);
        size_t j = (size_t)e->hash & (capacity - 1);
        while (slots[j].key)
            j = (j + 1) & (capacity - 1);
        slots[j] = *e;
    }
    free(t->slots);
    t->slots = slots;
    t->mask = capacity - 1;
    t->probing.seed = seed;
    return 0;
}

/* Whether e holds key, whose hash is `hash`. */
static inline int
holds(const Entry *e, const char *key, size_t len, uint64_t hash)
{
    return e->hash == (uint32_t)hash && e->len == len &&
           memcmp(len <= INLINE_KEY ? e->head : e->key, key, len) == 0;
}

static Entry *table_probe(Table *t, const char *key, size_t len, uint64_t hash);

/* The entry of key (added with zero counts if new), whose hash_bytes under `seed` is `hash`
 * (hashed again if the table has another seed by now); NULL when out of memory. Most finds end
 * at the key's first slot; table_probe, out of line, does the rest. */
static inline Entry *
table_find(Table *t, const char *key, size_t len, uint64_t hash, uint64_t seed)
{
    if (seed != t->probing.seed)
        hash = hash_bytes(key, len, t->probing.seed);
    Entry *e = &t->slots[(size_t)hash & t->mask];
    t->probing.finds++;
    if (e->key && holds(e, key, len, hash))
        return e;
    return table_probe(t, key, len, hash);
}

/* table_find past the key's first slot: stepping on, inserting, growing, re-seeding. */
static Entry *
table_probe(Table *t, const char *key, size_t len, uint64_t hash)
{
    size_t i = (size_t)hash & t->mask, steps = 0;
    Entry *e;
    for (;; i = (i + 1) & t->mask, steps++) {
        e = &t->slots[i];
        if (!e->key)
            break;
        if (holds(e, key, len, hash))
            goto found;
    }
    if ((t->used + 1) * 2 > t->mask + 1) {
        t->probing.steps += steps;
        if (table_rehash(t, (t->mask + 1) * 2, t->probing.seed) < 0)
            return NULL;
        return table_probe(t, key, len, hash);
    }
    if (t->owns_keys) {
        char *copy = malloc(len ? len : 1);
        if (!copy)
            return NULL;
        memcpy(copy, key, len);
        key = copy;
    }
    e->key = key;
    e->len = (uint32_t)len;
    e->hash = (uint32_t)hash;
    memcpy(e->head, key, len < INLINE_KEY ? len : INLINE_KEY);
    t->used++;
found:
    if (steps && reseed_due(&t->probing, steps)) {
        const char *kept = e->key; /* the table's own copy, or in the block */
        if (table_rehash(t, t->mask + 1, fresh_seed()) < 0)
            return NULL;
        return table_probe(t, kept, len, hash_bytes(kept, len, t->probing.seed));
    }
    return e;
}

/* The entry of key if the table holds it (no insertion), else NULL; *failed set when out of
 * memory. Its steps count towards re-seeding as table_find's do. */
static Entry *
table_lookup(Table *t, const char *key, size_t len, uint64_t hash, uint64_t seed, int *failed)
{
    if (seed != t->probing.seed)
        hash = hash_bytes(key, len, t->probing.seed);
    size_t i = (size_t)hash & t->mask, steps = 0;
    Entry *e = NULL;
    for (;; i = (i + 1) & t->mask, steps++) {
        if (!t->slots[i].key)
            break;
        if (holds(&t->slots[i], key, len, hash)) {
            e = &t->slots[i];
            break;
        }
    }
    t->probing.finds++;
    if (steps && reseed_due(&t->probing, steps)) {
        if (table_rehash(t, t->mask + 1, fresh_seed()) < 0) {
            *failed = 1;
            return NULL;
        }
        return table_lookup(t, key, len, hash_bytes(key, len, t->probing.seed), t->probing.seed,
                            failed);
    }
    return e;
}

static Entry *
table_get(Table *t, const char *key, size_t len)
{
    return table_find(t, key, len, hash_bytes(key, len, t->probing.seed), t->probing.seed);
}

/* An hour's slot. Two rounds of multiplying and folding the high bits down: one multiplication
 * of the key xor the seed keeps too much of the keys' structure, a new seed would not scatter
 * keys chosen to collide under the old one. Off the hot path (once an hour of the log). */
static size_t
int_slot(int64_t key, uint64_t seed, size_t mask)
{
    uint64_t x = ((uint64_t)key ^ seed) * 0x9E3779B97F4A7C15ULL;
    x ^= x >> 32;
    x *= 0xc4ceb9fe1a85ec53ULL;
    return (size_t)(x ^ x >> 29) & mask;
}

static int
itable_init(IntTable *t, size_t capacity, uint64_t seed)
{
    *t = (IntTable){.mask = capacity - 1, .probing = probing_of(seed)};
    t->keys = zeroed(capacity, sizeof(int64_t));
    t->counts = zeroed(capacity, sizeof(HourCounts));
    t->full = zeroed(capacity, 1);
    return (t->keys && t->counts && t->full) ? 0 : -1;
}

static void
itable_free(IntTable *t)
{
    free(t->keys);
    free(t->counts);
    free(t->full);
}

/* The entries again, in `capacity` slots, under `seed`. */
static int
itable_rehash(IntTable *t, size_t capacity, uint64_t seed)
{
    IntTable to;
    if (itable_init(&to, capacity, seed) < 0) {
        itable_free(&to);
        return -1;
    }
    for (size_t j = 0; j <= t->mask; j++) {
        if (!t->full[j])
            continue;
        size_t i = int_slot(t->keys[j], seed, to.mask);
        while (to.full[i])
            i = (i + 1) & to.mask;
        to.full[i] = 1;
        to.keys[i] = t->keys[j];
        to.counts[i] = t->counts[j];
    }
    to.used = t->used;
    to.probing = t->probing;
    to.probing.seed = seed;
    itable_free(t);
    *t = to;
    return 0;
}

/* The counts of key (zeros if new); NULL when out of memory. */
static HourCounts *
itable_get(IntTable *t, int64_t key)
{
    size_t i = int_slot(key, t->probing.seed, t->mask), steps = 0;
    for (; t->full[i]; i = (i + 1) & t->mask, steps++)
        if (t->keys[i] == key)
            goto found;
    if ((t->used + 1) * 2 > t->mask + 1) {
        t->probing.steps += steps;
        if (itable_rehash(t, (t->mask + 1) * 2, t->probing.seed) < 0)
            return NULL;
        return itable_get(t, key);
    }
    t->full[i] = 1;
    t->keys[i] = key;
    t->used++;
found:
    t->probing.finds++;
    if (steps && reseed_due(&t->probing, steps)) {
        if (itable_rehash(t, t->mask + 1, fresh_seed()) < 0)
            return NULL;
        return itable_get(t, key);
    }
    return &t->counts[i];
}

/* ------------------------------------------------------------------------------------------ */
/* One line.                                                                                   */

typedef struct { /* 104 bytes: a block's lines are written, then read again (memory bound) */
    const char *host;
    const char *offset; /* the 5 characters of the zone as written, e.g. -0400 */
    const char *pair;
    const char *url;   /* the path up to its first `?` (request_target); NULL: no path */
    const char *agent; /* Combined: the user agent as logged, between its quotes; NULL: none */
    int64_t time_us;
    int64_t bytes; /* -1: logged as "-" (null in polars, 0 in the byte total) */
    uint64_t host_hash, pair_hash, url_hash; /* set by parse_block, under the Counter's seed */
    uint32_t host_len, pair_len, url_len, agent_len; /* a line of 2 GiB or more is left over */
    int32_t query_len; /* the query, after the `?` at url + url_len; -1: no `?`, a null query */
    uint16_t status;
    uint8_t agent_escaped; /* the agent holds escapes the visitor's key decodes */
    uint8_t timed;         /* a time taken was logged (not `-`): its bucket is `bucket` */
    int16_t bucket;        /* bounded.duration_bucket of the time taken */
    uint32_t vhost_len;
    const char *vhost; /* the virtual host as logged; NULL: none (not logged, `-`, empty) */
} Line;

static inline int
is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* `HTTP/[0-9.]+`, the whole of p[0:n]. */
static int
is_protocol(const char *p, size_t n)
{
    if (n < 6 || memcmp(p, "HTTP/", 5) != 0)
        return 0;
    for (size_t i = 5; i < n; i++)
        if (!is_digit(p[i]) && p[i] != '.')
            return 0;
    return 1;
}

/* The URL and query of a request (r[0:n]), as the polars path reads them: the path is the
 * group of lib/logs/parsing/fields.py's _REQUEST_PATTERN
 * `^(?P<method>[^ ]+)(?: (?P<path>.*?))??(?: (?P<protocol>HTTP/[0-9.]+))?$` (leftmost-first,
 * the path lazy), the URL the path up to its first `?` and the query the rest. What the
 * regex makes of it, the line being printable ASCII (no newline for `.` to miss):
 *   - no match (all null) when the request is empty or starts with a space (`[^ ]+` needs a
 *     character); the method is everything up to the first space (the path group, taken,
 *     can always reach the end: the method never gives characters back);
 *   - no space: no path; the rest after the first space (`rest`) wholly `HTTP/[0-9.]+`: no
 *     path either (skipping the lazy group is tried first, and the protocol then ends it);
 *   - else the path is the shortest prefix of `rest` after which ` HTTP/[0-9.]+` ends the
 *     request, or nothing does: `rest` up to its last space when what follows that space is
 *     `HTTP/[0-9.]+` (only one place can start it: it holds no space), else all of `rest`
 *     (`GET  HTTP/1.0` has the empty path, `GET / HTTP/` the path `/ HTTP/`). */
static void
request_target(const char *r, size_t n, Line *ln)
{
    ln->url = NULL;
    ln->url_len = 0;
    ln->query_len = -1;
    if (n == 0 || r[0] == ' ')
        return;
    const char *space = memchr(r, ' ', n);
    if (!space)
        return;
    const char *rest = space + 1;
    size_t m = n - (size_t)(rest - r), path_len = m;
    if (is_protocol(rest, m))
        return;
    size_t j = m; /* where the digits and dots that end the request start */
    while (j > 0 && (is_digit(rest[j - 1]) || rest[j - 1] == '.'))
        j--;
    if (j < m && j >= 6 && rest[j - 6] == ' ' && memcmp(rest + j - 5, "HTTP/", 5) == 0)
        path_len = j - 6;
    const char *mark = memchr(rest, '?', path_len);
    ln->url = rest;
    ln->url_len = (uint32_t)(mark ? (size_t)(mark - rest) : path_len);
    ln->query_len = mark ? (int32_t)(path_len - ln->url_len - 1) : -1;
}

/* Printable ASCII only: nothing for block_to_lines to replace with U+FFFD (bytes over 0x7E,
 * 0x1F), no tab or control character, so characters are bytes and `[^ ]` is "not 0x20". */
static int
printable(const unsigned char *s, size_t n)
{
    unsigned char bad = 0;
    for (size_t i = 0; i < n; i++)
        bad |= (unsigned char)((s[i] < 0x20) | (s[i] > 0x7E));
    return !bad;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (H. Hinnant's
 * days_from_civil), which is chrono's calendar. */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const int64_t yoe = y - era * 400;
    const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int
days_in_month(int y, int m)
{
    static const int DAYS[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return DAYS[m - 1];
}

/* A number of `width` digits at p (checked to be digits by the caller). */
static inline int
digits(const char *p, int width)
{
    int v = 0;
    for (int i = 0; i < width; i++)
        v = v * 10 + (p[i] - '0');
    return v;
}

/* The stamp (CLF_STAMP_WIDTH characters laid out as lib/logs/parsing/clf.py's STAMP_LAYOUT says:
 * `dd/Mon/yyyy:HH:MM:SS +zzzz`) -> microseconds UTC; 0 if the polars path could null it or read
 * it otherwise. Mirrors STAMP (digits where it has [0-9]) and with_clf_time: MINUTE_FORMAT
 * through chrono (a real date, hour <= 23, minute <= 59), the second <= 59, the zone's hours
 * <= 23 and minutes <= 59, time = local - zone. */
static int
stamp_time(const char *p, int64_t *out)
{
    for (size_t i = 0; i < sizeof CLF_STAMP_DIGITS / sizeof CLF_STAMP_DIGITS[0]; i++)
        if (!is_digit(p[CLF_STAMP_DIGITS[i]]))
            return 0;
    for (size_t i = 0; i < sizeof CLF_STAMP_LITERALS / sizeof CLF_STAMP_LITERALS[0]; i++)
        if (p[CLF_STAMP_LITERALS[i].at] != CLF_STAMP_LITERALS[i].c)
            return 0;
    const char sign = p[CLF_SIGN_AT];
    if (sign != '+' && sign != '-')
        return 0;
    /* The regex allows any letters and chrono reads month names in any case; only the exact
     * names are certain here. */
    int month = clf_month(p + CLF_MONTH_AT);
    if (!month)
        return 0;
    int day = digits(p + CLF_DAY_AT, 2), year = digits(p + CLF_YEAR_AT, 4);
    int hour = digits(p + CLF_HOUR_AT, 2), minute = digits(p + CLF_MINUTE_AT, 2);
    int second = digits(p + CLF_SECOND_AT, 2);
    int zone_hours = digits(p + CLF_ZONE_AT, 2), zone_minutes = digits(p + CLF_ZONE_AT + 2, 2);
    /* CERTAIN_YEARS: years chrono reads and Python's datetime can hold even after the zone is
     * applied (the polars path turns first/last times into Python datetimes). */
    if (year < CLF_YEAR_MIN || year > CLF_YEAR_MAX)
        return 0;
    if (day < 1 || day > days_in_month(year, month) || hour > 23 || minute > 59)
        return 0; /* chrono: no such minute */
    if (second > 59 || zone_hours > 23 || zone_minutes > 59)
        return 0; /* _utc's `valid` */
    int64_t zone = zone_hours * 3600 + zone_minutes * 60;
    int64_t seconds = days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 +
                      second - (sign == '-' ? -zone : zone); /* -0400: add 4 h for UTC */
    *out = seconds * 1000000;
    return 1;
}

/* `"(?:[^"\\]|\\.)*"` from the opening quote's next character i: the index of the closing
 * quote, or -1. The regex's two branches start with different characters, so exactly one path
 * exists and it ends at the first quote not taken by a backslash (no backtracking can help:
 * only a quote may end the field). */
static Py_ssize_t
escaped_end(const char *s, Py_ssize_t n, Py_ssize_t i)
{
    /* The next quote (memchr: many bytes at a time); a backslash before it takes the character
     * after it, so the search goes on after that character. */
    while (i < n) {
        const char *quote = memchr(s + i, '"', n - i);
        if (!quote)
            return -1;
        Py_ssize_t q = quote - s;
        const char *slash = memchr(s + i, '\\', q - i);
        if (!slash)
            return q;
        i = slash - s;
        if (i + 1 >= n)
            return -1; /* `\\.` needs a character after the backslash */
        i += 2;
    }
    return -1;
}

/* `" [0-9]{3} ` at q: the status part every suffix starts with. */
static int
status_at(const char *s, Py_ssize_t n, Py_ssize_t q)
{
    return q + 6 <= n && s[q] == '"' && s[q + 1] == ' ' && is_digit(s[q + 2]) && is_digit(s[q + 3]) &&
           is_digit(s[q + 4]) && s[q + 5] == ' ';
}

/* `(?:[0-9]{1,18}|-)` at i, followed by the character at the returned end (or the line's end);
 * -1 if neither branch fits. 19 digits or more never match (the regex cannot stop early: a
 * digit is neither the space nor the end that must follow). */
static Py_ssize_t
bytes_end(const char *s, Py_ssize_t n, Py_ssize_t i)
{
    if (i < n && s[i] == '-')
        return i + 1;
    Py_ssize_t j = i;
    while (j < n && is_digit(s[j]) && j - i <= CLF_BYTES_DIGITS)
        j++;
    if (j == i || j - i > CLF_BYTES_DIGITS)
        return -1;
    return j;
}

static int64_t
bytes_value(const char *s, Py_ssize_t from, Py_ssize_t to)
{
    if (s[from] == '-')
        return -1;
    int64_t v = 0;
    for (Py_ssize_t i = from; i < to; i++)
        v = v * 10 + (s[i] - '0');
    return v; /* at most CLF_BYTES_DIGITS (18) digits: fits */
}

/* COMBINED_SUFFIX_PATTERN matched at q and running to the line's end: `" sss bytes "ref"
 * "agent"`. Sets the end of the bytes and the start of the agent (after its quote). */
static int
combined_at(const char *s, Py_ssize_t n, Py_ssize_t q, Py_ssize_t *bytes_to,
            Py_ssize_t *agent_from)
{
    if (!status_at(s, n, q))
        return 0;
    Py_ssize_t b = bytes_end(s, n, q + 6);
    if (b < 0 || b + 2 > n || s[b] != ' ' || s[b + 1] != '"')
        return 0;
    Py_ssize_t c1 = escaped_end(s, n, b + 2);
    if (c1 < 0 || c1 + 3 > n || s[c1 + 1] != ' ' || s[c1 + 2] != '"')
        return 0;
    if (escaped_end(s, n, c1 + 3) != n - 1) /* `$`: the agent's quote ends the line */
        return 0;
    *bytes_to = b;
    *agent_from = c1 + 3;
    return 1;
}

/* The value of hex digit c, -1 if it is none. */
static inline int
hex_value(char c)
{
    if (is_digit(c))
        return c - '0';
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
        return (c | 0x20) - 'a' + 10;
    return -1;
}

/* The byte of an escape `\xHH` at a (a[0] the backslash, 4 bytes there), when it is printable
 * ASCII (0x20-0x7E: decoded, it is one character of UTF-8 as it is one byte); -1 otherwise. */
static inline int
printable_hex_escape(const char *a)
{
    int hi = hex_value(a[2]), lo = hex_value(a[3]);
    int byte = hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
    return byte >= 0x20 && byte <= 0x7E ? byte : -1;
}

/* Whether the visitor's key can be made of the agent here as the polars path makes it of the
 * decoded agent (lib/logs/parsing/escapes.py): Apache's `\"` and `\\`, and `\xHH` of a
 * printable ASCII byte (nginx's `\x22`, `\x5C`) are decoded (agent_escaped); any other escape
 * (Apache's `\n`, a byte from 0x7F up, which decodes into UTF-8 or U+FFFD) leaves the line
 * to polars. The field's grammar pairs each backslash with the character after it, as the
 * decoder, reading from the left, does. */
static int
agent_decodable(Line *ln)
{
    const char *a = ln->agent, *end = a + ln->agent_len;
    ln->agent_escaped = 0;
    while ((a = memchr(a, '\\', (size_t)(end - a))) != NULL) {
        if (a + 1 >= end)
            return 0;
        if (a[1] == 'x') {
            if (end - a < 4 || printable_hex_escape(a) < 0)
                return 0;
            a += 4;
        }
        else if (a[1] == '"' || a[1] == '\\')
            a += 2;
        else
            return 0;
        ln->agent_escaped = 1;
    }
    return 1;
}

/* ------------------------------------------------------------------------------------------ */
/* The tail: fields after Combined (lib/logs/parsing/tails.py).                                */

/* The shapes a tail program is made of, one character each (tails.py's OPS): literal text (its
 * length in the next byte, then its bytes), and fields. T, N, I and D hold no space: each runs
 * to the next space or the line's end, less the characters the next literal has before its
 * first space (`suffix`), which must end the run: the one split the regex can make there. */
#define OP_LITERAL 'L'
#define OP_QUOTED 'Q'  /* (?:[^"\\]|\\.)* : up to the first quote no backslash takes */
#define OP_TOKEN 'T'   /* [^ ]* */
#define OP_WORD 'N'    /* [^ ]+ */
#define OP_INTEGER 'I' /* [0-9]+|- */
#define OP_DECIMAL 'D' /* [0-9]+(?:\.[0-9]+)?|- */
#define OP_LIST 'S'    /* [^ ,]+(?:(?:, | : )[^ ,]+)* (nginx's upstream lists), read greedily */
#define OP_REST 'R'    /* .+ to the line's end */
#define TAIL_OPS "LQTNIDSR"
#define MAX_TAIL_OPS 64

typedef struct {
    char op;
    const char *text; /* a literal's */
    Py_ssize_t len;
    Py_ssize_t suffix; /* T, N, I, D: the next literal's characters before its first space */
} TailOp;

typedef struct {
    int n;      /* ops */
    int fields; /* ops that are fields (not literals) */
    TailOp ops[MAX_TAIL_OPS];
} Tail;

/* The program p[0:len] as ops (literals pointing into p, which must outlive t); -1 with
 * ValueError for one that is not a program. */
static int
tail_compile(Tail *t, const char *p, Py_ssize_t len)
{
    *t = (Tail){0};
    for (Py_ssize_t i = 0; i < len;) {
        if (t->n == MAX_TAIL_OPS || !memchr(TAIL_OPS, p[i], sizeof TAIL_OPS - 1)) {
            PyErr_Format(PyExc_ValueError, "tail: not a program (op %zd)", i);
            return -1;
        }
        TailOp *op = &t->ops[t->n++];
        op->op = p[i++];
        if (op->op != OP_LITERAL) {
            t->fields++;
            continue;
        }
        if (i >= len || (Py_ssize_t)(unsigned char)p[i] > len - i - 1) {
            PyErr_SetString(PyExc_ValueError, "tail: a literal's length runs past the program");
            return -1;
        }
        op->len = (unsigned char)p[i++];
        op->text = p + i;
        i += op->len;
    }
    for (int k = 0; k + 1 < t->n; k++) {
        const TailOp *next = &t->ops[k + 1];
        if (t->ops[k].op == OP_LITERAL || next->op != OP_LITERAL)
            continue;
        const char *space = memchr(next->text, ' ', next->len);
        t->ops[k].suffix = space ? space - next->text : next->len;
    }
    return 0;
}

/* Whether s[0:n] is a value of field `op` (T, N, I or D; no space in it). */
static int
value_fits(char op, const char *s, Py_ssize_t n)
{
    if (op == OP_TOKEN)
        return 1;
    if (op == OP_WORD)
        return n > 0;
    if (n == 1 && s[0] == '-')
        return 1;
    Py_ssize_t i = 0;
    while (i < n && is_digit(s[i]))
        i++;
    if (i == 0)
        return 0;
    if (i == n)
        return 1;
    if (op != OP_DECIMAL || s[i] != '.' || i + 1 == n)
        return 0;
    for (i++; i < n; i++)
        if (!is_digit(s[i]))
            return 0;
    return 1;
}

/* The end of a list item `[^ ,]+` from i (i itself if there is none). */
static inline Py_ssize_t
item_end(const char *s, Py_ssize_t n, Py_ssize_t i)
{
    while (i < n && s[i] != ' ' && s[i] != ',')
        i++;
    return i;
}

/* `[^ ,]+(?:(?:, | : )[^ ,]+)*` from i: its end, taking every item a separator and an item's
 * first character announce (the regex's greedy choice, tried first: when the rest of the line
 * then fits, that is the regex's match; when it does not, the line is left over rather than
 * other choices tried); -1 without a first item. */
static Py_ssize_t
list_end(const char *s, Py_ssize_t n, Py_ssize_t i)
{
    Py_ssize_t j = item_end(s, n, i);
    if (j == i)
        return -1;
    for (;;) {
        Py_ssize_t k;
        if (j + 2 < n && s[j] == ',' && s[j + 1] == ' ')
            k = j + 2;
        else if (j + 3 < n && s[j] == ' ' && s[j + 1] == ':' && s[j + 2] == ' ')
            k = j + 3;
        else
            return j;
        Py_ssize_t e = item_end(s, n, k);
        if (e == k)
            return j;
        j = e;
    }
}

/* Whether s[i:n] is the tail `t` to the line's end; with `spans`, each field's start and end
 * (t->fields pairs) are written there: where the regex's group of that field is. */
static int
tail_match(const Tail *t, const char *s, Py_ssize_t n, Py_ssize_t i, Py_ssize_t *spans)
{
    for (int k = 0; k < t->n; k++) {
        const TailOp *op = &t->ops[k];
        Py_ssize_t from = i;
        switch (op->op) {
        case OP_LITERAL:
            if (n - i < op->len || memcmp(s + i, op->text, op->len) != 0)
                return 0;
            i += op->len;
            continue;
        case OP_QUOTED:
            i = escaped_end(s, n, i);
            break;
        case OP_LIST:
            i = list_end(s, n, i);
            break;
        case OP_REST:
            i = i < n ? n : -1;
            break;
        default: { /* T, N, I, D */
            const char *space = memchr(s + i, ' ', n - i);
            Py_ssize_t run = space ? space - s : n;
            if (run - i < op->suffix || !value_fits(op->op, s + i, run - op->suffix - i))
                return 0;
            i = run - op->suffix;
        }
        }
        if (i < 0)
            return 0;
        if (spans) {
            *spans++ = from;
            *spans++ = i;
        }
    }
    return i == n;
}

/* Times taken (lib/logs/parsing/fields.py's duration_us, then bounded.duration_bucket). */
#define DURATION_TEXT_MAX 63   /* longer texts are left to polars */
#define BUCKET_MARGIN 1e-9     /* log(t)/log(GAMMA) this close to a whole number: left to polars */
static locale_t c_numeric;     /* strtod_l's: a `.` decimal point whatever the process's locale */
static double log_gamma;       /* log(bounded.GAMMA), as math.log computes it */

/* The time taken logged as s[0:n], in *timed (0: null, as polars makes `-` or a time that is
 * negative, not finite or from 2**62 microseconds) and *bucket. Only `-` and `+`? digits, then
 * `.` and digits or not, are read (others, and a time whose bucket lies within BUCKET_MARGIN
 * of a bound, where this libm's log and polars' could differ: 0, the line left over): the text
 * read as a double (correctly rounded, as polars' cast), times the role's scale, rounded half
 * to even (polars' round, whose default mode is half_to_even) to whole microseconds. */
static int
duration_read(const char *s, Py_ssize_t n, double scale, uint8_t *timed, int16_t *bucket)
{
    *timed = 0;
    if (n == 1 && s[0] == '-')
        return 1;
    Py_ssize_t i = n > 0 && s[0] == '+', digits = 0;
    for (; i < n && is_digit(s[i]); i++)
        digits++;
    if (i < n && s[i] == '.') {
        Py_ssize_t fraction = 0;
        for (i++; i < n && is_digit(s[i]); i++)
            fraction++;
        if (!fraction)
            return 0;
    }
    if (!digits || i != n || n > DURATION_TEXT_MAX)
        return 0;
    char text[DURATION_TEXT_MAX + 1];
    memcpy(text, s, (size_t)n);
    text[n] = '\0';
    char *end;
    double value = strtod_l(text, &end, c_numeric) * scale;
    if (end != text + n)
        return 0;
    if (!isfinite(value) || value < 0 || value >= 0x1p62)
        return 1; /* null */
    double us = nearbyint(value); /* to even, as polars' round (the default rounding mode) */
    *timed = 1;
    if (us < 1) {
        *bucket = -1;
        return 1;
    }
    double q = log(us) / log_gamma, whole = floor(q);
    if (us != 1 && (q - whole < BUCKET_MARGIN || whole + 1 - q < BUCKET_MARGIN))
        return 0;
    *bucket = (int16_t)whole;
    return 1;
}

#define MAX_COMBINED_TRIES 8 /* suffix starts examined per line before giving the line up */

/* What a Counter reads: Common, Combined (the clf kind's), or Combined with a tail (the regex
 * kind's: the request an escaped field; lib/logs/parsing/tails.py). */
typedef struct {
    int combined;   /* referer and user agent after the bytes (a tail implies them) */
    int tailed;     /* the regex kind's Combined, then `tail` */
    int dash_ident; /* the second field is the literal `-` (nginx's formats), not a token */
    int duration_field, vhost_field; /* the tail's fields of those roles; -1: none */
    double duration_scale;           /* to microseconds (fields.py's DURATION_SCALES) */
    Tail tail;
    char *program;  /* the tail's program, copied: its literals point into it */
} Layout;

/* Accept s[0:n] (a line without its newline and one trailing CR, as block_to_lines gives it)
 * if the polars path certainly reads it as a request, filling *out. */
static int
parse_line(const char *s, Py_ssize_t n, const Layout *layout, Line *out)
{
    if (n > (Py_ssize_t)INT32_MAX || !printable((const unsigned char *)s, (size_t)n))
        return 0;
    out->timed = 0;
    out->vhost = NULL;
    out->vhost_len = 0;
    /* PREFIX_PATTERN `^[^ ]+ [^ ]+ [^ ]+ \[STAMP\] "`: `[^ ]+` cannot cross a space, so the
     * three fields end at the first three spaces and none may be empty. */
    const char *s1 = memchr(s, ' ', n);
    if (!s1 || s1 == s)
        return 0;
    const char *s2 = memchr(s1 + 1, ' ', n - (s1 + 1 - s));
    if (!s2 || s2 == s1 + 1)
        return 0;
    const char *s3 = memchr(s2 + 1, ' ', n - (s2 + 1 - s));
    if (!s3 || s3 == s2 + 1)
        return 0;
    if (layout->dash_ident && (s2 != s1 + 2 || s1[1] != '-'))
        return 0; /* ` - `: literal text of the format */
    Py_ssize_t stamp = s3 - s + 2, prefix_end = stamp + CLF_STAMP_WIDTH + 3;
    if (prefix_end > n || s[stamp - 1] != '[' || s[stamp + CLF_STAMP_WIDTH] != ']' ||
        s[stamp + CLF_STAMP_WIDTH + 1] != ' ' || s[stamp + CLF_STAMP_WIDTH + 2] != '"')
        return 0;
    if (!stamp_time(s + stamp, &out->time_us))
        return 0;

    Py_ssize_t q, bytes_from, bytes_to;
    if (layout->tailed) {
        /* The regex kind's `"(?:[^"\\]|\\.)*" [0-9]{3} (?:[0-9]+|-) "..." "..."`, each quoted
         * field ending at its first quote no backslash takes (one parse exists: no search),
         * then the tail from the user agent's closing quote to the line's end. Bytes of more
         * than CLF_BYTES_DIGITS digits are left over, as in Common and Combined. */
        q = escaped_end(s, n, prefix_end);
        if (q < 0 || !status_at(s, n, q))
            return 0;
        bytes_to = bytes_end(s, n, q + 6);
        if (bytes_to < 0 || bytes_to + 2 > n || s[bytes_to] != ' ' || s[bytes_to + 1] != '"')
            return 0;
        Py_ssize_t c1 = escaped_end(s, n, bytes_to + 2);
        if (c1 < 0 || c1 + 3 > n || s[c1 + 1] != ' ' || s[c1 + 2] != '"')
            return 0;
        Py_ssize_t c2 = escaped_end(s, n, c1 + 3);
        int reads = layout->duration_field >= 0 || layout->vhost_field >= 0;
        Py_ssize_t spans[2 * MAX_TAIL_OPS];
        if (c2 < 0 || !tail_match(&layout->tail, s, n, c2 + 1, reads ? spans : NULL))
            return 0;
        if (layout->duration_field >= 0) {
            const Py_ssize_t *at = spans + 2 * layout->duration_field;
            if (!duration_read(s + at[0], at[1] - at[0], layout->duration_scale, &out->timed,
                               &out->bucket))
                return 0;
        }
        if (layout->vhost_field >= 0) {
            const Py_ssize_t *at = spans + 2 * layout->vhost_field;
            Py_ssize_t len = at[1] - at[0];
            if (len > 0 && !(len == 1 && s[at[0]] == '-')) { /* fields.py's logged */
                out->vhost = s + at[0];
                out->vhost_len = (uint32_t)len;
            }
        }
        bytes_from = q + 6;
        out->pair = s + bytes_to + 1; /* `"referer" "agent"`, without the tail */
        out->pair_len = (uint32_t)(c2 - bytes_to);
        out->agent = s + c1 + 3;
        out->agent_len = (uint32_t)(c2 - c1 - 3);
        if (!agent_decodable(out))
            return 0;
    }
    else if (!layout->combined) {
        /* SUFFIX_PATTERN `" [0-9]{3} (?:[0-9]{1,18}|-)$` can start at one place only: six
         * characters before the last field (which has no space). */
        const char *r = s + n;
        while (r > s && r[-1] != ' ')
            r--;
        bytes_from = r - s;
        bytes_to = n;
        q = bytes_from - 6;
        if (q < 0 || !status_at(s, n, q) || bytes_end(s, n, bytes_from) != n)
            return 0;
        out->pair = NULL;
        out->pair_len = 0;
        out->agent = NULL;
        out->agent_len = 0;
    }
    else {
        /* COMBINED_SUFFIX_PATTERN is searched leftmost: its match starts at the first quote
         * from which the rest of the line fits, which may lie inside the request (or be the
         * prefix's own closing quote). No earlier quote can start it: one ending the host,
         * ident or user field would need `[` to be a digit, and the stamp holds none. */
        int tries = 0;
        Py_ssize_t agent_from = 0;
        q = prefix_end - 1;
        for (;;) {
            const char *quote = memchr(s + q, '"', n - q);
            if (!quote)
                return 0;
            q = quote - s;
            if (status_at(s, n, q)) {
                if (combined_at(s, n, q, &bytes_to, &agent_from))
                    break;
                if (++tries >= MAX_COMBINED_TRIES)
                    return 0; /* pathological: leave it to the regex */
            }
            q++;
        }
        bytes_from = q + 6;
        out->pair = s + bytes_to + 1; /* `"referer" "agent"`, as _parse's splitn(" ", 2) */
        out->pair_len = (uint32_t)(n - bytes_to - 1);
        out->agent = s + agent_from;
        out->agent_len = (uint32_t)(n - 1 - agent_from);
        if (!agent_decodable(out))
            return 0;
    }
    /* `fits`: prefix and suffix must not share the prefix's closing quote. */
    if (q < prefix_end)
        return 0;
    out->host = s;
    out->host_len = (uint32_t)(s1 - s);
    out->offset = s + stamp + 21;
    out->status = (uint16_t)((s[q + 2] - '0') * 100 + (s[q + 3] - '0') * 10 + (s[q + 4] - '0'));
    out->bytes = bytes_value(s, bytes_from, bytes_to);
    request_target(s + prefix_end, (size_t)(q - prefix_end), out);
    return 1;
}

/* ------------------------------------------------------------------------------------------ */
/* Counts, and the lines of a block on their way to them.                                      */

/* What bounds the breakdowns whose size grows with the log (lib/logs/counting/bounded.py):
 * caps from Python, never hard-coded here. */
typedef struct {
    size_t url_cap;     /* more than twice this many URLs: the url_cap busiest kept */
    size_t query_cap;   /* distinct (URL, query) keys kept at most */
    size_t visitor_cap; /* distinct (day, visitor) keys kept at most */
} Bounds;

/* The keys of a sample that belong to one day (the queries' sample has one part, day 0; the
 * visitors' is a HashSample, below). */
typedef struct {
    int64_t day; /* since 1970 */
    Table keys;  /* keys owned; an entry's `bytes` is its key_hash, its `count` 1 */
    Table passed; /* keys seen and left out (their key_hash is above the level, for good:
                   * levels only rise), so that their key_hash is not computed again */
} Part;

/* A distinct-sampling sample (bounded.distinct): the keys whose key_hash is below
 * 2**(64 - level), at most `cap` of them. */
typedef struct {
    Part *parts;
    size_t n_parts, cap_parts, last; /* last: the part asked for last */
    size_t used;                     /* keys in the parts */
    size_t passed;                   /* keys passed, in the parts: a cache, all emptied when
                                      * more than the cap */
    unsigned level;
    uint64_t seed; /* the parts' tables' */
} Sample;

/* The visitors' sample: the distinct key_hashes of each UTC day (bounded.distinct's rows, a day
 * and a key_hash, distinct as polars' unique makes them: two keys of one key_hash are one row
 * there and here), the keys themselves not kept. A day's set is an array of key_hashes probed
 * linearly (8 bytes a slot, 0 free; the key_hash 0 is a flag), its slots picked by a mix of the
 * key_hash and a seed, re-seeded as a Table is when its finds step too far. Keeping the keys'
 * text instead (a Table, as the queries' sample does) cost a 64-byte entry and a copy of the
 * key each, a comparison each find and a free each at the end: a fifth of the counter's time
 * on a log of 441,000 day-visitors (perf), for a text nobody reads. */
typedef struct {
    int64_t day;     /* since 1970 */
    uint64_t *slots; /* key_hashes; 0: free */
    size_t mask, used; /* used: the slots taken (the key_hash 0 is not in one) */
    int zero;          /* the key_hash 0 is in the set */
    Probing probing;
} DayHashes;

typedef struct {
    DayHashes *days;
    size_t n_days, cap_days, last; /* last: the day asked for last */
    size_t used;                   /* key_hashes in the days */
    unsigned level;
    uint64_t seed; /* the days' sets' first */
} HashSample;

/* The visitors seen on one day, by identity (a host's key and an agent's key as kept in the
 * Counts' tables, whose addresses stay while the tables do): a cache that spares a line whose
 * visitor was seen that day its key text, its key_hash and a look into the sample (a big
 * table, a cache miss). Emptied (a new generation) when the day changes or it holds more than
 * the visitors' cap. Its slots are probed linearly; a find that steps over more than
 * FRONT_STEPS empties it too, so no keys can make it slow. */
typedef struct {
    const char *host, *agent; /* agent NULL: none (not logged, `-` or empty) */
    uint32_t gen;             /* the slot is used in this generation only */
    uint32_t hash;            /* the host's (its slot: a line's is known, and asked for, ahead) */
} Seen;

typedef struct {
    Seen *slots;
    size_t mask, used;
    uint32_t gen; /* from 1 */
    uint64_t seed;
    int64_t day;
} Front;

#define FRONT_STEPS 64

static int
front_init(Front *f, size_t capacity, uint64_t seed)
{
    *f = (Front){.mask = capacity - 1, .gen = 1, .seed = seed, .day = INT64_MIN};
    f->slots = zeroed(capacity, sizeof(Seen));
    return f->slots ? 0 : -1;
}

/* A new generation: every slot free. */
static void
front_clear(Front *f)
{
    f->used = 0;
    if (++f->gen == 0) { /* wrapped: the slots' generations could come back */
        memset(f->slots, 0, (f->mask + 1) * sizeof(Seen));
        f->gen = 1;
    }
}

/* The first slot of a host whose hash (a Line's host_hash) is `hash`: its visitors (one per
 * agent) are found from there. */
static inline size_t
front_slot(const Front *f, uint32_t hash)
{
    uint64_t x = ((uint64_t)hash ^ f->seed) * 0x9E3779B97F4A7C15ULL;
    return (size_t)(x ^ x >> 29) & f->mask;
}

/* Whether the visitor was seen today (1), else it is now (0); -1: no memory. */
static int
front_seen(Front *f, const char *host, uint32_t hash, const char *agent, size_t cap)
{
    size_t i = front_slot(f, hash), steps = 0;
    for (; f->slots[i].gen == f->gen; i = (i + 1) & f->mask, steps++)
        if (f->slots[i].host == host && f->slots[i].agent == agent)
            return 1;
    if (steps > FRONT_STEPS || f->used >= cap) {
        front_clear(f);
        return front_seen(f, host, hash, agent, cap);
    }
    if ((f->used + 1) * 2 > f->mask + 1) {
        Front grown;
        if (front_init(&grown, (f->mask + 1) * 2, f->seed) < 0)
            return -1;
        for (size_t j = 0; j <= f->mask; j++) {
            Seen *e = &f->slots[j];
            if (e->gen != f->gen)
                continue;
            size_t k = front_slot(&grown, e->hash);
            while (grown.slots[k].gen == grown.gen)
                k = (k + 1) & grown.mask;
            grown.slots[k] = (Seen){e->host, e->agent, grown.gen, e->hash};
        }
        grown.used = f->used;
        grown.day = f->day;
        free(f->slots);
        *f = grown;
        return front_seen(f, host, hash, agent, cap);
    }
    f->slots[i] = (Seen){host, agent, f->gen, hash};
    f->used++;
    return 0;
}

typedef struct {
    int64_t requests;
    Table hosts, offsets, pairs; /* keys owned: copied when first seen */
    IntTable hours;
    uint64_t statuses[1000];
    int64_t first, last; /* valid when requests > 0 */
    Table urls;          /* url -> requests (count), bytes; keys owned */
    uint64_t null_url_requests, null_url_bytes; /* requests without a path (a null URL) */
    uint64_t url_error; /* the largest counts of the URLs dropped, added up (bounded.top_urls) */
    Sample queries;     /* `url?query` as logged (one-to-one with bounded.query_key's text) */
    HashSample visitors; /* key_hashes of bounded.visitor_key's text, per day */
    Front front;        /* the visitors seen today */
    Table agents;       /* the user agents (decoded), each kept once: a visitor's identity */
    Table durations;    /* `bucket (2 bytes) 0|1 url` (0: the null URL) -> requests; keys owned */
    Table vhosts;       /* vhost -> requests (count), bytes; keys owned */
    char *scratch;      /* a visitor's key, or an agent decoded, is written here */
    size_t scratch_cap;
} Counts;

static void counts_free(Counts *c);
static void sample_free(Sample *s);
static void hashes_free(HashSample *s);

/* Tables seeded with `seed`; -1 (and nothing held) when out of memory. */
static int
counts_init(Counts *c, int combined, uint64_t seed)
{
    memset(c, 0, sizeof *c);
    c->queries.seed = c->visitors.seed = seed;
    if (table_init(&c->hosts, 1 << 12, 1, seed) < 0 || table_init(&c->offsets, 16, 1, seed) < 0 ||
        table_init(&c->pairs, combined ? 1 << 10 : 2, 1, seed) < 0 ||
        itable_init(&c->hours, 64, seed) < 0 || table_init(&c->urls, 1 << 12, 1, seed) < 0 ||
        front_init(&c->front, 1 << 12, seed) < 0 ||
        table_init(&c->agents, combined ? 1 << 10 : 2, 1, seed) < 0 ||
        table_init(&c->durations, 16, 1, seed) < 0 || table_init(&c->vhosts, 16, 1, seed) < 0) {
        counts_free(c);
        return -1;
    }
    return 0;
}

static void
table_free(Table *t)
{
    if (t->owns_keys && t->slots)
        for (size_t i = 0; i <= t->mask; i++)
            free((char *)t->slots[i].key);
    free(t->slots);
    t->slots = NULL;
}

static void
counts_free(Counts *c)
{
    table_free(&c->hosts);
    table_free(&c->offsets);
    table_free(&c->pairs);
    itable_free(&c->hours);
    table_free(&c->urls);
    sample_free(&c->queries);
    hashes_free(&c->visitors);
    free(c->front.slots);
    table_free(&c->agents);
    table_free(&c->durations);
    table_free(&c->vhosts);
    free(c->scratch);
    memset(c, 0, sizeof *c);
}

/* Every entry dropped (the owned keys freed); the slots stay. */
static void
table_clear(Table *t)
{
    if (t->owns_keys)
        for (size_t i = 0; i <= t->mask; i++)
            free((char *)t->slots[i].key);
    memset(t->slots, 0, (t->mask + 1) * sizeof(Entry));
    t->used = 0;
}

/* The table with only the entries `keep` says to keep (the others' keys freed), in as many
 * slots as before. -1: no memory (the table unchanged). */
static int
table_keep(Table *t, int (*keep)(const Entry *, const void *), const void *arg)
{
    Entry *slots = zeroed(t->mask + 1, sizeof(Entry));
    if (!slots)
        return -1;
    size_t used = 0;
    for (size_t i = 0; i <= t->mask; i++) {
        Entry *e = &t->slots[i];
        if (!e->key)
            continue;
        if (!keep(e, arg)) {
            if (t->owns_keys)
                free((char *)e->key);
            continue;
        }
        size_t j = (size_t)e->hash & t->mask;
        while (slots[j].key)
            j = (j + 1) & t->mask;
        slots[j] = *e;
        used++;
    }
    free(t->slots);
    t->slots = slots;
    t->used = used;
    return 0;
}

/* The entry of `from`'s entry e in `into`, made with e's key if new: the key is then into's
 * (e's is NULL: not freed with `from`, which is being merged and freed), not a copy. */
static Entry *
table_adopt(Table *into, Entry *e, uint64_t seed)
{
    int owns = into->owns_keys;
    size_t used = into->used;
    into->owns_keys = 0;
    Entry *to = table_find(into, e->key, e->len, e->hash, seed);
    into->owns_keys = owns;
    if (to && into->used > used && owns)
        e->key = NULL;
    return to;
}

/* ------------------------------------------------------------------------------------------ */
/* The breakdowns: requests and bytes per URL (at most a cap, the busiest), and the samples of  */
/* distinct queries and visitors, as lib/logs/counting/bounded.py keeps them.                 */

/* bounded.key_hash: the key's CRC-32 (the high half) and Adler-32, zlib's; the byte at
 * `nul_at` (if not -1) read as a NUL (a query's key is `url NUL query`, kept as `url?query`). */
static uint64_t
key_hash(const char *p, size_t n, Py_ssize_t nul_at)
{
    const Bytef *b = (const Bytef *)p;
    uLong crc = crc32_z(0, Z_NULL, 0), adler = adler32_z(0, Z_NULL, 0);
    if (nul_at >= 0) {
        static const Bytef NUL = 0;
        crc = crc32_z(crc, b, (size_t)nul_at);
        adler = adler32_z(adler, b, (size_t)nul_at);
        crc = crc32_z(crc, &NUL, 1);
        adler = adler32_z(adler, &NUL, 1);
        b += nul_at + 1;
        n -= (size_t)nul_at + 1;
    }
    crc = crc32_z(crc, b, n);
    adler = adler32_z(adler, b, n);
    return (uint64_t)crc << 32 | (uint64_t)adler;
}

/* Whether a key_hash is in the sample at `level`: below 2**(64 - level). */
static inline int
sampled(uint64_t hash, unsigned level)
{
    return level == 0 || (level < 64 && hash < (UINT64_C(1) << (64 - level)));
}

static int
keep_sampled(const Entry *e, const void *level)
{
    return sampled(e->bytes, *(const unsigned *)level);
}

/* The sample at `level` (higher than its own): the keys above it dropped. */
static int
sample_raise(Sample *s, unsigned level)
{
    s->level = level;
    s->used = 0;
    for (size_t p = 0; p < s->n_parts; p++) {
        if (table_keep(&s->parts[p].keys, keep_sampled, &s->level) < 0)
            return -1;
        s->used += s->parts[p].keys.used;
    }
    return 0;
}

/* The level raised until the sample holds at most `cap` keys (bounded.distinct). */
static int
sample_fit(Sample *s, size_t cap)
{
    while (s->used > cap)
        if (sample_raise(s, s->level + 1) < 0)
            return -1;
    return 0;
}

/* The part of a day (made if new); NULL: no memory. The last one asked for is looked at
 * first: lines come a day after another. */
static Part *
sample_part(Sample *s, int64_t day)
{
    if (s->last < s->n_parts && s->parts[s->last].day == day)
        return &s->parts[s->last];
    for (size_t p = s->n_parts; p-- > 0;)
        if (s->parts[p].day == day) {
            s->last = p;
            return &s->parts[p];
        }
    if (s->n_parts == s->cap_parts) {
        size_t cap = s->cap_parts ? s->cap_parts * 2 : 8;
        Part *grown = realloc(s->parts, cap * sizeof(Part));
        if (!grown)
            return NULL;
        s->parts = grown;
        s->cap_parts = cap;
    }
    Part *part = &s->parts[s->n_parts];
    *part = (Part){.day = day};
    if (table_init(&part->keys, 1 << 6, 1, s->seed) < 0 ||
        table_init(&part->passed, 1 << 4, 1, s->seed) < 0) {
        table_free(&part->keys);
        table_free(&part->passed);
        return NULL;
    }
    s->last = s->n_parts++;
    return part;
}

static void
sample_free(Sample *s)
{
    for (size_t p = 0; p < s->n_parts; p++) {
        table_free(&s->parts[p].keys);
        table_free(&s->parts[p].passed);
    }
    free(s->parts);
    *s = (Sample){0};
}

/* Add a key to the sample (in the part of `day`: a visitor's; 0 for queries) if its key_hash
 * is in it. The key_hash is computed only for a key neither the part nor its passed keys hold:
 * at level 0 once per distinct key. -1: no memory. */
static int
sample_add(Sample *s, const char *key, size_t len, Py_ssize_t nul_at, uint64_t hash,
           uint64_t seed, int64_t day, size_t cap)
{
    int failed = 0;
    Part *part = sample_part(s, day);
    if (!part)
        return -1;
    if (table_lookup(&part->keys, key, len, hash, seed, &failed) || failed)
        return failed ? -1 : 0;
    if (part->passed.used &&
        (table_lookup(&part->passed, key, len, hash, seed, &failed) || failed))
        return failed ? -1 : 0;
    uint64_t kh = key_hash(key, len, nul_at);
    if (!sampled(kh, s->level)) {
        if (s->passed >= cap) {
            for (size_t p = 0; p < s->n_parts; p++)
                table_clear(&s->parts[p].passed);
            s->passed = 0;
        }
        s->passed++;
        return table_find(&part->passed, key, len, hash, seed) ? 0 : -1;
    }
    Entry *e = table_find(&part->keys, key, len, hash, seed);
    if (!e)
        return -1;
    e->count = 1;
    e->bytes = kh;
    s->used++;
    return sample_fit(s, cap);
}

/* The slot a key_hash is looked for from, under `seed`. */
static inline size_t
hashes_slot(uint64_t kh, uint64_t seed, size_t mask)
{
    uint64_t x = (kh ^ seed) * 0x9E3779B97F4A7C15ULL;
    return (size_t)(x ^ x >> 31) & mask;
}

static int
day_hashes_init(DayHashes *d, int64_t day, size_t capacity, uint64_t seed)
{
    *d = (DayHashes){.day = day, .mask = capacity - 1, .probing = probing_of(seed)};
    d->slots = zeroed(capacity, sizeof(uint64_t));
    return d->slots ? 0 : -1;
}

/* The set's key_hashes again, in `capacity` slots, under `seed`. */
static int
day_hashes_rehash(DayHashes *d, size_t capacity, uint64_t seed)
{
    uint64_t *slots = zeroed(capacity, sizeof(uint64_t));
    if (!slots)
        return -1;
    for (size_t i = 0; i <= d->mask; i++) {
        uint64_t kh = d->slots[i];
        if (!kh)
            continue;
        size_t j = hashes_slot(kh, seed, capacity - 1);
        while (slots[j])
            j = (j + 1) & (capacity - 1);
        slots[j] = kh;
    }
    free(d->slots);
    d->slots = slots;
    d->mask = capacity - 1;
    d->probing.seed = seed;
    return 0;
}

/* Add a key_hash: 1 if new, 0 if the set held it, -1 when out of memory. */
static int
day_hashes_add(DayHashes *d, uint64_t kh)
{
    if (!kh) {
        int added = !d->zero;
        d->zero = 1;
        return added;
    }
    size_t i = hashes_slot(kh, d->probing.seed, d->mask), steps = 0;
    for (; d->slots[i]; i = (i + 1) & d->mask, steps++)
        if (d->slots[i] == kh)
            break;
    d->probing.finds++;
    int added = !d->slots[i];
    if (added) {
        if ((d->used + 1) * 2 > d->mask + 1) {
            d->probing.steps += steps;
            if (day_hashes_rehash(d, (d->mask + 1) * 2, d->probing.seed) < 0)
                return -1;
            return day_hashes_add(d, kh);
        }
        d->slots[i] = kh;
        d->used++;
    }
    if (steps && reseed_due(&d->probing, steps) &&
        day_hashes_rehash(d, d->mask + 1, fresh_seed()) < 0)
        return -1;
    return added;
}

/* The key_hashes of a day's set. */
static inline size_t
day_hashes_count(const DayHashes *d)
{
    return d->used + (size_t)d->zero;
}

/* The set of a day (made if new); NULL: no memory. The last one asked for is looked at first:
 * lines come a day after another. */
static DayHashes *
hashes_day(HashSample *s, int64_t day)
{
    if (s->last < s->n_days && s->days[s->last].day == day)
        return &s->days[s->last];
    for (size_t p = s->n_days; p-- > 0;)
        if (s->days[p].day == day) {
            s->last = p;
            return &s->days[p];
        }
    if (s->n_days == s->cap_days) {
        size_t cap = s->cap_days ? s->cap_days * 2 : 8;
        DayHashes *grown = realloc(s->days, cap * sizeof(DayHashes));
        if (!grown)
            return NULL;
        s->days = grown;
        s->cap_days = cap;
    }
    if (day_hashes_init(&s->days[s->n_days], day, 1 << 8, s->seed) < 0)
        return NULL;
    s->last = s->n_days++;
    return &s->days[s->last];
}

static void
hashes_free(HashSample *s)
{
    for (size_t p = 0; p < s->n_days; p++)
        free(s->days[p].slots);
    free(s->days);
    *s = (HashSample){0};
}

/* The sample at `level` (higher than its own): the key_hashes above it dropped. */
static int
hashes_raise(HashSample *s, unsigned level)
{
    s->level = level;
    s->used = 0;
    for (size_t p = 0; p < s->n_days; p++) {
        DayHashes *d = &s->days[p];
        uint64_t *slots = zeroed(d->mask + 1, sizeof(uint64_t));
        if (!slots)
            return -1;
        size_t used = 0;
        for (size_t i = 0; i <= d->mask; i++) {
            uint64_t kh = d->slots[i];
            if (!kh || !sampled(kh, level))
                continue;
            size_t j = hashes_slot(kh, d->probing.seed, d->mask);
            while (slots[j])
                j = (j + 1) & d->mask;
            slots[j] = kh;
            used++;
        }
        free(d->slots);
        d->slots = slots;
        d->used = used; /* the key_hash 0 is below every level */
        s->used += day_hashes_count(d);
    }
    return 0;
}

/* The level raised until the sample holds at most `cap` key_hashes (bounded.distinct). */
static int
hashes_fit(HashSample *s, size_t cap)
{
    while (s->used > cap)
        if (hashes_raise(s, s->level + 1) < 0)
            return -1;
    return 0;
}

/* Add a day's key_hash to the sample if it is in it. -1: no memory. */
static int
hashes_add(HashSample *s, int64_t day, uint64_t kh, size_t cap)
{
    if (!sampled(kh, s->level))
        return 0;
    DayHashes *d = hashes_day(s, day);
    if (!d)
        return -1;
    int added = day_hashes_add(d, kh);
    if (added <= 0)
        return added;
    s->used++;
    return hashes_fit(s, cap);
}

/* `from`'s key_hashes added to `into` (bounded.distinct of the two; `from` is then freed). The
 * sets of the days only `from` saw move whole; of a day both saw, the smaller's go into the
 * larger. */
static int
hashes_merge(HashSample *into, HashSample *from, size_t cap)
{
    if (from->level > into->level && hashes_raise(into, from->level) < 0)
        return -1;
    if (into->level > from->level && hashes_raise(from, into->level) < 0)
        return -1;
    for (size_t p = 0; p < from->n_days; p++) {
        DayHashes *moved = &from->days[p], *day = NULL;
        for (size_t q = 0; q < into->n_days && !day; q++)
            if (into->days[q].day == moved->day)
                day = &into->days[q];
        if (!day) {
            if (into->n_days == into->cap_days) {
                size_t grown_cap = into->cap_days ? into->cap_days * 2 : 8;
                DayHashes *grown = realloc(into->days, grown_cap * sizeof(DayHashes));
                if (!grown)
                    return -1;
                into->days = grown;
                into->cap_days = grown_cap;
            }
            into->days[into->n_days++] = *moved;
            into->used += day_hashes_count(moved);
            *moved = (DayHashes){.day = moved->day}; /* its slots are into's now */
            continue;
        }
        if (day_hashes_count(moved) > day_hashes_count(day)) {
            DayHashes larger = *moved;
            *moved = *day;
            *day = larger;
            into->used += day_hashes_count(day) - day_hashes_count(moved);
        }
        if (moved->zero) {
            into->used += (size_t)(!day->zero);
            day->zero = 1;
        }
        for (size_t i = 0; moved->slots && i <= moved->mask; i++) {
            if (!moved->slots[i])
                continue;
            int added = day_hashes_add(day, moved->slots[i]);
            if (added < 0)
                return -1;
            into->used += (size_t)added;
        }
    }
    hashes_free(from);
    return hashes_fit(into, cap);
}

/* `from`'s keys added to `into` (bounded.distinct of the two; `from` is then freed). The
 * tables of the days only `from` saw move whole; of a day both saw, the smaller's keys go into
 * the larger's. */
static int
sample_merge(Sample *into, Sample *from, size_t cap)
{
    if (from->level > into->level && sample_raise(into, from->level) < 0)
        return -1;
    if (into->level > from->level && sample_raise(from, into->level) < 0)
        return -1;
    for (size_t p = 0; p < from->n_parts; p++) {
        Part *moved = &from->parts[p], *part = NULL;
        for (size_t q = 0; q < into->n_parts && !part; q++)
            if (into->parts[q].day == moved->day)
                part = &into->parts[q];
        if (!part) {
            if (into->n_parts == into->cap_parts) {
                size_t grown_cap = into->cap_parts ? into->cap_parts * 2 : 8;
                Part *grown = realloc(into->parts, grown_cap * sizeof(Part));
                if (!grown)
                    return -1;
                into->parts = grown;
                into->cap_parts = grown_cap;
            }
            into->parts[into->n_parts++] = *moved;
            into->used += moved->keys.used;
            *moved = (Part){.day = moved->day}; /* its tables are into's now */
            continue;
        }
        if (moved->keys.used > part->keys.used) {
            Table larger = moved->keys;
            moved->keys = part->keys;
            part->keys = larger;
            into->used += part->keys.used - moved->keys.used;
        }
        Table *keys = &moved->keys;
        for (size_t i = 0; i <= keys->mask; i++) {
            Entry *e = &keys->slots[i];
            if (!e->key)
                continue;
            Entry *to = table_adopt(&part->keys, e, keys->probing.seed);
            if (!to)
                return -1;
            if (!to->count) {
                to->count = 1;
                to->bytes = e->bytes;
                into->used++;
            }
        }
    }
    return sample_fit(into, cap);
}

/* The URLs counted, the null URL with them (as a frame of them has a row for it). */
static inline size_t
url_entries(const Counts *c)
{
    return c->urls.used + (c->null_url_requests != 0);
}

/* bounded.top_urls' order: most requests first, then by URL (bytes, as polars sorts UTF-8),
 * the null URL (NULL) after any other of its count. */
typedef struct {
    const Entry *e; /* NULL: the null URL */
    uint64_t count;
} Ranked;

static int
ranked_order(const void *a, const void *b)
{
    const Ranked *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    if (!x->e || !y->e)
        return (!x->e) - (!y->e);
    size_t n = x->e->len < y->e->len ? x->e->len : y->e->len;
    int order = memcmp(x->e->key, y->e->key, n);
    if (order)
        return order;
    return (x->e->len > y->e->len) - (x->e->len < y->e->len);
}

static int
keep_marked(const Entry *e, const void *Py_UNUSED(arg))
{
    return e->window != 0;
}

/* Whether a query's URL (its key up to the `?`) is still counted. */
static int
keep_counted_url(const Entry *e, const void *counts)
{
    Table *urls = &((Counts *)counts)->urls;
    const char *mark = memchr(e->key, '?', e->len);
    size_t len = mark ? (size_t)(mark - e->key) : e->len;
    int failed = 0;
    return table_lookup(urls, e->key, len, hash_bytes(e->key, len, urls->probing.seed),
                        urls->probing.seed, &failed) != NULL || failed;
}

/* Whether a duration's URL (its key after the bucket and the null flag) is still counted. */
static int
keep_counted_duration(const Entry *e, const void *counts)
{
    const Counts *c = counts;
    if (!e->key[2])
        return c->null_url_requests != 0;
    Table *urls = (Table *)&c->urls;
    const char *url = e->key + 3;
    size_t len = e->len - 3;
    int failed = 0;
    return table_lookup(urls, url, len, hash_bytes(url, len, urls->probing.seed),
                        urls->probing.seed, &failed) != NULL || failed;
}

/* bounded.top_urls, when the URLs are more than twice `cap`: the `cap` busiest kept, the
 * largest count dropped added to url_error, and the queries of the URLs dropped dropped too. */
static int
urls_prune(Counts *c, size_t cap)
{
    size_t n = 0, total = url_entries(c);
    if (total <= cap)
        return 0;
    Ranked *ranked = malloc(total * sizeof *ranked);
    if (!ranked)
        return -1;
    for (size_t i = 0; i <= c->urls.mask; i++)
        if (c->urls.slots[i].key)
            ranked[n++] = (Ranked){&c->urls.slots[i], c->urls.slots[i].count};
    if (c->null_url_requests)
        ranked[n++] = (Ranked){NULL, c->null_url_requests};
    qsort(ranked, n, sizeof *ranked, ranked_order);
    c->url_error += ranked[cap].count;
    /* entries' `window` (unused in URLs) marks the kept ones */
    for (size_t i = 0; i < n; i++) {
        if (ranked[i].e)
            ((Entry *)ranked[i].e)->window = i < cap;
        else if (i >= cap)
            c->null_url_requests = c->null_url_bytes = 0;
    }
    free(ranked);
    if (table_keep(&c->urls, keep_marked, NULL) < 0)
        return -1;
    for (size_t i = 0; i <= c->urls.mask; i++)
        c->urls.slots[i].window = 0;
    if (table_keep(&c->durations, keep_counted_duration, c) < 0)
        return -1;
    for (size_t p = 0; p < c->queries.n_parts; p++) {
        Table *keys = &c->queries.parts[p].keys;
        c->queries.used -= keys->used;
        if (table_keep(keys, keep_counted_url, c) < 0)
            return -1;
        c->queries.used += keys->used;
    }
    return 0;
}

/* `from`'s counts added to `into`'s: requests, and with `sums` the window's and the bytes
 * (a pair's `window` and `bytes` are its agent, in the table of `from`'s Counts: not
 * taken). */
static int
table_merge(Table *into, Table *from, int sums)
{
    for (size_t i = 0; i <= from->mask; i++) {
        Entry *e = &from->slots[i];
        if (!e->key)
            continue;
        Entry *to = table_adopt(into, e, from->probing.seed);
        if (!to)
            return -1;
        to->count += e->count;
        if (sums) {
            to->window += e->window;
            to->bytes += e->bytes;
        }
    }
    return 0;
}

/* `from`'s counts added to `into`'s (the URLs pruned, the samples fitted, as bounds say). */
static int
counts_merge(Counts *into, Counts *from, const Bounds *bounds)
{
    if (table_merge(&into->hosts, &from->hosts, 1) < 0 ||
        table_merge(&into->offsets, &from->offsets, 1) < 0 ||
        table_merge(&into->pairs, &from->pairs, 0) < 0 ||
        table_merge(&into->urls, &from->urls, 1) < 0 ||
        table_merge(&into->durations, &from->durations, 0) < 0 ||
        table_merge(&into->vhosts, &from->vhosts, 1) < 0 ||
        sample_merge(&into->queries, &from->queries, bounds->query_cap) < 0 ||
        hashes_merge(&into->visitors, &from->visitors, bounds->visitor_cap) < 0)
        return -1;
    into->null_url_requests += from->null_url_requests;
    into->null_url_bytes += from->null_url_bytes;
    into->url_error += from->url_error;
    if (url_entries(into) > 2 * bounds->url_cap && urls_prune(into, bounds->url_cap) < 0)
        return -1;
    for (size_t i = 0; i <= from->hours.mask; i++) {
        if (!from->hours.full[i])
            continue;
        HourCounts *to = itable_get(&into->hours, from->hours.keys[i]), *h = &from->hours.counts[i];
        if (!to)
            return -1;
        to->requests += h->requests;
        to->client_errors += h->client_errors;
        to->server_errors += h->server_errors;
    }
    for (int s = 0; s < 1000; s++)
        into->statuses[s] += from->statuses[s];
    if (from->requests) {
        if (!into->requests || from->first < into->first)
            into->first = from->first;
        if (!into->requests || from->last > into->last)
            into->last = from->last;
    }
    into->requests += from->requests;
    return 0;
}

typedef struct {
    Py_ssize_t index, start, len;
} Leftover;

/* A growing array; `size` is the size of one item. */
typedef struct {
    void *items;
    size_t n, cap;
} Array;

static void *
array_push(Array *a, size_t size)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 256;
        void *grown = realloc(a->items, cap * size);
        if (!grown)
            return NULL;
        a->items = grown;
        a->cap = cap;
    }
    return (char *)a->items + size * a->n++;
}

/* Split a block into lines as block_to_lines does (one per newline, plus an unterminated last
 * one; one trailing CR dropped) and parse each: the accepted ones into `accepted` (Line), the
 * others into `left` (Leftover). Runs without the GIL: it reads only the block (immutable
 * bytes). -1: no memory. */
static int
parse_block(const char *block, Py_ssize_t size, const Layout *layout, uint64_t seed,
            Array *accepted, Array *left, Py_ssize_t *lines)
{
    Py_ssize_t pos = 0, index = 0;
    while (pos < size) {
        const char *nl = memchr(block + pos, '\n', size - pos);
        Py_ssize_t end = nl ? nl - block : size;
        Py_ssize_t len = end - pos;
        Py_ssize_t text = len;
        if (text && block[pos + text - 1] == '\r')
            text--; /* the CSV reader drops one trailing carriage return */
        Line *ln = array_push(accepted, sizeof(Line));
        if (!ln)
            return -1;
        if (parse_line(block + pos, text, layout, ln)) {
            ln->host_hash = hash_bytes(ln->host, ln->host_len, seed);
            ln->url_hash = ln->url ? hash_bytes(ln->url, ln->url_len, seed) : 0;
            if (layout->combined)
                ln->pair_hash = hash_bytes(ln->pair, ln->pair_len, seed);
        }
        else {
            accepted->n--;
            Leftover *l = array_push(left, sizeof(Leftover));
            if (!l)
                return -1;
            *l = (Leftover){index, pos, len};
        }
        index++;
        pos = nl ? end + 1 : size;
    }
    *lines = index;
    return 0;
}

static const int64_t HOUR_US = 3600LL * 1000000;
static const int64_t DAY_US = 86400LL * 1000000;

#define DAY_TEXT 10 /* `YYYY-MM-DD` */

static inline int64_t
floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b < 0);
}

/* The date of a day since 1970-01-01 as polars' `%Y-%m-%d` writes it (H. Hinnant's
 * civil_from_days, the inverse of days_from_civil; years of four digits, zero-padded). */
static void
day_string(int64_t days, char out[DAY_TEXT])
{
    int64_t z = days + 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const int64_t doe = z - era * 146097;
    const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const int64_t mp = (5 * doy + 2) / 153;
    const int d = (int)(doy - (153 * mp + 2) / 5 + 1), m = (int)(mp < 10 ? mp + 3 : mp - 9);
    const int y = (int)(yoe + era * 400 + (m <= 2));
    const int fields[3][2] = {{y, 4}, {m, 2}, {d, 2}};
    char *p = out;
    for (int f = 0; f < 3; f++) {
        if (f)
            *p++ = '-';
        for (int k = fields[f][1] - 1, v = fields[f][0]; k >= 0; k--, v /= 10)
            p[k] = (char)('0' + v % 10);
        p += fields[f][1];
    }
}

/* Room for n bytes in c's scratch; 0: no memory. */
static int
scratch_room(Counts *c, size_t n)
{
    if (n <= c->scratch_cap)
        return 1;
    size_t cap = n < 256 ? 256 : n * 2;
    char *grown = realloc(c->scratch, cap);
    if (!grown)
        return 0;
    c->scratch = grown;
    c->scratch_cap = cap;
    return 1;
}

/* bounded.visitor_key, written into c's scratch: `YYYY-MM-DD NUL host NUL agent` (the agent
 * decoded, as agent_of keeps it; none: empty). Its length; 0: no memory. */
static size_t
visitor_key(Counts *c, const char day_text[DAY_TEXT], const Line *ln, const char *agent,
            size_t agent_len)
{
    if (!scratch_room(c, DAY_TEXT + 2 + ln->host_len + agent_len))
        return 0;
    char *p = c->scratch;
    memcpy(p, day_text, DAY_TEXT);
    p += DAY_TEXT;
    *p++ = '\0';
    memcpy(p, ln->host, ln->host_len);
    p += ln->host_len;
    *p++ = '\0';
    if (agent_len)
        memcpy(p, agent, agent_len);
    return (size_t)(p - c->scratch) + agent_len;
}

/* The user agent of a Combined line as the visitor's key holds it (split_pairs: decoded, null
 * for `-` or nothing), kept once in c's agents (*agent NULL: none): the pair's, found once per
 * distinct pair and kept in its entry (`bytes` its address, `window` its length plus one).
 * -1: no memory. */
static int
agent_of(Counts *c, Entry *pair, const Line *ln, const char **agent, size_t *agent_len)
{
    if (!pair->window) {
        const char *text = ln->agent;
        size_t len = ln->agent_len;
        if (len == 1 && text[0] == '-')
            len = 0;
        if (ln->agent_escaped) {
            if (!scratch_room(c, len))
                return -1;
            char *p = c->scratch;
            for (size_t i = 0; i < len; i++) {
                if (text[i] == '\\' && text[i + 1] == 'x') { /* agent_decodable checked it */
                    *p++ = (char)printable_hex_escape(text + i);
                    i += 3;
                    continue;
                }
                if (text[i] == '\\')
                    i++; /* `\\"` or `\\\\`: the character after the backslash */
                *p++ = text[i];
            }
            text = c->scratch;
            len = (size_t)(p - c->scratch);
        }
        const char *kept = NULL;
        if (len) {
            Entry *e = table_get(&c->agents, text, len);
            if (!e)
                return -1;
            kept = e->key;
        }
        pair->bytes = (uint64_t)(uintptr_t)kept;
        pair->window = len + 1;
    }
    *agent = (const char *)(uintptr_t)pair->bytes;
    *agent_len = (size_t)pair->window - 1;
    return 0;
}

/* The hours are counted per UTC hour and offset as written (parsed.py's hourly: `-0000` is
 * not `+0000`): the hours' table is keyed by the hour's first microsecond plus the offset's
 * code, below ZONE_CODES (an hour is HOUR_US apart: the two are read back apart). */
#define ZONE_CODES 4800

/* An offset `[+-]HHMM` (stamp_time checked it: HH <= 23, MM <= 59) as a number below
 * ZONE_CODES. */
static inline int64_t
zone_code(const char *offset)
{
    return (offset[0] == '-') * 2400 + digits(offset + 1, 2) * 100 + digits(offset + 3, 2);
}

#define AHEAD 8 /* lines ahead whose table slots are asked for (a miss: tables are megabytes) */

/* A visitor seen on one of the last lines. */
typedef struct {
    const char *host, *agent;
    int64_t day;
} Recent;

#define RECENT 256 /* slots of the recent visitors (6 KiB) */

/* Count parsed lines, hashed under `seed`, into c; their byte total (wrapping) into
 * *bytes_sent. -1: no memory. */
static int
count_lines(Counts *c, const Line *lines, size_t n, int combined, uint64_t seed,
            int64_t window_start, int64_t window_end, const Bounds *bounds,
            uint64_t *bytes_sent)
{
    int64_t hour = INT64_MIN, hour_zone = 0; /* the current hour [hour, hour + 1 h), its
                                              * offset's zone_code and its count */
    HourCounts *hour_count = NULL;
    Entry *offset = NULL; /* the last zone's entry (a log has one or two) */
    int64_t day = 0, day_start = 0; /* the current UTC day (days since 1970), its first
                                     * microsecond and its `YYYY-MM-DD` */
    char day_text[DAY_TEXT];
    int have_day = 0;
    Recent recents[RECENT] = {{0}};
    for (size_t i = 0; i < n; i++) {
        if (i + AHEAD < n) { /* a table re-seeded since has other slots for them: a wasted hint */
            const Line *ahead = &lines[i + AHEAD];
            __builtin_prefetch(&c->hosts.slots[ahead->host_hash & c->hosts.mask]);
            __builtin_prefetch(&c->urls.slots[ahead->url_hash & c->urls.mask]);
            __builtin_prefetch(&c->front.slots[front_slot(&c->front, (uint32_t)ahead->host_hash)]);
            if (combined)
                __builtin_prefetch(&c->pairs.slots[ahead->pair_hash & c->pairs.mask]);
        }
        const Line *ln = &lines[i];
        uint64_t sent = ln->bytes > 0 ? (uint64_t)ln->bytes : 0;
        Entry *host = table_find(&c->hosts, ln->host, ln->host_len, ln->host_hash, seed);
        if (!host)
            return -1;
        const char *host_key = host->key; /* stays while the table does: the visitor's host */
        host->count++;
        host->bytes += sent;
        if (ln->time_us >= window_start && ln->time_us < window_end)
            host->window++;
        if (!offset || memcmp(offset->head, ln->offset, 5) != 0) {
            offset = table_get(&c->offsets, ln->offset, 5);
            if (!offset)
                return -1;
        }
        offset->count++;
        int64_t zone = zone_code(ln->offset);
        if (!hour_count || ln->time_us < hour || ln->time_us - hour >= HOUR_US ||
            zone != hour_zone) {
            /* dt.truncate("1h") floors, also before 1970 */
            hour = ln->time_us - (((ln->time_us % HOUR_US) + HOUR_US) % HOUR_US);
            hour_zone = zone;
            hour_count = itable_get(&c->hours, hour + zone);
            if (!hour_count)
                return -1;
        }
        hour_count->requests++;
        hour_count->client_errors += ln->status >= 400 && ln->status <= 499;
        hour_count->server_errors += ln->status >= 500 && ln->status <= 599;
        c->statuses[ln->status]++;
        *bytes_sent += sent;
        const char *agent = NULL;
        size_t agent_len = 0;
        if (combined) {
            Entry *pair = table_find(&c->pairs, ln->pair, ln->pair_len, ln->pair_hash, seed);
            if (!pair || agent_of(c, pair, ln, &agent, &agent_len) < 0)
                return -1;
            pair->count++;
        }
        if (!c->requests || ln->time_us < c->first)
            c->first = ln->time_us;
        if (!c->requests || ln->time_us > c->last)
            c->last = ln->time_us;
        c->requests++;

        if (ln->url) {
            Entry *url = table_find(&c->urls, ln->url, ln->url_len, ln->url_hash, seed);
            if (!url)
                return -1;
            url->count++;
            url->bytes += sent;
        }
        else {
            c->null_url_requests++;
            c->null_url_bytes += sent;
        }
        if (ln->timed) { /* parsed.py's durations: requests per URL and bucket */
            size_t len = 3 + (ln->url ? ln->url_len : 0);
            if (!scratch_room(c, len))
                return -1;
            uint16_t bucket = (uint16_t)ln->bucket;
            c->scratch[0] = (char)(bucket & 0xFF);
            c->scratch[1] = (char)(bucket >> 8);
            c->scratch[2] = ln->url != NULL;
            if (ln->url)
                memcpy(c->scratch + 3, ln->url, ln->url_len);
            Entry *timed = table_get(&c->durations, c->scratch, len);
            if (!timed)
                return -1;
            timed->count++;
        }
        if (ln->vhost) {
            Entry *vhost = table_get(&c->vhosts, ln->vhost, ln->vhost_len);
            if (!vhost)
                return -1;
            vhost->count++;
            vhost->bytes += sent;
        }
        if (ln->query_len >= 0) {
            size_t len = ln->url_len + 1 + (size_t)ln->query_len; /* `url?query` */
            if (sample_add(&c->queries, ln->url, len, (Py_ssize_t)ln->url_len,
                           hash_bytes(ln->url, len, seed), seed, 0, bounds->query_cap) < 0)
                return -1;
        }
        if (!have_day || ln->time_us < day_start || ln->time_us - day_start >= DAY_US) {
            day = floor_div(ln->time_us, DAY_US);
            day_start = day * DAY_US;
            day_string(day, day_text);
            have_day = 1;
        }
        if (c->front.day != day) {
            front_clear(&c->front);
            c->front.day = day;
        }
        /* The visitors of the last lines first: a small table the line's host picks a slot of,
         * which stays in the first-level cache (a visitor's requests come close together). */
        Recent *recent = &recents[(ln->host_hash ^ (uintptr_t)agent >> 4) % RECENT];
        int seen = recent->host == host_key && recent->agent == agent && recent->day == day;
        if (!seen) {
            *recent = (Recent){host_key, agent, day};
            seen = front_seen(&c->front, host_key, (uint32_t)ln->host_hash, agent,
                              bounds->visitor_cap);
            if (seen < 0)
                return -1;
        }
        if (!seen) {
            size_t len = visitor_key(c, day_text, ln, agent, agent_len);
            if (!len || hashes_add(&c->visitors, day, key_hash(c->scratch, len, -1),
                                   bounds->visitor_cap) < 0)
                return -1;
        }
        if (url_entries(c) > 2 * bounds->url_cap && urls_prune(c, bounds->url_cap) < 0)
            return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Counter: the Python type.                                                                   */

#define SHARDS 8 /* blocks counted at once (one per pool thread), each into its own Counts */

typedef struct {
    PyThread_type_lock lock;
    int ready; /* counts initialised */
    Counts counts;
    Array lines; /* a block's parsed lines, kept from block to block: its memory is reused,
                  * not allocated, grown and faulted in again for every block */
} Shard;

typedef struct {
    PyObject_HEAD
    Layout layout;
    int64_t window_start, window_end;
    uint64_t seed; /* of the lines' hashes, and of the tables until they re-seed */
    Bounds bounds;
    unsigned query_level, visitor_level; /* the samples' levels to start from */
    Shard shards[SHARDS];
} Counter;

/* A shard's counts ready to count into (made when first needed); 0: no memory. */
static int
shard_ready(Counter *self, Shard *shard)
{
    if (!shard->ready && counts_init(&shard->counts, self->layout.combined, self->seed) == 0) {
        shard->counts.queries.level = self->query_level;
        shard->counts.visitors.level = self->visitor_level;
        shard->ready = 1;
    }
    return shard->ready;
}

static int
Counter_init(Counter *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"combined",      "window_start_us", "window_end_us",  "seed",
                             "tail",          "dash_ident",      "duration_field", "duration_scale",
                             "vhost_field",   "url_cap",         "query_cap",      "visitor_cap",
                             "query_level",   "visitor_level",   NULL};
    int combined, dash_ident = 0, duration_field = -1, vhost_field = -1;
    double duration_scale = 1;
    long long start, end;
    unsigned long long seed = process_seed;
    const char *program = NULL;
    Py_ssize_t program_len = 0;
    Py_ssize_t caps[3] = {PY_SSIZE_T_MAX / 2, PY_SSIZE_T_MAX, PY_SSIZE_T_MAX};
    unsigned int levels[2] = {0, 0};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "pLL|$Kz#pidinnnII:Counter", kwlist, &combined,
                                     &start, &end, &seed, &program, &program_len, &dash_ident,
                                     &duration_field, &duration_scale, &vhost_field, &caps[0],
                                     &caps[1], &caps[2], &levels[0], &levels[1]))
        return -1;
    if (caps[0] < 1 || caps[0] > PY_SSIZE_T_MAX / 2 || caps[1] < 0 || caps[2] < 0 ||
        levels[0] > 64 || levels[1] > 64) {
        PyErr_SetString(PyExc_ValueError,
                        "Counter: url_cap from 1, other caps from 0, levels 0 to 64");
        return -1;
    }
    if (self->shards[0].lock) {
        PyErr_SetString(PyExc_RuntimeError, "a Counter is initialised once");
        return -1;
    }
    if (program && !combined) {
        PyErr_SetString(PyExc_ValueError, "a tail follows Combined: combined must be true");
        return -1;
    }
    free(self->layout.program); /* an __init__ that failed before */
    self->layout = (Layout){.combined = combined,
                            .dash_ident = dash_ident,
                            .duration_field = -1,
                            .vhost_field = -1,
                            .duration_scale = duration_scale};
    if (program) {
        self->layout.program = malloc(program_len ? program_len : 1);
        if (!self->layout.program) {
            PyErr_NoMemory();
            return -1;
        }
        memcpy(self->layout.program, program, program_len);
        if (tail_compile(&self->layout.tail, self->layout.program, program_len) < 0)
            return -1;
        self->layout.tailed = 1;
        if (duration_field >= self->layout.tail.fields || vhost_field >= self->layout.tail.fields ||
            !(duration_scale >= 1)) {
            PyErr_SetString(PyExc_ValueError, "Counter: no such field of the tail, or scale < 1");
            return -1;
        }
        self->layout.duration_field = duration_field < 0 ? -1 : duration_field;
        self->layout.vhost_field = vhost_field < 0 ? -1 : vhost_field;
    }
    self->window_start = start;
    self->window_end = end;
    self->seed = seed;
    self->bounds = (Bounds){(size_t)caps[0], (size_t)caps[1], (size_t)caps[2]};
    self->query_level = levels[0];
    self->visitor_level = levels[1];
    for (int i = 0; i < SHARDS; i++) {
        self->shards[i].lock = PyThread_allocate_lock();
        if (!self->shards[i].lock) {
            PyErr_NoMemory();
            return -1;
        }
    }
    return 0;
}

static void
Counter_dealloc(Counter *self)
{
    for (int i = 0; i < SHARDS; i++) {
        counts_free(&self->shards[i].counts);
        free(self->shards[i].lines.items);
        if (self->shards[i].lock)
            PyThread_free_lock(self->shards[i].lock);
    }
    free(self->layout.program);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int
check_ready(Counter *self)
{
    if (!self->shards[SHARDS - 1].lock) {
        PyErr_SetString(PyExc_RuntimeError, "Counter.__init__ was not called");
        return -1;
    }
    return 0;
}

/* A shard nobody is using, locked; NULL if all are busy. */
static Shard *
free_shard(Counter *self)
{
    for (int i = 0; i < SHARDS; i++)
        if (PyThread_acquire_lock(self->shards[i].lock, NOWAIT_LOCK))
            return &self->shards[i];
    return NULL;
}

static PyObject *
Counter_add(Counter *self, PyObject *args)
{
    PyObject *block;
    if (check_ready(self) < 0 || !PyArg_ParseTuple(args, "S:add", &block))
        return NULL;
    const char *data = PyBytes_AS_STRING(block); /* bytes are immutable: safe unlocked */
    Py_ssize_t size = PyBytes_GET_SIZE(block), lines = 0;
    Array left = {NULL, 0, 0}, own = {NULL, 0, 0};
    int failed = 0, counted = 0;
    uint64_t bytes_sent = 0;
    Py_BEGIN_ALLOW_THREADS
    /* Usually a shard of its own (there are more shards than threads), whose line array is
     * reused; with more threads than shards, the block is parsed into an array of its own and
     * waits for the first shard only to be counted. */
    Shard *shard = free_shard(self);
    Array *accepted = shard ? &shard->lines : &own;
    accepted->n = 0;
    failed = parse_block(data, size, &self->layout, self->seed, accepted, &left, &lines) < 0;
    /* Mostly left over: not this format after all, and polars reads the whole block faster
     * than the left-overs one by one; nothing of it is counted. */
    if (!failed && (Py_ssize_t)left.n * 2 <= lines) {
        if (!shard) {
            shard = &self->shards[0];
            PyThread_acquire_lock(shard->lock, WAIT_LOCK);
        }
        failed = !shard_ready(self, shard) ||
                 count_lines(&shard->counts, accepted->items, accepted->n, self->layout.combined,
                             self->seed, self->window_start, self->window_end, &self->bounds,
                             &bytes_sent) < 0;
        counted = 1;
    }
    if (shard)
        PyThread_release_lock(shard->lock);
    free(own.items);
    Py_END_ALLOW_THREADS
    if (failed) {
        free(left.items);
        return PyErr_NoMemory();
    }
    PyObject *indices = NULL, *texts = NULL;
    if (counted) {
        indices = PyList_New((Py_ssize_t)left.n);
        texts = PyList_New((Py_ssize_t)left.n);
        for (size_t i = 0; indices && texts && i < left.n; i++) {
            Leftover *l = (Leftover *)left.items + i;
            PyObject *k = PyLong_FromSsize_t(l->index);
            PyObject *v = PyBytes_FromStringAndSize(data + l->start, l->len);
            if (!k || !v) {
                Py_XDECREF(k);
                Py_XDECREF(v);
                Py_CLEAR(indices);
                break;
            }
            PyList_SET_ITEM(indices, i, k);
            PyList_SET_ITEM(texts, i, v);
        }
    }
    else {
        indices = Py_NewRef(Py_None);
        texts = Py_NewRef(Py_None);
    }
    free(left.items);
    if (!indices || !texts) {
        Py_XDECREF(indices);
        Py_XDECREF(texts);
        return NULL;
    }
    return Py_BuildValue("(nLNN)", lines, (long long)(int64_t)bytes_sent, indices, texts);
}

static PyObject *
ascii_str(const char *p, size_t n)
{
    return PyUnicode_DecodeASCII(p, (Py_ssize_t)n, "strict");
}

/* Append a new reference to a list (and let it go); -1 if it is NULL or cannot be added. */
static int
append_new(PyObject *list, PyObject *item)
{
    int failed = !item || PyList_Append(list, item) < 0;
    Py_XDECREF(item);
    return failed ? -1 : 0;
}

/* Keys (str) and counts of the entries with a count; with `sums` also their bytes (as int64,
 * wrapped, in the same order); with `wkeys` (hosts) also the keys and window counts of those
 * with a window count, sharing the str objects. */
static int
table_lists(Table *t, PyObject **keys, PyObject **counts, PyObject **wkeys, PyObject **wcounts,
            PyObject **sums)
{
    *keys = PyList_New(0);
    *counts = PyList_New(0);
    if (!*keys || !*counts)
        return -1;
    if (sums && !(*sums = PyList_New(0)))
        return -1;
    if (wkeys) {
        *wkeys = PyList_New(0);
        *wcounts = PyList_New(0);
        if (!*wkeys || !*wcounts)
            return -1;
    }
    for (size_t i = 0; i <= t->mask; i++) {
        Entry *e = &t->slots[i];
        if (!e->key || !e->count)
            continue;
        PyObject *k = ascii_str(e->key, e->len), *v = PyLong_FromUnsignedLongLong(e->count);
        int failed = !k || !v || PyList_Append(*keys, k) < 0 || PyList_Append(*counts, v) < 0;
        Py_XDECREF(v);
        if (!failed && sums)
            failed = append_new(*sums, PyLong_FromLongLong((long long)(int64_t)e->bytes)) < 0;
        if (!failed && wkeys && e->window) {
            v = PyLong_FromUnsignedLongLong(e->window);
            failed = !v || PyList_Append(*wkeys, k) < 0 || PyList_Append(*wcounts, v) < 0;
            Py_XDECREF(v);
        }
        Py_XDECREF(k);
        if (failed)
            return -1;
    }
    return 0;
}

/* Two lists from parallel arrays; `full` (optional) says which slots hold something. */
static int
int_lists(const int64_t *keys, const uint64_t *counts, const unsigned char *full, size_t n,
          PyObject **key_list, PyObject **count_list)
{
    *key_list = PyList_New(0);
    *count_list = PyList_New(0);
    if (!*key_list || !*count_list)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if ((full && !full[i]) || !counts[i])
            continue;
        PyObject *k = PyLong_FromLongLong(keys ? keys[i] : (long long)i);
        PyObject *v = PyLong_FromUnsignedLongLong(counts[i]);
        int failed = !k || !v || PyList_Append(*key_list, k) < 0 ||
                     PyList_Append(*count_list, v) < 0;
        Py_XDECREF(k);
        Py_XDECREF(v);
        if (failed)
            return -1;
    }
    return 0;
}

/* An hour's keys and counts: the hours, requests, 4xx and 5xx, and the offsets (`+0530`), in
 * five lists of the same order. */
static int
hour_lists(const IntTable *t, PyObject *lists[5])
{
    for (int k = 0; k < 5; k++)
        if (!(lists[k] = PyList_New(0)))
            return -1;
    for (size_t i = 0; i <= t->mask; i++) {
        if (!t->full[i] || !t->counts[i].requests)
            continue;
        const HourCounts *h = &t->counts[i];
        int64_t code = ((t->keys[i] % HOUR_US) + HOUR_US) % HOUR_US, zone = code % 2400;
        char offset[5] = {code >= 2400 ? '-' : '+', (char)('0' + zone / 1000),
                          (char)('0' + zone / 100 % 10), (char)('0' + zone / 10 % 10),
                          (char)('0' + zone % 10)};
        if (append_new(lists[0], PyLong_FromLongLong(t->keys[i] - code)) < 0 ||
            append_new(lists[4], PyUnicode_FromStringAndSize(offset, 5)) < 0 ||
            append_new(lists[1], PyLong_FromUnsignedLongLong(h->requests)) < 0 ||
            append_new(lists[2], PyLong_FromUnsignedLongLong(h->client_errors)) < 0 ||
            append_new(lists[3], PyLong_FromUnsignedLongLong(h->server_errors)) < 0)
            return -1;
    }
    return 0;
}

/* The queries' sample as two lists: the URLs (str: the key up to its `?`) and the key_hashes. */
static int
sample_lists(const Sample *s, PyObject **keys, PyObject **hashes)
{
    if (!(*keys = PyList_New(0)) || !(*hashes = PyList_New(0)))
        return -1;
    for (size_t p = 0; p < s->n_parts; p++) {
        const Table *t = &s->parts[p].keys;
        for (size_t i = 0; t->slots && i <= t->mask; i++) {
            const Entry *e = &t->slots[i];
            if (!e->key)
                continue;
            const char *mark = memchr(e->key, '?', e->len);
            if (append_new(*keys, ascii_str(e->key, mark ? (size_t)(mark - e->key) : e->len)) < 0 ||
                append_new(*hashes, PyLong_FromUnsignedLongLong(e->bytes)) < 0)
                return -1;
        }
    }
    return 0;
}

/* The visitors' sample as two lists: the days (int, since 1970; one object a day) and the
 * key_hashes. */
static int
hashes_lists(const HashSample *s, PyObject **days, PyObject **hashes)
{
    if (!(*days = PyList_New((Py_ssize_t)s->used)) || !(*hashes = PyList_New((Py_ssize_t)s->used)))
        return -1;
    Py_ssize_t n = 0;
    for (size_t p = 0; p < s->n_days; p++) {
        const DayHashes *d = &s->days[p];
        PyObject *day = PyLong_FromLongLong((long long)d->day);
        if (!day)
            return -1;
        for (size_t i = 0; i <= d->mask + (size_t)d->zero; i++) {
            uint64_t kh;
            if (i <= d->mask) {
                if (!d->slots || !(kh = d->slots[i]))
                    continue;
            }
            else
                kh = 0; /* the key_hash 0, after the slots */
            PyObject *hash = PyLong_FromUnsignedLongLong(kh);
            if (!hash || n >= (Py_ssize_t)s->used) {
                Py_XDECREF(hash);
                Py_DECREF(day);
                if (hash)
                    PyErr_SetString(PyExc_SystemError, "the visitors' count is off");
                return -1;
            }
            PyList_SET_ITEM(*days, n, Py_NewRef(day));
            PyList_SET_ITEM(*hashes, n, hash);
            n++;
        }
        Py_DECREF(day);
    }
    if (n != (Py_ssize_t)s->used) {
        PyErr_SetString(PyExc_SystemError, "the visitors' count is off");
        return -1;
    }
    return 0;
}

/* The durations' keys and counts into `dict`: duration_urls (None: no path),
 * duration_buckets, duration_requests. */
static int
durations_lists(const Table *t, PyObject *dict)
{
    PyObject *lists[3] = {PyList_New(0), PyList_New(0), PyList_New(0)};
    int failed = !lists[0] || !lists[1] || !lists[2];
    for (size_t i = 0; !failed && i <= t->mask; i++) {
        const Entry *e = &t->slots[i];
        if (!e->key)
            continue;
        const unsigned char *key = (const unsigned char *)e->key;
        int16_t bucket = (int16_t)(uint16_t)(key[0] | key[1] << 8);
        PyObject *url = key[2] ? ascii_str(e->key + 3, e->len - 3) : Py_NewRef(Py_None);
        failed = append_new(lists[0], url) < 0 ||
                 append_new(lists[1], PyLong_FromLong(bucket)) < 0 ||
                 append_new(lists[2], PyLong_FromUnsignedLongLong(e->count)) < 0;
    }
    const char *names[3] = {"duration_urls", "duration_buckets", "duration_requests"};
    for (int k = 0; k < 3; k++) {
        failed = failed || PyDict_SetItemString(dict, names[k], lists[k]) < 0;
        Py_XDECREF(lists[k]);
    }
    return failed ? -1 : 0;
}

/* The virtual hosts into `dict`: vhosts, vhost_requests, vhost_bytes. */
static int
vhosts_lists(Table *t, PyObject *dict)
{
    PyObject *lists[3] = {NULL};
    int failed = table_lists(t, &lists[0], &lists[1], NULL, NULL, &lists[2]) < 0;
    const char *names[3] = {"vhosts", "vhost_requests", "vhost_bytes"};
    for (int k = 0; k < 3; k++) {
        failed = failed || PyDict_SetItemString(dict, names[k], lists[k]) < 0;
        Py_XDECREF(lists[k]);
    }
    return failed ? -1 : 0;
}

/* The breakdowns (lib/logs/counting/counted.py makes them frames), as a dict. */
static PyObject *
breakdown_dict(Counts *c, PyObject *hour_more[3], PyObject *host_bytes)
{
    PyObject *urls = NULL, *requests = NULL, *sent = NULL, *query_urls = NULL, *queries = NULL;
    PyObject *days = NULL, *visitors = NULL, *dict = NULL;
    if (table_lists(&c->urls, &urls, &requests, NULL, NULL, &sent) < 0)
        goto done;
    if (c->null_url_requests &&
        (PyList_Append(urls, Py_None) < 0 ||
         append_new(requests, PyLong_FromUnsignedLongLong(c->null_url_requests)) < 0 ||
         append_new(sent, PyLong_FromLongLong((long long)(int64_t)c->null_url_bytes)) < 0))
        goto done;
    if (sample_lists(&c->queries, &query_urls, &queries) < 0 ||
        hashes_lists(&c->visitors, &days, &visitors) < 0)
        goto done;
    dict = Py_BuildValue("{s:O,s:O,s:O,s:O,s:O,s:O,s:O,s:K,s:O,s:O,s:I,s:O,s:O,s:I}", "host_bytes",
                         host_bytes, "hour_client_errors", hour_more[0], "hour_server_errors",
                         hour_more[1], "hour_offsets", hour_more[2], "urls", urls,
                         "url_requests", requests, "url_bytes", sent,
                         "url_error", (unsigned long long)c->url_error, "query_urls", query_urls,
                         "queries", queries, "query_level", c->queries.level, "visitor_days",
                         days, "visitors", visitors, "visitor_level", c->visitors.level);
    if (dict && (durations_lists(&c->durations, dict) < 0 ||
                 vhosts_lists(&c->vhosts, dict) < 0))
        Py_CLEAR(dict);
done:
    Py_XDECREF(urls);
    Py_XDECREF(requests);
    Py_XDECREF(sent);
    Py_XDECREF(query_urls);
    Py_XDECREF(queries);
    Py_XDECREF(days);
    Py_XDECREF(visitors);
    return dict;
}

#define RESULT_ITEMS 16

static PyObject *
Counter_result(Counter *self, PyObject *Py_UNUSED(ignored))
{
    if (check_ready(self) < 0)
        return NULL;
    PyObject *items[RESULT_ITEMS] = {NULL};
    PyObject *result = NULL;
    /* All shards locked: no add() counts meanwhile. The others are merged into the first. */
    for (int i = 0; i < SHARDS; i++)
        PyThread_acquire_lock(self->shards[i].lock, WAIT_LOCK);
    /* The shard with the most visitors (the biggest tables) takes the others' counts. */
    for (int i = 1; i < SHARDS; i++)
        if (self->shards[i].ready && (!self->shards[0].ready ||
                                      self->shards[i].counts.visitors.used >
                                          self->shards[0].counts.visitors.used)) {
            Counts counts = self->shards[0].counts;
            int ready = self->shards[0].ready;
            self->shards[0].counts = self->shards[i].counts;
            self->shards[0].ready = 1;
            self->shards[i].counts = counts;
            self->shards[i].ready = ready;
        }
    Counts *c = &self->shards[0].counts;
    PyObject *hours[5] = {NULL}, *host_bytes = NULL;
    int failed = !shard_ready(self, &self->shards[0]);
    for (int i = 1; i < SHARDS && !failed; i++) {
        if (!self->shards[i].ready)
            continue;
        failed = counts_merge(c, &self->shards[i].counts, &self->bounds) < 0;
        counts_free(&self->shards[i].counts);
        self->shards[i].ready = 0;
    }
    if (failed) {
        PyErr_NoMemory();
        goto done;
    }
    items[0] = PyLong_FromLongLong(c->requests);
    if (!items[0] ||
        table_lists(&c->hosts, &items[1], &items[2], &items[3], &items[4], &host_bytes) < 0 ||
        hour_lists(&c->hours, hours) < 0 ||
        int_lists(NULL, c->statuses, NULL, 1000, &items[7], &items[8]) < 0 ||
        table_lists(&c->offsets, &items[9], &items[10], NULL, NULL, NULL) < 0)
        goto done;
    items[5] = Py_NewRef(hours[0]);
    items[6] = Py_NewRef(hours[1]);
    items[11] = c->requests ? PyLong_FromLongLong(c->first) : Py_NewRef(Py_None);
    items[12] = c->requests ? PyLong_FromLongLong(c->last) : Py_NewRef(Py_None);
    if (!items[11] || !items[12])
        goto done;
    if (self->layout.combined) {
        if (table_lists(&c->pairs, &items[13], &items[14], NULL, NULL, NULL) < 0)
            goto done;
    }
    else {
        items[13] = Py_NewRef(Py_None);
        items[14] = Py_NewRef(Py_None);
    }
    if (!(items[15] = breakdown_dict(c, hours + 2, host_bytes)))
        goto done;
    result = PyTuple_New(RESULT_ITEMS);
    if (!result)
        goto done;
    for (int i = 0; i < RESULT_ITEMS; i++) {
        PyTuple_SET_ITEM(result, i, items[i]);
        items[i] = NULL;
    }
done:
    for (int i = SHARDS - 1; i >= 0; i--)
        PyThread_release_lock(self->shards[i].lock);
    for (int i = 0; i < RESULT_ITEMS; i++)
        Py_XDECREF(items[i]);
    for (int i = 0; i < 5; i++)
        Py_XDECREF(hours[i]);
    Py_XDECREF(host_bytes);
    return result;
}

static PyMethodDef Counter_methods[] = {
    {"add", (PyCFunction)Counter_add, METH_VARARGS,
     "add(block: bytes) -> (lines, fast_bytes_sent, leftover_indices, leftover_lines)\n\n"
     "Scan a block of whole lines (the GIL released) and count its well-formed lines. The\n"
     "others come back as their 0-based indices in the block and their bytes as read (with\n"
     "a trailing CR), for the polars path. fast_bytes_sent is the block's byte total of the\n"
     "counted lines, wrapped to int64 like polars' sum (the Counter does not keep it). When\n"
     "most lines are left over nothing is counted and both lists are None."},
    {"result", (PyCFunction)Counter_result, METH_NOARGS,
     "result() -> (requests, host_keys, host_counts, window_keys, window_counts, hour_keys,\n"
     "hour_counts, status_keys, status_counts, offset_keys, offset_counts, first_us, last_us,\n"
     "pair_keys, pair_counts, breakdowns): everything counted so far; times in microseconds\n"
     "UTC, hours floored; first/last None without requests, pairs None unless combined.\n"
     "breakdowns is a dict of lists: host_bytes (beside host_keys), hour_client_errors and\n"
     "hour_server_errors and hour_offsets (beside hour_keys: the hours are per UTC hour and\n"
     "offset as written), urls (None: no path), url_requests, url_bytes,\n"
     "url_error; query_urls and queries (key hashes), query_level; visitor_days (since\n"
     "1970) and visitors (key hashes), visitor_level; duration_urls, duration_buckets and\n"
     "duration_requests (a tail's time taken); vhosts, vhost_requests, vhost_bytes. Bytes are\n"
     "int64 sums, wrapped."},
    {NULL, NULL, 0, NULL},
};

static PyObject *
Counter_breakdowns(PyObject *Py_UNUSED(self), void *Py_UNUSED(closure))
{
    Py_RETURN_TRUE;
}

static PyGetSetDef Counter_getset[] = {
    {"breakdowns", Counter_breakdowns, NULL,
     "True: it counts the breakdowns (bytes per host and URL, 4xx/5xx per hour, URLs, their\n"
     "queries, visitors) that lib/logs/parsing/accelerators.py asks of a counter.",
     NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject CounterType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "lib.logs.parsing._clf.Counter",
    .tp_doc = PyDoc_STR("Counter(combined, window_start_us, window_end_us, *, seed=<the "
                        "process's>, tail=None, dash_ident=False, url_cap=, query_cap=, "
                        "visitor_cap=, query_level=0, visitor_level=0): the counts of the "
                        "well-formed Common (or Combined) lines of the blocks added to it; "
                        "window: start <= t < end, microseconds UTC. seed (tests only) seeds "
                        "its hash tables. tail (bytes, lib/logs/parsing/tails.py): Combined as "
                        "the regex kind reads it, then these fields to the line's end; "
                        "dash_ident: its second field is the literal '-'. The caps and levels "
                        "are lib/logs/counting/bounded.py's (no cap: unbounded)."),
    .tp_basicsize = sizeof(Counter),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Counter_init,
    .tp_dealloc = (destructor)Counter_dealloc,
    .tp_methods = Counter_methods,
    .tp_getset = Counter_getset,
};

/* ------------------------------------------------------------------------------------------ */
/* What tests look into (tests/unit/logs/test_clf_hash.py).                                   */

static PyObject *
module_hash(PyObject *Py_UNUSED(module), PyObject *args)
{
    const char *key;
    Py_ssize_t len;
    unsigned long long seed;
    if (!PyArg_ParseTuple(args, "y#K:_hash", &key, &len, &seed))
        return NULL;
    return PyLong_FromUnsignedLongLong(hash_bytes(key, (size_t)len, seed));
}

/* Count keys into a table of their kind seeded with `seed`; -1 with an exception set. */
static int
probe_keys(PyObject *keys, uint64_t seed, int guard, Probing *out)
{
    Py_ssize_t n = PyList_GET_SIZE(keys);
    int ints = n && PyLong_Check(PyList_GET_ITEM(keys, 0)), failed = 0;
    Table t;
    IntTable it;
    if (ints ? itable_init(&it, 64, seed) < 0 : table_init(&t, 16, 1, seed) < 0) {
        PyErr_NoMemory();
        failed = 1;
    }
    Probing *probing = ints ? &it.probing : &t.probing;
    probing->max_reseeds = guard ? MAX_RESEEDS : 0;
    for (Py_ssize_t i = 0; i < n && !failed; i++) {
        PyObject *key = PyList_GET_ITEM(keys, i);
        uint64_t *count = NULL;
        if (ints && PyLong_Check(key)) {
            long long value = PyLong_AsLongLong(key);
            if (value == -1 && PyErr_Occurred()) {
                failed = 1;
                break;
            }
            HourCounts *hour = itable_get(&it, value);
            count = hour ? &hour->requests : NULL;
        }
        else if (!ints && PyBytes_Check(key)) {
            Entry *e = table_get(&t, PyBytes_AS_STRING(key), (size_t)PyBytes_GET_SIZE(key));
            count = e ? &e->count : NULL;
        }
        else {
            PyErr_SetString(PyExc_TypeError, "_table_probes: keys are all bytes or all int");
            failed = 1;
            break;
        }
        if (!count) {
            PyErr_NoMemory();
            failed = 1;
            break;
        }
        (*count)++;
    }
    *out = *probing;
    if (ints)
        itable_free(&it);
    else
        table_free(&t);
    return failed ? -1 : 0;
}

static PyObject *
module_table_probes(PyObject *Py_UNUSED(module), PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"keys", "seed", "guard", NULL};
    PyObject *keys;
    unsigned long long seed;
    int guard = 1;
    Probing probing;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!K|$p:_table_probes", kwlist, &PyList_Type,
                                     &keys, &seed, &guard) ||
        probe_keys(keys, seed, guard, &probing) < 0)
        return NULL;
    return Py_BuildValue("(KI)", (unsigned long long)probing.steps, probing.reseeds);
}

/* key_hashes(keys: list[bytes]) -> list[int] */
static PyObject *
module_key_hashes(PyObject *Py_UNUSED(module), PyObject *keys)
{
    if (!PyList_Check(keys)) {
        PyErr_SetString(PyExc_TypeError, "key_hashes: a list of bytes");
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(keys);
    PyObject *hashes = PyList_New(n);
    for (Py_ssize_t i = 0; hashes && i < n; i++) {
        PyObject *key = PyList_GET_ITEM(keys, i);
        if (!PyBytes_Check(key)) {
            PyErr_SetString(PyExc_TypeError, "key_hashes: a list of bytes");
            Py_CLEAR(hashes);
            break;
        }
        PyObject *hash = PyLong_FromUnsignedLongLong(
            key_hash(PyBytes_AS_STRING(key), (size_t)PyBytes_GET_SIZE(key), -1));
        if (!hash)
            Py_CLEAR(hashes);
        else
            PyList_SET_ITEM(hashes, i, hash);
    }
    return hashes;
}

/* _match_tail(text, program): where the tail's fields are in text, or None. */
static PyObject *
module_match_tail(PyObject *Py_UNUSED(module), PyObject *args)
{
    const char *text, *program;
    Py_ssize_t len, program_len;
    Tail tail;
    Py_ssize_t spans[2 * MAX_TAIL_OPS];
    if (!PyArg_ParseTuple(args, "y#y#:_match_tail", &text, &len, &program, &program_len) ||
        tail_compile(&tail, program, program_len) < 0)
        return NULL;
    if (!tail_match(&tail, text, len, 0, spans))
        Py_RETURN_NONE;
    PyObject *found = PyList_New(tail.fields);
    for (int f = 0; found && f < tail.fields; f++) {
        PyObject *span = Py_BuildValue("(nn)", spans[2 * f], spans[2 * f + 1]);
        if (!span)
            Py_CLEAR(found);
        else
            PyList_SET_ITEM(found, f, span);
    }
    return found;
}

static PyMethodDef MODULE_METHODS[] = {
    {"key_hashes", module_key_hashes, METH_O,
     "key_hashes(keys: list[bytes]) -> list[int]: lib/logs/counting/bounded.py's key_hash of\n"
     "each key (its CRC-32 << 32 | its Adler-32, zlib's)."},
    {"_hash", module_hash, METH_VARARGS,
     "_hash(key: bytes, seed: int) -> int: the tables' 64-bit hash of key under seed."},
    {"_table_probes", (PyCFunction)(void (*)(void))module_table_probes,
     METH_VARARGS | METH_KEYWORDS,
     "_table_probes(keys: list[bytes] | list[int], seed: int, *, guard=True) -> (probes,\n"
     "reseeds): the slots stepped over past the first while counting keys into a table seeded\n"
     "with seed (the hosts' kind for bytes, the hours' for int), and how often it re-seeded\n"
     "itself (never without the guard)."},
    {"_match_tail", module_match_tail, METH_VARARGS,
     "_match_tail(text: bytes, program: bytes) -> list[(start, end)] | None: whether text is\n"
     "the tail `program` (lib/logs/parsing/tails.py) as a Counter matches it after a user\n"
     "agent's closing quote, and where each of its fields is."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef MODULE = {
    PyModuleDef_HEAD_INIT, "_clf",
    "Compiled fast path of the Common and Combined Log Formats, and of Combined with fields "
    "after it (see _clf.c).", -1,
    MODULE_METHODS,
};

/* What this build was compiled with of the grammar (_clf_grammar.h), for a test to compare with
 * lib/logs/parsing/clf.py: a build older than the grammar shows. */
static PyObject *
grammar(void)
{
    PyObject *months = PyTuple_New(12), *digits = PyList_New(0);
    for (int m = 0; months && m < 12; m++)
        PyTuple_SET_ITEM(months, m, PyUnicode_FromStringAndSize(CLF_MONTHS[m], 3));
    for (size_t i = 0; digits && i < sizeof CLF_STAMP_DIGITS / sizeof CLF_STAMP_DIGITS[0]; i++)
    {
        PyObject *at = PyLong_FromLong(CLF_STAMP_DIGITS[i]);
        if (!at || PyList_Append(digits, at) < 0)
            Py_CLEAR(digits);
        Py_XDECREF(at);
    }
    if (!months || !digits || PyErr_Occurred()) {
        Py_XDECREF(months);
        Py_XDECREF(digits);
        return NULL;
    }
    return Py_BuildValue("{s:i,s:i,s:i,s:(ii),s:N,s:N,s:{s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i},s:s}",
                         "bytes_digits", CLF_BYTES_DIGITS, "status_digits", CLF_STATUS_DIGITS,
                         "stamp_width", CLF_STAMP_WIDTH, "certain_years", CLF_YEAR_MIN,
                         CLF_YEAR_MAX, "months", months, "stamp_digits", digits, "stamp_at",
                         "day", CLF_DAY_AT, "month", CLF_MONTH_AT, "year", CLF_YEAR_AT, "hour",
                         CLF_HOUR_AT, "minute", CLF_MINUTE_AT, "second", CLF_SECOND_AT, "sign",
                         CLF_SIGN_AT, "zone", CLF_ZONE_AT, "tail_ops", TAIL_OPS);
}

PyMODINIT_FUNC
PyInit__clf(void)
{
    process_seed = fresh_seed();
    log_gamma = log(1.05); /* bounded.GAMMA */
    if (!c_numeric && !(c_numeric = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0)))
        return PyErr_NoMemory();
    if (PyType_Ready(&CounterType) < 0)
        return NULL;
    PyObject *module = PyModule_Create(&MODULE);
    if (!module)
        return NULL;
    PyObject *rules = grammar();
    if (!rules || PyModule_AddObjectRef(module, "Counter", (PyObject *)&CounterType) < 0 ||
        PyModule_AddObjectRef(module, "GRAMMAR", rules) < 0) {
        Py_XDECREF(rules);
        Py_DECREF(module);
        return NULL;
    }
    Py_DECREF(rules);
    return module;
}
