/*
 * report: turns a results folder into report.html, one self-contained page
 * that works offline (opened from disk or from a CI artifact page).
 *
 * It sits at the end of the flow: the runner calls pyab_report_write after
 * every run, and `pyab report DIR` calls it again on an existing folder. It
 * reads summary.json and manifest.json as they are, and each rep's curves
 * through curves.h (downsampled for display), and writes them into the
 * page as JSON inside <script type="application/json"> blocks with '<',
 * '>' and '&' escaped. The page's own script (report.js, report.css,
 * embedded at build time) and Chart.js (Debian's libjs-chart.js, read from
 * its installed path and inlined) draw everything, putting text from the
 * trace or the service only through textContent.
 *
 * report.png (--png) is a screenshot of the page by headless Chromium, not
 * a second drawing in C: the image then shows exactly what the page shows,
 * with the same axes, labels and units, and pyab carries no plotting code
 * of its own. The page has a compact layout for it (report.html#png).
 */
#ifndef PYAB_REPORT_H
#define PYAB_REPORT_H

#include "util.h"

/*
 * Writes DIR/report.html (atomically) and, when png is set, DIR/report.png.
 * A missing or invalid summary.json (or an invalid manifest.json) is a usage
 * error naming the file (and line). A rep whose samples.csv or events.jsonl
 * cannot be read is drawn as nothing and listed with the reason, as `pyab
 * compare` skips it; a rep that has only .part files (pyab was killed) is
 * drawn up to its last whole line. A missing Chart.js or Chromium is an
 * internal error naming the Debian package to install. 0 or a negative
 * errno, err set.
 */
int pyab_report_write(const char *dir, int png, pyab_error *err);

#endif
