"""Pages people use: the storefront and the merchandiser views (Django templates + small JS)."""
