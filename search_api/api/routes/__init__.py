"""One router module per resource: search (and its views), articles, meta, ui."""
