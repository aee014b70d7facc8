"""The roadmap as knowledge: the catalog, search, recommendations and did-you-mean."""
