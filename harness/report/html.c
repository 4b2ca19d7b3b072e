/* html: escaping, the page skeleton and inlined SVG figures (see html.h). */
#include "harness/report/html.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/readfile.h"
#include "harness/sweep/results.h"

void html_esc(struct strbuf *b, const char *s)
{
    const char *run = s;
    for (const char *p = s; *p; p++) {
        const char *rep = *p == '&'    ? "&amp;"
                          : *p == '<'  ? "&lt;"
                          : *p == '>'  ? "&gt;"
                          : *p == '"'  ? "&quot;"
                          : *p == '\'' ? "&#39;"
                                       : NULL;
        if (!rep)
            continue;
        strbuf_put(b, run, (size_t)(p - run));
        strbuf_str(b, rep);
        run = p + 1;
    }
    strbuf_str(b, run);
}

void html_escf(struct strbuf *b, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    html_esc(b, buf);
}

void html_el(struct strbuf *b, const char *tag, const char *text)
{
    size_t n = strcspn(tag, " ");
    strbuf_printf(b, "<%s>", tag);
    html_esc(b, text);
    strbuf_printf(b, "</%.*s>", (int)n, tag);
}

void html_url(struct strbuf *b, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (isalnum(*p) || strchr("-._~", *p))
            strbuf_put(b, (const char *)p, 1);
        else
            strbuf_printf(b, "%%%02X", *p);
    }
}

void html_begin(struct strbuf *b, const char *title, const char *css)
{
    /* The CSP makes "opens offline" checkable: any fetch (a CDN script, a remote font or
     * image) is blocked and logged, and the browser test fails on console errors. */
    strbuf_str(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                  "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
                  "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\n"
                  "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    html_el(b, "title", title);
    strbuf_str(b, "\n<style>\n");
    strbuf_str(b, css);
    strbuf_str(b, "</style>\n</head>\n<body>\n");
}

void html_end(struct strbuf *b, const char *js)
{
    strbuf_str(b, "<script>\n");
    strbuf_str(b, js);
    strbuf_str(b, "</script>\n</body>\n</html>\n");
}

/* Case-insensitive search for needle in h. */
static const char *find_ci(const char *h, const char *needle)
{
    size_t n = strlen(needle);
    for (; *h; h++)
        if (strncasecmp(h, needle, n) == 0)
            return h;
    return NULL;
}

/* An on* event attribute: whitespace, "on", letters, optional space, '='. */
static bool has_event_attr(const char *s)
{
    for (const char *p = s; *p; p++) {
        if (!isspace((unsigned char)p[0]) || tolower((unsigned char)p[1]) != 'o' ||
            tolower((unsigned char)p[2]) != 'n' || !isalpha((unsigned char)p[3]))
            continue;
        const char *q = p + 3;
        while (isalpha((unsigned char)*q))
            q++;
        while (isspace((unsigned char)*q))
            q++;
        if (*q == '=')
            return true;
    }
    return false;
}

static int svg_check(const char *path, const char *svg, struct err *e)
{
    static const char *const bad[] = {"<script", "<foreignobject", "javascript:", "<iframe",
                                      "<embed", "<object"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (find_ci(svg, bad[i]))
            return ERR_SET(e, ERR_FORMAT, "%s: holds active content (%s): not inlined", path,
                           bad[i] + (bad[i][0] == '<'));
    if (has_event_attr(svg))
        return ERR_SET(e, ERR_FORMAT, "%s: holds an event attribute (on...=): not inlined",
                       path);
    return ERR_OK;
}

int html_svg(struct strbuf *b, const char *path, struct err *e)
{
    FILE *f;
    if (readfile_fopen(path, &f, e))
        return e->code;
    char *text = NULL;
    size_t len = 0;
    int rc = readfile_bounded(f, HTML_SVG_MAX, &text, &len);
    fclose(f);
    if (rc)
        return ERR_SET(e, rc, "%s: %s", path,
                       rc == ERR_LIMIT ? "larger than the inlining limit" : "cannot read");
    /* From the <svg element to the end of its closing tag: the prolog, DOCTYPE and comments
     * before it are XML-only (an HTML parser shows a stray DOCTYPE as text). */
    const char *start = find_ci(text, "<svg"), *end = NULL;
    for (const char *p = start; p && (p = find_ci(p, "</svg>")); p += 6)
        end = p + 6;
    if (!start || !end)
        rc = ERR_SET(e, ERR_FORMAT, "%s: not an SVG file (no <svg> element)", path);
    else
        rc = svg_check(path, start, e);
    if (rc == ERR_OK) {
        strbuf_put(b, start, (size_t)(end - start));
        strbuf_str(b, "\n");
    }
    free(text);
    return rc;
}

int html_save(struct strbuf *b, const char *path, struct err *e)
{
    if (b->oom)
        return ERR_SET(e, ERR_NOMEM, "out of memory writing %s", path);
    return results_write_atomic(path, b->p ? b->p : "", b->n, e);
}

/* ---- shared style and table script ------------------------------------------------------- */

const char html_css[] =
    "body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1400px;padding:0 16px;"
    "color:#222;background:#fff}\n"
    "h1{font-size:1.5em}h2{margin-top:2em;border-bottom:1px solid #ddd}\n"
    "table{border-collapse:collapse;margin:.5em 0;font-size:13px}\n"
    "th,td{border:1px solid #ddd;padding:3px 6px;text-align:left;vertical-align:top}\n"
    "th{background:#f3f3f3;position:sticky;top:0}\n"
    "table.sortable th{cursor:pointer;user-select:none}\n"
    "th[aria-sort=ascending]::after{content:' \\25B2'}\n"
    "th[aria-sort=descending]::after{content:' \\25BC'}\n"
    "td.n{text-align:right;font-variant-numeric:tabular-nums}\n"
    "tr.failed td{background:#fde8e8}tr.diverged td{background:#fff4dc}\n"
    ".bad{color:#b00020;font-weight:600}.good{color:#1b7f3b;font-weight:600}\n"
    "pre{background:#f7f7f7;padding:8px;overflow:auto;max-height:30em}\n"
    ".fig svg{max-width:100%;height:auto}.muted{color:#777}\n"
    ".controls{margin:.5em 0}.controls input{width:20em}\n";

/* Plain ES2017, no library: the page must work from a file:// URL with no network. */
const char html_table_js[] =
    "\"use strict\";\n"
    "function cellKey(tr, i, num) {\n"
    "  const t = tr.cells[i] ? tr.cells[i].textContent.trim() : \"\";\n"
    "  if (!num) return t.toLowerCase();\n"
    "  const v = parseFloat(t);\n"
    "  return isNaN(v) ? null : v;\n"
    "}\n"
    "/* Sort table by the header cell whose data-k is key. */\n"
    "function sortBy(table, key, desc) {\n"
    "  const ths = Array.from(table.tHead.rows[0].cells);\n"
    "  const i = ths.findIndex(th => th.dataset.k === key);\n"
    "  if (i < 0) return false;\n"
    "  const num = ths[i].hasAttribute(\"data-num\");\n"
    "  const body = table.tBodies[0];\n"
    "  const rows = Array.from(body.rows).map((tr, n) => [cellKey(tr, i, num), n, tr]);\n"
    "  rows.sort((a, b) => {\n"
    "    if (a[0] === null || b[0] === null) return a[0] === b[0] ? a[1] - b[1] : a[0] === null ? 1 : -1;\n"
    "    const c = a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;\n"
    "    return (desc ? -c : c) || a[1] - b[1];\n"
    "  });\n"
    "  rows.forEach(r => body.appendChild(r[2]));\n"
    "  ths.forEach(th => th.removeAttribute(\"aria-sort\"));\n"
    "  ths[i].setAttribute(\"aria-sort\", desc ? \"descending\" : \"ascending\");\n"
    "  table.dataset.sort = key + (desc ? \" desc\" : \" asc\");\n"
    "  return true;\n"
    "}\n"
    "/* Show the rows of table whose text holds text and whose data-status is status (\"\": any). */\n"
    "function filterBy(table, text, status) {\n"
    "  const q = text.trim().toLowerCase();\n"
    "  let shown = 0;\n"
    "  for (const tr of table.tBodies[0].rows) {\n"
    "    const ok = (!q || tr.textContent.toLowerCase().includes(q)) &&\n"
    "               (!status || tr.dataset.status === status);\n"
    "    tr.hidden = !ok;\n"
    "    shown += ok;\n"
    "  }\n"
    "  table.dataset.shown = String(shown);\n"
    "  const c = document.getElementById(\"shown\");\n"
    "  if (c) c.textContent = shown + \" of \" + table.tBodies[0].rows.length + \" shown\";\n"
    "}\n"
    "function controls() {\n"
    "  return [document.getElementById(\"trials\"), document.getElementById(\"filter\"),\n"
    "          document.getElementById(\"status\")];\n"
    "}\n"
    "function applyFilter() {\n"
    "  const [t, f, s] = controls();\n"
    "  if (t) filterBy(t, f ? f.value : \"\", s ? s.value : \"\");\n"
    "}\n"
    "/* #sort=KEY&desc=1&filter=TEXT&status=S: set the controls, then use them. */\n"
    "function applyHash() {\n"
    "  const p = new URLSearchParams(location.hash.slice(1));\n"
    "  const [t, f, s] = controls();\n"
    "  if (f && p.has(\"filter\")) f.value = p.get(\"filter\");\n"
    "  if (s && p.has(\"status\")) s.value = p.get(\"status\");\n"
    "  applyFilter();\n"
    "  if (t && p.has(\"sort\")) sortBy(t, p.get(\"sort\"), p.get(\"desc\") === \"1\");\n"
    "}\n"
    "for (const table of document.querySelectorAll(\"table.sortable\")) {\n"
    "  for (const th of table.tHead.rows[0].cells) {\n"
    "    th.addEventListener(\"click\", () =>\n"
    "      sortBy(table, th.dataset.k, th.getAttribute(\"aria-sort\") === \"ascending\"));\n"
    "  }\n"
    "}\n"
    "{\n"
    "  const [, f, s] = controls();\n"
    "  if (f) f.addEventListener(\"input\", applyFilter);\n"
    "  if (s) s.addEventListener(\"change\", applyFilter);\n"
    "}\n"
    "window.addEventListener(\"hashchange\", applyHash);\n"
    "applyHash();\n"
    "document.body.dataset.renderMs = performance.now().toFixed(0);\n";
