"""The shopper side: more like this, text search, search by photo, recommendations, the storefront pages."""
