"""The storefront API: thin views over recommender.storefront.selectors."""
