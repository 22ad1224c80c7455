"""Staff pages for merchandisers: duplicate review, the similarity matrix and the catalogue map."""
