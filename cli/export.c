// SPDX-License-Identifier: GPL-2.0
/*
 * What `fphintctl host ... stats` reads of a VM, in the Prometheus text
 * exposition format (version 0.0.4) for `host ... export`: one family per
 * figure, HELP and TYPE first, then one sample per VM labelled vm="NAME".
 * Names follow Prometheus' conventions: base units in the name (bytes,
 * seconds), counters end in _total, gauges do not.  A VM that could not be
 * read has fphint_vm_up 0 and nothing else; a figure QEMU does not give
 * (stock QEMU: no host counters; a guest that sent no balloon stats) has
 * no sample, rather than a made-up 0.
 */
#include <stdio.h>
#include <string.h>

#include "fphintctl.h"

const struct vm_field host_fields[HOST_COUNTERS_NR] = {
	{ "report-reports", "report_reports", "fphint_host_reports_total", "counter", NULL,
	  "Elements QEMU popped from the balloon's free page reporting queue.", false },
	{ "report-ranges", "report_ranges", "fphint_host_report_ranges_total", "counter", NULL,
	  "Ranges (scatter-gather entries) in those elements.", false },
	{ "report-bytes-requested", "report_bytes_requested",
	  "fphint_host_report_requested_bytes_total", "counter", NULL,
	  "Bytes the guest reported free.", false },
	{ "report-bytes-discarded", "report_bytes_discarded",
	  "fphint_host_report_discarded_bytes_total", "counter", NULL,
	  "Reported bytes QEMU discarded (gave back to the host).", false },
	{ "report-bytes-skipped-inhibited", "report_bytes_skipped_inhibited",
	  "fphint_host_report_skipped_bytes_total", "counter", "inhibited",
	  "Reported bytes QEMU kept, by reason: inhibited (VFIO, postcopy, snapshot), "
	  "poison (non-zero poison value), unaligned (to the RAM block's page size), "
	  "not_ram (outside guest RAM), invalid (malformed hypercall entries).", false },
	{ "report-bytes-skipped-poison", "report_bytes_skipped_poison",
	  "fphint_host_report_skipped_bytes_total", "counter", "poison", NULL, false },
	{ "report-bytes-skipped-unaligned", "report_bytes_skipped_unaligned",
	  "fphint_host_report_skipped_bytes_total", "counter", "unaligned", NULL, false },
	{ "report-bytes-skipped-not-ram", "report_bytes_skipped_not_ram",
	  "fphint_host_report_skipped_bytes_total", "counter", "not_ram", NULL, false },
	{ "report-bytes-skipped-invalid", "report_bytes_skipped_invalid",
	  "fphint_host_report_skipped_bytes_total", "counter", "invalid", NULL, true },
	{ "report-bytes-failed", "report_bytes_failed",
	  "fphint_host_report_failed_bytes_total", "counter", NULL,
	  "Reported bytes whose discard failed.", false },
	{ "report-discard-ns", "report_discard_ns",
	  "fphint_host_report_discard_seconds_total", "counter", NULL,
	  "Time QEMU spent discarding reported memory.", false },
	{ "report-hypercalls", "report_hypercalls", "fphint_host_report_hypercalls_total",
	  "counter", NULL, "Report hypercalls the guest made (fphint-hypercall=on).", true },
	{ "report-hypercalls-refused", "report_hypercalls_refused",
	  "fphint_host_report_hypercalls_refused_total", "counter", NULL,
	  "Report hypercalls QEMU answered with an error (bad arguments, user space).", true },
};

/*
 * The guest sends bytes for memory and swap, event counts for faults and
 * hugetlb (hw/virtio/virtio-balloon.c).
 */
const struct vm_field guest_fields[GUEST_STATS_NR] = {
	{ "stat-free-memory", "guest_free_memory_bytes", "fphint_guest_free_memory_bytes",
	  "gauge", NULL, "Memory the guest has free, from its balloon statistics.", false },
	{ "stat-available-memory", "guest_available_memory_bytes",
	  "fphint_guest_available_memory_bytes", "gauge", NULL,
	  "Memory available to the guest's applications without swapping.", false },
	{ "stat-total-memory", "guest_total_memory_bytes", "fphint_guest_total_memory_bytes",
	  "gauge", NULL, "Memory the guest's kernel manages.", false },
	{ "stat-disk-caches", "guest_disk_caches_bytes", "fphint_guest_disk_caches_bytes",
	  "gauge", NULL, "Memory the guest uses for its file cache.", false },
	{ "stat-swap-in", "guest_swap_in_bytes", "fphint_guest_swap_in_bytes_total",
	  "counter", NULL, "Bytes the guest swapped in.", false },
	{ "stat-swap-out", "guest_swap_out_bytes", "fphint_guest_swap_out_bytes_total",
	  "counter", NULL, "Bytes the guest swapped out.", false },
	{ "stat-major-faults", "guest_major_faults", "fphint_guest_major_faults_total",
	  "counter", NULL, "Major page faults in the guest.", false },
	{ "stat-minor-faults", "guest_minor_faults", "fphint_guest_minor_faults_total",
	  "counter", NULL, "Minor page faults in the guest.", false },
	{ "stat-htlb-pgalloc", "guest_hugetlb_allocations",
	  "fphint_guest_hugetlb_allocations_total", "counter", NULL,
	  "Huge pages the guest allocated.", false },
	{ "stat-htlb-pgfail", "guest_hugetlb_failures",
	  "fphint_guest_hugetlb_allocation_failures_total", "counter", NULL,
	  "Huge page allocations that failed in the guest.", false },
};

/* Label values escape backslash, double quote and newline. */
static void put_label(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fputc('\\', f);
		if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void sample(FILE *f, const char *name, const struct vm_info *v, const char *reason)
{
	fprintf(f, "%s{vm=\"", name);
	put_label(f, v->name);
	if (reason)
		fprintf(f, "\",reason=\"%s", reason);
	fputs("\"} ", f);
}

/* One family of the per-VM figures that are not in a table. */
enum vm_figure { FIG_UP, FIG_RSS, FIG_ACTUAL, FIG_REPORTING, FIG_LAST_UPDATE, FIG_NR };

static const struct {
	const char *metric, *type, *help;
} figures[FIG_NR] = {
	[FIG_UP] = { "fphint_vm_up", "gauge",
		     "1 when the VM's QEMU answered this scrape, 0 when it did not." },
	[FIG_RSS] = { "fphint_qemu_resident_memory_bytes", "gauge",
		      "Resident set size of the VM's QEMU process on the host." },
	[FIG_ACTUAL] = { "fphint_balloon_actual_bytes", "gauge",
			 "Guest memory size less what the balloon holds." },
	[FIG_REPORTING] = { "fphint_balloon_free_page_reporting", "gauge",
			    "1 when the guest negotiated VIRTIO_BALLOON_F_REPORTING." },
	[FIG_LAST_UPDATE] = { "fphint_guest_stats_last_update_timestamp_seconds", "gauge",
			      "When the guest last sent its balloon statistics." },
};

/* Its value in *val, false when there is none for this VM. */
static bool figure(const struct vm_info *v, enum vm_figure fig, long long *val)
{
	if (fig == FIG_UP) {
		*val = !v->error[0];
		return true;
	}
	if (v->error[0])
		return false;
	switch (fig) {
	case FIG_RSS:
		*val = v->rss_bytes;
		return v->rss_bytes >= 0;
	case FIG_ACTUAL:
		*val = v->actual_bytes;
		return v->actual_bytes >= 0;
	case FIG_REPORTING:
		*val = v->reporting;
		return v->has_status;
	case FIG_LAST_UPDATE:
		*val = v->last_update;
		return v->has_last_update && v->last_update > 0;
	default:
		return false;
	}
}

/* The rows of one table that share a family: [i, end). */
static size_t family_end(const struct vm_field *t, size_t n, size_t i)
{
	size_t end = i + 1;

	while (end < n && !strcmp(t[end].metric, t[i].metric))
		end++;
	return end;
}

static void table(FILE *f, const struct vm_field *t, size_t n, const struct vm_info *vms,
		  int nvms, bool host)
{
	for (size_t i = 0; i < n; i = family_end(t, n, i)) {
		family(f, t[i].metric, t[i].type, t[i].help);
		for (int k = 0; k < nvms; k++) {
			const struct vm_info *v = &vms[k];

			for (size_t r = i; r < family_end(t, n, i); r++) {
				if (v->error[0] || !(host ? v->has_host : v->has_guest[r]))
					continue;
				if (host && v->host_missing[r])
					continue;
				sample(f, t[r].metric, v, t[r].label);
				if (host && r == HOST_DISCARD_NS)
					fprintf(f, "%llu.%09llu\n",
						(unsigned long long)v->host[r] / 1000000000,
						(unsigned long long)v->host[r] % 1000000000);
				else
					fprintf(f, "%llu\n", (unsigned long long)
						(host ? v->host[r] : v->guest[r]));
			}
		}
	}
}

void export_metrics(FILE *f, const struct vm_info *vms, int n)
{
	for (int fig = 0; fig < FIG_NR; fig++) {
		family(f, figures[fig].metric, figures[fig].type, figures[fig].help);
		for (int k = 0; k < n; k++) {
			long long val;

			if (!figure(&vms[k], fig, &val))
				continue;
			sample(f, figures[fig].metric, &vms[k], NULL);
			fprintf(f, "%lld\n", val);
		}
	}
	table(f, guest_fields, GUEST_STATS_NR, vms, n, false);
	table(f, host_fields, HOST_COUNTERS_NR, vms, n, true);
}
