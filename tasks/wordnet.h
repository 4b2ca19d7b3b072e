/*
 * wordnet: the WordNet 3.0 database files (Debian package wordnet-base,
 * /usr/share/wordnet/data.{noun,verb,adj,adv}) and the tasks built from them.
 *
 * Data line format (wndb(5)), fields separated by spaces:
 *   synset_offset(8 dec) lex_filenum(2 dec) ss_type(n|v|a|s|r) w_cnt(2 HEX)
 *   {word lex_id(1 hex)} x w_cnt  p_cnt(3 dec)
 *   {pointer_symbol offset(8 dec) pos(n|v|a|s|r) source/target(4 hex)} x p_cnt
 *   [verbs: f_cnt(2 dec) {+ f_num(2 dec) w_num(2 hex)} x f_cnt]  | gloss
 * Lines starting with two spaces are the license header.  The offset of a line
 * is its byte offset in the file: wn_load checks that, so a re-encoded file
 * (CRLF, edited) is reported instead of silently breaking pointers.
 *
 * Glosses: "definition; \"example\"; \"example\"".  The definition is the text
 * before the first `; "` (empty when the gloss starts with a quote); each example
 * is a piece after it, without its quotes (a trailing attribution such as
 * `"..." - Shakespeare` is dropped with the closing quote).
 *
 * Synset keys: WN_KEY(pos, offset) where pos is the data file's letter (n, v, a,
 * r); an adjective satellite ('s') lives in data.adj and has key WN_KEY('a', .).
 *
 * Splits (train / dev / test = 80 / 10 / 10): wn_split_of hashes the key with a
 * fixed salt, independent of any seed, so every run and every task agrees on
 * which synset belongs to which split.
 *
 * Tasks (loaders behind the registry):
 *  - wn-supersense: definition -> lexicographer file name (45 classes, lexnames(5)).
 *  - wn-pos: definition -> n / v / a / r (satellites counted as a).
 *  - wn-hypernym: (definition of x, definition of y) -> is y a direct hypernym of x
 *    (pointer @ or @i)?  Positives: every such (x, y) of nouns and verbs.  Each
 *    positive gets one negative (so labels are balanced), drawn from the seed:
 *    half are siblings (another hyponym z of the same hypernym y, z not a hypernym
 *    of x; a random synset when x has none) and half random synsets of x's POS
 *    that are not x nor a hypernym of x.
 *    Guarantee: a pair belongs to the split of its first synset x, and a train pair
 *    is made of train synsets only (both positives and negatives; positives whose
 *    hypernym is not in train are dropped).  Hence no synset that is the first
 *    element of a dev or test pair appears anywhere in train, in either position.
 *    The second element of a dev/test pair may be a synset of any split (a
 *    hypernym seen in training, as when a new concept is attached to a known
 *    taxonomy).  Different synsets can share an identical definition; that text
 *    can then appear in two splits.
 * Synsets whose definition is empty are left out of every task.
 */
#ifndef TASKS_WORDNET_H
#define TASKS_WORDNET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define WN_DEFAULT_DIR   "/usr/share/wordnet"
#define WN_NLEXFILES     45
#define WN_MAX_WORDS     255                 /* w_cnt is 2 hex digits */
#define WN_MAX_PTRS      999                 /* p_cnt is 3 decimal digits */
#define WN_MAX_FILE      ((size_t)256 << 20) /* a data file larger than this is refused */
#define WN_KEY(pos, off) (((uint64_t)(unsigned char)(pos) << 32) | (uint64_t)(uint32_t)(off))

enum wn_split { WN_TRAIN = 0, WN_DEV = 1, WN_TEST = 2 };

struct wn_span {
    uint32_t off, len; /* byte range in the parsed line */
};

struct wn_ptr {
    char sym[3];      /* pointer symbol, NUL-terminated ("@", "@i", "~", ...) */
    char pos;         /* target ss_type letter n|v|a|s|r */
    uint32_t offset;  /* target synset offset */
    uint16_t src_tgt; /* source/target word numbers (0 = semantic pointer) */
};

/* One parsed data line.  Spans point into the caller's line. */
struct wn_line {
    uint32_t offset;
    int lex_filenum; /* 0 .. WN_NLEXFILES-1 */
    char ss_type;    /* n v a s r */
    int nwords;
    struct wn_span words[WN_MAX_WORDS];
    int nptrs;
    struct wn_ptr ptrs[WN_MAX_PTRS];
    int nframes;          /* verb frames (verbs only) */
    struct wn_span gloss; /* after "|" and the spaces that follow; trailing spaces trimmed */
};

/* Parse one data line line[0..len) (no newline).  Pure: no allocation, no I/O.
 * Errors (ERR_FORMAT) name the field and byte column, e.g.
 * "column 14: w_cnt: expected 2 hex digits, got 'zz'"; a license header line
 * (two leading spaces) is an error too: callers skip those first. */
int wn_parse_line(struct wn_line *out, const char *line, size_t len, struct err *e);

/* Split a gloss g[0..len) into its definition *def and up to max_ex examples
 * ex[0..*nex); spans are relative to g, trimmed of spaces, quotes and ';'. */
void wn_gloss_split(const char *g, size_t len, struct wn_span *def, struct wn_span *ex, int max_ex,
                    int *nex);

/* Lexicographer file name of a lex_filenum ("noun.animal"), or NULL. */
const char *wn_lexname(int lex_filenum);

/* Split of a synset: hash of its key (see top). pos may be 's' (treated as 'a'). */
int wn_split_of(char pos, uint32_t offset);

struct wn_synset {
    uint32_t offset;
    char pos;        /* ss_type n v a s r */
    uint8_t lexfile; /* lex_filenum */
    char *def;       /* owned: definition ("" when the gloss has none) */
    char *examples;  /* owned: example sentences joined by '\n', or NULL */
    uint32_t hyper0; /* first of this synset's direct hypernyms in wordnet.hyper */
    uint32_t nhyper; /* how many (@ and @i pointers) */
};

struct wordnet {
    struct wn_synset *syn; /* (n) owned; by file (noun, verb, adj, adv), then offset */
    size_t n;
    uint32_t *hyper; /* (nhyper) owned: synset indices */
    size_t nhyper;
    size_t file_start[5]; /* syn[file_start[f] .. file_start[f+1]) come from file f */
};

/* Load data.noun, data.verb, data.adj and data.adv from dir (NULL = WN_DEFAULT_DIR).
 * A missing file is ERR_IO saying to install wordnet-base; a malformed line is
 * ERR_FORMAT "PATH:LINE: column C: ...". */
int wn_load(struct wordnet *wn, const char *dir, struct err *e);
void wn_free(struct wordnet *wn); /* NULL-safe */

/* Read the whole file path into a malloc'ed, NUL-terminated *buf (*len bytes).  A file of
 * exactly limit bytes is accepted, a longer one is ERR_LIMIT naming the file and the limit
 * (wn_load passes WN_MAX_FILE; a parameter so that the boundary can be tested cheaply). */
int wn_read_file(const char *path, size_t limit, char **buf, size_t *len, struct err *e);

/* Index in wn->syn of the synset at offset in the data file of pos, or -1. */
long wn_find(const struct wordnet *wn, char pos, uint32_t offset);

/* Key WN_KEY of synset index i. */
uint64_t wn_key(const struct wordnet *wn, size_t i);

/* Plain-text corpus for MLM pretraining: every non-empty definition and every
 * example sentence as one line each, in file order.  *lines (n) is malloc'ed,
 * each line too; free with wn_corpus_free. */
int wn_corpus(const char *dir, char ***lines, size_t *n, struct err *e);
void wn_corpus_free(char **lines, size_t n);

#endif
