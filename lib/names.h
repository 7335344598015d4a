/*
 * names.h - floor 2: iSCSI names (RFC 3720 section 3.2.6, RFC 3980 for naa.).
 *
 *   iqn.YYYY-MM.reversed.domain[:anything]   e.g. iqn.2001-04.com.example:storage.disk1
 *   eui.<16 hex digits>                      e.g. eui.02004567A425678D
 *   naa.<16 or 32 hex digits>                e.g. naa.52004567BA64678D
 *
 * At most 223 bytes of UTF-8.  The characters allowed are ASCII letters,
 * digits, '-', '.', ':' and non-ASCII code points; upper case is accepted
 * because the stringprep profile (RFC 3722) folds it, so such a name is valid
 * even though its normalised form is lower case.
 */
#ifndef LUNARIS_NAMES_H
#define LUNARIS_NAMES_H

#include <stdbool.h>
#include <stddef.h>

#define LUN_ISCSI_NAME_MAX 223

/* True when `s` is a well-formed iSCSI name.  Otherwise false with a
 * sentence in err (may be NULL) that quotes the name and says what is
 * wrong with it. */
bool lun_iscsi_name_valid(const char *s, char *err, size_t errlen);

/* True when `s` is well-formed UTF-8 without control characters (C0, DEL,
 * C1), at most `maxlen` bytes: what an alias or a CHAP name may hold. */
bool lun_text_value_valid(const char *s, size_t maxlen);

#endif
