"""ISVs react to no other product's events yet."""
