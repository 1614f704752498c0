"""The result set and its views: table, membership, ranking, pages, facets, timeline, export."""
