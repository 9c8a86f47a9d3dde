/* SPDX-License-Identifier: MIT */
/* One-line error messages carried out of the maps/ library to the CLIs. */
#ifndef ADN_ERR_H
#define ADN_ERR_H

#define ADN_ERR_MAX 512

struct adn_err {
	char msg[ADN_ERR_MAX];
};

/* Formats the message into err (if not NULL) and returns -code, so that
 * callers can write `return adn_err_set(err, EINVAL, "...");`. */
int adn_err_set(struct adn_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
