/*
 * Fuzz target: the TSV / tsv-quoted / CSV / JSONL record reader (tasks/tsv.c) and the file-task
 * loader built on it (tasks/filetask.c).
 *
 * Input: byte 0 = options (bits 0-1: format, bit 2: skip_bad, bit 3: a lowered line limit of
 * 64 bytes so that mutations reach the limit paths, bit 4: also load it as a file task),
 * then the file.
 * Oracles: a failure leaves a message naming the file; fields stay inside the record;
 * tsv_count agrees with tsv_next on the number of records when nothing fails.
 */
#include "tests/fuzz/fuzz_util.h"

#include <cjson/cJSON.h>

#include "tasks/task.h"
#include "tasks/tsv.h"

static void file_task(const char *path, int fmt, bool skip_bad, bool header)
{
    static const char *const labels[] = {"0", "1"};
    struct task_params p;
    task_params_init(&p);
    p.skip_bad_rows = skip_bad;
    p.file.name = "fuzz";
    p.file.train = p.file.dev = p.file.test = path;
    p.file.format = fmt;
    p.file.header = header;
    if (fmt == TSV_JSONL) {
        p.file.text_a = "text";
        p.file.text_b = header ? "text_b" : NULL;
        p.file.label = "label";
    } else {
        p.file.text_a = header ? "sentence" : "0";
        p.file.text_b = header ? NULL : "1";
        p.file.label = header ? "label" : "2";
    }
    if (skip_bad)
        p.file.labels = labels, p.file.nlabels = 2;
    struct task_data td;
    struct err e = {0};
    int rc = task_load(&td, task_find("file"), &p, &e);
    FUZZ_LOG("file task: %d %s (train %zu)", rc, e.msg, td.train.n);
    if (rc)
        FUZZ_CHECK(e.code == rc && e.msg[0], "task_load rc %d", rc);
    task_data_free(&td);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t flags = data[0];
    int fmt = flags & 3;
    bool skip_bad = flags & 4;
    const char *path = fuzz_write("in.data", data + 1, size - 1);

    struct tsv_reader r;
    struct err e = {0};
    int rc = tsv_open(&r, path, (enum tsv_format)fmt, skip_bad, &e);
    FUZZ_CHECK(rc == 0, "tsv_open: %s", e.msg);
    if (flags & 8)
        r.max_line = 64;
    size_t n = 0;
    while ((rc = tsv_next(&r, &e)) == 1) {
        n++;
        if (fmt == TSV_JSONL) {
            FUZZ_CHECK(cJSON_IsObject(r.json), "JSONL record is not an object");
            const cJSON *it;
            cJSON_ArrayForEach(it, r.json)
            {
                const char *v = tsv_json_get(&r, it->string);
                if (v)
                    FUZZ_CHECK(strlen(v) < (size_t)1 << 24, "value");
            }
            continue;
        }
        FUZZ_CHECK(r.nfields >= 1 && r.nfields <= TSV_MAX_FIELDS, "nfields %zu", r.nfields);
        for (size_t i = 0; i < r.nfields; i++) {
            size_t off = (size_t)(r.fields[i] - r.rec);
            FUZZ_CHECK(off < r.rec_cap && off + strlen(r.fields[i]) < r.rec_cap, "field %zu", i);
        }
    }
    if (rc < 0)
        FUZZ_CHECK(e.code == rc && strstr(e.msg, "in.data"), "rc %d, message '%s'", rc, e.msg);
    FUZZ_LOG("%s: %zu records, rc %d %s", tsv_format_name(fmt), n, rc, rc < 0 ? e.msg : "");
    FUZZ_CHECK(n == r.nrecords, "counted %zu, reader says %zu", n, r.nrecords);
    bool lowered = flags & 8;
    tsv_close(&r);

    size_t counted = 0;
    int crc = tsv_count(path, (enum tsv_format)fmt, &counted, &e);
    if (crc < 0)
        FUZZ_CHECK(e.code == crc && e.msg[0], "tsv_count rc %d", crc);
    /* tsv_count skips malformed records: with skip_bad and no failure both must agree for the
     * formats it parses (TSV_PLAIN/JSONL count non-empty lines, a documented approximation). */
    if (rc == 0 && crc == 0 && skip_bad && !lowered && (fmt == TSV_QUOTED || fmt == TSV_CSV))
        FUZZ_CHECK(counted == n, "tsv_count %zu, tsv_next %zu", counted, n);

    if (flags & 16)
        file_task(path, fmt, skip_bad, flags & 32);
    return 0;
}
