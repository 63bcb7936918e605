/*
 * fuzz_event.c - libFuzzer target for event_parse(), the envelope check every consumer runs
 * on untrusted broker bytes.
 *
 * Besides "no crash, no leak, no UB", an accepted envelope must satisfy what consumers rely
 * on: a canonical UUID event_id, a valid event_type (it becomes a routing key), non-empty
 * occurred_at and producer, tenant_id NULL or a UUID, and data an object; a rejected one must
 * come with a reason and leave nothing to free.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"
#include "common/event.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *why = NULL;
	struct event_msg ev;

	if (event_parse((const char *)data, size, &ev, &why) != 0) {
		if (why == NULL || ev.env != NULL)
			abort();
		return 0;
	}
	if (!uuid_valid(ev.event_id) || !event_type_valid(ev.event_type) || !ev.occurred_at[0] ||
	    !ev.producer[0] || (ev.tenant_id && !uuid_valid(ev.tenant_id)) ||
	    (ev.trace_id && strlen(ev.trace_id) > 64) ||
	    !json_object_is_type(ev.data, json_type_object))
		abort();
	event_msg_free(&ev);
	return 0;
}
