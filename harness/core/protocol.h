/*
 * protocol: what the child (pyab-child, one arm-rep) tells the parent, and
 * how the parent starts it. The one header both sides share; neither
 * includes the other's.
 *
 * The parent starts `pyab-child CONFIG.json` with the protocol descriptor's
 * number in PYAB_PROTOCOL_FD (default 3). The child writes one line per
 * message, "<tag> <payload>\n", as each is taken, so a child that dies
 * still leaves its curve up to that moment. `pyab-child --versions` prints
 * the Python side of `pyab version` as one JSON object and exits.
 */
#ifndef PYAB_PROTOCOL_H
#define PYAB_PROTOCOL_H

/*
 * What a child and a parent must agree on to work together, besides the
 * pyab version: bump it when config.json, a message or a samples.csv
 * column changes. The parent refuses a child that says another.
 */
#define PYAB_PROTOCOL_VERSION 2

/* Environment variable naming the protocol descriptor. */
#define PYAB_PROTOCOL_FD_ENV "PYAB_PROTOCOL_FD"
#define PYAB_PROTOCOL_FD_DEFAULT 3

/* The first byte of each line. */
typedef enum pyab_msg {
    PYAB_MSG_HELLO = 'H',   /* json: pid, planned, trace figures, settings read back */
    PYAB_MSG_SAMPLE = 'S',  /* csv: one samples.csv row */
    PYAB_MSG_GC = 'E',      /* json: one GC collection (an events.jsonl line) */
    PYAB_MSG_WARNING = 'W', /* text: GC settings changed by the service, timeouts */
    PYAB_MSG_WHERE = 'P',   /* json: the "where" report (where.json), just before F */
    PYAB_MSG_FINAL = 'F',   /* json: the rep's final figures */
    PYAB_MSG_FATAL = 'X',   /* json: {"exit_code", "message"}; the child then exits */
} pyab_msg;

#endif
