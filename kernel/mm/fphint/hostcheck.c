// SPDX-License-Identifier: GPL-2.0
/*
 * fphint host discard check: did the host really discard?
 *
 * A host may acknowledge a report and keep the memory (QEMU with discards
 * inhibited by VFIO, a poison value, ranges not aligned to a huge-page
 * backing).  Before a report to a host, one page of the isolated batch
 * gets a canary; after the acknowledgment a discarded page reads back as
 * zero.  Reports found kept space the passes out (fphint_void_step():
 * each level doubles the pass delay) until a discard shows again.
 * Everything here runs in the worker, under fphint_mutex.
 */
#define pr_fmt(fmt) "fphint: " fmt

#include <linux/highmem.h>
#include <linux/mm.h>

#include "fphint.h"

#define FPHINT_CANARY		0x6670686e74636e79ULL	/* "fphntcny" */
static unsigned int fphint_hostcheck_strikes;
static unsigned int fphint_hostcheck_void;
static bool fphint_hostcheck_warned;

/*
 * Content of free pages need not be kept unless something relies on it:
 * init_on_free and page poisoning expect their pattern back.
 */
static bool fphint_hostcheck_possible(struct fphint_transport *t)
{
	return t->to_host && !want_init_on_free() && !page_poisoning_enabled_static();
}

/**
 * fphint_hostcheck_prepare - write the canary before a report
 * @t: the transport about to take the report
 * @pass: the pass whose isolated batch is reported
 * @seq: the report's number; picks the page
 *
 * Return: the page that carries the canary, or NULL when no check is made.
 */
struct page *fphint_hostcheck_prepare(struct fphint_transport *t,
				      struct fphint_pass *pass, u32 seq)
{
	struct page *page;
	u64 *p;

	if (!fphint_hostcheck_possible(t))
		return NULL;
	page = sg_page(&pass->sgl[seq % pass->nents]);
	p = kmap_local_page(page);
	WRITE_ONCE(*p, FPHINT_CANARY ^ page_to_pfn(page));
	kunmap_local(p);
	return page;
}

/**
 * fphint_hostcheck_verdict - after the host acknowledged the report
 * @t: the transport that took it
 * @page: the canary page fphint_hostcheck_prepare() returned
 *
 * Counts the check, and adjusts the backoff level.
 *
 * Return: false when the canary survived, i.e. the host kept the report.
 */
bool fphint_hostcheck_verdict(struct fphint_transport *t, struct page *page)
{
	u64 *p = kmap_local_page(page);
	/* Zero: discarded.  Anything else but the canary: not ours to judge. */
	bool skipped = READ_ONCE(*p) == (FPHINT_CANARY ^ page_to_pfn(page));
	unsigned int level;

	kunmap_local(p);
	fphint_count(FPHINT_STAT_HOST_CHECKS, 1);
	if (skipped)
		fphint_count(FPHINT_STAT_HOST_SKIPPED, 1);
	level = fphint_void_step(fphint_hostcheck_void, &fphint_hostcheck_strikes, skipped);
	if (level > fphint_hostcheck_void) {
		/*
		 * A host that discards only some ranges (huge-page backing and
		 * small blocks) flips between the two verdicts: warn once, and
		 * leave later relapses to the info level and the counters.
		 */
		if (!fphint_hostcheck_void && !fphint_hostcheck_warned) {
			pr_warn("%s: host acknowledges reports without discarding them (pfn %#lx kept its content); backing off\n",
				t->stage.name, page_to_pfn(page));
			fphint_hostcheck_warned = true;
		} else if (!fphint_hostcheck_void) {
			pr_info("%s: host keeps reports again; backing off\n", t->stage.name);
		}
		fphint_count(FPHINT_STAT_BACKOFFS, 1);
	} else if (!level && fphint_hostcheck_void) {
		pr_info("%s: host discards again; hinting resumes\n", t->stage.name);
	}
	WRITE_ONCE(fphint_hostcheck_void, level);
	return !skipped;
}

/**
 * fphint_hostcheck_level - how far the host check backs off
 *
 * Return: the level; the pass delay is shifted left by it.
 */
unsigned int fphint_hostcheck_level(void)
{
	return READ_ONCE(fphint_hostcheck_void);
}
