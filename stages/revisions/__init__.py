"""The curated dataset at two revisions, compared record by record (`python -m stages.diff`)."""
