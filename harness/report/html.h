/*
 * html: the pieces every peftbench HTML page is made of -- text escaping, the page skeleton
 * (doctype, a Content-Security-Policy that forbids any network access, inline CSS and
 * JavaScript) and figures inlined from gnuplot's SVG files.
 *
 * Why: report.html and history.html must open offline, from a mail attachment or an archive,
 * and everything they show comes from files a sweep wrote (sweep names, labels, failure
 * messages, config text) -- any of which may hold '<' or '&'.  All text goes through
 * html_esc; only markup built here and SVG files that pass html_svg's checks are written raw.
 */
#ifndef HARNESS_REPORT_HTML_H
#define HARNESS_REPORT_HTML_H

#include <stddef.h>

#include "base/err.h"
#include "base/strbuf.h"

#define HTML_SVG_MAX (8u << 20) /* bytes of one SVG figure inlined at most */

/* The style sheet and the table script every page shares.  The script makes each
 * <table class="sortable"> sort on a click of a header cell (th data-k="KEY", data-num for
 * numbers: empty cells last), filters the table id="trials" from the input id="filter" and
 * the select id="status" (rows with data-status), and applies a URL fragment
 * #sort=KEY&desc=1&filter=TEXT&status=S through those same functions.  It records what it
 * did as attributes (table data-sort, data-shown; body data-render-ms) for headless tests. */
extern const char html_css[];
extern const char html_table_js[];

/* Append s with & < > " ' escaped (safe in text and in quoted attribute values). */
void html_esc(struct strbuf *b, const char *s);

/* Append printf-formatted text, escaped. */
void html_escf(struct strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* <tag>escaped text</tag> (tag is markup written by the caller, e.g. "td" or "th class=n"). */
void html_el(struct strbuf *b, const char *tag, const char *text);

/* Append s percent-encoded for a relative URL path segment (unreserved characters kept). */
void html_url(struct strbuf *b, const char *s);

/* The page up to and including <body>: doctype, charset, the offline CSP, the title
 * (escaped) and css (markup: the caller's constant style sheet, inlined). */
void html_begin(struct strbuf *b, const char *title, const char *css);

/* js (the caller's constant script, inlined) and the end of the page. */
void html_end(struct strbuf *b, const char *js);

/* Inline the SVG file at path: its XML prolog, DOCTYPE and comments before the <svg> element
 * are dropped.  A file that is not an SVG, too large, or holds active content (script,
 * foreignObject, an on* event attribute, a javascript: URL) is refused (ERR_FORMAT / ERR_IO /
 * ERR_LIMIT): it is written by gnuplot in plots/ and inlining is trusting it. */
int html_svg(struct strbuf *b, const char *path, struct err *e);

/* Write b to path atomically (ERR_NOMEM when an append failed). */
int html_save(struct strbuf *b, const char *path, struct err *e);

#endif
