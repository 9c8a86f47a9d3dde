/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The layout check of the runtime (docs/internals.md section 1): a request
 * whose header names another layout than the chain's is answered by the
 * network with ADN_LAYOUT_STATUS, and no element runs on it (its fields
 * are not where the elements would read them). The chain defines
 * ADN_LAYOUT (the low 16 bits of its layout hash) before the runtime
 * headers; a frame with layout 0 is not checked (raw tools). A chain
 * without ADN_LAYOUT checks nothing.
 */
#ifndef ADN_LAYOUT_H
#define ADN_LAYOUT_H

#define ADN_LAYOUT_STATUS ADN_FAILED_PRECONDITION

#ifdef ADN_LAYOUT
#define adn_layout_bad(h) ((h).layout && (h).layout != (__u16)(ADN_LAYOUT))
#else
#define adn_layout_bad(h) 0
#endif

#endif /* ADN_LAYOUT_H */
