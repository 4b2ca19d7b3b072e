/*
 * report_html: DIR/report.html, one self-contained page per sweep, written with report.md.
 *
 * Sections: the sweep (name, trial counts, environment, the resolved sweep.yaml), the summary
 * per setting with 95% confidence intervals over seeds (harness/report/aggregate.h), the
 * failed and diverged trials with their messages, every trial in a table that sorts (click a
 * column header) and filters (text and status), each trial linked to its record
 * (trials/<id>.json, a relative link), and every figure of plots/figures.tsv inlined as SVG.
 *
 * Self-contained: inline CSS and JavaScript, no network (a Content-Security-Policy forbids
 * it), figures inlined; every text read from the results is escaped (harness/report/html.h).
 * The table's state can be given in the URL fragment, which the page applies through the
 * same functions its controls call: report.html#sort=value&desc=1&filter=lora&status=ok
 * (sort keys: the data-k names of the header cells).  After its script ran, <body> carries
 * data-render-ms (time from navigation start) and the table data-sort and data-shown, so a
 * headless browser's DOM dump shows what the page did.
 */
#ifndef HARNESS_REPORT_REPORT_HTML_H
#define HARNESS_REPORT_REPORT_HTML_H

#include "base/err.h"

/* Write dir/report.html from dir/results.csv, dir/sweep.yaml, dir/trials/ and dir/plots/.
 * Errors: no or unusable results.csv, no trials, a write failure (a figure that cannot be
 * inlined is noted on the page instead). */
int report_html_write(const char *dir, struct err *e);

#endif
