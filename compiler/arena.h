/* Arena allocation: every AST/IR node of one compilation lives in one arena
 * and is freed at once. Allocation failure aborts (a compiler has nothing
 * sensible to do without memory). */
#ifndef ADNC_ARENA_H
#define ADNC_ARENA_H

#include <stddef.h>

struct arena_block;

struct arena {
	struct arena_block *head;
};

void *arena_alloc(struct arena *a, size_t size); /* zeroed */
char *arena_strndup(struct arena *a, const char *s, size_t n);
char *arena_strdup(struct arena *a, const char *s);
char *arena_printf(struct arena *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void arena_free(struct arena *a);

/* Growable arrays whose storage lives in an arena: PUSH(a, items, n, cap, x). */
void *arena_grow(struct arena *a, void *items, size_t elem, size_t n, size_t *cap);
#define ARENA_PUSH(a, items, n, cap, value)                                    \
	do {                                                                   \
		(items) = arena_grow((a), (items), sizeof(*(items)), (n), &(cap)); \
		(items)[(n)++] = (value);                                      \
	} while (0)

#endif
