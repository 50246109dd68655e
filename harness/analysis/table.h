/*
 * table: prints an analysed summary (analyze.h) for a person at a terminal:
 * the verdicts with their intervals, then each arm against the control.
 */
#ifndef PYAB_TABLE_H
#define PYAB_TABLE_H

#include <jansson.h>
#include <stdio.h>

/* Prints the verdicts and comparisons of an analysed summary (borrowed). */
void pyab_table_print(FILE *f, json_t *summary);

#endif
