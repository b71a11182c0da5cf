"""The pieces of the curate stage: token counts, filters, windows, near-duplicates, sampling."""
