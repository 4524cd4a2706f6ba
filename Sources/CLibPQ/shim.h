#ifndef CLIBPQ_SHIM_H
#define CLIBPQ_SHIM_H

#include <libpq-fe.h>

/// Field code for the SQLSTATE of an error result (PG_DIAG_SQLSTATE is a character macro).
static inline int er_pg_diag_sqlstate(void) { return 'C'; }

#endif
