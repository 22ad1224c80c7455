"""The storefront API: thin views over recommender.selectors."""
